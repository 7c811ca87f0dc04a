"""What the support services share: settings of the app, and the checks every change starts with."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.support import selectors
from apps.support.models import SUBJECT_MAX_LENGTH, Priority, SlaTarget, Ticket
from forum.errors import Forbidden, NotFound, ValidationFailed

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
