"""manage.py seed_status: the demo's plans (Agent, paid) and rules (Reader, automatic), once."""

from __future__ import annotations

import io
from collections.abc import Callable

from django.core.management import call_command

from apps.status.models import StatusPlan, StatusRule
from apps.status.services import plan_buy, status_plans


def test_seed_status_sells_agent_and_gives_reader_for_activity_once(make_member: Callable[..., int]) -> None:
    call_command("seed_status", stdout=io.StringIO())
    call_command("seed_status", stdout=io.StringIO())
    plans = status_plans(status_code="agent")
    assert [(plan.days, plan.price_sats) for plan in plans] == [
        (30, 50_000),
        (365, 400_000),
        (None, 1_000_000),
    ]
    assert StatusPlan.objects.count() == 3
    assert sorted(StatusRule.objects.values_list("status__code", "kind", "threshold")) == [
        ("reader", "days_member_min", 3),
        ("reader", "posts_min", 10),
        ("reader", "warning_points_max", 0),
    ]
    # Registered with the payment app: a member can buy each.
    alice = make_member()
    assert [plan_buy(user_id=alice, plan_id=plan.plan_id).amount_sats for plan in plans] == [
        50_000,
        400_000,
        1_000_000,
    ]
