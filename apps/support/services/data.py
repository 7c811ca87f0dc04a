"""The plain data the support services return (frozen dataclasses, never model instances)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from apps.support import selectors
from apps.support.models import HelpTopic, Ticket, TicketMessage

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
        subject=ticket.shown_subject,
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
