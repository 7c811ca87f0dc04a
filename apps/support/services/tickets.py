"""Tickets: opening, replying, state, assignee, priority, topic, closing; canned replies."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.authorization.services import require
from apps.support import selectors
from apps.support.events import TicketOpened, TicketReplied
from apps.support.models import (
    ACTIVE_STATES,
    BODY_MAX_LENGTH,
    LINK_KIND_MAX_LENGTH,
    CannedReply,
    HelpTopic,
    Outcome,
    Ticket,
    TicketEventKind,
    TicketKind,
    TicketState,
)
from forum.bus import publish
from forum.errors import Conflict, Forbidden, NotFound, ValidationFailed

from ._changes import (
    _assign_new,
    _change_state,
    _history,
    _live,
    _new_ticket,
    _notify,
    _params,
    _responded,
    _set_assignee,
)
from ._common import (
    KIND_REPLY,
    OPEN_TICKETS_MAX,
    TICKET_PERMISSION,
    _clean_subject,
    _clean_text,
    _locked_for_staff,
    _locked_ticket_of,
    _no_such_ticket,
    _reopen_window,
    _sla_due,
    _staff_only,
)
from .data import TicketMessageRef, TicketRef, _message_ref, _ticket_ref
from .messages import _attachment_ids_check, _write
from .staff import _staff_member_ids

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
