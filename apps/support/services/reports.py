"""Reports on posts, threads, members and dialog messages, their tickets and evidence."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.authorization.services import quota_consume, quota_refund
from apps.dialog.services import message_evidence
from apps.support import selectors
from apps.support.events import ReportFiled, TicketOpened
from apps.support.models import (
    ACTIVE_STATES,
    BODY_MAX_LENGTH,
    COMMENT_MAX_LENGTH,
    EXCERPT_MAX_LENGTH,
    REPORTS_TOPIC_CODE,
    SUBJECT_MAX_LENGTH,
    Evidence,
    EvidenceView,
    HelpTopic,
    Outcome,
    Priority,
    Report,
    ReportReason,
    ReportTarget,
    Ticket,
    TicketEventKind,
    TicketKind,
    TicketState,
)
from apps.thread.services import post_brief_for_report, thread_brief_for_report
from apps.user.services import users_brief
from forum.bus import publish
from forum.errors import Conflict, NotFound, ValidationFailed

from ._changes import _assign_new, _change_state, _history, _live, _new_ticket, _responded
from ._common import EVIDENCE_AROUND, REPORT_QUOTA, _clean_text, _locked_for_staff, _no_such_ticket, _sla_due
from .data import EvidenceItem, ReportRef, TicketRef, _ticket_ref
from .messages import _write


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


def report_tickets_open(*, page: int = 1, per_page: int = 50) -> tuple[TicketRef, ...]:
    """Open report tickets, most urgent and most reported first (for the moderation queue)."""
    rows = selectors.open_report_page(page=page, per_page=per_page).items
    tickets = {ticket.pk: ticket for ticket in Ticket.objects.filter(pk__in=[row.id for row in rows])}
    return tuple(_ticket_ref(tickets[row.id]) for row in rows if row.id in tickets)


# --- Reports --------------------------------------------------------------------------------------------


def report_tickets_open_count() -> int:
    """How many report tickets are open (the moderation queue's count in the staff header): one query."""
    return Ticket.objects.filter(kind=TicketKind.REPORT, state__in=ACTIVE_STATES).count()


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
                subject_label=target.label[:SUBJECT_MAX_LENGTH],
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
