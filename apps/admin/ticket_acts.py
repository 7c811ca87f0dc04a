"""Moderation acts done from a report's ticket: hide or restore the reported post, delete, close, reopen
or move the reported thread, warn or ban the reported member, dismiss the report.

Each act is a call to the owning app's services (the thread app for posts and threads, this app for
warnings and bans, the support app for the report), which check the actor in the permission engine
and log the act in the staff action log (directly or through this app's subscribers). The act is
written to the ticket's history in the same transaction, and, when asked, the report is resolved with
the outcome "action taken" (its reporters are told). The support app shows the forms through the
panel this module registers (``ticket_actions_panel``): it sits below this app and cannot ask it.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.admin.models import REASON_MAX_LENGTH, BanKind
from apps.admin.services import BAN_PERMISSION, WARN_PERMISSION, ban_issue, warning_issue, warning_types
from apps.authorization.services import has_perm, require
from apps.support.services import (
    HANDLE_PERMISSION,
    TicketRef,
    TicketSubject,
    report_resolve,
    ticket_action_record,
    ticket_get,
)
from apps.thread.services import (
    forums_for_move,
    post_brief_for_report,
    post_delete,
    post_restore,
    thread_close,
    thread_delete,
    thread_get,
    thread_move,
    thread_reopen,
)
from forum.errors import NotFound, ValidationFailed

MODERATE_PERMISSION = "thread.moderate"

# The acts offered on a report's ticket, by what was reported.
ACTIONS_BY_KIND: Mapping[str, tuple[str, ...]] = {
    "post": ("post_hide", "post_restore", "warn", "ban", "dismiss"),
    "thread": ("thread_close", "thread_reopen", "thread_move", "thread_delete", "warn", "ban", "dismiss"),
    "member": ("warn", "ban", "dismiss"),
    "message": ("warn", "ban", "dismiss"),
}
ACTIONS: tuple[str, ...] = (
    "post_hide",
    "post_restore",
    "thread_close",
    "thread_reopen",
    "thread_move",
    "thread_delete",
    "warn",
    "ban",
    "dismiss",
)
# Who may do each act, in the permission engine (support: all but the ban; administrators: all).
ACTION_PERMISSIONS: Mapping[str, str] = {
    "post_hide": MODERATE_PERMISSION,
    "post_restore": MODERATE_PERMISSION,
    "thread_close": MODERATE_PERMISSION,
    "thread_reopen": MODERATE_PERMISSION,
    "thread_move": MODERATE_PERMISSION,
    "thread_delete": MODERATE_PERMISSION,
    "warn": WARN_PERMISSION,
    "ban": BAN_PERMISSION,
    "dismiss": HANDLE_PERMISSION,
}
# What the ticket's history calls each act (warnings write their own line: ``member_warned``).
HISTORY_NAMES: Mapping[str, str] = {
    "post_hide": "post_hidden",
    "post_restore": "post_restored",
    "thread_close": "thread_closed",
    "thread_reopen": "thread_reopened",
    "thread_move": "thread_moved",
    "thread_delete": "thread_deleted",
    "ban": "member_banned",
}
DONE_MESSAGES: Mapping[str, Any] = {
    "post_hide": gettext_lazy("The post is hidden."),
    "post_restore": gettext_lazy("The post is shown again."),
    "thread_close": gettext_lazy("The thread is closed."),
    "thread_reopen": gettext_lazy("The thread is open again."),
    "thread_move": gettext_lazy("The thread is moved."),
    "thread_delete": gettext_lazy("The thread is deleted."),
    "warn": gettext_lazy("The member is warned."),
    "ban": gettext_lazy("The member is banned."),
    "dismiss": gettext_lazy("The report is dismissed; its reporters are told no action was needed."),
}
# The lengths a ban from a ticket may take, in days (None: permanent).
BAN_DAYS: tuple[int, ...] = (1, 3, 7, 30, 90, 365)


@dataclass(frozen=True)
class TicketActResult:
    ticket_id: int
    action: str
    resolved: bool
    warning_id: int | None = None
    ban_id: int | None = None


def _staff_ticket(actor_id: int, ticket_id: int) -> TicketRef:
    """The ticket, for staff only: anyone else (its reporter included) is answered as for nothing."""
    if not has_perm(user_id=actor_id, permission=HANDLE_PERMISSION):
        raise NotFound(_("There is no such ticket."))
    return ticket_get(viewer_id=actor_id, ticket_id=ticket_id)


def _unknown_action() -> ValidationFailed:
    return ValidationFailed(
        _("This act does not apply to what was reported."),
        fields={"action": [_("Choose one of the acts offered for this ticket.")]},
    )


def _target_id(ticket: TicketRef) -> int:
    if ticket.link_id is None:
        raise _unknown_action()
    return ticket.link_id


def _member_id(ticket: TicketRef) -> int:
    if ticket.reported_member_id is None:
        raise ValidationFailed(
            _("Nobody is named by this report."), fields={"action": [_("There is no member to act on.")]}
        )
    return ticket.reported_member_id


def ticket_act(
    *,
    actor_id: int,
    ticket_id: int,
    action: str,
    reason: str = "",
    resolve: bool = False,
    warning_type_id: int | None = None,
    forum_id: int | None = None,
    ban_kind: str = "",
    ban_ends_at: datetime.datetime | None = None,
) -> TicketActResult:
    """Do ``action`` on what a report's ticket is about and record it on the ticket. Staff only (404 for
    anyone else); the act's own permission is the engine's (403): ``thread.moderate`` for posts and
    threads, ``moderation.warn`` to warn, ``moderation.ban`` to ban. ``resolve`` resolves the report
    with the outcome "action taken" in the same transaction (``dismiss`` resolves it with "no action",
    ``reason`` kept as an internal note)."""
    ticket = _staff_ticket(actor_id, ticket_id)
    if ticket.kind != "report" or action not in ACTIONS_BY_KIND.get(ticket.link_kind, ()):
        raise _unknown_action()
    require(user_id=actor_id, permission=ACTION_PERMISSIONS[action])
    reason = reason.strip()[:REASON_MAX_LENGTH]
    warning_id: int | None = None
    ban_id: int | None = None
    data: dict[str, Any] = {}
    with transaction.atomic():
        if action == "dismiss":
            report_resolve(actor_id=actor_id, ticket_id=ticket.id, outcome="no_action", note=reason)
            return TicketActResult(ticket_id=ticket.id, action=action, resolved=True)
        if action == "post_hide":
            post_delete(user_id=actor_id, post_id=_target_id(ticket))
        elif action == "post_restore":
            post_restore(moderator_id=actor_id, post_id=_target_id(ticket))
        elif action == "thread_close":
            thread_close(moderator_id=actor_id, thread_id=_target_id(ticket))
        elif action == "thread_reopen":
            thread_reopen(moderator_id=actor_id, thread_id=_target_id(ticket))
        elif action == "thread_delete":
            thread_delete(moderator_id=actor_id, thread_id=_target_id(ticket))
        elif action == "thread_move":
            if forum_id is None:
                raise ValidationFailed(
                    _("Choose the forum to move the thread to."), fields={"forum_id": [_("Required.")]}
                )
            # Only where the page offers: a forum (not a category) the actor can see.
            if forum_id not in {choice.id for choice in forums_for_move(viewer_id=actor_id)}:
                raise NotFound(_("There is no such forum."))
            thread_move(moderator_id=actor_id, thread_id=_target_id(ticket), forum_id=forum_id)
            data["forum_id"] = forum_id
        elif action == "warn":
            if warning_type_id is None:
                raise ValidationFailed(
                    _("Choose one of the warning types."), fields={"warning_type_id": [_("Required.")]}
                )
            # The warning writes its own line on the ticket (member_warned) and in the log.
            warning_id = warning_issue(
                actor_id=actor_id,
                member_id=_member_id(ticket),
                warning_type_id=warning_type_id,
                reason=reason,
                ticket_id=ticket.id,
            ).id
        elif action == "ban":
            ban_id = ban_issue(
                actor_id=actor_id,
                member_id=_member_id(ticket),
                kind=ban_kind,
                reason=reason,
                ends_at=ban_ends_at,
            ).id
            data["ban_id"] = ban_id
        if action in HISTORY_NAMES:
            if reason:
                data["reason"] = reason
            ticket_action_record(
                ticket_id=ticket.id, actor_id=actor_id, action=HISTORY_NAMES[action], data=data
            )
        resolved = resolve and ticket.state in ("open", "in_progress", "waiting_on_member")
        if resolved:
            report_resolve(actor_id=actor_id, ticket_id=ticket.id, outcome="action_taken")
    return TicketActResult(
        ticket_id=ticket.id, action=action, resolved=resolved, warning_id=warning_id, ban_id=ban_id
    )


def ban_ends_at(days: int | None, *, now: datetime.datetime | None = None) -> datetime.datetime | None:
    """The end of a ban given for ``days`` from now (None: permanent)."""
    if days is None:
        return None
    return (now or timezone.now()) + datetime.timedelta(days=days)


def ticket_actions_panel(viewer_id: int, subject: TicketSubject) -> Mapping[str, Any] | None:
    """The acts the viewer may do on a report's ticket, for the ticket page (``None``: no panel). Only
    the acts that fit what was reported, and only those the engine allows the viewer; a post already
    hidden offers "restore", one shown "hide"; an open thread "close", a closed one "reopen", and the
    forums it may move to (``forums``: id and path); a deleted thread offers nothing of its own."""
    if subject.kind != "report" or subject.link_id is None:
        return None
    allowed = [
        action
        for action in ACTIONS_BY_KIND.get(subject.link_kind, ())
        if has_perm(user_id=viewer_id, permission=ACTION_PERMISSIONS[action])
    ]
    member_id = subject.reported_member_id
    if member_id is None or member_id == viewer_id:
        allowed = [action for action in allowed if action not in ("warn", "ban")]
    if subject.link_kind == "post" and "post_hide" in allowed:
        # Staff see every post but a hidden one: not found means hidden (or gone for good).
        shown = post_brief_for_report(viewer_id=viewer_id, post_id=subject.link_id) is not None
        allowed.remove("post_restore" if shown else "post_hide")
    forums: list[tuple[int, str]] = []
    if subject.link_kind == "thread" and "thread_close" in allowed:
        thread = thread_get(viewer_id=viewer_id, thread_id=subject.link_id)
        if thread is None:  # deleted (or gone): nothing of its own to do
            allowed = [action for action in allowed if not action.startswith("thread_")]
        else:
            # Close or reopen, as the thread stands; the move offers the forums it can go to.
            allowed.remove("thread_reopen" if not thread.closed else "thread_close")
            forums = [
                (choice.id, choice.label)
                for choice in forums_for_move(viewer_id=viewer_id)
                if choice.id != thread.forum_id
            ]
            if not forums:
                allowed.remove("thread_move")
    if not subject.is_active and "dismiss" in allowed:
        allowed.remove("dismiss")
    if not allowed:
        return None
    return {
        "ticket_id": subject.id,
        "actions": frozenset(allowed),
        "resolve_offered": subject.is_active,
        "warning_types": warning_types() if "warn" in allowed else (),
        "ban_kinds": BanKind.choices,
        "ban_days": BAN_DAYS,
        "forums": forums,
    }
