"""manage.py seed_status: the demo's status plans and automatic rules, on top of ``seed_forum --demo``.

Agent is paid (plans for 30 days, 365 days and for good, at demo prices in satoshis); Reader is
automatic for activity (10 posts, 3 days on the forum and no active warnings). Every plan goes
through ``plan_save``, so the payment app has it as a product. Idempotent: plans and rules already
there are left as they are. The launcher calls it after ``seed_forum --demo`` (the kernel names
commands, it imports no app).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from apps.status.models import RuleKind, StatusPlan, StatusRule
from apps.status.selectors import status_by_code
from apps.status.services import plan_save, rules_evaluate_all, status_plans_sync

# (status, days or None for good, price in satoshis)
DEMO_PLANS = (("agent", 30, 50_000), ("agent", 365, 400_000), ("agent", None, 1_000_000))
DEMO_RULES = (
    ("reader", RuleKind.POSTS_MIN, 10),
    ("reader", RuleKind.DAYS_MEMBER_MIN, 3),
    ("reader", RuleKind.WARNING_POINTS_MAX, 0),
)


class Command(BaseCommand):
    help = "Create the demo's status plans (Agent) and automatic rules (Reader); idempotent."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--allow-production", action="store_true", help="Seed even in production.")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION and not options["allow_production"]:
            raise CommandError(
                "Refusing to seed demo data in the production profile (see --allow-production)."
            )
        with transaction.atomic():
            made = 0
            for position, (code, days, price) in enumerate(DEMO_PLANS):
                status = status_by_code(code=code)
                if status is None or StatusPlan.objects.filter(status=status, days=days).exists():
                    continue
                plan_save(status_code=code, days=days, price_sats=price, position=position)
                made += 1
            for code, kind, threshold in DEMO_RULES:
                status = status_by_code(code=code)
                if status is not None:
                    _rule, created = StatusRule.objects.get_or_create(
                        status=status, kind=kind, defaults={"threshold": threshold}
                    )
                    made += int(created)
            status_plans_sync()
        changed = rules_evaluate_all()
        self.stdout.write(f"seed_status: {made} plans and rules made, {changed} automatic grants changed")
