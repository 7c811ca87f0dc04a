"""Reads of the support app: who may see a ticket and how much of it, the lists (a member's tickets, a
reporter's reports, the staff's queue), one ticket as its page shows it, files for download, and the
SLA figures. Every list and page runs a fixed number of queries whatever it holds.

Who sees what: staff (``support.handle_tickets`` in the permission engine) see every ticket, its
internal notes, history and reports; the member who opened a ticket sees its public conversation; a
reporter sees their own report and the state and outcome of its ticket, nothing else. Anyone else is
told there is no such ticket, whatever the id.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy

from apps.authorization.services import has_perm
from apps.support.models import (
    ACTIVE_STATES,
    CannedReply,
    HelpTopic,
    Outcome,
    Priority,
    Report,
    ReportReason,
    ReportTarget,
    Ticket,
    TicketAttachment,
    TicketEvent,
    TicketEventKind,
    TicketKind,
    TicketMessage,
    TicketState,
)
from apps.user.services import users_brief
from forum.paging import Page, page_in_range

HANDLE_PERMISSION = "support.handle_tickets"
TICKETS_PER_PAGE = 25
_MAX_ID = 2**63 - 1


def valid_id(value: int) -> bool:
    return 0 < value <= _MAX_ID


def is_staff(user_id: int | None) -> bool:
    """Whether the member works tickets (the support and admin roles, unless banned)."""
    return user_id is not None and has_perm(user_id=user_id, permission=HANDLE_PERMISSION)


def priority_name(value: int) -> str:
    """``low`` ... ``urgent``: how the API and the events name a priority."""
    return Priority(value).name.lower()


def priority_value(name: str) -> int | None:
    try:
        return int(Priority[name.upper()])
    except KeyError:
        return None


# --- SLA ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlaState:
    """The target a ticket is running against now and how much time is left (negative: breached)."""

    target: str  # "first_response" or "resolution"
    due_at: datetime.datetime
    seconds_left: int

    @property
    def breached(self) -> bool:
        return self.seconds_left < 0


def sla_state(
    *,
    state: str,
    first_response_at: datetime.datetime | None,
    first_response_due: datetime.datetime | None,
    resolution_due: datetime.datetime | None,
    now: datetime.datetime,
) -> SlaState | None:
    """None once the ticket is resolved or closed: the clock stops there."""
    if state not in ACTIVE_STATES:
        return None
    if first_response_at is None and first_response_due is not None:
        return SlaState("first_response", first_response_due, int((first_response_due - now).total_seconds()))
    if resolution_due is not None:
        return SlaState("resolution", resolution_due, int((resolution_due - now).total_seconds()))
    return None


def breached_filter(now: datetime.datetime) -> Q:
    """Active tickets past a target now: no first response by its due time, or not resolved by its."""
    return Q(state__in=ACTIVE_STATES) & (
        Q(first_response_at__isnull=True, first_response_due__lt=now) | Q(resolution_due__lt=now)
    )


@dataclass(frozen=True)
class SlaBreaches:
    first_response_open: int  # active tickets without a first response past its due time now
    resolution_open: int  # active tickets past their resolution due time now
    first_response_total: int  # every ticket that missed its first-response target, ever
    resolution_total: int  # every ticket that missed its resolution target, ever


def sla_breaches(*, now: datetime.datetime | None = None) -> SlaBreaches:
    """The SLA figures for /metrics, in one query."""
    now = now or timezone.now()
    active = Q(state__in=ACTIVE_STATES)
    late_response = Q(first_response_at__isnull=False, first_response_due__isnull=False) & Q(
        first_response_at__gt=F("first_response_due")
    )
    late_resolution = Q(resolved_at__isnull=False, resolution_due__isnull=False) & Q(
        resolved_at__gt=F("resolution_due")
    )
    open_response = active & Q(first_response_at__isnull=True, first_response_due__lt=now)
    open_resolution = active & Q(resolution_due__lt=now)
    counts = Ticket.objects.aggregate(
        first_response_open=Count("pk", filter=open_response),
        resolution_open=Count("pk", filter=open_resolution),
        first_response_late=Count("pk", filter=late_response | open_response),
        resolution_late=Count("pk", filter=late_resolution | open_resolution),
    )
    return SlaBreaches(
        first_response_open=counts["first_response_open"],
        resolution_open=counts["resolution_open"],
        first_response_total=counts["first_response_late"],
        resolution_total=counts["resolution_late"],
    )


# --- Rows ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketRow:
    """A ticket as the lists show it."""

    id: int
    kind: str
    subject: str
    state: str
    priority: int
    topic_id: int
    topic_name: str
    member_id: int | None
    member_name: str
    assignee_id: int | None
    assignee_name: str
    created_at: datetime.datetime
    updated_at: datetime.datetime
    resolved_at: datetime.datetime | None
    outcome: str
    report_count: int
    reasons: tuple[str, ...]
    link_kind: str
    link_id: int | None
    sla: SlaState | None

    @property
    def state_label(self) -> str:
        return str(TicketState(self.state).label)

    @property
    def priority_name(self) -> str:
        return priority_name(self.priority)

    @property
    def priority_label(self) -> str:
        return str(Priority(self.priority).label)

    @property
    def kind_label(self) -> str:
        return str(TicketKind(self.kind).label)

    @property
    def outcome_label(self) -> str:
        return str(Outcome(self.outcome).label) if self.outcome else ""

    @property
    def reason_labels(self) -> tuple[str, ...]:
        return tuple(
            str(ReportReason(reason).label) for reason in self.reasons if reason in ReportReason.values
        )

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES


_ROW_RELATED = ("topic", "member", "assignee")


def _row(ticket: Ticket, now: datetime.datetime) -> TicketRow:
    return TicketRow(
        id=ticket.pk,
        kind=ticket.kind,
        subject=ticket.shown_subject,
        state=ticket.state,
        priority=ticket.priority,
        topic_id=ticket.topic_id,
        topic_name=ticket.topic.name,
        member_id=ticket.member_id,
        member_name=ticket.member.username if ticket.member is not None else "",
        assignee_id=ticket.assignee_id,
        assignee_name=ticket.assignee.username if ticket.assignee is not None else "",
        created_at=ticket.created_at,
        updated_at=ticket.updated_at,
        resolved_at=ticket.resolved_at,
        outcome=ticket.outcome,
        report_count=ticket.report_count,
        reasons=tuple(ticket.reasons or ()),
        link_kind=ticket.link_kind,
        link_id=ticket.link_id,
        sla=sla_state(
            state=ticket.state,
            first_response_at=ticket.first_response_at,
            first_response_due=ticket.first_response_due,
            resolution_due=ticket.resolution_due,
            now=now,
        ),
    )


def _page(tickets: QuerySet[Ticket], page: int, per_page: int) -> Page[TicketRow]:
    """Two queries: the count, then the page's rows with their topic, member and assignee."""
    total = tickets.count()
    number = page_in_range(page, total, per_page)
    start = (number - 1) * per_page
    now = timezone.now()
    rows = tickets.select_related(*_ROW_RELATED)[start : start + per_page]
    return Page(
        items=tuple(_row(ticket, now) for ticket in rows), number=number, per_page=per_page, total=total
    )


def member_ticket_page(*, member_id: int, page: int = 1, per_page: int = TICKETS_PER_PAGE) -> Page[TicketRow]:
    """The tickets a member opened (requests and appeals), the most recently active first."""
    return _page(Ticket.objects.filter(member_id=member_id).order_by("-updated_at", "-id"), page, per_page)


class Scope(StrEnum):
    ACTIVE = "active"  # open, in progress, waiting on the member
    ALL = "all"


def staff_ticket_page(
    *,
    viewer_id: int,
    page: int = 1,
    per_page: int = TICKETS_PER_PAGE,
    state: str = "",
    kind: str = "",
    assignee: str = "",
    breached: bool = False,
) -> Page[TicketRow]:
    """The queue: ``state`` one state, ``active`` (the default) or ``all``; ``kind`` a ticket kind;
    ``assignee`` ``me``, ``none`` or empty for anyone; ``breached`` only tickets past an SLA target.
    Active lists go most urgent first, then oldest; the others most recently active first."""
    tickets = Ticket.objects.all()
    if state in TicketState.values:
        tickets = tickets.filter(state=state)
    elif state != Scope.ALL:
        tickets = tickets.filter(state__in=ACTIVE_STATES)
    if kind in TicketKind.values:
        tickets = tickets.filter(kind=kind)
    if assignee == "me":
        tickets = tickets.filter(assignee_id=viewer_id)
    elif assignee == "none":
        tickets = tickets.filter(assignee__isnull=True)
    if breached:
        tickets = tickets.filter(breached_filter(timezone.now()))
    if state in ("", Scope.ACTIVE) or state in (TicketState.OPEN, TicketState.IN_PROGRESS):
        tickets = tickets.order_by("-priority", "created_at", "id")
    else:
        tickets = tickets.order_by("-updated_at", "-id")
    return _page(tickets, page, per_page)


def open_report_page(*, page: int = 1, per_page: int = TICKETS_PER_PAGE) -> Page[TicketRow]:
    """Open report tickets, most urgent and most reported first (for a moderation queue)."""
    tickets = Ticket.objects.filter(kind=TicketKind.REPORT, state__in=ACTIVE_STATES).order_by(
        "-priority", "-report_count", "created_at", "id"
    )
    return _page(tickets, page, per_page)


@dataclass(frozen=True)
class MyReportRow:
    """One of a member's reports and how its ticket stands (nothing more about what was done)."""

    id: int
    ticket_id: int
    target_kind: str
    target_id: int
    target_label: str
    reason: str
    comment: str
    created_at: datetime.datetime
    state: str
    outcome: str
    resolved_at: datetime.datetime | None

    @property
    def state_label(self) -> str:
        return str(TicketState(self.state).label)

    @property
    def reason_label(self) -> str:
        return str(ReportReason(self.reason).label)

    @property
    def target_kind_label(self) -> str:
        return str(ReportTarget(self.target_kind).label)

    @property
    def outcome_label(self) -> str:
        return str(Outcome(self.outcome).label) if self.outcome else ""

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES


def _report_row(report: Report) -> MyReportRow:
    return MyReportRow(
        id=report.pk,
        ticket_id=report.ticket_id,
        target_kind=report.target_kind,
        target_id=report.target_id,
        target_label=report.target_label,
        reason=report.reason,
        comment=report.comment,
        created_at=report.created_at,
        state=report.ticket.state,
        outcome=report.ticket.outcome,
        resolved_at=report.ticket.resolved_at,
    )


def reporter_report_page(
    *, reporter_id: int, page: int = 1, per_page: int = TICKETS_PER_PAGE
) -> Page[MyReportRow]:
    """A member's reports, newest first, with their tickets' state (two queries)."""
    reports = Report.objects.filter(reporter_id=reporter_id).order_by("-created_at", "-id")
    total = reports.count()
    number = page_in_range(page, total, per_page)
    start = (number - 1) * per_page
    rows = reports.select_related("ticket")[start : start + per_page]
    return Page(
        items=tuple(_report_row(report) for report in rows), number=number, per_page=per_page, total=total
    )


# --- Access -------------------------------------------------------------------------------------------


class Access(StrEnum):
    STAFF = "staff"
    MEMBER = "member"  # opened it
    REPORTER = "reporter"  # reported what it is about


def access_to(*, viewer_id: int | None, ticket_id: int, member_id: int | None) -> Access | None:
    """How much of the ticket the viewer sees; None: nothing (the page answers 404)."""
    if viewer_id is None:
        return None
    if is_staff(viewer_id):
        return Access.STAFF
    if member_id is not None and member_id == viewer_id:
        return Access.MEMBER
    if Report.objects.filter(ticket_id=ticket_id, reporter_id=viewer_id).exists():
        return Access.REPORTER
    return None


def ticket_access(*, viewer_id: int | None, ticket_id: int) -> Access | None:
    """Access to a ticket by its id (None also when there is no such ticket): the live topic's check."""
    if viewer_id is None or not valid_id(ticket_id):
        return None
    found = Ticket.objects.filter(pk=ticket_id).values_list("member_id", flat=True)
    members = list(found[:1])
    if not members:
        return None
    return access_to(viewer_id=viewer_id, ticket_id=ticket_id, member_id=members[0])


# --- One ticket ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachmentRow:
    id: int
    message_id: int | None
    original_name: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    has_thumbnail: bool

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


@dataclass(frozen=True)
class MessageRow:
    id: int
    author_id: int
    author_name: str
    by_staff: bool
    internal: bool
    body: str
    body_html: str
    created_at: datetime.datetime
    attachments: tuple[AttachmentRow, ...]


@dataclass(frozen=True)
class ReportRow:
    id: int
    reporter_id: int
    reporter_name: str
    target_kind: str
    target_id: int
    target_label: str
    target_url: str
    reason: str
    comment: str
    excerpt: str
    created_at: datetime.datetime

    @property
    def reason_label(self) -> str:
        return str(ReportReason(self.reason).label)

    @property
    def target_kind_label(self) -> str:
        return str(ReportTarget(self.target_kind).label)


@dataclass(frozen=True)
class HistoryRow:
    id: int
    actor_id: int | None
    actor_name: str
    kind: str
    data: dict[str, object]
    created_at: datetime.datetime
    # What changed, in words: "Open → Resolved", "mira → noah", "post_hidden".
    change: str = ""

    @property
    def kind_label(self) -> str:
        return str(TicketEventKind(self.kind).label) if self.kind in TicketEventKind.values else self.kind


# The acts the moderation app records on a ticket (ticket_action_record), as the history names them.
ACTION_LABELS: dict[str, Any] = {
    "post_hidden": gettext_lazy("post hidden"),
    "post_restored": gettext_lazy("post restored"),
    "thread_closed": gettext_lazy("thread closed"),
    "thread_reopened": gettext_lazy("thread reopened"),
    "thread_moved": gettext_lazy("thread moved"),
    "thread_deleted": gettext_lazy("thread deleted"),
    "member_warned": gettext_lazy("member warned"),
    "member_banned": gettext_lazy("member banned"),
}


def _label(choices: type[TicketState] | type[Priority], value: object) -> str:
    if choices is Priority:
        found = priority_value(str(value))
        return str(Priority(found).label) if found is not None else str(value)
    return str(TicketState(value).label) if value in TicketState.values else str(value or "")


def _change(kind: str, data: dict[str, object], names: dict[int, str], topics: dict[int, str]) -> str:
    before, after = data.get("from"), data.get("to")
    if kind == TicketEventKind.STATE:
        text = f"{_label(TicketState, before)} → {_label(TicketState, after)}"
        outcome = data.get("outcome")
        return f"{text} ({Outcome(outcome).label})" if outcome in Outcome.values and outcome else text
    if kind == TicketEventKind.PRIORITY:
        return f"{_label(Priority, before)} → {_label(Priority, after)}"
    if kind == TicketEventKind.ASSIGNED:
        nobody = "—"
        first = names.get(before, nobody) if isinstance(before, int) else nobody
        return f"{first} → {names.get(after, nobody) if isinstance(after, int) else nobody}"
    if kind == TicketEventKind.TOPIC:
        first = topics.get(before, "") if isinstance(before, int) else ""
        return f"{first} → {topics.get(after, '') if isinstance(after, int) else ''}"
    if kind == TicketEventKind.ACTION:
        action = str(data.get("action", ""))
        return str(ACTION_LABELS.get(action, action))
    if (
        kind in (TicketEventKind.OPENED, TicketEventKind.REPORTED)
        and data.get("reason") in ReportReason.values
    ):
        return str(ReportReason(str(data["reason"])).label)
    return ""


@dataclass(frozen=True)
class TicketDetail:
    """A ticket as its page shows it to one viewer: ``messages`` without internal notes for the member,
    none for a reporter; ``reports`` all for staff, their own for a reporter; ``history`` and
    ``evidence_count`` for staff only."""

    row: TicketRow
    access: Access
    reported_member_id: int | None
    reported_member_name: str
    first_response_at: datetime.datetime | None
    first_response_due: datetime.datetime | None
    resolution_due: datetime.datetime | None
    closed_at: datetime.datetime | None
    messages: tuple[MessageRow, ...]
    reports: tuple[ReportRow, ...]
    history: tuple[HistoryRow, ...]
    evidence_count: int
    last_message_id: int

    @property
    def is_staff(self) -> bool:
        return self.access is Access.STAFF


def target_url(kind: str, target_id: int) -> str:
    """Where staff look at a reported object (a dialog message has no page: its evidence is shown)."""
    names = {
        ReportTarget.POST: "thread-post",
        ReportTarget.THREAD: "thread-detail",
        ReportTarget.MEMBER: "user:profile",
    }
    name = names.get(ReportTarget(kind)) if kind in ReportTarget.values else None
    if name is None:
        return ""
    try:
        return reverse(name, args=[target_id])
    except NoReverseMatch:
        return ""


def _attachment_rows(message_ids: Sequence[int]) -> dict[int, tuple[AttachmentRow, ...]]:
    if not message_ids:
        return {}
    found: dict[int, list[AttachmentRow]] = {}
    rows = TicketAttachment.objects.filter(message_id__in=list(message_ids)).values(
        "id", "message_id", "original_name", "content_type", "size", "width", "height", "thumbnail_key"
    )
    for row in rows:
        found.setdefault(row["message_id"], []).append(
            AttachmentRow(
                id=row["id"],
                message_id=row["message_id"],
                original_name=row["original_name"],
                content_type=row["content_type"],
                size=row["size"],
                width=row["width"],
                height=row["height"],
                has_thumbnail=bool(row["thumbnail_key"]),
            )
        )
    return {message_id: tuple(items) for message_id, items in found.items()}


def _messages(ticket: Ticket, *, internal: bool, after: int = 0) -> tuple[MessageRow, ...]:
    messages = (
        TicketMessage.objects.filter(ticket=ticket, id__gt=after).select_related("author").order_by("id")
    )
    if not internal:
        messages = messages.filter(internal=False)
    rows = list(messages)
    attachments = _attachment_rows([message.pk for message in rows])
    return tuple(
        MessageRow(
            id=message.pk,
            author_id=message.author_id,
            author_name=message.author.username,
            by_staff=message.author_id != ticket.member_id,
            internal=message.internal,
            body=message.body,
            body_html=message.body_html,
            created_at=message.created_at,
            attachments=attachments.get(message.pk, ()),
        )
        for message in rows
    )


def _reports(ticket: Ticket, *, reporter_id: int | None) -> tuple[ReportRow, ...]:
    reports = Report.objects.filter(ticket=ticket).select_related("reporter").order_by("created_at", "id")
    if reporter_id is not None:
        reports = reports.filter(reporter_id=reporter_id)
    return tuple(
        ReportRow(
            id=report.pk,
            reporter_id=report.reporter_id,
            reporter_name=report.reporter.username,
            target_kind=report.target_kind,
            target_id=report.target_id,
            target_label=report.target_label,
            target_url=target_url(report.target_kind, report.target_id),
            reason=report.reason,
            comment=report.comment,
            excerpt=report.excerpt,
            created_at=report.created_at,
        )
        for report in reports
    )


def _history(ticket: Ticket) -> tuple[HistoryRow, ...]:
    """The ticket's history with the names it mentions: two queries (a third, of the topics, only
    when a topic changed)."""
    entries = list(
        TicketEvent.objects.filter(ticket=ticket).select_related("actor").order_by("created_at", "id")
    )
    assigned = {
        value
        for entry in entries
        if entry.kind == TicketEventKind.ASSIGNED
        for value in (entry.data.get("from"), entry.data.get("to"))
        if isinstance(value, int)
    }
    names = {brief.id: brief.username for brief in users_brief(user_ids=assigned)} if assigned else {}
    topics: dict[int, str] = {}
    if any(entry.kind == TicketEventKind.TOPIC for entry in entries):
        topics = dict(HelpTopic.objects.values_list("pk", "name"))
    return tuple(
        HistoryRow(
            id=entry.pk,
            actor_id=entry.actor_id,
            actor_name=entry.actor.username if entry.actor is not None else "",
            kind=entry.kind,
            data=dict(entry.data or {}),
            created_at=entry.created_at,
            change=_change(entry.kind, dict(entry.data or {}), names, topics),
        )
        for entry in entries
    )


def ticket_detail(*, viewer_id: int | None, ticket_id: int) -> TicketDetail | None:
    """The ticket as the viewer may see it, or None (no such ticket, or not theirs to see). At most
    seven queries whatever the ticket holds: the permission check, the ticket, the reporter check,
    messages, their files, reports, and for staff the history and the evidence count."""
    if viewer_id is None or not valid_id(ticket_id):
        return None
    ticket = (
        Ticket.objects.select_related(*_ROW_RELATED, "reported_member")
        .annotate(evidence_total=Count("evidence", distinct=True))
        .filter(pk=ticket_id)
        .first()
    )
    if ticket is None:
        return None
    access = access_to(viewer_id=viewer_id, ticket_id=ticket.pk, member_id=ticket.member_id)
    if access is None:
        return None
    staff = access is Access.STAFF
    messages = _messages(ticket, internal=staff) if access is not Access.REPORTER else ()
    reports: tuple[ReportRow, ...] = ()
    if staff:
        reports = _reports(ticket, reporter_id=None)
    elif access is Access.REPORTER:
        reports = _reports(ticket, reporter_id=viewer_id)
    return TicketDetail(
        row=_row(ticket, timezone.now()),
        access=access,
        reported_member_id=ticket.reported_member_id if staff else None,
        reported_member_name=ticket.reported_member.username if staff and ticket.reported_member else "",
        first_response_at=ticket.first_response_at,
        first_response_due=ticket.first_response_due,
        resolution_due=ticket.resolution_due,
        closed_at=ticket.closed_at,
        messages=messages,
        reports=reports,
        history=_history(ticket) if staff else (),
        evidence_count=int(getattr(ticket, "evidence_total", 0)) if staff else 0,
        last_message_id=messages[-1].id if messages else 0,
    )


# --- Files --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachmentFile:
    id: int
    storage_key: str
    thumbnail_key: str
    content_type: str
    original_name: str


def attachment_for_download(*, viewer_id: int | None, attachment_id: int) -> AttachmentFile | None:
    """A file the viewer may fetch: on a message of a ticket they see (an internal note's only for
    staff), or their own upload not yet on a message; None for anything else, as for no such file."""
    if viewer_id is None or not valid_id(attachment_id):
        return None
    row = (
        TicketAttachment.objects.filter(pk=attachment_id)
        .values(
            "id",
            "storage_key",
            "thumbnail_key",
            "content_type",
            "original_name",
            "uploader_id",
            "message_id",
            "message__internal",
            "message__ticket_id",
            "message__ticket__member_id",
        )
        .first()
    )
    if row is None:
        return None
    if row["message_id"] is None:
        allowed = row["uploader_id"] == viewer_id
    else:
        access = access_to(
            viewer_id=viewer_id,
            ticket_id=row["message__ticket_id"],
            member_id=row["message__ticket__member_id"],
        )
        allowed = access is Access.STAFF or (access is Access.MEMBER and not row["message__internal"])
    if not allowed:
        return None
    return AttachmentFile(
        id=row["id"],
        storage_key=row["storage_key"],
        thumbnail_key=row["thumbnail_key"],
        content_type=row["content_type"],
        original_name=row["original_name"],
    )


# --- Topics and canned replies --------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicRow:
    id: int
    code: str
    name: str
    description: str
    is_public: bool


def topics(*, public_only: bool = True) -> tuple[TopicRow, ...]:
    found = HelpTopic.objects.all()
    if public_only:
        found = found.filter(is_public=True)
    return tuple(
        TopicRow(
            id=topic.pk,
            code=topic.code,
            name=topic.name,
            description=topic.description,
            is_public=topic.is_public,
        )
        for topic in found.order_by("position", "name", "id")
    )


@dataclass(frozen=True)
class CannedRow:
    id: int
    title: str
    body: str


def canned_replies() -> tuple[CannedRow, ...]:
    return tuple(
        CannedRow(id=canned.pk, title=canned.title, body=canned.body)
        for canned in CannedReply.objects.filter(is_active=True).order_by("position", "title", "id")
    )


def open_ticket_count(*, member_id: int) -> int:
    return Ticket.objects.filter(member_id=member_id, state__in=ACTIVE_STATES).count()


def reporter_ids(*, ticket_ids: Collection[int]) -> dict[int, tuple[int, ...]]:
    found: dict[int, list[int]] = {}
    for ticket_id, reporter_id in Report.objects.filter(ticket_id__in=list(ticket_ids)).values_list(
        "ticket_id", "reporter_id"
    ):
        found.setdefault(ticket_id, []).append(reporter_id)
    return {ticket_id: tuple(ids) for ticket_id, ids in found.items()}
