"""What every change of a ticket does: its history line, events, notifications and live message;
new tickets and their assignment."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from apps.notification.events import NotificationRequested
from apps.support import selectors
from apps.support.events import ReportResolved, TicketAssigned, TicketStateChanged
from apps.support.models import (
    ACTIVE_STATES,
    AssignPolicy,
    HelpTopic,
    Ticket,
    TicketEvent,
    TicketEventKind,
    TicketKind,
    TicketState,
)
from forum.bus import publish
from forum.realtime import send_to_topic

from ._common import KIND_ASSIGNED, KIND_REPORT_RESOLVED, KIND_STATE, STAFF_TOPIC, TOPIC, _sla_due
from .staff import _staff_member_ids

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
    subject_label: str | None = None,
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
        subject_label=subject_label,
    )
