"""Reads of the status app: the catalogue, a member's grants, and the grants that are due to end."""

from __future__ import annotations

import datetime

from django.db import connection
from django.db.models import Max, Q, QuerySet

from apps.status.models import PlanPurchase, Status, StatusGrant, StatusPlan, StatusRule
from forum.versioned_cache import kept


def statuses_listed() -> QuerySet[Status]:
    return Status.objects.order_by("position", "code")


def status_by_code(*, code: str) -> Status | None:
    return Status.objects.filter(code=code).first()


def grants_of(*, user_id: int) -> QuerySet[StatusGrant]:
    """Every grant of the member, newest first, with its status."""
    return StatusGrant.objects.filter(user_id=user_id).select_related("status").order_by("-starts_at", "-pk")


def _not_over(now: datetime.datetime) -> Q:
    return Q(revoked_at__isnull=True, expired_at__isnull=True) & (
        Q(ends_at__isnull=True) | Q(ends_at__gt=now)
    )


def grants_not_over(*, user_id: int, now: datetime.datetime) -> QuerySet[StatusGrant]:
    """The member's grants that run now or will start later (neither revoked nor ended)."""
    return (
        StatusGrant.objects.filter(_not_over(now), user_id=user_id)
        .select_related("status")
        .order_by("starts_at", "pk")
    )


def holders_of(*, status_id: int, now: datetime.datetime) -> list[int]:
    """Ids of the members with a grant of the status that is not over."""
    return list(
        StatusGrant.objects.filter(_not_over(now), status_id=status_id)
        .order_by("user_id")
        .values_list("user_id", flat=True)
        .distinct()
    )


def active_codes_of(*, user_ids: list[int], now: datetime.datetime) -> dict[int, list[str]]:
    """The codes of the statuses each member holds right now, for a page of members at once."""
    held: dict[int, list[str]] = {user_id: [] for user_id in user_ids}
    rows = (
        StatusGrant.objects.filter(_not_over(now), user_id__in=user_ids, starts_at__lte=now)
        .order_by("user_id", "status__position", "status__code")
        .values_list("user_id", "status__code")
    )
    for user_id, code in rows:
        if code not in held[user_id]:
            held[user_id].append(code)
    return held


def badge_grants_of(
    *, user_ids: list[int], now: datetime.datetime
) -> list[tuple[int, str, str, datetime.datetime, datetime.datetime | None]]:
    """``(user id, code, stored name, starts at, ends at)`` of each grant of the members that is not over
    (running now or starting later), in catalogue order, in ONE query: the badges of a page of members
    and the instant they next change by the clock alone. In SQL: it runs for every thread page whose
    badges are not kept, and the ORM took longer to build the join than PostgreSQL to run it."""
    wanted = [user_id for user_id in set(user_ids) if 0 < user_id < 2**63]
    if not wanted:
        return []
    grants, statuses = StatusGrant._meta.db_table, Status._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT g."user_id", s."code", s."name", g."starts_at", g."ends_at" FROM "{grants}" g '
            f'JOIN "{statuses}" s ON s."id" = g."status_id" '
            'WHERE g."user_id" = ANY(%s::bigint[]) AND g."revoked_at" IS NULL AND g."expired_at" IS NULL '
            'AND (g."ends_at" IS NULL OR g."ends_at" > %s) '
            'ORDER BY g."user_id", s."position", s."code"',
            [wanted, now],
        )
        return [
            (int(user_id), str(code), str(name), starts_at, ends_at)
            for user_id, code, name, starts_at, ends_at in cursor.fetchall()
        ]


def grants_due(*, now: datetime.datetime, batch: int) -> list[StatusGrant]:
    """Grants whose end has passed and that are not yet marked expired, locked for this transaction
    (rows another expiry run holds are skipped, so two runs never expire a grant twice)."""
    return list(
        StatusGrant.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(revoked_at__isnull=True, expired_at__isnull=True, ends_at__lte=now)
        .select_related("status")
        .order_by("ends_at", "pk")[:batch]
    )


def grant_for_update(*, grant_id: int) -> StatusGrant | None:
    return (
        StatusGrant.objects.select_for_update(of=("self",))
        .select_related("status")
        .filter(pk=grant_id)
        .first()
    )


def plans_on_sale(*, status_code: str | None) -> list[StatusPlan]:
    plans = StatusPlan.objects.filter(active=True).select_related("status")
    if status_code is not None:
        plans = plans.filter(status__code=status_code)
    return list(plans.order_by("status__position", "status__code", "position", "days", "pk"))


def plan_on_sale(*, plan_id: int) -> StatusPlan | None:
    return StatusPlan.objects.filter(pk=plan_id, active=True).select_related("status").first()


def purchase_of_grant(*, grant_id: int) -> PlanPurchase | None:
    return PlanPurchase.objects.filter(grant_id=grant_id).first()


def renewable_plans_of(*, grant_ids: list[int]) -> set[int]:
    """Which of these grants were bought with a plan still on sale (one query)."""
    return set(
        PlanPurchase.objects.filter(grant_id__in=grant_ids, plan__active=True).values_list(
            "grant_id", flat=True
        )
    )


def latest_timed_end(*, user_id: int, status_id: int) -> datetime.datetime | None:
    """The end of the member's last timed grant of the status that was not revoked (automatic ones
    left out: they end by rule, not by date)."""
    latest: datetime.datetime | None = (
        StatusGrant.objects.filter(
            user_id=user_id, status_id=status_id, revoked_at__isnull=True, ends_at__isnull=False
        )
        .exclude(source="automatic")
        .aggregate(latest=Max("ends_at"))["latest"]
    )
    return latest


def rules_by_status_kept() -> list[tuple[Status, list[StatusRule]]]:
    """``rules_by_status``, kept (in the process too) under the status scope: moved by every status
    event, a status defined or renamed and a rule saved or deleted (apps.py). For reading only (a
    profile's progress); the rows are shared and must not be changed."""
    return kept("status.rules", (), ("status",), rules_by_status, local=True)


def rules_by_status() -> list[tuple[Status, list[StatusRule]]]:
    """Every status given by rules, with its rules, in catalogue order (one query)."""
    grouped: dict[int, tuple[Status, list[StatusRule]]] = {}
    for rule in StatusRule.objects.select_related("status").order_by(
        "status__position", "status__code", "kind"
    ):
        grouped.setdefault(rule.status_id, (rule.status, []))[1].append(rule)
    return list(grouped.values())
