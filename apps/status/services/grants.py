"""The catalogue of statuses, the grants of them to members and the reads other apps make of them."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

from apps.authorization.services import (
    PermissionValue,
    StatusPermissions,
    access_statuses_set,
    permission_values_validate,
)
from apps.status import selectors
from apps.status.events import (
    StatusExpired,
    StatusGranted,
    StatusRevoked,
)
from apps.status.models import (
    REFERENCE_MAX_LENGTH,
    GrantSource,
    Status,
    StatusGrant,
)
from forum.bus import publish
from forum.errors import Conflict, NotFound, ValidationFailed
from forum.versioned_cache import changed, kept

SOURCES = frozenset(source.value for source in GrantSource)
# An arbitrary constant that keeps this app's advisory locks apart from anyone else's.
_MEMBER_LOCK_NAMESPACE = 0x5354_4154 << 32


class GrantState(StrEnum):
    SCHEDULED = "scheduled"  # starts later
    ACTIVE = "active"
    ENDED = "ended"  # ran out
    REVOKED = "revoked"


@dataclass(frozen=True)
class StatusRef:
    code: str
    name: str  # in the active language
    description: str  # in the active language
    permissions: Mapping[str, PermissionValue]
    position: int


@dataclass(frozen=True)
class StatusGrantRef:
    grant_id: int
    user_id: int
    status_code: str
    status_name: str  # in the active language
    starts_at: datetime.datetime
    ends_at: datetime.datetime | None  # None: for good
    source: str
    granted_by: int | None
    reference: str
    revoked_at: datetime.datetime | None
    expired_at: datetime.datetime | None
    state: GrantState  # at the moment the reference was made
    # A bought timed grant whose plan is still on sale: where its holder renews it in one click.
    renew_url: str = ""


def _status_ref(status: Status) -> StatusRef:
    return StatusRef(
        code=status.code,
        name=_(status.name) if status.name else "",
        description=_(status.description) if status.description else "",
        permissions=dict(status.permissions or {}),
        position=status.position,
    )


def _state(grant: StatusGrant, now: datetime.datetime) -> GrantState:
    if grant.revoked_at is not None:
        return GrantState.REVOKED
    if grant.expired_at is not None or (grant.ends_at is not None and grant.ends_at <= now):
        return GrantState.ENDED
    if grant.starts_at > now:
        return GrantState.SCHEDULED
    return GrantState.ACTIVE


def _grant_ref(grant: StatusGrant, now: datetime.datetime) -> StatusGrantRef:
    return StatusGrantRef(
        grant_id=grant.pk,
        user_id=grant.user_id,
        status_code=grant.status.code,
        status_name=_(grant.status.name) if grant.status.name else "",
        starts_at=grant.starts_at,
        ends_at=grant.ends_at,
        source=grant.source,
        granted_by=grant.granted_by_id,
        reference=grant.reference,
        revoked_at=grant.revoked_at,
        expired_at=grant.expired_at,
        state=_state(grant, now),
    )


# --- The catalogue ------------------------------------------------------------------------------------


def status_catalogue() -> list[StatusRef]:
    return [_status_ref(status) for status in selectors.statuses_listed()]


def status_get(*, code: str) -> StatusRef:
    status = selectors.status_by_code(code=code)
    if status is None:
        raise NotFound(_("There is no such status."))
    return _status_ref(status)


def status_define(
    *,
    code: str,
    name: str,
    permissions: Mapping[str, object],
    description: str = "",
    position: int = 0,
) -> StatusRef:
    """Create a status or change the one with this code; its holders get the new permissions at once,
    and whatever is kept under the ``"status"`` scope (its name on badges) is read anew."""
    problems: dict[str, list[str]] = {}
    if not code or slugify(code) != code:
        problems["code"] = [_("Use lowercase letters, digits and hyphens.")]
    if not name.strip():
        problems["name"] = [_("A status needs a name.")]
    if position < 0:
        problems["position"] = [_("Use 0 or more.")]
    try:
        clean = permission_values_validate(values=permissions)
    except ValidationFailed as error:
        problems.update({f"permissions.{key}": messages for key, messages in error.fields.items()})
    if problems:
        raise ValidationFailed(_("The status is not valid."), fields=problems)
    with transaction.atomic():
        status, _created = Status.objects.update_or_create(
            code=code,
            defaults={
                "name": name.strip(),
                "description": description.strip(),
                "permissions": clean,
                "position": position,
            },
        )
        for user_id in selectors.holders_of(status_id=status.pk, now=timezone.now()):
            _sync_member(user_id)
        # No event tells of a status defined or renamed: what is kept of statuses (badges, the guests'
        # profiles) goes stale here.
        changed("status")
    return _status_ref(status)


# --- Grants -------------------------------------------------------------------------------------------


def _lock_member(user_id: int) -> None:
    """Serialise changes to one member's grants until the transaction ends, so that two concurrent
    changes never hand the permission engine a list that misses the other's grant."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_MEMBER_LOCK_NAMESPACE + user_id])


def _sync_member(user_id: int) -> None:
    """Hand the permission engine every grant of the member that is not over (inside the transaction)."""
    now = timezone.now()
    access_statuses_set(
        user_id=user_id,
        grants=[
            StatusPermissions(
                status_code=grant.status.code,
                values=dict(grant.status.permissions or {}),
                starts_at=grant.starts_at,
                ends_at=grant.ends_at,
            )
            for grant in selectors.grants_not_over(user_id=user_id, now=now)
        ],
    )


def grant_period_problems(
    *, starts_at: datetime.datetime, ends_at: datetime.datetime | None, now: datetime.datetime
) -> dict[str, list[str]]:
    """What is wrong with a grant's period (empty when nothing is): used by the service and the admin."""
    problems: dict[str, list[str]] = {}
    if timezone.is_naive(starts_at):
        problems["starts_at"] = [_("Give a time zone.")]
    if ends_at is not None:
        if timezone.is_naive(ends_at):
            problems["ends_at"] = [_("Give a time zone.")]
        elif not problems and ends_at <= max(starts_at, now):
            problems["ends_at"] = [_("The end must come after the start and lie in the future.")]
    return problems


def status_grant(
    *,
    user_id: int,
    status_code: str,
    source: str,
    ends_at: datetime.datetime | None = None,
    starts_at: datetime.datetime | None = None,
    granted_by: int | None = None,
    reference: str = "",
) -> StatusGrantRef:
    """Give a member a status from ``starts_at`` (default now) until ``ends_at`` (None: for good).

    ``source`` is ``purchase``, ``automatic`` or ``staff``. Publishes ``status.granted``.
    """
    now = timezone.now()
    starts_at = starts_at or now
    problems = grant_period_problems(starts_at=starts_at, ends_at=ends_at, now=now)
    if source not in SOURCES:
        problems["source"] = [_("Choose purchase, automatic or staff.")]
    if len(reference) > REFERENCE_MAX_LENGTH:
        problems["reference"] = [_("The reference is too long.")]
    if problems:
        raise ValidationFailed(_("The grant is not valid."), fields=problems)
    status = selectors.status_by_code(code=status_code)
    if status is None:
        raise NotFound(_("There is no such status."))
    wanted_accounts = {user_id} if granted_by is None else {user_id, granted_by}
    if get_user_model().objects.filter(pk__in=wanted_accounts).count() != len(wanted_accounts):
        raise NotFound(_("There is no such member."))
    with transaction.atomic():
        _lock_member(user_id)
        grant = StatusGrant.objects.create(
            user_id=user_id,
            status=status,
            starts_at=starts_at,
            ends_at=ends_at,
            source=source,
            granted_by_id=granted_by,
            reference=reference,
        )
        publish(
            StatusGranted(
                grant_id=grant.pk,
                user_id=user_id,
                status_code=status.code,
                starts_at=starts_at,
                ends_at=ends_at,
                source=source,
                granted_by=granted_by,
            )
        )
        _sync_member(user_id)
    return _grant_ref(grant, now)


def status_revoke(*, grant_id: int, revoked_by: int | None = None) -> StatusGrantRef:
    """Take a status back before its end. Publishes ``status.revoked``; refuses a grant already over."""
    with transaction.atomic():
        grant = selectors.grant_for_update(grant_id=grant_id)
        if grant is None:
            raise NotFound(_("There is no such grant."))
        now = timezone.now()
        state = _state(grant, now)
        if state is GrantState.REVOKED:
            raise Conflict(_("This grant has already been revoked."))
        if state is GrantState.ENDED:
            raise Conflict(_("This grant has already ended."))
        _lock_member(grant.user_id)
        grant.revoked_at = now
        grant.revoked_by_id = revoked_by
        grant.save(update_fields=["revoked_at", "revoked_by"])
        publish(
            StatusRevoked(
                grant_id=grant.pk,
                user_id=grant.user_id,
                status_code=grant.status.code,
                revoked_by=revoked_by,
            )
        )
        _sync_member(grant.user_id)
    return _grant_ref(grant, now)


def _expire_batch(batch: int) -> int:
    with transaction.atomic():
        now = timezone.now()
        due = selectors.grants_due(now=now, batch=batch)
        for grant in due:
            grant.expired_at = now
            publish(
                StatusExpired(
                    grant_id=grant.pk,
                    user_id=grant.user_id,
                    status_code=grant.status.code,
                    ended_at=grant.ends_at or now,
                )
            )
        StatusGrant.objects.bulk_update(due, ["expired_at"])
        for user_id in sorted({grant.user_id for grant in due}):
            _lock_member(user_id)
            _sync_member(user_id)
    return len(due)


def statuses_expire_due(*, batch: int = 500) -> int:
    """Mark every grant whose end has passed as expired and publish ``status.expired`` for each.

    Run every minute by the ``status.expire_grants`` task. The engine already stops honouring a grant
    at its end; this makes the end a fact others can act on (a notification, a badge removed).
    """
    total = 0
    while True:
        expired = _expire_batch(batch)
        total += expired
        if expired < batch:
            return total


# --- Reads for others ---------------------------------------------------------------------------------


def status_grants_of(*, user_id: int) -> list[StatusGrantRef]:
    """Every grant the member ever had, newest first."""
    now = timezone.now()
    return [_grant_ref(grant, now) for grant in selectors.grants_of(user_id=user_id)]


def status_grants_ending(*, within: datetime.timedelta) -> list[StatusGrantRef]:
    """The grants that give a status now and end within ``within`` from now (neither revoked nor
    expired), soonest first: for warning their holders before the end (one query)."""
    now = timezone.now()
    candidates = (
        StatusGrant.objects.filter(
            revoked_at__isnull=True,
            expired_at__isnull=True,
            starts_at__lte=now,
            ends_at__gt=now,
            ends_at__lte=now + within,
        )
        .select_related("status")
        .order_by("ends_at", "pk")
    )
    grants = [grant for grant in candidates if not _continued(grant, now)]
    renewals = selectors.renewable_plans_of(grant_ids=[grant.pk for grant in grants])
    return [
        dataclasses.replace(_grant_ref(grant, now), renew_url=_renew_url(grant.pk))
        if grant.pk in renewals
        else _grant_ref(grant, now)
        for grant in grants
    ]


def _renew_url(grant_id: int) -> str:
    return reverse("status:renew", kwargs={"grant_id": grant_id})


def _continued(grant: StatusGrant, now: datetime.datetime) -> bool:
    """Whether the member keeps the status past this grant's end (a later grant takes over, or one for
    good): nothing ends then, so nobody is told it does."""
    assert grant.ends_at is not None
    return (
        selectors.grants_not_over(user_id=grant.user_id, now=now)
        .filter(status_id=grant.status_id, starts_at__lte=grant.ends_at)
        .exclude(pk=grant.pk)
        .filter(Q(ends_at__isnull=True) | Q(ends_at__gt=grant.ends_at))
        .exists()
    )


def statuses_active_for(*, user_id: int) -> list[StatusGrantRef]:
    """The member's grants that give a status right now."""
    now = timezone.now()
    return [
        ref
        for ref in (_grant_ref(grant, now) for grant in selectors.grants_not_over(user_id=user_id, now=now))
        if ref.state is GrantState.ACTIVE
    ]


@dataclass(frozen=True)
class StatusBadge:
    """A status a member holds now, as a badge: its code (for styling) and name (active language)."""

    code: str
    name: str


@dataclass(frozen=True)
class _KeptBadges:
    """The badges of a set of members and the first instant the clock alone changes them: a grant read
    ends or one of theirs starts (None: never, only an event does)."""

    badges: dict[int, tuple[StatusBadge, ...]]
    until: datetime.datetime | None


def _badges_read(user_ids: Collection[int], now: datetime.datetime) -> _KeptBadges:
    """The members' badges at ``now`` and when they next change by the clock (ONE query)."""
    found: dict[int, list[StatusBadge]] = {user_id: [] for user_id in user_ids}
    until: datetime.datetime | None = None
    for user_id, code, name, starts_at, ends_at in selectors.badge_grants_of(
        user_ids=list(user_ids), now=now
    ):
        if starts_at > now:  # a grant starting later: no badge yet, a change then
            until = starts_at if until is None else min(until, starts_at)
            continue
        if ends_at is not None:
            until = ends_at if until is None else min(until, ends_at)
        held = found.setdefault(user_id, [])
        if all(badge.code != code for badge in held):  # two grants of one status: one badge
            held.append(StatusBadge(code=code, name=_(name) if name else ""))
    return _KeptBadges(badges={user_id: tuple(badges) for user_id, badges in found.items()}, until=until)


def status_badges_for(*, user_ids: Collection[int]) -> dict[int, tuple[StatusBadge, ...]]:
    """The badges of the statuses each member holds now, in catalogue order, for a page of members in
    ONE query (every asked id is a key; a member without statuses has none)."""
    return _badges_read(user_ids, timezone.now()).badges


# How many kept entries one read follows past their end before it reads and keeps no more (the chain
# only grows while grants of these members start or end within KEPT_PARTS_SECONDS).
_KEPT_BADGES_CHAIN_MAX = 4


def status_badges_kept(*, user_ids: Collection[int]) -> dict[int, tuple[StatusBadge, ...]]:
    """``status_badges_for``, kept (forum.versioned_cache, scope ``"status"``: every grant, revocation,
    expiry and change to a status moves it) under the sorted ids and the language, and served only
    while now is before the first instant at which a grant read ends or one of these members' later
    grants starts: what the clock changes without any event is never served stale. Past that instant
    the badges are read again and kept under a key naming the instant passed (the old entry stays
    until its versions move or it expires). No query while kept; the same one query otherwise."""
    wanted = tuple(sorted(set(user_ids)))
    if not wanted:
        return {}
    language = translation.get_language() or ""
    now = timezone.now()
    passed: datetime.datetime | None = None
    for _step in range(_KEPT_BADGES_CHAIN_MAX):
        entry = kept(
            "status-badges",
            (wanted, language, passed),
            ("status",),
            lambda: _badges_read(wanted, now),
            local=True,
        )
        if entry.until is None or now < entry.until:
            return dict(entry.badges)
        passed = entry.until
    return _badges_read(wanted, now).badges


def statuses_held_by(*, user_ids: list[int]) -> dict[int, list[str]]:
    """The codes of the statuses each member holds now (for badges on a page of posts, at once)."""
    return selectors.active_codes_of(user_ids=list(user_ids), now=timezone.now())
