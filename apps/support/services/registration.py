"""What the support app declares at start-up (from ready()): its permissions and kinds of notification."""

from __future__ import annotations

import datetime

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.authorization.services import Permission, permission_declare
from apps.notification.services import (
    EmailChannel,
    NotificationFacts,
    NotificationKind,
    notification_kind_register,
)
from apps.support.models import Outcome, TicketState

from ._common import (
    HANDLE_PERMISSION,
    KIND_ASSIGNED,
    KIND_REPLY,
    KIND_REPORT_RESOLVED,
    KIND_STATE,
    REPORT_QUOTA,
    TICKET_PERMISSION,
)


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
