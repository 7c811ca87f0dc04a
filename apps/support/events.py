"""Facts the support app publishes: versioned, JSON-serializable frozen dataclasses.

Imports only the standard library and forum.events (checked by import-linter).

Reports name what was reported by kind and id (``post``, ``thread``, ``member``, ``message``); tickets
name the object of another app they are about by ``link_kind`` and ``link_id`` (a report's target, an
appeal's warning or ban). States are ``open``, ``in_progress``, ``waiting_on_member``, ``resolved``,
``closed``; priorities ``low``, ``normal``, ``high``, ``urgent``; outcomes ``action_taken``,
``no_action`` (empty while there is none).
"""

from __future__ import annotations

from forum.events import Event, event


@event("support.report_filed", version=1)
class ReportFiled(Event):
    """A member reported something. ``merged`` when an open ticket on the same object took it."""

    report_id: int
    ticket_id: int
    reporter_id: int
    target_kind: str
    target_id: int
    reason: str
    target_author_id: int | None
    merged: bool


@event("support.ticket_opened", version=1)
class TicketOpened(Event):
    """A ticket was opened: a member's request or appeal, or the first report on an object.
    ``member_id`` is empty for a report's ticket (its reporters are in ``support.report_filed``)."""

    ticket_id: int
    kind: str
    topic_id: int
    member_id: int | None
    priority: str
    link_kind: str
    link_id: int | None


@event("support.ticket_replied", version=1)
class TicketReplied(Event):
    """A message was added to a ticket: a public reply, or an internal note (``internal``, staff only)."""

    ticket_id: int
    message_id: int
    author_id: int
    internal: bool
    by_staff: bool


@event("support.ticket_state_changed", version=1)
class TicketStateChanged(Event):
    """A ticket moved from one state to another; ``actor_id`` is empty when the system moved it (the
    hourly close of resolved tickets)."""

    ticket_id: int
    actor_id: int | None
    old_state: str
    new_state: str
    outcome: str


@event("support.ticket_assigned", version=1)
class TicketAssigned(Event):
    """A ticket got an assignee, another one, or none; ``actor_id`` is empty for the round robin."""

    ticket_id: int
    actor_id: int | None
    assignee_id: int | None
    previous_id: int | None


@event("support.report_resolved", version=1)
class ReportResolved(Event):
    """A report's ticket was resolved; each reporter is told the outcome and nothing more."""

    ticket_id: int
    actor_id: int | None
    outcome: str
    target_kind: str
    target_id: int
    reporter_ids: tuple[int, ...]
