"""The checkout page, its live part and "Check now", the member's invoices and receipts: the owner
only, paid through the development chain over HTTP, at a constant number of queries, in both
languages."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.payment import services
from apps.payment.handlers import invoice_topic_check
from apps.payment.models import Invoice

from .conftest import PRICE

Pay = Callable[..., None]


@pytest.fixture
def page_as(django_user_model: Any) -> Callable[[int | None], Client]:
    def make(user_id: int | None) -> Client:
        client = Client()
        if user_id is not None:
            client.force_login(django_user_model.objects.get(pk=user_id))
        return client

    return make


@pytest.fixture
def sold() -> services.ProductRef:
    return services.product_register(
        app_label="status", code="agent-30", title="Agent, 30 days", price_sats=PRICE, return_url="/statuses/"
    )


def new_invoice(member_id: int) -> services.InvoiceRef:
    return services.invoice_create(member_id=member_id, product_app="status", product_code="agent-30")


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_only_the_owner_sees_the_checkout_page(
    alice: int, bob: int, sold: services.ProductRef, page_as: Callable[[int | None], Client]
) -> None:
    invoice = new_invoice(alice)
    for suffix in ("", "live/", "receipt/"):
        path = f"/pay/{invoice.public_id}/{suffix}"
        guest = page_as(None).get(path)
        assert guest.status_code == 302 and "/accounts/signin/" in guest["Location"]
        assert page_as(bob).get(path).status_code == 404
    assert page_as(bob).post(f"/pay/{invoice.public_id}/check/").status_code == 404
    assert page_as(alice).get("/pay/no-such-invoice-here/").status_code == 404
    assert invoice_topic_check(alice, invoice.public_id) is True
    assert invoice_topic_check(bob, invoice.public_id) is False
    assert invoice_topic_check(alice, "no-such-invoice") is False


def test_the_checkout_page_shows_how_to_pay(
    alice: int, sold: services.ProductRef, page_as: Callable[[int | None], Client]
) -> None:
    invoice = new_invoice(alice)
    page = page_as(alice).get(f"/pay/{invoice.public_id}/")
    assert page.status_code == 200
    html = text(page)
    assert "Pay for Agent, 30 days" in html and "0.0005 BTC" in html
    assert f'<code class="checkout__address" data-address>{invoice.address}</code>' in html
    assert f'href="bitcoin:{invoice.address}?amount=0.0005&amp;label=Agent%2C%2030%20days"' in html
    # The QR code is an SVG drawn here, named for screen readers.
    assert re.search(r'<svg role="img" aria-label="QR code of the payment: 0.0005 BTC to [a-z0-9]+"', html)
    # Without JavaScript the expiry is a time; the script counts down in the span beside it.
    assert f'<time datetime="{invoice.expires_at.isoformat()[:19]}' in html
    assert 'data-topic="invoice:' + invoice.public_id + '"' in html
    assert 'data-check-every="20"' in html and "Check now" in html


def test_underpaid_then_seen_then_settled_with_a_way_back(
    alice: int, sold: services.ProductRef, page_as: Callable[[int | None], Client], pay: Pay
) -> None:
    invoice = new_invoice(alice)
    client = page_as(alice)
    pay(invoice.public_id, amount=20_000)
    # The page's button: the check, then the page again.
    checked = client.post(f"/pay/{invoice.public_id}/check/")
    assert checked.status_code == 302 and checked["Location"] == f"/pay/{invoice.public_id}/"
    html = text(client.get(f"/pay/{invoice.public_id}/"))
    assert (
        "We have received 0.0002 BTC of 0.0005 BTC. Send the remaining 0.0003 BTC to the same address" in html
    )
    assert "amount=0.0003" in html  # the BIP21 link and QR code ask for what is left

    pay(invoice.public_id)
    # checkout.js's check: the live part alone.
    live = client.post(f"/pay/{invoice.public_id}/check/", HTTP_X_REQUESTED_WITH="checkout")
    assert live.status_code == 200 and "<html" not in live.content.decode()
    html = text(live)
    assert "Payment seen" in html and "0 of 1 so far" in html and "data-address" not in html

    pay(confirm=1)
    services.invoice_check(public_id=invoice.public_id)
    html = text(client.get(f"/pay/{invoice.public_id}/live/"))
    assert "Paid. Thank you!" in html and 'data-check-every="0"' in html and "Check now" not in html
    assert '<a class="button" href="/statuses/">Go to Agent, 30 days</a>' in html
    receipt = text(client.get(f"/pay/{invoice.public_id}/receipt/"))
    payments = Invoice.objects.get(public_id=invoice.public_id).payments.order_by("seen_at")
    assert all(f"{payment.txid}:{payment.vout}" in receipt for payment in payments)
    assert "Receipt" in receipt and "0.0005 BTC" in receipt and "Agent, 30 days" in receipt


def test_a_receipt_exists_only_once_paid(
    alice: int, sold: services.ProductRef, page_as: Callable[[int | None], Client]
) -> None:
    invoice = new_invoice(alice)
    assert page_as(alice).get(f"/pay/{invoice.public_id}/receipt/").status_code == 404


def test_an_expired_invoice_says_not_to_pay_and_how_to_start_again(
    alice: int, sold: services.ProductRef, page_as: Callable[[int | None], Client], settings: Any
) -> None:
    invoice = new_invoice(alice)
    Invoice.objects.filter(public_id=invoice.public_id).update(
        expires_at=timezone.now() - datetime.timedelta(minutes=5)
    )
    services.invoice_check(public_id=invoice.public_id)
    html = text(page_as(alice).get(f"/pay/{invoice.public_id}/"))
    assert "Expired" in html and "without a payment. Do not pay into its address now" in html
    assert "still counts if the network shows it before" in html  # within the grace
    assert 'href="/statuses/">Start again' in html and "data-address" not in html
    assert "Check now" not in html


def test_a_refused_check_is_a_message_not_an_error(
    alice: int, sold: services.ProductRef, page_as: Callable[[int | None], Client], settings: Any
) -> None:
    invoice = new_invoice(alice)
    client = page_as(alice)
    settings.PAYMENT_ESPLORA_URL = "http://127.0.0.1:9/nothing-listens-here"
    refused = client.post(f"/pay/{invoice.public_id}/check/", follow=True)
    assert refused.status_code == 200 and "cannot be read right now" in text(refused)
    quiet = client.post(f"/pay/{invoice.public_id}/check/", HTTP_X_REQUESTED_WITH="checkout")
    assert quiet.status_code == 503 and quiet.content == b""


def test_my_invoices_are_paged_at_a_constant_number_of_queries(
    alice: int, bob: int, sold: services.ProductRef, page_as: Callable[[int | None], Client], pay: Pay
) -> None:
    client = page_as(alice)
    assert "You have no invoices" in text(client.get("/pay/"))
    first = new_invoice(alice)
    new_invoice(bob)
    pay(first.public_id, confirm=1)
    services.invoice_check(public_id=first.public_id)
    client.get("/pay/")
    with CaptureQueriesContext(connection) as one:
        html = text(client.get("/pay/"))
    assert f'href="/pay/{first.public_id}/receipt/"' in html and "Paid" in html
    for _ in range(services.INVOICES_PER_PAGE + 2):
        new_invoice(alice)
    with CaptureQueriesContext(connection) as many:
        full = text(client.get("/pay/"))
    assert len(many) == len(one)
    assert full.count('class="invoice-list__item"') == services.INVOICES_PER_PAGE
    assert "Page 1 of 2" in full and first.public_id not in full
    second = text(client.get("/pay/?page=2"))
    assert first.public_id in second and second.count('class="invoice-list__item"') == 3
    assert text(client.get("/pay/?page=nonsense")).count('class="invoice-list__item"') == 20


def test_the_pages_speak_russian(
    alice: int, sold: services.ProductRef, page_as: Callable[[int | None], Client]
) -> None:
    invoice = new_invoice(alice)
    client = page_as(alice)
    html = text(client.get(f"/pay/{invoice.public_id}/", HTTP_ACCEPT_LANGUAGE="ru"))
    assert "Оплата: Agent, 30 days" in html and "Ожидает оплаты" in html and "Проверить сейчас" in html
    listed = text(client.get("/pay/", HTTP_ACCEPT_LANGUAGE="ru"))
    assert "Мои счета" in listed
