"""Fiat prices: rates fetched by the task from a real HTTP server (CoinGecko's and Kraken's shapes) or
set by staff in the admin, locked on the invoice, converted in integers; a stale or missing rate
refuses new fiat invoices (409 in the API), and no rate is fetched while a request is answered."""

from __future__ import annotations

import datetime
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import yaml
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.payment import rates, services
from apps.payment.models import ExchangeRate, Invoice
from apps.payment.tasks import fetch_rates
from forum.errors import ValidationFailed
from forum.models import OutboxEvent


class RateServer:
    """A small HTTP server in a thread: answers every GET with ``body`` (and ``status``), counts them."""

    def __init__(self) -> None:
        self.body = "{}"
        self.status = 200
        self.hits = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                payload = owner.body.encode()
                self.send_response(owner.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v3/simple/price"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def rate_api(settings: Any) -> Iterator[RateServer]:
    server = RateServer()
    settings.PAYMENT_RATE_URL = server.url
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fiat_product() -> services.ProductRef:
    return services.product_register(
        app_label="frame",
        code="gold",
        title="Gold frame",
        price_fiat_cents=1250,
        currency="usd",
        return_url="/frames/",
    )


@pytest.fixture
def api_as(django_user_model: Any) -> Callable[[int], APIClient]:
    def make(user_id: int) -> APIClient:
        client = APIClient()
        client.force_login(django_user_model.objects.get(pk=user_id))
        return client

    return make


COINGECKO = '{"bitcoin": {"usd": 100000, "eur": 92345.67, "rub": 9000000.5, "jpy": 15000000}}'
KRAKEN = json.dumps(
    {
        "error": [],
        "result": {
            "XXBTZUSD": {"a": ["80000.10000", "1", "1.000"], "c": ["80000.00000", "0.00100000"]},
            "XXBTZEUR": {"a": ["74000.1", "1", "1.000"], "c": ["74000.12345678", "0.002"]},
        },
    }
)


def test_the_task_reads_coingecko_from_a_real_server_and_invoices_lock_the_rate(
    rate_api: RateServer, alice: int, fiat_product: services.ProductRef
) -> None:
    rate_api.body = COINGECKO
    assert fetch_rates() == 3  # USD, EUR and RUB; JPY is not one of PAYMENT_FIAT_CURRENCIES
    stored = {rate.currency: rate for rate in services.rates_current()}
    assert {code: rate.fiat_per_btc for code, rate in stored.items()} == {
        "EUR": "92345.67000000",
        "RUB": "9000000.50000000",
        "USD": "100000.00000000",
    }
    assert all(rate.source == "api" and rate.usable for rate in stored.values())

    invoice = services.invoice_create(member_id=alice, product_app="frame", product_code="gold")
    # 12.50 USD at 100,000 USD a bitcoin: 12,500 satoshis exactly.
    assert (invoice.amount_sats, invoice.fiat_amount_cents, invoice.fiat_currency) == (12_500, 1250, "USD")
    assert invoice.fiat_rate == "100000.00000000" and invoice.fiat_amount == "12.50 USD"
    assert invoice.return_url == "/frames/"
    created = OutboxEvent.objects.get(name="payment.invoice_created", payload__invoice_id=invoice.public_id)
    assert (created.payload["fiat_currency"], created.payload["fiat_amount_cents"]) == ("USD", 1250)
    assert (created.payload["fiat_rate"], created.payload["amount_sats"]) == ("100000.00000000", 12_500)

    # A new rate changes new invoices only: the first keeps what it locked.
    rate_api.body = '{"bitcoin": {"usd": 50000}}'
    assert fetch_rates() == 1
    second = services.invoice_create(member_id=alice, product_app="frame", product_code="gold")
    assert second.amount_sats == 25_000
    assert Invoice.objects.get(public_id=invoice.public_id).amount_sats == 12_500
    assert str(Invoice.objects.get(public_id=invoice.public_id).fiat_rate) == "100000.00000000"


def test_kraken_ticker_is_read_too(rate_api: RateServer) -> None:
    rate_api.body = KRAKEN
    assert fetch_rates() == 2
    assert {rate.currency: rate.fiat_per_btc for rate in services.rates_current()} == {
        "EUR": "74000.12345678",
        "USD": "80000.00000000",
    }


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, COINGECKO),
        (200, "not json"),
        (200, '{"bitcoin": {"usd": "a lot"}}'),
        (200, '{"bitcoin": {"usd": -5}}'),
        (200, '{"bitcoin": {"gbp": 5}}'),
        (200, '{"error": ["EQuery:Unknown asset pair"], "result": {}}'),
        (200, '{"price": 5}'),
    ],
)
def test_a_failing_or_strange_rate_api_keeps_the_stored_rates(
    rate_api: RateServer, status: int, body: str
) -> None:
    rate_api.body = COINGECKO
    fetch_rates()
    before = [(rate.currency, rate.fiat_per_btc, rate.updated_at) for rate in services.rates_current()]
    rate_api.status, rate_api.body = status, body
    assert fetch_rates() == 0
    after = [(rate.currency, rate.fiat_per_btc, rate.updated_at) for rate in services.rates_current()]
    assert after == before


def test_a_stale_rate_refuses_new_fiat_invoices_with_a_clear_message(
    rate_api: RateServer,
    alice: int,
    fiat_product: services.ProductRef,
    api_as: Callable[[int], APIClient],
    settings: Any,
) -> None:
    client = api_as(alice)
    missing = client.post("/api/v1/invoices", {"product": "frame:gold"}, format="json")
    assert missing.status_code == 409 and missing.json()["error"]["code"] == "rate_unavailable"
    assert "no exchange rate" in missing.json()["error"]["message"]

    rate_api.body = COINGECKO
    fetch_rates()
    made = client.post("/api/v1/invoices", {"product": "frame:gold"}, format="json")
    assert made.status_code == 201
    body = made.json()
    assert (body["amount_sats"], body["fiat_amount_cents"], body["fiat_currency"]) == (12_500, 1250, "USD")
    assert body["fiat_rate"] == "100000.00000000" and body["checkout_url"] == f"/pay/{body['id']}/"
    assert type(body["fiat_amount_cents"]) is int and body["confirmations"] == 0
    settings.PAYMENT_RATE_MAX_AGE_SECONDS = 600
    ExchangeRate.objects.update(updated_at=timezone.now() - datetime.timedelta(seconds=601))
    stale = client.post("/api/v1/invoices", {"product": "frame:gold"}, format="json")
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "rate_unavailable"
    assert "out of date" in stale.json()["error"]["message"]
    assert Invoice.objects.count() == 1
    rates_seen = client.get("/api/v1/payment/rates").json()
    assert rates_seen["currencies"] == ["USD", "EUR", "RUB"]
    assert {row["currency"]: row["usable"] for row in rates_seen["rates"]} == {
        "EUR": False,
        "RUB": False,
        "USD": False,
    }
    ready = Client().get("/health/ready").json()["details"]["payment"]
    assert ready["stale_rates"] == ["EUR", "RUB", "USD"]
    assert any("exchange rates out of date" in warning for warning in ready["warnings"])
    # Products in satoshis are not touched by the rates.
    services.product_register(app_label="status", code="agent-30", title="Agent", price_sats=50_000)
    assert client.post("/api/v1/invoices", {"product": "status:agent-30"}, format="json").status_code == 201


def test_no_rate_is_fetched_during_a_request(
    rate_api: RateServer,
    alice: int,
    fiat_product: services.ProductRef,
    api_as: Callable[[int], APIClient],
    django_user_model: Any,
) -> None:
    rate_api.body = COINGECKO
    fetch_rates()
    hits = rate_api.hits
    client = api_as(alice)
    made = client.post("/api/v1/invoices", {"product": "frame:gold"}, format="json").json()
    client.get("/api/v1/payment/rates")
    Client().get("/api/v1/payment/rates")
    page = Client()
    page.force_login(django_user_model.objects.get(pk=alice))
    assert page.get(f"/pay/{made['id']}/").status_code == 200
    assert rate_api.hits == hits


def test_a_rate_staff_set_in_the_admin_is_used(
    alice: int, fiat_product: services.ProductRef, admin_client: Client, settings: Any
) -> None:
    settings.PAYMENT_RATE_URL = ""
    page = admin_client.get("/admin/payment/exchangerate/add/")
    assert page.status_code == 200
    bad = admin_client.post(
        "/admin/payment/exchangerate/add/", {"currency": "USD", "fiat_per_btc": "-3"}, follow=True
    )
    assert "positive number" in bad.content.decode() and not ExchangeRate.objects.exists()
    saved = admin_client.post(
        "/admin/payment/exchangerate/add/", {"currency": "USD", "fiat_per_btc": "64000,5"}
    )
    assert saved.status_code == 302
    row = ExchangeRate.objects.get()
    assert (row.currency, row.fiat_per_btc, row.source) == ("USD", Decimal("64000.5"), "admin")
    assert row.updated_by is not None and row.updated_by.is_staff
    assert "64000.5" in admin_client.get("/admin/payment/exchangerate/").content.decode()
    changed = admin_client.post(f"/admin/payment/exchangerate/{row.pk}/change/", {"fiat_per_btc": "64000.5"})
    assert changed.status_code == 302 and ExchangeRate.objects.get().fiat_per_btc == Decimal("64000.5")

    invoice = services.invoice_create(member_id=alice, product_app="frame", product_code="gold")
    # 1250 cents at 64000.5 a bitcoin: 1250 * 10^6 / 64000.5 = 19531.097... -> 19532 (rounded up).
    assert invoice.amount_sats == 19_532 and invoice.fiat_rate == "64000.50000000"

    # Staff's rates live longer than the API's, but not for ever.
    settings.PAYMENT_RATE_MAX_AGE_SECONDS = 60
    settings.PAYMENT_ADMIN_RATE_MAX_AGE_SECONDS = 3600
    ExchangeRate.objects.update(updated_at=timezone.now() - datetime.timedelta(minutes=30))
    assert services.invoice_create(member_id=alice, product_app="frame", product_code="gold").amount_sats
    ExchangeRate.objects.update(updated_at=timezone.now() - datetime.timedelta(minutes=61))
    with pytest.raises(services.RateUnavailable):
        services.invoice_create(member_id=alice, product_app="frame", product_code="gold")


@pytest.mark.parametrize(
    ("cents", "rate", "sats"),
    [
        (1, "1000000", 1),  # a cent at a million a bitcoin: exactly one satoshi
        (1, "1000001", 1),  # a hair under one satoshi rounds up to one
        (3, "2000000", 2),  # one and a half satoshis round up to two
        (100, "1", 100_000_000),  # one unit at one unit a bitcoin: one bitcoin
        (1250, "100000", 12_500),
        (1250, "64000.5", 19_532),
        (999, "3", 333_000_000),
        (1000, "3", 333_333_334),  # 333,333,333.33... rounds up
        (2_100_000_000_000_000, "1", 2_100_000_000_000_000 * 1_000_000),  # no float would hold it
        (1, "0.00000001", 100_000_000_000_000),
        (123_456_789, "98765.43210987", 1_249_999_989),
    ],
)
def test_fiat_to_satoshis_is_exact_integer_arithmetic(cents: int, rate: str, sats: int) -> None:
    assert rates.sats_for(cents, Decimal(rate)) == sats


def test_the_conversion_is_the_exact_ceiling() -> None:
    # Against a slow exact reference: the smallest n with n * rate >= cents * 10^6.
    for cents, rate in ((7, Decimal("33333.33333333")), (12345, Decimal("6789.01234567"))):
        sats = rates.sats_for(cents, rate)
        assert sats * rate >= cents * 1_000_000 > (sats - 1) * rate


def test_a_product_has_one_price_in_an_allowed_currency() -> None:
    for bad in (
        {"price_sats": 1000, "price_fiat_cents": 500, "currency": "USD"},
        {},
        {"price_fiat_cents": 500, "currency": "GBP"},
        {"price_fiat_cents": 0, "currency": "USD"},
        {"price_fiat_cents": 5.5, "currency": "USD"},
        {"price_sats": 1000, "return_url": "https://elsewhere.example/"},
        {"price_sats": 1000, "return_url": "//elsewhere.example/"},
    ):
        with pytest.raises(ValidationFailed):
            services.product_register(app_label="frame", code="x", title="X", **bad)
    with pytest.raises(ValidationFailed):
        services.rate_set(currency="USD", fiat_per_btc="0", staff_id=None)
    # Callers that give a price in satoshis as before keep working.
    assert services.product_register(app_label="status", code="a", title="A", price_sats=7).price_sats == 7


def test_a_selling_app_may_give_the_price_of_one_invoice(
    alice: int, fiat_product: services.ProductRef
) -> None:
    services.rate_set(currency="EUR", fiat_per_btc="80000", staff_id=None)
    invoice = services.invoice_create(
        member_id=alice,
        product_app="frame",
        product_code="gold",
        price_fiat_cents=400,
        currency="EUR",
        return_url="/frames/mine/",
    )
    assert (invoice.amount_sats, invoice.fiat_currency, invoice.return_url) == (5_000, "EUR", "/frames/mine/")
    in_sats = services.invoice_create(
        member_id=alice, product_app="frame", product_code="gold", price_sats=777
    )
    assert (in_sats.amount_sats, in_sats.fiat_amount_cents, in_sats.fiat_rate) == (777, None, None)


def test_the_rates_and_fiat_fields_are_in_the_schema() -> None:
    schema = yaml.safe_load(Client().get("/api/schema/").content)
    rates_operation = schema["paths"]["/api/v1/payment/rates"]["get"]
    assert rates_operation["tags"] == ["payments"]
    create = schema["paths"]["/api/v1/invoices"]["post"]["responses"]
    assert "409" in create
    invoice = schema["components"]["schemas"]["Invoice"]["properties"]
    assert invoice["fiat_amount_cents"]["type"] == "integer" and invoice["fiat_rate"]["type"] == "string"
