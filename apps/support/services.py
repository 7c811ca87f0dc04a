"""Published interface of the support app: the functions other apps may call.

Functions here take and return plain data (ids, frozen dataclasses), never model instances, so that
each call could become an HTTP call when the app is split into its own service.

Members open tickets in help topics and report posts, threads, members and the dialog messages they
take part in; reports on one object merge into one open ticket. Staff (``support.handle_tickets`` in
the permission engine: the support and admin roles) work them: public replies and internal notes,
state, priority, assignee, and a report's outcome. Every change is written with a line of the ticket's
history, publishes its ``support.*`` event and the notifications it causes
(``notification.requested``) in the same transaction, and tells the ticket's open pages after the
commit (live topics ``ticket:<id>`` and, for internal notes, ``ticketstaff:<id>``).

A ticket another member may not see is answered as one that does not exist (``NotFound``).
Other apps plug in here: the moderation app resolves reports with ``report_resolve``, records its acts
on a ticket with ``ticket_action_record`` and opens appeals with ``ticket_open(kind="appeal",
link_kind=..., link_id=...)``.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from apps.authorization.services import (
    Permission,
    permission_declare,
    permissions_for_many,
    quota_consume,
    quota_refund,
    require,
)
from apps.dialog.services import message_evidence
from apps.notification.events import NotificationRequested
from apps.notification.services import (
    EmailChannel,
    NotificationFacts,
    NotificationKind,
    notification_kind_register,
)
from apps.support import selectors
from apps.support.events import (
    ReportFiled,
    ReportResolved,
    TicketAssigned,
    TicketOpened,
    TicketReplied,
    TicketStateChanged,
)
from apps.support.models import (
    ACTIVE_STATES,
    ATTACHMENTS_PER_MESSAGE_MAX,
    BODY_MAX_LENGTH,
    COMMENT_MAX_LENGTH,
    EXCERPT_MAX_LENGTH,
    LINK_KIND_MAX_LENGTH,
    PENDING_ATTACHMENTS_MAX,
    REPORTS_TOPIC_CODE,
    SUBJECT_MAX_LENGTH,
    AssignPolicy,
    CannedReply,
    Evidence,
    EvidenceView,
    HelpTopic,
    Outcome,
    Priority,
    Report,
    ReportReason,
    ReportTarget,
    SlaTarget,
    Ticket,
    TicketAttachment,
    TicketEvent,
    TicketEventKind,
    TicketKind,
    TicketMessage,
    TicketState,
)
from apps.thread.services import post_brief_for_report, thread_brief_for_report
from apps.user.services import users_brief
from forum.bus import publish
from forum.errors import Conflict, Forbidden, NotFound, ValidationFailed
from forum.markup import render
from forum.realtime import send_to_topic
from forum.uploads import delete_unclaimed, delete_upload, store_upload

__all__ = [
    "HANDLE_PERMISSION",
    "AttachmentRef",
    "EvidenceItem",
    "ReportPreview",
    "ReportRef",
    "StaffMember",
    "TicketMessageRef",
    "TicketRef",
    "TopicRef",
    "attachment_upload",
    "attachments_delete_orphans",
    "attachments_discard",
    "canned_reply_render",
    "notification_kinds_register",
    "permissions_declare",
    "report_file",
    "report_resolve",
    "report_target_preview",
    "report_tickets_open",
    "sla_breaches",
    "staff_members",
    "ticket_action_record",
    "ticket_assign",
    "ticket_evidence",
    "ticket_get",
    "ticket_open",
    "ticket_priority_set",
    "ticket_reply",
    "ticket_state_set",
    "ticket_topic_allowed",
    "ticket_topic_set",
    "tickets_close_resolved",
    "tickets_linked",
    "topic_by_code",
    "topics_public",
]

HANDLE_PERMISSION = selectors.HANDLE_PERMISSION
REPORT_QUOTA = "report.create_per_day"
TICKET_PERMISSION = "ticket.create"
# A member may have this many tickets open at once (a cap against floods that a ban does not lift:
# an appeal must stay possible).
OPEN_TICKETS_MAX = 10
# Dialog messages copied on each side of a reported one.
EVIDENCE_AROUND = 3
# SLA targets when the admin's table has no row for a priority: (first response, resolution), minutes.
DEFAULT_SLA_MINUTES = {
    Priority.URGENT: (60, 8 * 60),
    Priority.HIGH: (4 * 60, 24 * 60),
    Priority.NORMAL: (24 * 60, 72 * 60),
    Priority.LOW: (72 * 60, 7 * 24 * 60),
}
# Notification kinds this app registers.
KIND_REPLY = "support.ticket_reply"
KIND_STATE = "support.ticket_state"
KIND_ASSIGNED = "support.ticket_assigned"
KIND_REPORT_RESOLVED = "support.report_resolved"
# Live topics: the ticket's page (its member, reporters and staff) and its staff-only side (notes).
TOPIC = "ticket"
STAFF_TOPIC = "ticketstaff"


def permissions_declare() -> None:
    """The support app's permissions (from ready())."""
    permission_declare(
        Permission.flag(HANDLE_PERMISSION, gettext_lazy("Work support tickets and reports"), support=True),
        # Survives a ban: a banned member must still be able to ask, and to appeal.
        Permission.flag(
            TICKET_PERMISSION, gettext_lazy("Open support tickets"), user=True, survives_ban=True
        ),
        Permission.quota(
            REPORT_QUOTA,
            gettext_lazy("Reports a day"),
            period=datetime.timedelta(days=1),
            user=20,
            support=None,
        ),
    )


# --- Notification kinds ---------------------------------------------------------------------------------


def _ticket_link(facts: NotificationFacts) -> str:
    try:
        return reverse("support:ticket", args=[int(facts.param("ticket_id", "0"))])
    except (NoReverseMatch, ValueError):
        return "/"


def _describe_reply(facts: NotificationFacts) -> str:
    return _("%(actor)s replied on the ticket “%(subject)s”") % {
        "actor": facts.actor,
        "subject": facts.param("subject"),
    }


def _describe_state(facts: NotificationFacts) -> str:
    state = facts.param("state")
    label = TicketState(state).label if state in TicketState.values else state
    return _("Your ticket “%(subject)s” is now: %(state)s") % {
        "subject": facts.param("subject"),
        "state": label,
    }


def _describe_assigned(facts: NotificationFacts) -> str:
    return _("Ticket #%(number)s “%(subject)s” is assigned to you") % {
        "number": facts.param("ticket_id"),
        "subject": facts.param("subject"),
    }


def _describe_report_resolved(facts: NotificationFacts) -> str:
    if facts.param("outcome") == Outcome.ACTION_TAKEN:
        return _("Thank you: your report was handled and action was taken.")
    return _("Your report was reviewed; no action was needed.")


def notification_kinds_register() -> None:
    """This app's kinds of notification (from ready()); the notification app lists and sends them."""
    for kind in (
        NotificationKind(
            code=KIND_REPLY,
            label=gettext_lazy("Answers on support tickets"),
            describe=_describe_reply,
            link=_ticket_link,
            default_email=EmailChannel.IMMEDIATE,
            app="support",
        ),
        NotificationKind(
            code=KIND_STATE,
            label=gettext_lazy("Your support tickets change state"),
            describe=_describe_state,
            link=_ticket_link,
            default_email=EmailChannel.OFF,
            app="support",
        ),
        NotificationKind(
            code=KIND_ASSIGNED,
            label=gettext_lazy("Tickets assigned to you (staff)"),
            describe=_describe_assigned,
            link=_ticket_link,
            default_email=EmailChannel.IMMEDIATE,
            app="support",
        ),
        NotificationKind(
            code=KIND_REPORT_RESOLVED,
            label=gettext_lazy("Your reports are handled"),
            describe=_describe_report_resolved,
            link=_ticket_link,
            default_email=EmailChannel.OFF,
            app="support",
        ),
    ):
        notification_kind_register(kind)


# --- Plain data -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicRef:
    id: int
    code: str
    name: str
    description: str


@dataclass(frozen=True)
class TicketRef:
    id: int
    kind: str
    topic_id: int
    member_id: int | None
    subject: str
    state: str
    priority: str
    assignee_id: int | None
    outcome: str
    link_kind: str
    link_id: int | None
    reported_member_id: int | None
    report_count: int
    reasons: tuple[str, ...]
    created_at: datetime.datetime
    updated_at: datetime.datetime
    resolved_at: datetime.datetime | None


@dataclass(frozen=True)
class TicketMessageRef:
    id: int
    ticket_id: int
    author_id: int
    internal: bool
    created_at: datetime.datetime


@dataclass(frozen=True)
class ReportRef:
    id: int
    ticket_id: int
    reporter_id: int
    target_kind: str
    target_id: int
    reason: str
    merged: bool  # an open ticket on the same object took it


@dataclass(frozen=True)
class AttachmentRef:
    id: int
    original_name: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    has_thumbnail: bool


@dataclass(frozen=True)
class EvidenceItem:
    message_id: int
    dialog_id: int
    author_id: int
    author_name: str
    body_html: str
    written_at: datetime.datetime
    reported: bool


def _ticket_ref(ticket: Ticket) -> TicketRef:
    return TicketRef(
        id=ticket.pk,
        kind=ticket.kind,
        topic_id=ticket.topic_id,
        member_id=ticket.member_id,
        subject=ticket.subject,
        state=ticket.state,
        priority=selectors.priority_name(ticket.priority),
        assignee_id=ticket.assignee_id,
        outcome=ticket.outcome,
        link_kind=ticket.link_kind,
        link_id=ticket.link_id,
        reported_member_id=ticket.reported_member_id,
        report_count=ticket.report_count,
        reasons=tuple(ticket.reasons or ()),
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        resolved_at=ticket.resolved_at,
    )


def _message_ref(message: TicketMessage) -> TicketMessageRef:
    return TicketMessageRef(
        id=message.pk,
        ticket_id=message.ticket_id,
        author_id=message.author_id,
        internal=message.internal,
        created_at=message.created_at,
    )


def _topic_ref(topic: HelpTopic) -> TopicRef:
    return TopicRef(id=topic.pk, code=topic.code, name=topic.name, description=topic.description)


# --- Checks -------------------------------------------------------------------------------------------


def _no_such_ticket() -> NotFound:
    return NotFound(_("There is no such ticket."))


def _staff_only() -> Forbidden:
    return Forbidden(_("Only support staff may do this."), code="not_support_staff")


def _clean_text(value: str, *, field: str, limit: int, required: bool = True) -> str:
    value = value.strip()
    if required and not value:
        raise ValidationFailed(_("Write something first."), fields={field: [_("This field is required.")]})
    if len(value) > limit:
        message = ngettext("At most %(count)d character.", "At most %(count)d characters.", limit) % {
            "count": limit
        }
        raise ValidationFailed(message, code="too_long", fields={field: [message]})
    return value


def _clean_subject(subject: str) -> str:
    return _clean_text(" ".join(subject.split()), field="subject", limit=SUBJECT_MAX_LENGTH)


def _locked_ticket(ticket_id: int) -> Ticket:
    ticket = (
        Ticket.objects.select_for_update().filter(pk=ticket_id).first()
        if selectors.valid_id(ticket_id)
        else None
    )
    if ticket is None:
        raise _no_such_ticket()
    return ticket


def _locked_ticket_of(viewer_id: int, ticket_id: int) -> tuple[Ticket, selectors.Access]:
    """Lock a ticket the viewer may see; NotFound (as for no such ticket) otherwise."""
    ticket = _locked_ticket(ticket_id)
    access = selectors.access_to(viewer_id=viewer_id, ticket_id=ticket.pk, member_id=ticket.member_id)
    if access is None:
        raise _no_such_ticket()
    return ticket, access


def _locked_for_staff(actor_id: int, ticket_id: int) -> Ticket:
    ticket, access = _locked_ticket_of(actor_id, ticket_id)
    if access is not selectors.Access.STAFF:
        raise _staff_only()
    return ticket


def _sla_due(priority: int, opened_at: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    row = SlaTarget.objects.filter(priority=priority).values_list(
        "first_response_minutes", "resolution_minutes"
    )
    first, resolution = next(iter(row), None) or DEFAULT_SLA_MINUTES[Priority(priority)]
    return (
        opened_at + datetime.timedelta(minutes=first),
        opened_at + datetime.timedelta(minutes=resolution),
    )


def _reopen_window() -> datetime.timedelta:
    return datetime.timedelta(days=float(settings.SUPPORT_REOPEN_DAYS))


# --- What every change does -----------------------------------------------------------------------------


def _history(
    ticket: Ticket, actor_id: int | None, kind: str, data: Mapping[str, Any], now: datetime.datetime
) -> int:
    return int(
        TicketEvent.objects.create(
            ticket=ticket, actor_id=actor_id, kind=kind, data=dict(data), created_at=now
        ).pk
    )


def _notify(
    kind: str,
    recipient_ids: Iterable[int | None],
    *,
    source: str,
    actor_id: int | None,
    params: Mapping[str, Any],
) -> None:
    """Ask the notification app to tell members, in this transaction (never the actor)."""
    recipients = tuple(sorted({user_id for user_id in recipient_ids if user_id and user_id != actor_id}))
    if recipients:
        publish(
            NotificationRequested(
                kind=kind, recipient_ids=recipients, source=source, actor_id=actor_id, params=dict(params)
            )
        )


def _live(ticket_id: int, change: str, *, staff_only: bool = False) -> None:
    """Tell the ticket's open pages that it changed, after the commit: the id and what kind of change
    (``reply``, ``note``, ``state``, ``assigned``, ``priority``, ``topic``, ``report``, ``action``),
    each page fetches what its viewer may see. Internal notes and acts go to the staff's topic alone."""
    payload = {"ticket_id": ticket_id, "change": change}
    send_to_topic(f"{STAFF_TOPIC}:{ticket_id}", "ticket.changed", payload, on_commit=True)
    if not staff_only:
        send_to_topic(f"{TOPIC}:{ticket_id}", "ticket.changed", payload, on_commit=True)


def _params(ticket: Ticket, **extra: Any) -> dict[str, Any]:
    return {"ticket_id": ticket.pk, "subject": ticket.subject, **extra}


def _responded(ticket: Ticket, now: datetime.datetime) -> None:
    """Staff answered: the first-response clock stops (a report's ticket, which has nobody to answer,
    counts any staff act)."""
    if ticket.first_response_at is None:
        ticket.first_response_at = now


def _change_state(
    ticket: Ticket,
    *,
    actor_id: int | None,
    new_state: str,
    outcome: str = "",
    now: datetime.datetime,
    notify_member: bool = True,
) -> bool:
    """Move the (locked) ticket to ``new_state`` with its history line, event and notifications; the
    caller saves it. False when nothing changes."""
    old_state = ticket.state
    if new_state == old_state and (
        new_state not in (TicketState.RESOLVED, TicketState.CLOSED) or ticket.outcome == outcome
    ):
        return False
    ticket.state = new_state
    if new_state in (TicketState.RESOLVED, TicketState.CLOSED):
        if ticket.resolved_at is None or old_state in ACTIVE_STATES:
            ticket.resolved_at = now
        ticket.outcome = outcome or ticket.outcome
        if new_state == TicketState.CLOSED:
            ticket.closed_at = now
    else:
        ticket.resolved_at = None
        ticket.closed_at = None
        ticket.outcome = ""
    entry = _history(
        ticket,
        actor_id,
        TicketEventKind.STATE,
        {"from": old_state, "to": new_state, "outcome": ticket.outcome},
        now,
    )
    publish(
        TicketStateChanged(
            ticket_id=ticket.pk,
            actor_id=actor_id,
            old_state=old_state,
            new_state=new_state,
            outcome=ticket.outcome,
        )
    )
    if notify_member and ticket.member_id is not None:
        _notify(
            KIND_STATE,
            [ticket.member_id],
            source=f"ticket:{ticket.pk}:state:{entry}",
            actor_id=actor_id,
            params=_params(ticket, state=new_state, outcome=ticket.outcome),
        )
    if ticket.kind == TicketKind.REPORT and old_state in ACTIVE_STATES and new_state not in ACTIVE_STATES:
        reporters = selectors.reporter_ids(ticket_ids=[ticket.pk]).get(ticket.pk, ())
        publish(
            ReportResolved(
                ticket_id=ticket.pk,
                actor_id=actor_id,
                outcome=ticket.outcome,
                target_kind=ticket.link_kind,
                target_id=int(ticket.link_id or 0),
                reporter_ids=reporters,
            )
        )
        _notify(
            KIND_REPORT_RESOLVED,
            reporters,
            source=f"ticket:{ticket.pk}:resolved:{entry}",
            actor_id=actor_id,
            params={"ticket_id": ticket.pk, "outcome": ticket.outcome, "target_kind": ticket.link_kind},
        )
    return True


def _set_assignee(
    ticket: Ticket, *, actor_id: int | None, assignee_id: int | None, now: datetime.datetime
) -> bool:
    previous = ticket.assignee_id
    if previous == assignee_id:
        return False
    ticket.assignee_id = assignee_id
    entry = _history(ticket, actor_id, TicketEventKind.ASSIGNED, {"from": previous, "to": assignee_id}, now)
    publish(
        TicketAssigned(ticket_id=ticket.pk, actor_id=actor_id, assignee_id=assignee_id, previous_id=previous)
    )
    if assignee_id is not None:
        _notify(
            KIND_ASSIGNED,
            [assignee_id],
            source=f"ticket:{ticket.pk}:assigned:{entry}",
            actor_id=actor_id,
            params=_params(ticket),
        )
    return True


def _staff_member_ids() -> list[int]:
    """Members who work tickets now, by id: the accounts with the admin flags the support and admin
    roles set (``role_assign`` keeps them in step), checked with the permission engine (a banned one
    drops out). Two queries."""
    candidates = list(
        get_user_model()
        .objects.filter(Q(is_staff=True) | Q(is_superuser=True), is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )
    held = permissions_for_many(user_ids=candidates)
    return [user_id for user_id in candidates if user_id in held and held[user_id].allows(HANDLE_PERMISSION)]


@dataclass(frozen=True)
class StaffMember:
    id: int
    username: str


def staff_members() -> tuple[StaffMember, ...]:
    """Who works tickets now (an assignee is one of them), by name."""
    return tuple(
        StaffMember(id=brief.id, username=brief.username)
        for brief in users_brief(user_ids=_staff_member_ids())
    )


def _round_robin(topic: HelpTopic) -> int | None:
    """The next staff member after the topic's last one (the topic's row is locked by the caller)."""
    if topic.assign_policy != AssignPolicy.ROUND_ROBIN:
        return None
    staff = _staff_member_ids()
    if not staff:
        return None
    last = topic.last_assignee_id or 0
    chosen = next((user_id for user_id in staff if user_id > last), staff[0])
    HelpTopic.objects.filter(pk=topic.pk).update(last_assignee_id=chosen)
    return chosen


def _assign_new(ticket: Ticket, topic: HelpTopic, now: datetime.datetime) -> None:
    chosen = _round_robin(topic)
    if chosen is not None:
        _set_assignee(ticket, actor_id=None, assignee_id=chosen, now=now)


def _new_ticket(
    *,
    kind: str,
    topic: HelpTopic,
    member_id: int | None,
    subject: str,
    priority: int,
    now: datetime.datetime,
    link_kind: str = "",
    link_id: int | None = None,
    reported_member_id: int | None = None,
) -> Ticket:
    first_due, resolution_due = _sla_due(priority, now)
    return Ticket.objects.create(
        kind=kind,
        topic=topic,
        member_id=member_id,
        subject=subject,
        priority=priority,
        created_at=now,
        updated_at=now,
        first_response_due=first_due,
        resolution_due=resolution_due,
        link_kind=link_kind,
        link_id=link_id,
        reported_member_id=reported_member_id,
    )


# --- Messages and their files ------------------------------------------------------------------------


def _attachment_ids_check(attachment_ids: Sequence[int]) -> tuple[int, ...]:
    unique = tuple(dict.fromkeys(attachment_ids))
    if len(unique) > ATTACHMENTS_PER_MESSAGE_MAX:
        message = ngettext(
            "At most %(count)d attachment on one message.",
            "At most %(count)d attachments on one message.",
            ATTACHMENTS_PER_MESSAGE_MAX,
        ) % {"count": ATTACHMENTS_PER_MESSAGE_MAX}
        raise ValidationFailed(message, code="too_many_attachments", fields={"attachment_ids": [message]})
    return unique


def _attach(author_id: int, ticket: Ticket, message: TicketMessage, attachment_ids: Sequence[int]) -> None:
    if not attachment_ids:
        return
    wanted = [pk for pk in attachment_ids if selectors.valid_id(pk)]
    mine = TicketAttachment.objects.select_for_update().filter(
        pk__in=wanted, uploader_id=author_id, message__isnull=True
    )
    if len(mine.values_list("pk", flat=True)) != len(attachment_ids):
        message_text = _("An attachment is not one of your uploads waiting for a message.")
        raise ValidationFailed(
            message_text, code="attachment_unknown", fields={"attachment_ids": [message_text]}
        )
    TicketAttachment.objects.filter(pk__in=wanted).update(message=message, ticket=ticket)


def _write(
    ticket: Ticket,
    *,
    author_id: int,
    body: str,
    internal: bool,
    attachment_ids: Sequence[int],
    now: datetime.datetime,
) -> TicketMessage:
    rendered = render(body, max_length=BODY_MAX_LENGTH)
    message = TicketMessage.objects.create(
        ticket=ticket,
        author_id=author_id,
        internal=internal,
        body=body,
        body_html=rendered.html,
        created_at=now,
    )
    _attach(author_id, ticket, message, attachment_ids)
    return message


# --- Topics ---------------------------------------------------------------------------------------------


def topics_public() -> tuple[TopicRef, ...]:
    """The topics a member may open a ticket in, in the admin's order."""
    return tuple(
        TopicRef(id=t.id, code=t.code, name=t.name, description=t.description) for t in selectors.topics()
    )


def topic_by_code(*, code: str) -> TopicRef | None:
    topic = HelpTopic.objects.filter(code=code).first()
    return _topic_ref(topic) if topic is not None else None


# --- Tickets --------------------------------------------------------------------------------------------


def ticket_open(
    *,
    member_id: int,
    topic_id: int,
    subject: str,
    body: str,
    attachment_ids: Sequence[int] = (),
    kind: str = TicketKind.REQUEST,
    link_kind: str = "",
    link_id: int | None = None,
) -> TicketRef:
    """A member opens a ticket in a public topic (``ticket.create``, which a ban leaves; at most
    OPEN_TICKETS_MAX open at once), with a first message and its files (``attachment_upload``).
    An appeal (``kind="appeal"``, opened by the moderation app for the member) names the warning or ban
    it is about with ``link_kind`` and ``link_id`` and may use any topic. Assigned by the topic's round
    robin. Publishes ``support.ticket_opened`` (and ``support.ticket_assigned``)."""
    require(user_id=member_id, permission=TICKET_PERMISSION)
    if kind not in (TicketKind.REQUEST, TicketKind.APPEAL):
        raise ValidationFailed(
            _("Unknown kind of ticket."), fields={"kind": [_("Choose request or appeal.")]}
        )
    if kind == TicketKind.APPEAL and (not link_kind or link_id is None):
        raise ValidationFailed(
            _("An appeal names what it appeals."), fields={"link_kind": [_("This field is required.")]}
        )
    if len(link_kind) > LINK_KIND_MAX_LENGTH:
        raise ValidationFailed(_("Unknown kind of link."), fields={"link_kind": [_("Too long.")]})
    subject = _clean_subject(subject)
    body = _clean_text(body, field="body", limit=BODY_MAX_LENGTH)
    attachment_ids = _attachment_ids_check(attachment_ids)
    if selectors.open_ticket_count(member_id=member_id) >= OPEN_TICKETS_MAX:
        raise Conflict(
            ngettext(
                "You have %(count)d open ticket; wait for an answer on it before opening another.",
                "You have %(count)d open tickets; wait for an answer on them before opening another.",
                OPEN_TICKETS_MAX,
            )
            % {"count": OPEN_TICKETS_MAX},
            code="too_many_open_tickets",
        )
    with transaction.atomic():
        topic = (
            HelpTopic.objects.select_for_update().filter(pk=topic_id).first()
            if selectors.valid_id(topic_id)
            else None
        )
        if topic is None or (kind == TicketKind.REQUEST and not topic.is_public):
            message = _("Choose one of the topics offered.")
            raise ValidationFailed(message, code="unknown_topic", fields={"topic_id": [message]})
        now = timezone.now()
        ticket = _new_ticket(
            kind=kind,
            topic=topic,
            member_id=member_id,
            subject=subject,
            priority=topic.default_priority,
            now=now,
            link_kind=link_kind,
            link_id=link_id,
        )
        first = _write(
            ticket, author_id=member_id, body=body, internal=False, attachment_ids=attachment_ids, now=now
        )
        _history(ticket, member_id, TicketEventKind.OPENED, {"message_id": first.pk}, now)
        publish(
            TicketOpened(
                ticket_id=ticket.pk,
                kind=ticket.kind,
                topic_id=topic.pk,
                member_id=member_id,
                priority=selectors.priority_name(ticket.priority),
                link_kind=link_kind,
                link_id=link_id,
            )
        )
        _assign_new(ticket, topic, now)
        ticket.save()
    return _ticket_ref(ticket)


def ticket_get(*, viewer_id: int, ticket_id: int) -> TicketRef:
    """A ticket the viewer may see (staff, its member, a reporter of it); NotFound otherwise."""
    ticket = Ticket.objects.filter(pk=ticket_id).first() if selectors.valid_id(ticket_id) else None
    if (
        ticket is None
        or selectors.access_to(viewer_id=viewer_id, ticket_id=ticket.pk, member_id=ticket.member_id) is None
    ):
        raise _no_such_ticket()
    return _ticket_ref(ticket)


def ticket_reply(
    *,
    author_id: int,
    ticket_id: int,
    body: str,
    internal: bool = False,
    attachment_ids: Sequence[int] = (),
    state: str | None = None,
) -> TicketMessageRef:
    """Write on a ticket. The member: a public reply to their own ticket; within SUPPORT_REOPEN_DAYS of
    its resolution it reopens it, after that (or once closed) they open a new one (Conflict); a reply
    to a ticket waiting on them puts it back to open. Staff: a public reply (which answers the member:
    the ticket waits on them unless ``state`` says otherwise, and an unassigned ticket becomes the
    replier's) or an internal note (``internal``, staff only). A report's ticket has nobody to answer:
    notes only. Reporters do not write. Publishes ``support.ticket_replied``."""
    body = _clean_text(body, field="body", limit=BODY_MAX_LENGTH)
    attachment_ids = _attachment_ids_check(attachment_ids)
    if state is not None and state not in TicketState.values:
        raise ValidationFailed(_("Unknown state."), fields={"state": [_("Choose one of the states.")]})
    with transaction.atomic():
        ticket, access = _locked_ticket_of(author_id, ticket_id)
        staff = access is selectors.Access.STAFF
        if access is selectors.Access.REPORTER:
            raise Forbidden(
                _("A report is answered with its outcome; there is nothing to reply to."), code="reporter"
            )
        if (internal or state is not None) and not staff:
            raise _staff_only()
        if not internal and ticket.member_id is None:
            raise Conflict(
                _("This ticket has no member to answer; write an internal note instead."),
                code="no_member_to_answer",
            )
        now = timezone.now()
        resolved_long_ago = ticket.resolved_at is not None and now - ticket.resolved_at > _reopen_window()
        if not staff and ticket.state == TicketState.RESOLVED and resolved_long_ago:
            raise Conflict(_("This ticket is closed; open a new one."), code="ticket_closed")
        if ticket.state == TicketState.CLOSED and not internal:
            raise Conflict(_("This ticket is closed; open a new one."), code="ticket_closed")
        message = _write(
            ticket, author_id=author_id, body=body, internal=internal, attachment_ids=attachment_ids, now=now
        )
        _history(
            ticket,
            author_id,
            TicketEventKind.NOTE if internal else TicketEventKind.REPLIED,
            {"message_id": message.pk},
            now,
        )
        if staff:
            if not internal or ticket.member_id is None:
                _responded(ticket, now)
            if not internal and ticket.assignee_id is None:
                _set_assignee(ticket, actor_id=author_id, assignee_id=author_id, now=now)
            new_state = state
            if new_state is None and not internal and ticket.state in ACTIVE_STATES:
                new_state = TicketState.WAITING_ON_MEMBER
            if new_state is not None:
                # The reply itself tells the member; a state notification on top would say it twice.
                _change_state(ticket, actor_id=author_id, new_state=new_state, now=now, notify_member=False)
        elif ticket.state in (TicketState.WAITING_ON_MEMBER, TicketState.RESOLVED):
            _change_state(ticket, actor_id=author_id, new_state=TicketState.OPEN, now=now)
        ticket.updated_at = now
        ticket.save()
        publish(
            TicketReplied(
                ticket_id=ticket.pk,
                message_id=message.pk,
                author_id=author_id,
                internal=internal,
                by_staff=staff,
            )
        )
        if not internal:
            _notify(
                KIND_REPLY,
                [ticket.member_id, ticket.assignee_id],
                source=f"ticket:{ticket.pk}:message:{message.pk}",
                actor_id=author_id,
                params=_params(ticket),
            )
        _live(ticket.pk, "note" if internal else "reply", staff_only=internal)
    return _message_ref(message)


def ticket_state_set(*, actor_id: int, ticket_id: int, state: str, outcome: str = "") -> TicketRef:
    """Staff move a ticket to any state (a report's ticket needs an ``outcome`` to be resolved or
    closed: ``action_taken`` or ``no_action``); the member may only mark their own open ticket
    resolved. Publishes ``support.ticket_state_changed`` (and ``support.report_resolved``)."""
    if state not in TicketState.values:
        raise ValidationFailed(_("Unknown state."), fields={"state": [_("Choose one of the states.")]})
    if outcome and outcome not in (Outcome.ACTION_TAKEN, Outcome.NO_ACTION):
        raise ValidationFailed(
            _("Unknown outcome."), fields={"outcome": [_("Choose action taken or no action.")]}
        )
    with transaction.atomic():
        ticket, access = _locked_ticket_of(actor_id, ticket_id)
        if access is not selectors.Access.STAFF:
            if (
                access is not selectors.Access.MEMBER
                or state != TicketState.RESOLVED
                or ticket.state not in ACTIVE_STATES
            ):
                raise _staff_only()
            outcome = ""
        if (
            ticket.kind == TicketKind.REPORT
            and state not in ACTIVE_STATES
            and not outcome
            and not ticket.outcome
        ):
            message = _("Say how the report ended: action taken or no action.")
            raise ValidationFailed(message, code="outcome_required", fields={"outcome": [message]})
        if ticket.kind == TicketKind.REPORT and state in ACTIVE_STATES and ticket.state not in ACTIVE_STATES:
            # Reports on an object gather in one active ticket: a newer one may hold them now.
            newer = (
                Ticket.objects.filter(
                    kind=TicketKind.REPORT,
                    link_kind=ticket.link_kind,
                    link_id=ticket.link_id,
                    state__in=ACTIVE_STATES,
                )
                .values_list("pk", flat=True)
                .first()
            )
            if newer is not None:
                raise Conflict(
                    _("Ticket #%(number)d holds the open reports on this now; work it there.")
                    % {"number": newer},
                    code="newer_ticket_open",
                )
        now = timezone.now()
        if _change_state(ticket, actor_id=actor_id, new_state=state, outcome=outcome, now=now):
            # Staff acting on a report's ticket, or settling a request, is a response; asking the member
            # to wait is not (that takes a reply, which counts by itself).
            if access is selectors.Access.STAFF and (ticket.member_id is None or state not in ACTIVE_STATES):
                _responded(ticket, now)
            ticket.updated_at = now
            ticket.save()
            _live(ticket.pk, "state")
    return _ticket_ref(ticket)


def report_resolve(*, actor_id: int, ticket_id: int, outcome: str, note: str = "") -> TicketRef:
    """Staff resolve a report's ticket: ``action_taken`` or ``no_action``, which is all its reporters
    are told. ``note`` is kept as an internal note. Publishes ``support.report_resolved``."""
    if outcome not in (Outcome.ACTION_TAKEN, Outcome.NO_ACTION):
        raise ValidationFailed(
            _("Unknown outcome."), fields={"outcome": [_("Choose action taken or no action.")]}
        )
    note = _clean_text(note, field="note", limit=BODY_MAX_LENGTH, required=False)
    with transaction.atomic():
        ticket = _locked_for_staff(actor_id, ticket_id)
        if ticket.kind != TicketKind.REPORT:
            raise Conflict(_("This ticket is not a report."), code="not_a_report")
        if ticket.state not in ACTIVE_STATES:
            raise Conflict(_("This report is already resolved."), code="already_resolved")
        now = timezone.now()
        if note:
            message = _write(ticket, author_id=actor_id, body=note, internal=True, attachment_ids=(), now=now)
            _history(ticket, actor_id, TicketEventKind.NOTE, {"message_id": message.pk}, now)
        _responded(ticket, now)
        _change_state(ticket, actor_id=actor_id, new_state=TicketState.RESOLVED, outcome=outcome, now=now)
        ticket.updated_at = now
        ticket.save()
        _live(ticket.pk, "state")
    return _ticket_ref(ticket)


def ticket_assign(*, actor_id: int, ticket_id: int, assignee_id: int | None) -> TicketRef:
    """Staff give a ticket to a member who works tickets, or to nobody (None). Publishes
    ``support.ticket_assigned``; the assignee is notified unless they did it."""
    with transaction.atomic():
        ticket = _locked_for_staff(actor_id, ticket_id)
        if assignee_id is not None and assignee_id not in _staff_member_ids():
            message = _("Tickets go to support staff only.")
            raise ValidationFailed(message, code="not_support_staff", fields={"assignee_id": [message]})
        now = timezone.now()
        if _set_assignee(ticket, actor_id=actor_id, assignee_id=assignee_id, now=now):
            ticket.updated_at = now
            ticket.save()
            _live(ticket.pk, "assigned")
    return _ticket_ref(ticket)


def ticket_priority_set(*, actor_id: int, ticket_id: int, priority: str) -> TicketRef:
    """Staff change a ticket's priority (``low`` ... ``urgent``); its SLA due times follow, counted from
    when it was opened."""
    value = selectors.priority_value(priority)
    if value is None:
        raise ValidationFailed(
            _("Unknown priority."), fields={"priority": [_("Choose low, normal, high or urgent.")]}
        )
    with transaction.atomic():
        ticket = _locked_for_staff(actor_id, ticket_id)
        if ticket.priority == value:
            return _ticket_ref(ticket)
        now = timezone.now()
        _history(
            ticket,
            actor_id,
            TicketEventKind.PRIORITY,
            {"from": selectors.priority_name(ticket.priority), "to": priority.lower()},
            now,
        )
        ticket.priority = value
        ticket.first_response_due, ticket.resolution_due = _sla_due(value, ticket.created_at)
        ticket.updated_at = now
        ticket.save()
        _live(ticket.pk, "priority")
    return _ticket_ref(ticket)


def ticket_topic_set(*, actor_id: int, ticket_id: int, topic_id: int) -> TicketRef:
    """Staff move a ticket to another topic."""
    with transaction.atomic():
        ticket = _locked_for_staff(actor_id, ticket_id)
        topic = HelpTopic.objects.filter(pk=topic_id).first() if selectors.valid_id(topic_id) else None
        if topic is None:
            raise ValidationFailed(
                _("Choose one of the topics offered."), fields={"topic_id": [_("No such topic.")]}
            )
        if topic.pk != ticket.topic_id:
            now = timezone.now()
            _history(ticket, actor_id, TicketEventKind.TOPIC, {"from": ticket.topic_id, "to": topic.pk}, now)
            ticket.topic = topic
            ticket.updated_at = now
            ticket.save()
            _live(ticket.pk, "topic")
    return _ticket_ref(ticket)


def ticket_action_record(
    *, ticket_id: int, actor_id: int, action: str, data: Mapping[str, Any] | None = None
) -> None:
    """Write a moderation act done from a ticket into its history (the moderation app calls it in the
    transaction of its act: ``action`` such as ``post_hidden``, ``member_warned``; ``data`` plain
    values such as the warning's id). Staff only."""
    if not action or len(action) > 50:
        raise ValidationFailed(_("Name the act."), fields={"action": [_("1 to 50 characters.")]})
    with transaction.atomic():
        ticket = _locked_for_staff(actor_id, ticket_id)
        now = timezone.now()
        _history(ticket, actor_id, TicketEventKind.ACTION, {"action": action, **dict(data or {})}, now)
        if ticket.member_id is None:
            _responded(ticket, now)
        ticket.updated_at = now
        ticket.save()
        _live(ticket.pk, "action", staff_only=True)


def tickets_linked(*, link_kind: str, link_id: int) -> tuple[TicketRef, ...]:
    """The tickets about another app's object (a report's target, an appeal's warning), newest first."""
    found = Ticket.objects.filter(link_kind=link_kind, link_id=link_id).order_by("-created_at", "-id")[:50]
    return tuple(_ticket_ref(ticket) for ticket in found)


def report_tickets_open(*, page: int = 1, per_page: int = 50) -> tuple[TicketRef, ...]:
    """Open report tickets, most urgent and most reported first (for the moderation queue)."""
    rows = selectors.open_report_page(page=page, per_page=per_page).items
    tickets = {ticket.pk: ticket for ticket in Ticket.objects.filter(pk__in=[row.id for row in rows])}
    return tuple(_ticket_ref(tickets[row.id]) for row in rows if row.id in tickets)


def tickets_close_resolved(*, now: datetime.datetime | None = None, batch_size: int = 200) -> int:
    """Close the tickets resolved more than SUPPORT_REOPEN_DAYS ago (hourly, by beat); a member's reply
    no longer reopens them. Publishes ``support.ticket_state_changed`` for each; returns how many."""
    now = now or timezone.now()
    cutoff = now - _reopen_window()
    closed = 0
    while True:
        with transaction.atomic():
            due = list(
                Ticket.objects.select_for_update(skip_locked=True)
                .filter(state=TicketState.RESOLVED, resolved_at__lt=cutoff)
                .order_by("resolved_at", "id")[:batch_size]
            )
            for ticket in due:
                _change_state(
                    ticket,
                    actor_id=None,
                    new_state=TicketState.CLOSED,
                    outcome=ticket.outcome,
                    now=now,
                    notify_member=False,
                )
                ticket.updated_at = now
                ticket.save()
                _live(ticket.pk, "state")
        closed += len(due)
        if len(due) < batch_size:
            return closed


def ticket_topic_allowed(*, user_id: int, key: str, staff_only: bool = False) -> bool:
    """The check of the live topics ``ticket:<id>`` (staff, its member, its reporters) and
    ``ticketstaff:<id>`` (staff only): False for anything else, a key that is no id included."""
    if not key.isdigit() or len(key) > 18:
        return False
    access = selectors.ticket_access(viewer_id=user_id, ticket_id=int(key))
    if staff_only:
        return access is selectors.Access.STAFF
    return access is not None


def sla_breaches() -> selectors.SlaBreaches:
    """Tickets past their SLA targets, now and ever (for /metrics)."""
    return selectors.sla_breaches()


# --- Canned replies -------------------------------------------------------------------------------------


def canned_reply_render(*, actor_id: int, canned_id: int, ticket_id: int) -> str:
    """A canned reply's text for a ticket: ``{member}`` becomes the member's name, ``{ticket}`` the
    ticket's number (#12). Staff only."""
    ticket = (
        Ticket.objects.select_related("member").filter(pk=ticket_id).first()
        if selectors.valid_id(ticket_id)
        else None
    )
    if (
        ticket is None
        or selectors.access_to(viewer_id=actor_id, ticket_id=ticket.pk, member_id=ticket.member_id) is None
    ):
        raise _no_such_ticket()
    if not selectors.is_staff(actor_id):
        raise _staff_only()
    canned = (
        CannedReply.objects.filter(pk=canned_id, is_active=True).first()
        if selectors.valid_id(canned_id)
        else None
    )
    if canned is None:
        raise NotFound(_("There is no such canned reply."))
    member = ticket.member.username if ticket.member is not None else ""
    return canned.body.replace("{member}", member).replace("{ticket}", f"#{ticket.pk}")


# --- Reports --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """What a report is about, as the reporter may see it."""

    author_id: int | None
    label: str
    excerpt: str
    subject: str
    evidence: tuple[Any, ...] = ()


def _target(reporter_id: int, kind: str, target_id: int) -> _Target:
    """The reported object, checked as the reporter sees it; NotFound for what they may not see, as
    for what does not exist."""
    if not selectors.valid_id(target_id):
        raise NotFound(_("There is nothing to report there."))
    if kind == ReportTarget.POST:
        post = post_brief_for_report(viewer_id=reporter_id, post_id=target_id)
        if post is None:
            raise NotFound(_("There is no such post."))
        return _Target(
            author_id=post.author_id,
            label=post.thread_title,
            excerpt=post.excerpt[:EXCERPT_MAX_LENGTH],
            subject=_("Post #%(id)d in “%(title)s”") % {"id": post.id, "title": post.thread_title},
        )
    if kind == ReportTarget.THREAD:
        thread = thread_brief_for_report(viewer_id=reporter_id, thread_id=target_id)
        if thread is None:
            raise NotFound(_("There is no such thread."))
        return _Target(
            author_id=thread.author_id,
            label=thread.thread_title,
            excerpt=thread.excerpt[:EXCERPT_MAX_LENGTH],
            subject=_("Thread “%(title)s”") % {"title": thread.thread_title},
        )
    if kind == ReportTarget.MEMBER:
        briefs = [brief for brief in users_brief(user_ids=[target_id]) if brief.is_active]
        if not briefs:
            raise NotFound(_("There is no such member."))
        return _Target(
            author_id=briefs[0].id,
            label=briefs[0].username,
            excerpt="",
            subject=_("Member %(name)s") % {"name": briefs[0].username},
        )
    if kind == ReportTarget.MESSAGE:
        evidence = message_evidence(reporter_id=reporter_id, message_id=target_id, around=EVIDENCE_AROUND)
        reported = next(message for message in evidence if message.reported)
        return _Target(
            author_id=reported.author_id,
            label="",
            excerpt="",
            subject=_("Dialog message #%(id)d") % {"id": target_id},
            evidence=evidence,
        )
    raise ValidationFailed(
        _("Unknown kind of report."), fields={"target_kind": [_("Choose post, thread, member or message.")]}
    )


@dataclass(frozen=True)
class ReportPreview:
    """What the report form shows of the object: its kind, a title or name, and its words."""

    target_kind: str
    target_id: int
    label: str
    excerpt: str
    body_html: str  # a dialog message's, as the reporter sees it in the dialog


def report_target_preview(*, reporter_id: int, target_kind: str, target_id: int) -> ReportPreview:
    """The object a member is about to report, checked as report_file checks it (NotFound for what
    they may not see, ValidationFailed for an unknown kind)."""
    target = _target(reporter_id, target_kind, target_id)
    reported = next((message for message in target.evidence if message.reported), None)
    return ReportPreview(
        target_kind=target_kind,
        target_id=target_id,
        label=target.label,
        excerpt=target.excerpt,
        body_html=reported.body_html if reported is not None else "",
    )


def _report_ticket(kind: str, target_id: int, target: _Target, now: datetime.datetime) -> tuple[Ticket, bool]:
    """The open ticket on the object (locked), or a new one; True when new. Two reports at once on one
    object: the unique index makes the second wait for the first and then take its ticket."""

    def existing() -> Ticket | None:
        return (
            Ticket.objects.select_for_update()
            .filter(kind=TicketKind.REPORT, link_kind=kind, link_id=target_id, state__in=ACTIVE_STATES)
            .first()
        )

    found = existing()
    if found is not None:
        return found, False
    topic = HelpTopic.objects.select_for_update().filter(code=REPORTS_TOPIC_CODE).first()
    if topic is None:  # the data migration makes it; staff may have deleted it
        topic = HelpTopic.objects.create(code=REPORTS_TOPIC_CODE, name="Reports", is_public=False)
    try:
        with transaction.atomic():
            ticket = _new_ticket(
                kind=TicketKind.REPORT,
                topic=topic,
                member_id=None,
                subject=target.subject[:SUBJECT_MAX_LENGTH],
                priority=topic.default_priority,
                now=now,
                link_kind=kind,
                link_id=target_id,
                reported_member_id=target.author_id,
            )
    except IntegrityError:
        found = existing()
        if found is None:
            raise
        return found, False
    _assign_new(ticket, topic, now)
    return ticket, True


def report_file(
    *, reporter_id: int, target_kind: str, target_id: int, reason: str, comment: str = ""
) -> ReportRef:
    """A member reports a post, a thread, a member or a message of a dialog they take part in, with a
    reason and an optional comment; one use of ``report.create_per_day``. The report joins the open
    ticket on the same object, or opens one (in the reports topic); a member reports an object once
    while its ticket is open (Conflict). A dialog message is copied into the ticket with the messages
    around it (``apps.dialog.services.message_evidence``). Illegal content raises the ticket to high
    priority. Publishes ``support.report_filed`` (and ``support.ticket_opened`` for a new ticket)."""
    if target_kind not in ReportTarget.values:
        raise ValidationFailed(
            _("Unknown kind of report."),
            fields={"target_kind": [_("Choose post, thread, member or message.")]},
        )
    if reason not in ReportReason.values:
        raise ValidationFailed(_("Choose a reason."), fields={"reason": [_("Choose one of the reasons.")]})
    comment = _clean_text(comment, field="comment", limit=COMMENT_MAX_LENGTH, required=False)
    if reason == ReportReason.OTHER and not comment:
        message = _("Say in a few words what is wrong.")
        raise ValidationFailed(message, code="comment_required", fields={"comment": [message]})
    target = _target(reporter_id, target_kind, target_id)
    if target.author_id == reporter_id:
        message = _("You cannot report yourself or what you wrote.")
        raise ValidationFailed(message, code="report_self", fields={"target_id": [message]})
    use = quota_consume(user_id=reporter_id, permission=REPORT_QUOTA)
    try:
        with transaction.atomic():
            now = timezone.now()
            ticket, created = _report_ticket(target_kind, target_id, target, now)
            if Report.objects.filter(ticket=ticket, reporter_id=reporter_id).exists():
                raise Conflict(
                    _("You have reported this already; its ticket is open and you will hear how it ends."),
                    code="already_reported",
                )
            report = Report.objects.create(
                ticket=ticket,
                reporter_id=reporter_id,
                target_kind=target_kind,
                target_id=target_id,
                reason=reason,
                comment=comment,
                target_label=target.label[:200],
                excerpt=target.excerpt,
                created_at=now,
            )
            ticket.report_count += 1
            if reason not in ticket.reasons:
                ticket.reasons = [*ticket.reasons, reason]
            if reason == ReportReason.ILLEGAL and ticket.priority < Priority.HIGH:
                ticket.priority = Priority.HIGH
                ticket.first_response_due, ticket.resolution_due = _sla_due(Priority.HIGH, ticket.created_at)
            ticket.updated_at = now
            ticket.save()
            if target.evidence:
                Evidence.objects.bulk_create(
                    [
                        Evidence(
                            ticket=ticket,
                            dialog_id=message.dialog_id,
                            message_id=message.id,
                            author_id=message.author_id,
                            body_html=message.body_html,
                            written_at=message.created_at,
                            reported=message.reported,
                            copied_at=now,
                        )
                        for message in target.evidence
                    ],
                    ignore_conflicts=True,
                )
            _history(
                ticket,
                reporter_id,
                TicketEventKind.OPENED if created else TicketEventKind.REPORTED,
                {"report_id": report.pk, "reason": reason},
                now,
            )
            if created:
                publish(
                    TicketOpened(
                        ticket_id=ticket.pk,
                        kind=ticket.kind,
                        topic_id=ticket.topic_id,
                        member_id=None,
                        priority=selectors.priority_name(ticket.priority),
                        link_kind=target_kind,
                        link_id=target_id,
                    )
                )
            publish(
                ReportFiled(
                    report_id=report.pk,
                    ticket_id=ticket.pk,
                    reporter_id=reporter_id,
                    target_kind=target_kind,
                    target_id=target_id,
                    reason=reason,
                    target_author_id=target.author_id,
                    merged=not created,
                )
            )
            _live(ticket.pk, "report")
    except BaseException:
        quota_refund(user_id=reporter_id, permission=REPORT_QUOTA, use_id=use.use_id)
        raise
    return ReportRef(
        id=report.pk,
        ticket_id=ticket.pk,
        reporter_id=reporter_id,
        target_kind=target_kind,
        target_id=target_id,
        reason=reason,
        merged=not created,
    )


def ticket_evidence(*, staff_id: int, ticket_id: int, surface: str = "page") -> tuple[EvidenceItem, ...]:
    """The dialog messages copied into a report's ticket, for staff only (anyone else: NotFound); every
    call is logged (``EvidenceView``: who, when, where) in the same transaction."""
    if not selectors.valid_id(ticket_id) or not selectors.is_staff(staff_id):
        raise _no_such_ticket()
    with transaction.atomic():
        if not Ticket.objects.filter(pk=ticket_id).exists():
            raise _no_such_ticket()
        EvidenceView.objects.create(
            ticket_id=ticket_id, staff_id=staff_id, viewed_at=timezone.now(), surface=surface[:10]
        )
        rows = list(
            Evidence.objects.filter(ticket_id=ticket_id).select_related("author").order_by("message_id")
        )
    return tuple(
        EvidenceItem(
            message_id=row.message_id,
            dialog_id=row.dialog_id,
            author_id=row.author_id,
            author_name=row.author.username,
            body_html=row.body_html,
            written_at=row.written_at,
            reported=row.reported,
        )
        for row in rows
    )


# --- Attachments ----------------------------------------------------------------------------------------


def _attachment_ref(row: TicketAttachment) -> AttachmentRef:
    return AttachmentRef(
        id=row.pk,
        original_name=row.original_name,
        content_type=row.content_type,
        size=row.size,
        width=row.width,
        height=row.height,
        has_thumbnail=bool(row.thumbnail_key),
    )


def attachment_upload(
    *, uploader_id: int, file: UploadedFile[bytes], field_name: str = "file"
) -> AttachmentRef:
    """Store a file for a ticket message being written (forum.uploads: type and size checked, metadata
    stripped, private storage); it is the uploader's alone until a message takes it by id. At most
    PENDING_ATTACHMENTS_MAX wait per member."""
    if not (selectors.is_staff(uploader_id)):
        require(user_id=uploader_id, permission=TICKET_PERMISSION)
    waiting = TicketAttachment.objects.filter(uploader_id=uploader_id, message__isnull=True).count()
    if waiting >= PENDING_ATTACHMENTS_MAX:
        raise Conflict(
            _("Too many uploads are waiting for a message (%(count)d); send or discard them first.")
            % {"count": waiting},
            code="too_many_pending_attachments",
        )
    row = store_upload(
        file,
        field_name=field_name,
        keep=lambda fields: TicketAttachment.objects.create(
            uploader_id=uploader_id, created_at=timezone.now(), **fields
        ),
    )
    return _attachment_ref(row)


def attachments_discard(*, uploader_id: int, attachment_ids: Sequence[int]) -> int:
    """Delete the member's uploads among ``attachment_ids`` that no message took; files after the commit."""
    wanted = [pk for pk in attachment_ids if selectors.valid_id(pk)]
    with transaction.atomic():
        rows = list(
            TicketAttachment.objects.select_for_update()
            .filter(pk__in=wanted, uploader_id=uploader_id, message__isnull=True)
            .values_list("pk", "storage_key", "thumbnail_key")
        )
        TicketAttachment.objects.filter(pk__in=[pk for pk, _key, _thumb in rows]).delete()
        for _pk, key, thumbnail in rows:
            transaction.on_commit(partial(delete_upload, key, thumbnail or None), robust=True)
    return len(rows)


def attachments_delete_orphans(*, older_than: datetime.timedelta | None = None) -> int:
    """Delete uploads no message took within SUPPORT_UPLOAD_ORPHAN_HOURS, rows and files (hourly)."""
    if older_than is None:
        older_than = datetime.timedelta(hours=float(settings.SUPPORT_UPLOAD_ORPHAN_HOURS))
    unclaimed = TicketAttachment.objects.filter(
        message__isnull=True, created_at__lt=timezone.now() - older_than
    )
    return delete_unclaimed(unclaimed)
