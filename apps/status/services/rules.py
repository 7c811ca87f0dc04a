"""Statuses given automatically: what the rules count, the members' progress, the evaluation."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Collection
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.authentication.services import account_get
from apps.authorization.services import (
    permissions_for,
)
from apps.status import selectors
from apps.status.events import (
    StatusRuleGranted,
    StatusRuleRevoked,
)
from apps.status.models import (
    AutomaticStanding,
    GrantSource,
    MemberActivity,
    RuleKind,
    Status,
    StatusRule,
)
from apps.status.services.grants import _lock_member, status_grant, status_revoke
from forum.bus import publish
from forum.errors import NotFound

# --- Automatic statuses -------------------------------------------------------------------------------

# What a rule reads that another app owns, handed in by that app from its ready() (the status app sits
# below it and may not import it): ``provider(user_id, now)`` gives the member's value, in one query.
RuleFactProvider = Callable[[int, datetime.datetime], int]
_FACT_PROVIDERS: dict[str, RuleFactProvider] = {}


def rule_fact_register(kind: str, provider: RuleFactProvider) -> None:
    """Hand in how the fact of a rule kind is read (the moderation app: a member's active warning
    points). A kind nobody registered reads 0, so "warning points at most N" holds on a forum without
    the moderation app."""
    if kind not in RuleKind.values:
        raise ValueError(f"Unknown rule kind {kind!r}")
    _FACT_PROVIDERS[kind] = provider


def activity_count(*, user_id: int, posts: int = 0, reaction_score: int = 0) -> None:
    """Add to what the rules count of a member (from other apps' events; negative takes away)."""
    if get_user_model().objects.filter(pk=user_id).exists():
        MemberActivity.objects.get_or_create(user_id=user_id)
        MemberActivity.objects.filter(user_id=user_id).update(
            posts=F("posts") + posts, reaction_score=F("reaction_score") + reaction_score
        )


@dataclass(frozen=True)
class RuleProgress:
    kind: str
    label: str  # "12 of 50 posts", in the active language
    have: int
    need: int
    at_most: bool = False  # holds while ``have`` is at most ``need`` (active warning points)

    @property
    def met(self) -> bool:
        return self.have <= self.need if self.at_most else self.have >= self.need


@dataclass(frozen=True)
class AutomaticStatus:
    code: str
    name: str
    held: bool
    rules: tuple[RuleProgress, ...]


def _facts(user_id: int, now: datetime.datetime, kinds: Collection[str]) -> dict[str, int]:
    """The member's value for each rule kind; a registered provider is asked only when a rule of its
    kind exists."""
    activity = MemberActivity.objects.filter(user_id=user_id).first()
    try:
        joined = account_get(user_id=user_id).date_joined
    except NotFound:
        joined = now
    return {
        RuleKind.POSTS_MIN: activity.posts if activity else 0,
        RuleKind.REACTION_SCORE_MIN: activity.reaction_score if activity else 0,
        RuleKind.DAYS_MEMBER_MIN: max(0, (now - joined).days),
        RuleKind.NOT_BANNED: 0 if permissions_for(user_id=user_id).banned else 1,
    } | {kind: provider(user_id, now) for kind, provider in _FACT_PROVIDERS.items() if kind in kinds}


def _kinds(rules: list[tuple[Status, list[StatusRule]]]) -> set[str]:
    return {rule.kind for _status, status_rules in rules for rule in status_rules}


def _progress(rule: StatusRule, facts: dict[str, int]) -> RuleProgress:
    have = facts.get(rule.kind, 0)
    need = 1 if rule.kind == RuleKind.NOT_BANNED else int(rule.threshold)
    if rule.kind == RuleKind.POSTS_MIN:
        label = ngettext("%(have)d of %(need)d post", "%(have)d of %(need)d posts", need)
    elif rule.kind == RuleKind.DAYS_MEMBER_MIN:
        label = ngettext(
            "%(have)d of %(need)d day on the forum", "%(have)d of %(need)d days on the forum", need
        )
    elif rule.kind == RuleKind.REACTION_SCORE_MIN:
        label = ngettext(
            "%(have)d of %(need)d reaction received", "%(have)d of %(need)d reactions received", need
        )
    elif rule.kind == RuleKind.WARNING_POINTS_MAX:
        if not have:
            label = _("No active warnings")
        elif not need:
            label = ngettext("%(have)d active warning point", "%(have)d active warning points", have)
        else:
            label = ngettext(
                "%(have)d of at most %(need)d active warning point",
                "%(have)d of at most %(need)d active warning points",
                need,
            )
        return RuleProgress(
            kind=rule.kind, label=label % {"have": have, "need": need}, have=have, need=need, at_most=True
        )
    else:
        label = _("Not banned") if have else _("Banned now")
    return RuleProgress(
        kind=rule.kind, label=label % {"have": min(have, need), "need": need}, have=have, need=need
    )


def automatic_progress_for(*, user_id: int) -> list[AutomaticStatus]:
    """The statuses given by rules, whether the member holds each, and how far they are on each rule
    (for their profile), in a fixed number of queries."""
    now = timezone.now()
    rules = selectors.rules_by_status_kept()
    if not rules:
        return []
    facts = _facts(user_id, now, _kinds(rules))
    held = set(
        selectors.grants_not_over(user_id=user_id, now=now)
        .filter(source=GrantSource.AUTOMATIC, starts_at__lte=now)
        .values_list("status_id", flat=True)
    )
    return [
        AutomaticStatus(
            code=status.code,
            name=_(status.name) if status.name else "",
            held=status.pk in held,
            rules=tuple(_progress(rule, facts) for rule in status_rules),
        )
        for status, status_rules in rules
    ]


def rules_evaluate(*, user_id: int) -> list[str]:
    """Grant the statuses whose rules now hold for the member and take back, after the grace period
    (STATUS_AUTOMATIC_GRACE_DAYS), those whose rules stopped holding. Returns what changed, as
    ``"+code"`` / ``"-code"``."""
    changed: list[str] = []
    rules = selectors.rules_by_status()
    if not rules:
        return changed
    now = timezone.now()
    facts = _facts(user_id, now, _kinds(rules))
    grace = datetime.timedelta(days=settings.STATUS_AUTOMATIC_GRACE_DAYS)
    with transaction.atomic():
        _lock_member(user_id)
        for status, status_rules in rules:
            holds = all(_progress(rule, facts).met for rule in status_rules)
            grant = (
                selectors.grants_not_over(user_id=user_id, now=now)
                .filter(status=status, source=GrantSource.AUTOMATIC)
                .first()
            )
            standing = AutomaticStanding.objects.filter(user_id=user_id, status=status)
            if holds:
                standing.delete()
                if grant is None:
                    ref = status_grant(
                        user_id=user_id,
                        status_code=status.code,
                        source=GrantSource.AUTOMATIC,
                        reference="rules",
                    )
                    publish(
                        StatusRuleGranted(grant_id=ref.grant_id, user_id=user_id, status_code=status.code)
                    )
                    changed.append(f"+{status.code}")
            elif grant is not None:
                failing, _created = AutomaticStanding.objects.get_or_create(
                    user_id=user_id, status=status, defaults={"failing_since": now}
                )
                if now - failing.failing_since >= grace:
                    status_revoke(grant_id=grant.pk)
                    publish(
                        StatusRuleRevoked(
                            grant_id=grant.pk,
                            user_id=user_id,
                            status_code=status.code,
                            failing_since=failing.failing_since,
                        )
                    )
                    standing.delete()
                    changed.append(f"-{status.code}")
            else:
                standing.delete()
    return changed


def rules_evaluate_all(*, batch: int = 500) -> int:
    """Every member against the rules (the daily run: days pass and grace periods end without any
    event). Returns how many grants changed."""
    if not selectors.rules_by_status():
        return 0
    changed = 0
    last = 0
    user_model = get_user_model()
    while True:
        ids = list(
            user_model.objects.filter(pk__gt=last, is_active=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        for user_id in ids:
            changed += len(rules_evaluate(user_id=user_id))
        if len(ids) < batch:
            return changed
        last = ids[-1]
