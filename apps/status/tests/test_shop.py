"""The shop of statuses (/shop/), its API, and the reminder with its one-click renewal."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.payment.services import invoice_get
from apps.status.models import StatusGrant
from apps.status.services import StatusPlanRef, plan_save, status_define

from .helpers import Handler, bought

DAY = datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def statuses(db: None, settings: Any) -> None:
    status_define(
        code="agent",
        name="Agent",
        permissions={"forum.read_exclusive": True, "thread.create_per_day": 10},
        position=1,
    )


@pytest.fixture
def month() -> StatusPlanRef:
    return plan_save(status_code="agent", days=30, price_sats=50_000)


def test_guests_see_the_shop_with_what_each_status_gives_and_a_sign_in_link(
    month: StatusPlanRef, web_as: Callable[[int | None], Client]
) -> None:
    page = web_as(None).get("/shop/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Agent" in text and "Read the exclusive sections" in text and "New threads a day: 10" in text
    assert "30 days" in text and "0.0005 BTC" in text
    assert "Sign in to buy a status" in text and "/shop/buy/" not in text
    assert web_as(None).post("/shop/buy/", {"plan": str(month.plan_id)}).status_code == 302  # to sign in


def test_the_shop_in_russian(month: StatusPlanRef, web_as: Callable[[int | None], Client]) -> None:
    text = web_as(None).get("/shop/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Статусы" in text and "30 дней" in text and "0.0005 BTC" in text


def test_the_shop_costs_the_same_queries_with_more_statuses_and_plans(
    make_member: Callable[..., int], month: StatusPlanRef, web_as: Callable[[int | None], Client]
) -> None:
    alice = make_member()
    client = web_as(alice)
    client.get("/shop/")
    with CaptureQueriesContext(connection) as few:
        assert client.get("/shop/").status_code == 200
    status_define(code="patron", name="Patron", permissions={"post.attachments_max": 20}, position=2)
    for days in (90, 365, None):
        plan_save(status_code="agent", days=days, price_sats=70_000)
        plan_save(status_code="patron", days=days, price_sats=80_000)
    with CaptureQueriesContext(connection) as many:
        page = client.get("/shop/")
    assert "Patron" in page.content.decode()
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_member_sees_their_grant_and_buys_more_with_a_post_form(
    make_member: Callable[..., int],
    month: StatusPlanRef,
    web_as: Callable[[int | None], Client],
    handle: Handler,
) -> None:
    alice, staff = make_member(), make_member(is_staff=True)
    bought(alice, month.plan_id, staff, handle)
    grant = StatusGrant.objects.get(user_id=alice)
    text = web_as(alice).get("/shop/").content.decode()
    assert "You hold this status until" in text and "Extend" in text
    assert f'<input type="hidden" name="plan" value="{month.plan_id}">' in text
    assert grant.ends_at is not None


def test_the_api_lists_plans_and_buys_one(
    make_member: Callable[..., int], month: StatusPlanRef, api_as: Callable[[int | None], APIClient]
) -> None:
    listed = api_as(None).get("/api/v1/status-plans")
    assert listed.status_code == 200
    (agent,) = listed.json()["statuses"]
    assert agent["code"] == "agent"
    assert {"permission": "thread.create_per_day", "description": "New threads a day", "value": 10} in agent[
        "gives"
    ]
    assert agent["plans"] == [
        {"id": month.plan_id, "days": 30, "price_sats": 50_000, "price_fiat_cents": None, "currency": ""}
    ]

    alice = make_member()
    assert api_as(None).post(f"/api/v1/status-plans/{month.plan_id}/buy").status_code in (401, 403)
    made = api_as(alice).post(f"/api/v1/status-plans/{month.plan_id}/buy")
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["plan_id"] == month.plan_id and body["amount_sats"] == 50_000
    assert body["invoice_id"] in body["checkout_url"]
    assert invoice_get(public_id=body["invoice_id"], viewer_id=alice).member_id == alice
    missing = api_as(alice).post("/api/v1/status-plans/999999/buy")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
