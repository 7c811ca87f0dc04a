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

# A package by concern (the module grew past 1,000 lines); callers import from here, as before.

from ._common import DEFAULT_SLA_MINUTES as DEFAULT_SLA_MINUTES
from ._common import EVIDENCE_AROUND as EVIDENCE_AROUND
from ._common import HANDLE_PERMISSION
from ._common import KIND_ASSIGNED as KIND_ASSIGNED
from ._common import KIND_REPLY as KIND_REPLY
from ._common import KIND_REPORT_RESOLVED as KIND_REPORT_RESOLVED
from ._common import KIND_STATE as KIND_STATE
from ._common import OPEN_TICKETS_MAX as OPEN_TICKETS_MAX
from ._common import REPORT_QUOTA as REPORT_QUOTA
from ._common import STAFF_TOPIC as STAFF_TOPIC
from ._common import TICKET_PERMISSION as TICKET_PERMISSION
from ._common import TOPIC as TOPIC
from .data import AttachmentRef, EvidenceItem, ReportRef, TicketMessageRef, TicketRef, TopicRef
from .messages import attachment_upload, attachments_delete_orphans, attachments_discard
from .panels import TicketPanel, TicketPanelProvider, TicketSubject, ticket_panel_register, ticket_panels
from .registration import notification_kinds_register, permissions_declare
from .reports import (
    ReportPreview,
    report_file,
    report_resolve,
    report_target_preview,
    report_tickets_open,
    report_tickets_open_count,
    ticket_evidence,
)
from .staff import StaffMember, staff_members
from .tickets import (
    canned_reply_render,
    sla_breaches,
    ticket_action_record,
    ticket_assign,
    ticket_get,
    ticket_open,
    ticket_priority_set,
    ticket_reply,
    ticket_state_set,
    ticket_topic_allowed,
    ticket_topic_set,
    tickets_close_resolved,
    tickets_linked,
)
from .topics import topic_by_code, topics_public

__all__ = [
    "HANDLE_PERMISSION",
    "AttachmentRef",
    "EvidenceItem",
    "ReportPreview",
    "ReportRef",
    "StaffMember",
    "TicketMessageRef",
    "TicketPanel",
    "TicketPanelProvider",
    "TicketRef",
    "TicketSubject",
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
    "report_tickets_open_count",
    "sla_breaches",
    "staff_members",
    "ticket_action_record",
    "ticket_assign",
    "ticket_evidence",
    "ticket_get",
    "ticket_open",
    "ticket_panel_register",
    "ticket_panels",
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
