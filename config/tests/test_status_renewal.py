"""The reminder before a bought status ends, with its one-click renewal (here, not in apps/status/tests:
the reminder is the notification app's, which imports the status app, so the status app's package may
not import it back)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from apps.notification.services import notifications_latest, statuses_expiring_notify
from apps.payment.services import invoice_get, invoice_settle_manually
from apps.status.models import StatusGrant
from apps.status.services import StatusPlanRef, plan_save, status_define, status_grant
from apps.status.tests.helpers import Handler, bought
from forum.testing.fixtures import Clock

DAY = datetime.timedelta(days=1)


@pytest.fixture(autouse=True)
def statuses(english: None, redis_namespace: str, db: None, settings: Any) -> None:
    settings.NOTIFICATION_STATUS_EXPIRY_WARNING_HOURS = 72
    status_define(
        code="agent", name="Agent", permissions={"forum.read_exclusive": True, "thread.create_per_day": 10}
    )


@pytest.fixture
def handle() -> Handler:
    return Handler()


@pytest.fixture
def month() -> StatusPlanRef:
    return plan_save(status_code="agent", days=30, price_sats=50_000)


def test_a_reminder_before_a_bought_grant_ends_once_with_a_working_renewal(
    make_member: Callable[..., int],
    month: StatusPlanRef,
    web_as: Callable[[int | None], Client],
    handle: Handler,
    clock: Clock,
) -> None:
    alice, bob, staff = make_member(), make_member(), make_member(is_staff=True)
    bought(alice, month.plan_id, staff, handle)
    grant = StatusGrant.objects.get(user_id=alice)
    assert statuses_expiring_notify() == 0  # 30 days ahead
    clock.move(days=28)
    assert statuses_expiring_notify() == 1
    assert statuses_expiring_notify() == 0  # once per grant
    (notice,) = notifications_latest(user_id=alice)
    assert notice.kind == "status.expiring" and "renew it in one click" in notice.text
    assert notice.url == f"/shop/renew/{grant.pk}/"

    page = web_as(alice).get(notice.url)
    assert page.status_code == 200 and "Renew and pay" in page.content.decode()
    assert web_as(bob).get(notice.url).status_code == 404  # someone else's grant
    renewed = web_as(alice).post(notice.url)
    assert renewed.status_code == 302
    assert renewed["Location"].startswith("/pay/")
    invoice_id = renewed["Location"].rstrip("/").rsplit("/", 1)[-1]
    invoice = invoice_get(public_id=invoice_id, viewer_id=alice)
    assert (invoice.product_code, invoice.amount_sats) == (f"status-plan:{month.plan_id}", 50_000)
    invoice_settle_manually(public_id=invoice_id, staff_id=staff, reason="test")
    handle()
    old, new = StatusGrant.objects.filter(user_id=alice).order_by("starts_at")
    assert new.starts_at == old.ends_at


def test_a_grant_given_by_staff_is_reminded_without_a_renewal(
    make_member: Callable[..., int], clock: Clock
) -> None:
    alice = make_member()
    status_grant(user_id=alice, status_code="agent", source="staff", ends_at=clock.now + 2 * DAY)
    assert statuses_expiring_notify() == 1
    (notice,) = notifications_latest(user_id=alice)
    assert "renew" not in notice.text and notice.url == f"/members/{alice}/"
