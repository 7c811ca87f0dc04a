"""Published interface of the admin (moderation) app: the staff action log, warnings and their
escalations.

Functions here take and return plain data (ids, frozen dataclasses), never model instances, so that
each call could become an HTTP call when the app is split into its own service.

Every moderation act lands in the append-only staff action log: this app's own acts (warn, revoke,
escalate) through ``log_action`` in their transaction, the acts other apps publish as events (a thread
approved, a post hidden, a role changed, a status granted by staff) through this app's handlers.
Bans (account, email, address: ``bans.py`` keeps the reads and the per-process lists) are acts here too.
Warnings add points; when a member's active points cross an escalation rule's threshold, the rule's
sanction is put on them at once, through the permission engine (``access_restrictions_set`` for
premoderation and "no posting", ``access_ban_set`` for a ban), and recorded in the log.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.admin import bans
from apps.admin.bans import BanRow, ban_running, bans_of
from apps.admin.events import BanLifted, MemberBanned, MemberEscalated, MemberWarned, WarningRevoked
from apps.admin.models import (
    LABEL_MAX_LENGTH,
    REASON_MAX_LENGTH,
    Action,
    ActionLogEntry,
    AddressBan,
    Ban,
    BanKind,
    EmailBan,
    EscalationRule,
    MemberWarning,
    Restriction,
    Sanction,
    WarningType,
)
from apps.authorization.services import (
    AccessRestriction,
    Permission,
    access_ban_lift,
    access_ban_set,
    access_restrictions_set,
    has_perm,
    permission_declare,
    require,
    sessions_end_all,
)
from apps.notification.events import NotificationRequested
from apps.notification.services import (
    EmailChannel,
    NotificationFacts,
    NotificationKind,
    notification_kind_register,
)
from apps.support.services import (
    TicketRef,
    report_resolve,
    report_tickets_open,
    ticket_action_record,
    ticket_open,
    topic_by_code,
)
from apps.thread.services import (
    PendingPostRow,
    PendingThreadRow,
    post_approve,
    post_reject,
    posts_pending,
    thread_approve,
    thread_reject,
    threads_pending,
)
from forum.bus import publish
from forum.errors import Conflict, NotFound, ValidationFailed

__all__ = [
    "BAN_PERMISSION",
    "KIND_WARNED",
    "LOG_PERMISSION",
    "WARN_PERMISSION",
    "Action",
    "BanRow",
    "LogEntry",
    "MemberStanding",
    "WarningRow",
    "WarningTypeRow",
    "active_warning_points",
    "address_ban_add",
    "address_ban_remove",
    "ban_issue",
    "ban_lift",
    "ban_running",
    "bans_end_due",
    "bans_of",
    "email_ban_add",
    "email_ban_remove",
    "log_action",
    "member_bans",
    "member_standing",
    "moderation_queue",
    "moderation_queue_act",
    "notification_kinds_register",
    "permissions_declare",
    "restriction_lift",
    "restrictions_end_due",
    "warning_appeal",
    "warning_issue",
    "warning_revoke",
    "warning_types",
    "warnings_expire_due",
    "warnings_of",
]

WARN_PERMISSION = "moderation.warn"
BAN_PERMISSION = "moderation.ban"
LOG_PERMISSION = "moderation.view_log"
KIND_WARNED = "moderation.warned"

# What each escalation's sanction takes away in the permission engine. A ban is the engine's own.
SANCTION_DENIES: Mapping[str, tuple[str, ...]] = {
    # New threads and replies alike wait for a moderator (the thread app declares the second).
    Sanction.PREMODERATE: ("thread.skip_premoderation", "post.skip_premoderation"),
    Sanction.NO_POSTING: ("thread.create", "post.create"),
}


def permissions_declare() -> None:
    """The moderation app's permissions (from ready()): support warns, administrators ban."""
    permission_declare(
        Permission.flag(WARN_PERMISSION, gettext_lazy("Warn members and revoke warnings"), support=True),
        Permission.flag(BAN_PERMISSION, gettext_lazy("Ban members, addresses and networks"), support=False),
        Permission.flag(LOG_PERMISSION, gettext_lazy("Read the staff action log"), support=True),
    )


# --- Notification kinds ---------------------------------------------------------------------------------


def _describe_warned(facts: NotificationFacts) -> str:
    return _("You received a warning: %(type)s (%(points)s points)") % {
        "type": facts.param("type"),
        "points": facts.param("points"),
    }


def _warnings_link(facts: NotificationFacts) -> str:
    return reverse("moderation:warnings")


def notification_kinds_register() -> None:
    """This app's kinds of notification (from ready())."""
    notification_kind_register(
        NotificationKind(
            code=KIND_WARNED,
            label=gettext_lazy("Warnings you receive"),
            describe=_describe_warned,
            link=_warnings_link,
            default_email=EmailChannel.IMMEDIATE,
            app="forum_admin",
        )
    )


# --- The staff action log -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogEntry:
    id: int
    actor_id: int | None
    actor_name: str
    action: str
    target_kind: str
    target_id: int | None
    target_label: str
    reason: str
    extra: Mapping[str, Any]
    created_at: datetime.datetime


def _username(user_id: int | None) -> str:
    if user_id is None:
        return ""
    name = get_user_model().objects.filter(pk=user_id).values_list("username", flat=True).first()
    return str(name or "")


def log_action(
    *,
    actor_id: int | None,
    action: str,
    target_kind: str,
    target_id: int | None = None,
    target_label: str = "",
    reason: str = "",
    extra: Mapping[str, Any] | None = None,
    at: datetime.datetime | None = None,
) -> LogEntry:
    """Append one act to the staff action log (in the caller's transaction). ``actor_id`` None: the
    system did it (an escalation rule, a ban ending by itself)."""
    if action not in Action.values:
        raise ValidationFailed(_("Unknown moderation act."), fields={"action": [_("Unknown act.")]})
    if not target_kind or len(target_kind) > 30:
        raise ValidationFailed(
            _("Name the kind of target."), fields={"target_kind": [_("1 to 30 characters.")]}
        )
    if not target_label and target_kind == "member":
        target_label = _username(target_id)
    entry = ActionLogEntry.objects.create(
        actor_id=actor_id,
        actor_name=_username(actor_id),
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        target_label=target_label[:LABEL_MAX_LENGTH],
        reason=reason[:REASON_MAX_LENGTH],
        extra=dict(extra or {}),
        created_at=at or timezone.now(),
    )
    return LogEntry(
        id=entry.pk,
        actor_id=entry.actor_id,
        actor_name=entry.actor_name,
        action=entry.action,
        target_kind=entry.target_kind,
        target_id=entry.target_id,
        target_label=entry.target_label,
        reason=entry.reason,
        extra=entry.extra,
        created_at=entry.created_at,
    )


# --- Warnings --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WarningTypeRow:
    id: int
    name: str
    points: int
    expires_after_days: int | None


@dataclass(frozen=True)
class WarningRow:
    id: int
    member_id: int
    type_id: int
    type_name: str
    message: str
    points: int
    reason: str
    issued_by: int | None
    created_at: datetime.datetime
    expires_at: datetime.datetime | None
    revoked_at: datetime.datetime | None
    active: bool


@dataclass(frozen=True)
class RestrictionRow:
    id: int
    sanction: str
    label: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime | None


@dataclass(frozen=True)
class MemberStanding:
    """What a member sees on their warnings page: active points, warnings and running sanctions."""

    member_id: int
    active_points: int
    warnings: tuple[WarningRow, ...]
    restrictions: tuple[RestrictionRow, ...]


def _active_q(now: datetime.datetime) -> Q:
    return Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def _active_points(member_id: int, now: datetime.datetime) -> int:
    total = MemberWarning.objects.filter(_active_q(now), member_id=member_id).aggregate(total=Sum("points"))[
        "total"
    ]
    return int(total or 0)


def active_warning_points(member_id: int, now: datetime.datetime) -> int:
    """A member's warning points counting at ``now`` (one query): what the status app's rule "active
    warning points at most N" reads (handed to it from ready())."""
    return _active_points(member_id, now)


def _warning_row(warning: MemberWarning, now: datetime.datetime) -> WarningRow:
    return WarningRow(
        id=warning.pk,
        member_id=warning.member_id,
        type_id=warning.warning_type_id,
        type_name=warning.warning_type.name,
        message=warning.warning_type.message,
        points=warning.points,
        reason=warning.reason,
        issued_by=warning.issued_by_id,
        created_at=warning.created_at,
        expires_at=warning.expires_at,
        revoked_at=warning.revoked_at,
        active=warning.revoked_at is None and (warning.expires_at is None or warning.expires_at > now),
    )


def warning_types() -> tuple[WarningTypeRow, ...]:
    """The warning types offered to staff."""
    return tuple(
        WarningTypeRow(id=row.pk, name=row.name, points=row.points, expires_after_days=row.expires_after_days)
        for row in WarningType.objects.filter(is_active=True)
    )


def _restrictions_running(member_id: int, now: datetime.datetime) -> list[Restriction]:
    return list(
        Restriction.objects.filter(member_id=member_id, ended_at__isnull=True).filter(
            Q(ends_at__isnull=True) | Q(ends_at__gt=now)
        )
    )


def _engine_push(member_id: int, now: datetime.datetime) -> None:
    """Hand the member's running sanctions to the permission engine (in the caller's transaction)."""
    running = _restrictions_running(member_id, now)
    access_restrictions_set(
        user_id=member_id,
        restrictions=[
            AccessRestriction(
                code=restriction.sanction,
                denied=SANCTION_DENIES[restriction.sanction],
                ends_at=restriction.ends_at,
            )
            for restriction in running
            if restriction.sanction in SANCTION_DENIES
        ],
    )
    # Escalation bans and staff's account bans: the longest wins, None (until lifted) beats any end.
    ends = [restriction.ends_at for restriction in running if restriction.sanction == Sanction.BAN]
    ends += bans.running_ends(member_id, now)
    if ends:
        access_ban_set(
            user_id=member_id, until=None if None in ends else max(e for e in ends if e is not None)
        )
    else:
        access_ban_lift(user_id=member_id)


def _escalate(
    member_id: int, before: int, after: int, warning: MemberWarning, now: datetime.datetime
) -> None:
    """Apply every active rule whose threshold this warning crossed (``before`` < points <= ``after``)."""
    rules = EscalationRule.objects.filter(is_active=True, points__gt=before, points__lte=after).order_by(
        "points"
    )
    applied = False
    for rule in rules:
        ends_at = None if rule.days is None else now + datetime.timedelta(days=rule.days)
        restriction = Restriction.objects.create(
            member_id=member_id,
            sanction=rule.sanction,
            rule=rule,
            warning=warning,
            starts_at=now,
            ends_at=ends_at,
        )
        log_action(
            actor_id=None,
            action=Action.ESCALATE,
            target_kind="member",
            target_id=member_id,
            reason=_("%(points)s active warning points") % {"points": after},
            extra={
                "sanction": rule.sanction,
                "rule_id": rule.pk,
                "warning_id": warning.pk,
                "days": rule.days,
            },
            at=now,
        )
        publish(
            MemberEscalated(
                restriction_id=restriction.pk, member_id=member_id, sanction=rule.sanction, ends_at=ends_at
            )
        )
        applied = True
    if applied:
        _engine_push(member_id, now)


def warning_issue(
    *, actor_id: int, member_id: int, warning_type_id: int, reason: str = "", ticket_id: int | None = None
) -> WarningRow:
    """Warn a member (``moderation.warn``): the type's points count until it expires or is revoked; an
    escalation rule whose threshold the new total crosses is applied at once. Notifies the member;
    recorded in the log (and on ``ticket_id``'s history when given from a report's ticket)."""
    require(user_id=actor_id, permission=WARN_PERMISSION)
    if actor_id == member_id:
        raise ValidationFailed(
            _("You cannot warn yourself."), fields={"member_id": [_("Choose another member.")]}
        )
    reason = reason.strip()[:REASON_MAX_LENGTH]
    with transaction.atomic():
        # The member's row, locked: two warnings at once must not both cross (or both miss) a threshold.
        member = get_user_model().objects.select_for_update().filter(pk=member_id).first()
        if member is None:
            raise NotFound(_("There is no such member."))
        warning_type = WarningType.objects.filter(pk=warning_type_id, is_active=True).first()
        if warning_type is None:
            raise ValidationFailed(
                _("Choose one of the warning types."), fields={"warning_type_id": [_("Unknown type.")]}
            )
        now = timezone.now()
        before = _active_points(member_id, now)
        expires_at = (
            None
            if warning_type.expires_after_days is None
            else now + datetime.timedelta(days=warning_type.expires_after_days)
        )
        warning = MemberWarning.objects.create(
            member_id=member_id,
            warning_type=warning_type,
            points=warning_type.points,
            reason=reason,
            issued_by_id=actor_id,
            created_at=now,
            expires_at=expires_at,
            ticket_id=ticket_id,
        )
        after = before + warning.points
        log_action(
            actor_id=actor_id,
            action=Action.WARN,
            target_kind="member",
            target_id=member_id,
            target_label=member.username,
            reason=reason,
            extra={
                "warning_id": warning.pk,
                "type": warning_type.name,
                "points": warning.points,
                "active": after,
            },
            at=now,
        )
        if ticket_id is not None:
            ticket_action_record(
                ticket_id=ticket_id,
                actor_id=actor_id,
                action="member_warned",
                data={"warning_id": warning.pk},
            )
        publish(
            MemberWarned(
                warning_id=warning.pk,
                member_id=member_id,
                points=warning.points,
                active_points=after,
                issued_by=actor_id,
                expires_at=expires_at,
            )
        )
        publish(
            NotificationRequested(
                kind=KIND_WARNED,
                recipient_ids=(member_id,),
                source=f"warning:{warning.pk}",
                actor_id=actor_id,
                params={"warning_id": warning.pk, "type": warning_type.name, "points": warning.points},
            )
        )
        _escalate(member_id, before, after, warning, now)
    return _warning_row(warning, now)


def warning_revoke(*, actor_id: int, warning_id: int, reason: str = "") -> WarningRow:
    """Revoke a warning (``moderation.warn``): its points stop counting. Sanctions it already caused
    stay until their end or until staff lift them."""
    require(user_id=actor_id, permission=WARN_PERMISSION)
    with transaction.atomic():
        warning = (
            MemberWarning.objects.select_for_update()
            .select_related("warning_type")
            .filter(pk=warning_id)
            .first()
        )
        if warning is None:
            raise NotFound(_("There is no such warning."))
        if warning.revoked_at is not None:
            raise Conflict(_("This warning is revoked already."), code="already_revoked")
        now = timezone.now()
        warning.revoked_at = now
        warning.revoked_by_id = actor_id
        warning.revoke_reason = reason.strip()[:REASON_MAX_LENGTH]
        warning.save(update_fields=["revoked_at", "revoked_by", "revoke_reason"])
        log_action(
            actor_id=actor_id,
            action=Action.WARNING_REVOKE,
            target_kind="member",
            target_id=warning.member_id,
            reason=warning.revoke_reason,
            extra={"warning_id": warning.pk},
            at=now,
        )
        publish(WarningRevoked(warning_id=warning.pk, member_id=warning.member_id, revoked_by=actor_id))
    return _warning_row(warning, now)


def warnings_of(*, viewer_id: int, member_id: int) -> tuple[WarningRow, ...]:
    """A member's warnings, newest first: the member's own, or anyone's for staff (NotFound else)."""
    if viewer_id != member_id and not has_perm(user_id=viewer_id, permission=WARN_PERMISSION):
        raise NotFound(_("There is no such member."))
    now = timezone.now()
    rows = MemberWarning.objects.filter(member_id=member_id).select_related("warning_type")
    return tuple(_warning_row(row, now) for row in rows)


def member_standing(*, viewer_id: int, member_id: int) -> MemberStanding:
    """Points, warnings and running sanctions of a member (theirs, or staff); three queries."""
    warnings = warnings_of(viewer_id=viewer_id, member_id=member_id)
    now = timezone.now()
    return MemberStanding(
        member_id=member_id,
        active_points=sum(row.points for row in warnings if row.active),
        warnings=warnings,
        restrictions=tuple(
            RestrictionRow(
                id=row.pk,
                sanction=row.sanction,
                label=str(row.get_sanction_display()),
                starts_at=row.starts_at,
                ends_at=row.ends_at,
            )
            for row in _restrictions_running(member_id, now)
        ),
    )


def warning_appeal(*, member_id: int, warning_id: int, body: str) -> int:
    """The member appeals one of their warnings: a support ticket linked to it; the ticket's number."""
    warning = (
        MemberWarning.objects.select_related("warning_type")
        .filter(pk=warning_id, member_id=member_id)
        .first()
    )
    if warning is None:
        raise NotFound(_("There is no such warning."))
    topic = topic_by_code(code="account") or topic_by_code(code="other")
    if topic is None:
        raise NotFound(_("There is no help topic for appeals."))
    ticket = ticket_open(
        member_id=member_id,
        topic_id=topic.id,
        subject=_("Appeal of the warning “%(type)s”") % {"type": warning.warning_type.name},
        body=body,
        kind="appeal",
        link_kind="warning",
        link_id=warning.pk,
    )
    return ticket.id


# --- Time passing ----------------------------------------------------------------------------------------


def warnings_expire_due(*, now: datetime.datetime | None = None) -> int:
    """Mark the warnings whose end passed (their points stopped counting then already); how many."""
    now = now or timezone.now()
    return MemberWarning.objects.filter(
        expired_at__isnull=True, revoked_at__isnull=True, expires_at__lte=now
    ).update(expired_at=now)


def restrictions_end_due(*, now: datetime.datetime | None = None) -> int:
    """End the sanctions whose time is up and tell the engine (the engine skips them from their end on
    anyway; this makes it a fact in the log and drops them from the member's row); how many ended."""
    now = now or timezone.now()
    ended = 0
    due = list(
        Restriction.objects.filter(ended_at__isnull=True, ends_at__lte=now).values_list("pk", "member_id")[
            :500
        ]
    )
    for restriction_id, member_id in due:
        with transaction.atomic():
            restriction = (
                Restriction.objects.select_for_update()
                .filter(pk=restriction_id, ended_at__isnull=True)
                .first()
            )
            if restriction is None:
                continue
            restriction.ended_at = now
            restriction.save(update_fields=["ended_at"])
            log_action(
                actor_id=None,
                action=Action.RESTRICTION_END,
                target_kind="member",
                target_id=member_id,
                extra={"sanction": restriction.sanction, "restriction_id": restriction.pk},
                at=now,
            )
            _engine_push(member_id, now)
            ended += 1
    return ended


# --- Bans -----------------------------------------------------------------------------------------------


def ban_issue(
    *,
    actor_id: int,
    member_id: int,
    kind: str,
    reason: str,
    ends_at: datetime.datetime | None = None,
) -> BanRow:
    """Ban a member (``moderation.ban``, administrators): until ``ends_at`` or permanently (None)."""
    require(user_id=actor_id, permission=BAN_PERMISSION)
    if actor_id == member_id:
        raise ValidationFailed(
            _("You cannot ban yourself."), fields={"member_id": [_("Choose another member.")]}
        )
    if kind not in BanKind.values:
        raise ValidationFailed(_("Choose the kind of ban."), fields={"kind": [_("Unknown kind.")]})
    reason = reason.strip()[:REASON_MAX_LENGTH]
    if not reason:
        raise ValidationFailed(
            _("Give the reason: the member reads it."), fields={"reason": [_("Required.")]}
        )
    now = timezone.now()
    if ends_at is not None and (timezone.is_naive(ends_at) or ends_at <= now):
        raise ValidationFailed(
            _("The end of a ban must be in the future."), fields={"ends_at": [_("Give a later time.")]}
        )
    with transaction.atomic():
        member = get_user_model().objects.select_for_update().filter(pk=member_id).first()
        if member is None:
            raise NotFound(_("There is no such member."))
        ban = Ban.objects.create(
            member_id=member_id,
            kind=kind,
            reason=reason,
            starts_at=now,
            ends_at=ends_at,
            issued_by_id=actor_id,
        )
        log_action(
            actor_id=actor_id,
            action=Action.BAN,
            target_kind="member",
            target_id=member_id,
            target_label=member.username,
            reason=reason,
            extra={
                "ban_id": ban.pk,
                "kind": kind,
                "ends_at": None if ends_at is None else ends_at.isoformat(),
            },
            at=now,
        )
        _engine_push(member_id, now)
        if kind == BanKind.FULL:
            sessions_end_all(user_id=member_id)
        publish(
            MemberBanned(ban_id=ban.pk, member_id=member_id, kind=kind, ends_at=ends_at, banned_by=actor_id)
        )
    return bans.ban_row(ban, now)


def _lift(ban_id: int, actor_id: int | None, reason: str, now: datetime.datetime) -> Ban | None:
    ban = Ban.objects.select_for_update().filter(pk=ban_id).first()
    if ban is None or ban.lifted_at is not None:
        return ban
    ban.lifted_at = now
    ban.lifted_by_id = actor_id
    ban.save(update_fields=["lifted_at", "lifted_by"])
    log_action(
        actor_id=actor_id,
        action=Action.BAN_LIFT,
        target_kind="member",
        target_id=ban.member_id,
        reason=reason,
        extra={"ban_id": ban.pk, "kind": ban.kind, "early": actor_id is not None},
        at=now,
    )
    _engine_push(ban.member_id, now)
    publish(BanLifted(ban_id=ban.pk, member_id=ban.member_id, lifted_by=actor_id))
    return ban


def ban_lift(*, actor_id: int, ban_id: int, reason: str = "") -> BanRow:
    """Lift a ban early (``moderation.ban``). Conflict (409) when it is over already."""
    require(user_id=actor_id, permission=BAN_PERMISSION)
    now = timezone.now()
    with transaction.atomic():
        current = Ban.objects.filter(pk=ban_id).first()
        if current is None:
            raise NotFound(_("There is no such ban."))
        if current.lifted_at is not None or (current.ends_at is not None and current.ends_at <= now):
            raise Conflict(_("This ban is over already."), code="ban_over")
        ban = _lift(ban_id, actor_id, reason.strip()[:REASON_MAX_LENGTH], now)
    assert ban is not None
    return bans.ban_row(ban, now)


def bans_end_due(*, now: datetime.datetime | None = None) -> int:
    """Lift the bans whose end passed (the engine stopped counting them then already); how many."""
    now = now or timezone.now()
    due = list(
        Ban.objects.filter(lifted_at__isnull=True, ends_at__lte=now).values_list("pk", flat=True)[:500]
    )
    ended = 0
    for ban_id in due:
        with transaction.atomic():
            ban = Ban.objects.filter(pk=ban_id, lifted_at__isnull=True).first()
            if ban is not None and _lift(ban_id, None, "", now) is not None:
                ended += 1
    return ended


def email_ban_add(*, actor_id: int, pattern: str, reason: str = "") -> int:
    require(user_id=actor_id, permission=BAN_PERMISSION)
    pattern = bans.clean_pattern(pattern)
    with transaction.atomic():
        if EmailBan.objects.filter(pattern=pattern).exists():
            raise Conflict(_("This address or pattern is banned already."), code="already_banned")
        ban = EmailBan.objects.create(
            pattern=pattern,
            reason=reason.strip()[:REASON_MAX_LENGTH],
            created_at=timezone.now(),
            created_by_id=actor_id,
        )
        log_action(
            actor_id=actor_id, action=Action.BAN, target_kind="email", target_label=pattern, reason=ban.reason
        )
        bans.lists_bump()
    return ban.pk


def address_ban_add(*, actor_id: int, network: str, reason: str = "") -> int:
    require(user_id=actor_id, permission=BAN_PERMISSION)
    network = bans.clean_network(network)
    with transaction.atomic():
        if AddressBan.objects.filter(network=network).exists():
            raise Conflict(_("This address or network is banned already."), code="already_banned")
        ban = AddressBan.objects.create(
            network=network,
            reason=reason.strip()[:REASON_MAX_LENGTH],
            created_at=timezone.now(),
            created_by_id=actor_id,
        )
        log_action(
            actor_id=actor_id,
            action=Action.BAN,
            target_kind="address",
            target_label=network,
            reason=ban.reason,
        )
        bans.lists_bump()
    return ban.pk


def email_ban_remove(*, actor_id: int, ban_id: int) -> None:
    require(user_id=actor_id, permission=BAN_PERMISSION)
    with transaction.atomic():
        ban = EmailBan.objects.filter(pk=ban_id).first()
        if ban is None:
            raise NotFound(_("There is no such ban."))
        log_action(actor_id=actor_id, action=Action.BAN_LIFT, target_kind="email", target_label=ban.pattern)
        ban.delete()
        bans.lists_bump()


def address_ban_remove(*, actor_id: int, ban_id: int) -> None:
    require(user_id=actor_id, permission=BAN_PERMISSION)
    with transaction.atomic():
        ban = AddressBan.objects.filter(pk=ban_id).first()
        if ban is None:
            raise NotFound(_("There is no such ban."))
        log_action(actor_id=actor_id, action=Action.BAN_LIFT, target_kind="address", target_label=ban.network)
        ban.delete()
        bans.lists_bump()


def member_bans(*, viewer_id: int, member_id: int) -> tuple[BanRow, ...]:
    """A member's bans, newest first (``moderation.ban``; NotFound for anyone else, as for no member)."""
    if not has_perm(user_id=viewer_id, permission=BAN_PERMISSION):
        raise NotFound(_("There is no such member."))
    if not get_user_model().objects.filter(pk=member_id).exists():
        raise NotFound(_("There is no such member."))
    return bans_of(member_id=member_id)


def restriction_lift(*, actor_id: int, restriction_id: int, reason: str = "") -> None:
    """End an escalation's sanction early (a warning given by mistake): ``moderation.warn`` for
    premoderation and "no posting", ``moderation.ban`` for a ban. Conflict (409) when over already."""
    with transaction.atomic():
        restriction = Restriction.objects.select_for_update().filter(pk=restriction_id).first()
        if restriction is None:
            raise NotFound(_("There is no such restriction."))
        require(
            user_id=actor_id,
            permission=BAN_PERMISSION if restriction.sanction == Sanction.BAN else WARN_PERMISSION,
        )
        now = timezone.now()
        if restriction.ended_at is not None or (
            restriction.ends_at is not None and restriction.ends_at <= now
        ):
            raise Conflict(_("This restriction is over already."), code="restriction_over")
        restriction.ended_at = now
        restriction.save(update_fields=["ended_at"])
        log_action(
            actor_id=actor_id,
            action=Action.RESTRICTION_END,
            target_kind="member",
            target_id=restriction.member_id,
            reason=reason.strip()[:REASON_MAX_LENGTH],
            extra={"sanction": restriction.sanction, "restriction_id": restriction.pk, "early": True},
            at=now,
        )
        _engine_push(restriction.member_id, now)


# --- The moderation queue -------------------------------------------------------------------------------

# The reasons a report gives (the support app's), for the queue's filter.
REPORT_REASONS: Mapping[str, Any] = {
    "spam": gettext_lazy("Spam"),
    "abuse": gettext_lazy("Abuse or harassment"),
    "off_topic": gettext_lazy("Off-topic"),
    "illegal": gettext_lazy("Illegal content"),
    "other": gettext_lazy("Something else"),
}
QUEUE_SHOW = ("all", "threads", "posts", "reports")
QUEUE_ACTIONS = ("approve", "reject", "dismiss")


@dataclass(frozen=True)
class ModerationQueue:
    """What waits for staff: threads held for premoderation, open reports (their tickets) and replies
    held by an escalation's premoderation."""

    threads: tuple[PendingThreadRow, ...]
    threads_total: int
    reports: tuple[TicketRef, ...]
    posts: tuple[PendingPostRow, ...] = ()
    posts_total: int = 0


def moderation_queue(*, viewer_id: int, show: str = "all", reason: str = "") -> ModerationQueue:
    """The one moderation queue for staff (``moderation.warn``; NotFound for anyone else): the oldest
    threads awaiting moderation and the most urgent open reports, ``show`` narrowing to one kind and
    ``reason`` the reports to one reason. A fixed number of queries."""
    if not has_perm(user_id=viewer_id, permission=WARN_PERMISSION):
        raise NotFound(_("There is no such page."))
    threads: tuple[PendingThreadRow, ...] = ()
    total = 0
    if show in ("all", "threads"):
        threads, total = threads_pending(moderator_id=viewer_id)
    reports: tuple[TicketRef, ...] = ()
    if show in ("all", "reports"):
        reports = tuple(ticket for ticket in report_tickets_open() if not reason or reason in ticket.reasons)
    posts: tuple[PendingPostRow, ...] = ()
    posts_total = 0
    if show in ("all", "posts"):
        held = posts_pending(moderator_id=viewer_id)
        posts, posts_total = held.items, held.total
    return ModerationQueue(
        threads=threads, threads_total=total, reports=reports, posts=posts, posts_total=posts_total
    )


@dataclass(frozen=True)
class QueueResult:
    done: int
    failed: tuple[str, ...]


def moderation_queue_act(
    *,
    actor_id: int,
    action: str,
    thread_ids: Sequence[int],
    ticket_ids: Sequence[int],
    reason: str = "",
    post_ids: Sequence[int] = (),
) -> QueueResult:
    """Bulk acts on the queue: ``approve`` or ``reject`` (with ``reason``) the selected threads and
    held replies, ``dismiss`` the selected reports (resolved with no action; ``reason`` kept as an
    internal note). Each item goes through its owning app's service, so it is checked and logged there;
    an item that fails is reported and the others go on."""
    if not has_perm(user_id=actor_id, permission=WARN_PERMISSION):
        raise NotFound(_("There is no such page."))
    if action not in QUEUE_ACTIONS:
        raise ValidationFailed(_("Choose an action."), fields={"action": [_("Unknown action.")]})
    reason = reason.strip()[:REASON_MAX_LENGTH]
    if action == "reject" and not reason:
        raise ValidationFailed(
            _("Give the reason: the author reads it."), fields={"reason": [_("Required.")]}
        )
    done = 0
    failed: list[str] = []
    items = (
        [("ticket", item_id) for item_id in ticket_ids]
        if action == "dismiss"
        else [("thread", item_id) for item_id in thread_ids] + [("post", item_id) for item_id in post_ids]
    )
    for kind, item_id in items:
        try:
            if kind == "post":
                if action == "approve":
                    post_approve(moderator_id=actor_id, post_id=item_id)
                else:
                    post_reject(moderator_id=actor_id, post_id=item_id, reason=reason)
            elif action == "approve":
                thread_approve(moderator_id=actor_id, thread_id=item_id)
            elif action == "reject":
                thread_reject(moderator_id=actor_id, thread_id=item_id, reason=reason)
            else:
                report_resolve(actor_id=actor_id, ticket_id=item_id, outcome="no_action", note=reason)
        except (Conflict, NotFound, ValidationFailed) as error:
            if kind == "post":
                failed.append(_("Post #%(id)d: %(problem)s") % {"id": item_id, "problem": error.message})
            else:
                failed.append(f"#{item_id}: {error.message}")
            continue
        done += 1
    return QueueResult(done=done, failed=tuple(failed))


def members_of(usernames: Sequence[str]) -> dict[str, int]:
    """Ids of accounts by username (the staff form picks a member by name)."""
    rows = get_user_model().objects.filter(username__in=list(usernames)).values_list("username", "pk")
    return {str(name): int(pk) for name, pk in rows}
