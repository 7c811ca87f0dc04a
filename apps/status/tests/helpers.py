"""Helpers of the status tests: ``Handler`` plays the worker for this app's subscribers; ``bought``
buys a plan and has its invoice settled (config/tests use both too)."""

from __future__ import annotations

from apps.payment.services import invoice_settle_manually
from apps.status.services import plan_buy
from forum.testing.outbox import OutboxWorker


class Handler(OutboxWorker):
    """Runs the status app's subscribers on the events published so far and not yet handled here
    (forum.testing.outbox: as a Celery worker would, the same task, the same event id, its dedup)."""

    PREFIXES = ("status.",)


def bought(user_id: int, plan_id: int, staff: int, handle: Handler) -> str:
    """``user_id`` buys the plan, staff settle the invoice by hand, and the status app's subscribers
    run (``handle``): the member holds the status. Returns the invoice's public id."""
    invoice_id = plan_buy(user_id=user_id, plan_id=plan_id).invoice_id
    invoice_settle_manually(public_id=invoice_id, staff_id=staff, reason="test")
    handle()
    return invoice_id
