"""Status plans bought through the payment app: the shop's buy form makes an invoice, the settled
invoice grants the status once, extends a running grant from its end, keeps continuity within the
grace period, and a permanent status outranks a timed one. Paid on the development chain (real
signed transactions read over HTTP) or settled by staff, through the payment app's services."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from pytest_django.live_server_helper import LiveServer

from apps.payment.services import invoice_check, invoice_settle_manually, rate_set
from apps.status.models import PlanPurchase, StatusGrant
from apps.status.services import (
    StatusPlanRef,
    plan_buy,
    plan_save,
    status_define,
    status_grants_ending,
    statuses_expire_due,
)
from forum.errors import Conflict, ValidationFailed
from forum.testing.fixtures import Clock

from .helpers import Handler

DAY = datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def agent(db: None, settings: Any) -> None:
    # Defined again: a test on the live server (transactional) empties the tables the data migration filled.
    settings.STATUS_RENEWAL_GRACE_DAYS = 7
    status_define(
        code="agent", name="Agent", permissions={"forum.read_exclusive": True, "thread.create_per_day": 10}
    )


@pytest.fixture
def chain_api(live_server: LiveServer, settings: Any) -> None:
    """The development chain served over real HTTP by the live server, the watcher pointed at it."""
    settings.PAYMENT_CONFIRMATIONS = [(0, 1)]
    settings.PAYMENT_ZERO_CONF_BELOW_SATS = 0
    settings.PAYMENT_ESPLORA_URL = f"{live_server.url}/dev/esplora"


@pytest.fixture
def month() -> StatusPlanRef:
    return plan_save(status_code="agent", days=30, price_sats=50_000)


@pytest.fixture
def forever() -> StatusPlanRef:
    return plan_save(status_code="agent", days=None, price_sats=1_000_000)


@pytest.fixture
def staff(make_member: Callable[..., int]) -> int:
    return make_member(is_staff=True)


@pytest.fixture
def web_as(django_user_model: Any) -> Callable[[int | None], Client]:
    def make(user_id: int | None) -> Client:
        client = Client()
        if user_id is not None:
            client.force_login(django_user_model.objects.get(pk=user_id))
        return client

    return make


def grants(user_id: int) -> list[StatusGrant]:
    return list(StatusGrant.objects.filter(user_id=user_id, status__code="agent").order_by("starts_at", "pk"))


def settle(invoice_id: str, staff: int, handle: Handler) -> None:
    invoice_settle_manually(public_id=invoice_id, staff_id=staff, reason="paid by bank transfer")
    handle()


def test_a_plan_bought_in_the_shop_and_paid_on_the_chain_grants_the_status_once(
    chain_api: None,
    make_member: Callable[..., int],
    month: StatusPlanRef,
    web_as: Callable[[int | None], Client],
    handle: Handler,
    outbox: Callable[[str], list[dict[str, Any]]],
) -> None:
    alice = make_member()
    answer = web_as(alice).post("/shop/buy/", {"plan": str(month.plan_id)})
    assert answer.status_code == 302
    invoice_id = outbox("payment.invoice_created")[0]["invoice_id"]
    assert invoice_id in answer["Location"]
    created = outbox("payment.invoice_created")[0]
    assert (
        created["member_id"],
        created["product_app"],
        created["product_code"],
        created["amount_sats"],
    ) == (
        alice,
        "status",
        f"status-plan:{month.plan_id}",
        50_000,
    )

    call_command("payment_pay", invoice_id, "--confirm", "1")
    assert invoice_check(public_id=invoice_id).state == "settled"
    handle()
    (grant,) = grants(alice)
    assert grant.source == "purchase" and grant.reference == f"invoice:{invoice_id}"
    assert grant.ends_at is not None and grant.ends_at - grant.starts_at == 30 * DAY

    # The broker delivers the settlement again, and a retry of the fulfilment runs once more: one grant.
    handle.redeliver("payment.invoice_settled")
    handle.done.clear()
    handle()
    assert len(grants(alice)) == 1 and PlanPurchase.objects.filter(invoice_id=invoice_id).count() == 1
    assert len(outbox("status.granted")) == 1


def test_a_second_purchase_extends_the_running_grant_from_its_end(
    make_member: Callable[..., int], month: StatusPlanRef, staff: int, handle: Handler, clock: Clock
) -> None:
    alice = make_member()
    settle(plan_buy(user_id=alice, plan_id=month.plan_id).invoice_id, staff, handle)
    settle(plan_buy(user_id=alice, plan_id=month.plan_id).invoice_id, staff, handle)
    first, second = grants(alice)
    assert first.ends_at is not None and second.ends_at is not None
    assert second.starts_at == first.ends_at and second.ends_at == first.ends_at + 30 * DAY
    # Nothing ends when the first grant does: no reminder for it; the second one is far off.
    assert status_grants_ending(within=40 * DAY) == []
    clock.move(days=31)  # the second one runs now, and ends in 29 days
    assert [ref.grant_id for ref in status_grants_ending(within=30 * DAY)] == [second.pk]


def test_a_renewal_within_the_grace_keeps_continuity_and_after_it_starts_anew(
    make_member: Callable[..., int], month: StatusPlanRef, staff: int, handle: Handler, clock: Clock
) -> None:
    alice, bob = make_member(), make_member()
    settle(plan_buy(user_id=alice, plan_id=month.plan_id).invoice_id, staff, handle)
    settle(plan_buy(user_id=bob, plan_id=month.plan_id).invoice_id, staff, handle)
    clock.move(days=33)  # both ended 3 days ago (within the 7 days of grace)
    assert statuses_expire_due() == 2
    settle(plan_buy(user_id=alice, plan_id=month.plan_id).invoice_id, staff, handle)
    old, renewed = grants(alice)
    assert renewed.starts_at == old.ends_at and renewed.ends_at == old.ends_at + 30 * DAY  # type: ignore[operator]

    clock.move(days=5)  # bob's ended 8 days ago: past the grace, the new period starts now
    settle(plan_buy(user_id=bob, plan_id=month.plan_id).invoice_id, staff, handle)
    _old, fresh = grants(bob)
    assert fresh.starts_at == clock.now and fresh.ends_at == clock.now + 30 * DAY


def test_permanent_outranks_timed(
    make_member: Callable[..., int],
    month: StatusPlanRef,
    forever: StatusPlanRef,
    staff: int,
    handle: Handler,
    web_as: Callable[[int | None], Client],
) -> None:
    alice = make_member()
    settle(plan_buy(user_id=alice, plan_id=month.plan_id).invoice_id, staff, handle)
    settle(plan_buy(user_id=alice, plan_id=forever.plan_id).invoice_id, staff, handle)
    timed, permanent = grants(alice)
    assert timed.ends_at is not None and timed.revoked_at is None
    assert permanent.ends_at is None and permanent.source == "purchase"
    # The timed grant stays (it was paid for) but ends in nothing: no reminder is due for it.
    assert status_grants_ending(within=40 * DAY) == []
    # A timed plan is no longer sold to a member who holds the status for good.
    with pytest.raises(Conflict):
        plan_buy(user_id=alice, plan_id=month.plan_id)
    page = web_as(alice).get("/shop/")
    assert "You hold this status for good." in page.content.decode()
    assert f'name="plan" value="{month.plan_id}"' not in page.content.decode()
    refused = web_as(alice).post("/shop/buy/", {"plan": str(month.plan_id)})
    assert refused.status_code == 409 and "You hold this status for good already." in refused.content.decode()
    assert len(grants(alice)) == 2


def test_a_plan_taken_off_sale_is_no_longer_a_product(
    make_member: Callable[..., int], month: StatusPlanRef, web_as: Callable[[int | None], Client]
) -> None:
    plan_save(plan_id=month.plan_id, status_code="agent", days=30, price_sats=60_000, active=False)
    alice = make_member()
    assert web_as(alice).post("/shop/buy/", {"plan": str(month.plan_id)}).status_code == 404
    assert web_as(alice).post("/shop/buy/", {"plan": "nope"}).status_code == 400
    plan_save(plan_id=month.plan_id, status_code="agent", days=30, price_sats=60_000, active=True)
    assert plan_buy(user_id=alice, plan_id=month.plan_id).amount_sats == 60_000


def test_a_plan_priced_in_a_currency_is_invoiced_at_the_rate_of_the_moment(
    make_member: Callable[..., int], staff: int, handle: Handler, web_as: Callable[[int | None], Client]
) -> None:
    euro = plan_save(status_code="agent", days=30, price_fiat_cents=1_250, currency="eur")
    assert (euro.price_sats, euro.price_fiat_cents, euro.currency, euro.fiat_price) == (
        None,
        1_250,
        "EUR",
        "12.50",
    )
    alice = make_member()
    assert "12.50 EUR" in web_as(alice).get("/shop/").content.decode()
    # No rate yet: the shop says so, and no invoice is made.
    refused = web_as(alice).post("/shop/buy/", {"plan": str(euro.plan_id)})
    assert refused.status_code == 409
    rate_set(currency="EUR", fiat_per_btc="50000", staff_id=staff)
    invoice = plan_buy(user_id=alice, plan_id=euro.plan_id)
    assert invoice.amount_sats == 25_000  # 12.50 EUR at 50,000 EUR a bitcoin, in whole satoshis
    settle(invoice.invoice_id, staff, handle)
    (grant,) = grants(alice)
    assert grant.ends_at is not None and grant.ends_at - grant.starts_at == 30 * DAY


@pytest.mark.parametrize(
    ("prices", "field"),
    [
        ({}, "price_sats"),
        ({"price_sats": 1_000, "price_fiat_cents": 100, "currency": "EUR"}, "price_sats"),
        ({"price_sats": 0}, "price_sats"),
        ({"price_fiat_cents": 100, "currency": "XYZ"}, "currency"),
        ({"price_sats": 1_000, "currency": "EUR"}, "currency"),
    ],
)
def test_a_plan_has_one_valid_price(prices: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        plan_save(status_code="agent", days=30, **prices)
    assert field in refused.value.fields
