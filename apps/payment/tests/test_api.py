"""The invoice API: made for a product, read and checked by its owner only, listed a page at a time at
a constant number of queries, amounts as integers of satoshis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.payment import services

from .conftest import PRICE

Pay = Callable[..., None]


@pytest.fixture
def api_as(django_user_model: Any) -> Callable[[int | None], APIClient]:
    def make(user_id: int | None) -> APIClient:
        client = APIClient()
        if user_id is not None:
            client.force_login(django_user_model.objects.get(pk=user_id))
        return client

    return make


def create(client: APIClient, product: str = "status:agent-30", **extra: Any) -> Any:
    return client.post("/api/v1/invoices", {"product": product, **extra}, format="json")


def test_a_member_makes_an_invoice_and_reads_it(
    alice: int, product: services.ProductRef, api_as: Callable[[int | None], APIClient]
) -> None:
    client = api_as(alice)
    made = create(client, ref="plan:7")
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["product"] == "status:agent-30" and body["product_ref"] == "plan:7"
    assert (body["amount_sats"], body["paid_sats"], body["due_sats"]) == (PRICE, 0, PRICE)
    assert all(type(body[key]) is int for key in ("amount_sats", "paid_sats", "due_sats"))
    assert body["state"] == "new" and body["address"].startswith("bcrt1q")
    assert body["bip21_uri"] == f"bitcoin:{body['address']}?amount=0.0005&label=Agent%2C%2030%20days"
    assert len(body["id"]) >= 22 and body["expires_at"]

    read = client.get(f"/api/v1/invoices/{body['id']}")
    assert read.status_code == 200 and read.json() == body


def test_only_the_owner_sees_an_invoice(
    alice: int, bob: int, product: services.ProductRef, api_as: Callable[[int | None], APIClient]
) -> None:
    public_id = create(api_as(alice)).json()["id"]
    path = f"/api/v1/invoices/{public_id}"
    assert api_as(bob).get(path).status_code == 404
    assert api_as(None).get(path).status_code in (401, 403)
    assert api_as(bob).post(f"/api/v1/invoices/{public_id}/check").status_code == 404
    assert api_as(bob).get("/api/v1/me/invoices").json()["total"] == 0
    assert api_as(None).post("/api/v1/invoices", {"product": "status:agent-30"}).status_code in (401, 403)


def test_a_product_not_for_sale_or_misnamed_is_refused(
    alice: int, product: services.ProductRef, api_as: Callable[[int | None], APIClient]
) -> None:
    client = api_as(alice)
    missing = create(client, "status:nothing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    misnamed = create(client, "agent-30")
    assert misnamed.status_code == 400 and "product" in misnamed.json()["error"]["fields"]


def test_my_invoices_are_paged_at_a_constant_number_of_queries(
    alice: int, product: services.ProductRef, api_as: Callable[[int | None], APIClient]
) -> None:
    client = api_as(alice)
    first = create(client).json()["id"]
    client.get("/api/v1/me/invoices")  # the session and the user are read once warm
    with CaptureQueriesContext(connection) as one:
        listed = client.get("/api/v1/me/invoices").json()
    assert [row["id"] for row in listed["invoices"]] == [first]
    for _ in range(services.INVOICES_PER_PAGE + 2):
        create(client)
    with CaptureQueriesContext(connection) as many:
        full = client.get("/api/v1/me/invoices").json()
    assert len(many) == len(one)
    assert (full["total"], full["pages"], len(full["invoices"])) == (services.INVOICES_PER_PAGE + 3, 2, 20)
    last = client.get("/api/v1/me/invoices?page=2").json()
    assert [row["id"] for row in last["invoices"]][-1] == first
    past = client.get("/api/v1/me/invoices?page=9").json()
    assert (past["page"], past["invoices"], past["total"]) == (9, [], services.INVOICES_PER_PAGE + 3)
    assert client.get("/api/v1/me/invoices?page=zero").status_code == 400


def test_a_check_on_demand_reads_the_chain_and_is_rate_limited(
    alice: int,
    product: services.ProductRef,
    api_as: Callable[[int | None], APIClient],
    pay: Pay,
    settings: Any,
) -> None:
    settings.PAYMENT_CHECKS_PER_MINUTE = 2
    client = api_as(alice)
    public_id = create(client).json()["id"]
    pay(public_id, amount=20_000)
    partial = client.post(f"/api/v1/invoices/{public_id}/check")
    assert partial.status_code == 200
    assert (partial.json()["state"], partial.json()["paid_sats"], partial.json()["due_sats"]) == (
        "new",
        20_000,
        PRICE - 20_000,
    )
    assert partial.json()["bip21_uri"].endswith("?amount=0.0003&label=Agent%2C%2030%20days")
    pay(public_id, confirm=1)
    assert client.post(f"/api/v1/invoices/{public_id}/check").json()["state"] == "settled"
    refused = client.post(f"/api/v1/invoices/{public_id}/check")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    # The watcher's view is still readable.
    assert client.get(f"/api/v1/invoices/{public_id}").json()["state"] == "settled"


def test_a_check_when_the_chain_api_is_down_answers_503(
    alice: int, product: services.ProductRef, api_as: Callable[[int | None], APIClient], settings: Any
) -> None:
    client = api_as(alice)
    public_id = create(client).json()["id"]
    settings.PAYMENT_ESPLORA_URL = "http://127.0.0.1:9/nothing-listens-here"
    down = client.post(f"/api/v1/invoices/{public_id}/check")
    assert down.status_code == 503 and down.json()["error"]["code"] == "payments_unavailable"


def test_the_invoice_api_is_in_the_schema(api_as: Callable[[int | None], APIClient]) -> None:
    schema = yaml.safe_load(api_as(None).get("/api/schema/").content)
    for route, method in (
        ("/api/v1/invoices", "post"),
        ("/api/v1/invoices/{public_id}", "get"),
        ("/api/v1/invoices/{public_id}/check", "post"),
        ("/api/v1/me/invoices", "get"),
    ):
        operation = schema["paths"][route][method]
        assert operation["tags"] == ["payments"]
    check = schema["paths"]["/api/v1/invoices/{public_id}/check"]["post"]["responses"]
    assert {"200", "404", "429"} <= set(check)
    invoice = schema["components"]["schemas"]["Invoice"]["properties"]
    assert invoice["amount_sats"]["type"] == "integer"


def test_the_refusals_speak_russian(
    alice: int, bob: int, product: services.ProductRef, api_as: Callable[[int | None], APIClient]
) -> None:
    public_id = create(api_as(alice)).json()["id"]
    refused = api_as(bob).get(f"/api/v1/invoices/{public_id}", HTTP_ACCEPT_LANGUAGE="ru")
    assert refused.json()["error"]["message"] == "Такого счёта нет."
    misnamed = api_as(alice).post(
        "/api/v1/invoices", {"product": "agent-30"}, format="json", HTTP_ACCEPT_LANGUAGE="ru"
    )
    assert misnamed.json()["error"]["fields"]["product"] == ["Товар указывается как <app>:<code>."]
