"""Staff keep plans and automatic rules in the Django admin; a plan saved there is the payment app's
product at once, and taken off sale there when it is."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from apps.payment.services import invoice_create
from apps.status.models import Status, StatusPlan, StatusRule
from forum.errors import NotFound

from .test_admin import staff_client

pytestmark = pytest.mark.django_db


def test_an_admin_adds_a_plan_that_is_then_for_sale_and_takes_it_off(make_member: Callable[..., int]) -> None:
    client, _admin = staff_client(make_member, "admin")
    agent = Status.objects.get(code="agent")
    form = {
        "status": str(agent.pk),
        "days": "30",
        "price_sats": "50000",
        "price_fiat_cents": "",
        "currency": "",
    }
    answer = client.post("/admin/status/statusplan/add/", {**form, "active": "on", "position": "0"})
    assert answer.status_code == 302, answer.content.decode()[:2000]
    plan = StatusPlan.objects.get()
    alice = make_member()
    invoice = invoice_create(member_id=alice, product_app="status", product_code=f"status-plan:{plan.pk}")
    assert (invoice.amount_sats, invoice.title) == (50_000, "Agent, 30 days")

    off = client.post(f"/admin/status/statusplan/{plan.pk}/change/", {**form, "position": "0"})
    assert off.status_code == 302
    with pytest.raises(NotFound):
        invoice_create(member_id=alice, product_app="status", product_code=f"status-plan:{plan.pk}")


def test_a_plan_with_two_prices_or_none_is_refused_by_the_form(make_member: Callable[..., int]) -> None:
    client, _admin = staff_client(make_member, "admin")
    agent = Status.objects.get(code="agent")
    for prices in (
        {"price_sats": "", "price_fiat_cents": "", "currency": ""},
        {"price_sats": "1000", "price_fiat_cents": "500", "currency": "EUR"},
    ):
        answer = client.post(
            "/admin/status/statusplan/add/",
            {"status": str(agent.pk), "days": "30", "active": "on", "position": "0", **prices},
        )
        assert answer.status_code == 200
        assert "Give one price: in satoshis or in a currency." in answer.content.decode()
    assert not StatusPlan.objects.exists()


def test_an_admin_adds_a_rule(make_member: Callable[..., int]) -> None:
    client, _admin = staff_client(make_member, "admin")
    reader = Status.objects.get(code="reader")
    answer = client.post(
        "/admin/status/statusrule/add/", {"status": str(reader.pk), "kind": "posts_min", "threshold": "10"}
    )
    assert answer.status_code == 302
    assert list(StatusRule.objects.values_list("kind", "threshold")) == [("posts_min", 10)]
    assert client.get("/admin/status/statusplan/").status_code == 200
    assert client.get("/admin/status/planpurchase/").status_code == 200
