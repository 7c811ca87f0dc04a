"""Subscribers of the admin app: the moderation acts other apps publish, written to the staff action log.

Each handler runs once per event (the bus records it as handled in the handler's transaction), so a
redelivered event is not logged twice. Acts a member does to their own content (deleting their own
post) are not moderation and are left out.

A warning given or revoked also has the status app evaluate the member's automatic statuses again
(their rule "active warning points at most N").
"""

from __future__ import annotations

from apps.admin.events import MemberWarned, WarningRevoked
from apps.admin.queue_count import queue_count_refresh
from apps.admin.services import Action, log_action
from apps.authorization.events import RoleAssigned
from apps.status.events import StatusGranted, StatusRevoked
from apps.status.services import rules_evaluate
from apps.support.events import ReportFiled, ReportResolved, TicketStateChanged
from apps.thread.events import (
    PostApproved,
    PostDeleted,
    PostHeld,
    PostRejected,
    PostRestored,
    ThreadApproved,
    ThreadClosed,
    ThreadDeleted,
    ThreadMoved,
    ThreadRejected,
    ThreadReopened,
)
from forum.bus import subscribe


@subscribe(ThreadApproved, name="forum_admin.on_thread_approved")
def on_thread_approved(event: ThreadApproved) -> None:
    log_action(
        actor_id=event.approved_by,
        action=Action.THREAD_APPROVE,
        target_kind="thread",
        target_id=event.thread_id,
        extra={"forum_id": event.forum_id, "author_id": event.author_id},
    )


@subscribe(ThreadRejected, name="forum_admin.on_thread_rejected")
def on_thread_rejected(event: ThreadRejected) -> None:
    log_action(
        actor_id=event.rejected_by,
        action=Action.THREAD_REJECT,
        target_kind="thread",
        target_id=event.thread_id,
        reason=event.reason,
        extra={"forum_id": event.forum_id, "author_id": event.author_id},
    )


@subscribe(ThreadClosed, name="forum_admin.on_thread_closed")
def on_thread_closed(event: ThreadClosed) -> None:
    log_action(
        actor_id=event.closed_by,
        action=Action.THREAD_CLOSE,
        target_kind="thread",
        target_id=event.thread_id,
        extra={"forum_id": event.forum_id},
    )


@subscribe(ThreadReopened, name="forum_admin.on_thread_reopened")
def on_thread_reopened(event: ThreadReopened) -> None:
    log_action(
        actor_id=event.reopened_by,
        action=Action.THREAD_REOPEN,
        target_kind="thread",
        target_id=event.thread_id,
        extra={"forum_id": event.forum_id},
    )


@subscribe(ThreadMoved, name="forum_admin.on_thread_moved")
def on_thread_moved(event: ThreadMoved) -> None:
    log_action(
        actor_id=event.moved_by,
        action=Action.THREAD_MOVE,
        target_kind="thread",
        target_id=event.thread_id,
        extra={"from_forum_id": event.from_forum_id, "to_forum_id": event.to_forum_id},
    )


@subscribe(ThreadDeleted, name="forum_admin.on_thread_deleted")
def on_thread_deleted(event: ThreadDeleted) -> None:
    if event.deleted_by == event.author_id:
        return
    log_action(
        actor_id=event.deleted_by,
        action=Action.THREAD_DELETE,
        target_kind="thread",
        target_id=event.thread_id,
        extra={"forum_id": event.forum_id, "author_id": event.author_id},
    )


@subscribe(PostDeleted, name="forum_admin.on_post_deleted")
def on_post_deleted(event: PostDeleted) -> None:
    # A post hidden by someone else than its author is a moderator's act.
    if event.deleted_by == event.author_id:
        return
    log_action(
        actor_id=event.deleted_by,
        action=Action.POST_HIDE,
        target_kind="post",
        target_id=event.post_id,
        extra={"thread_id": event.thread_id, "author_id": event.author_id},
    )


@subscribe(PostRestored, name="forum_admin.on_post_restored")
def on_post_restored(event: PostRestored) -> None:
    log_action(
        actor_id=event.restored_by,
        action=Action.POST_RESTORE,
        target_kind="post",
        target_id=event.post_id,
        extra={"thread_id": event.thread_id, "author_id": event.author_id},
    )


@subscribe(PostApproved, name="forum_admin.on_post_approved")
def on_post_approved(event: PostApproved) -> None:
    # A reply held by premoderation (an escalation) published by a moderator.
    log_action(
        actor_id=event.approved_by,
        action=Action.POST_APPROVE,
        target_kind="post",
        target_id=event.post_id,
        extra={"thread_id": event.thread_id, "forum_id": event.forum_id, "author_id": event.author_id},
    )


@subscribe(PostRejected, name="forum_admin.on_post_rejected")
def on_post_rejected(event: PostRejected) -> None:
    log_action(
        actor_id=event.rejected_by,
        action=Action.POST_REJECT,
        target_kind="post",
        target_id=event.post_id,
        reason=event.reason,
        extra={"thread_id": event.thread_id, "forum_id": event.forum_id, "author_id": event.author_id},
    )


@subscribe(ReportResolved, name="forum_admin.on_report_resolved")
def on_report_resolved(event: ReportResolved) -> None:
    # A report found to need no action is a moderation decision (from the ticket, the queue, the admin
    # or the API); "action taken" is logged by the act itself (hide, warn, ...).
    if event.outcome != "no_action" or event.actor_id is None:
        return
    log_action(
        actor_id=event.actor_id,
        action=Action.REPORT_DISMISS,
        target_kind=event.target_kind,
        target_id=event.target_id,
        extra={"ticket_id": event.ticket_id, "reports": len(event.reporter_ids)},
    )


@subscribe(RoleAssigned, name="forum_admin.on_role_assigned")
def on_role_assigned(event: RoleAssigned) -> None:
    log_action(
        actor_id=event.assigned_by,
        action=Action.ROLE_CHANGE,
        target_kind="member",
        target_id=event.user_id,
        extra={"role": event.role, "previous_role": event.previous_role},
    )


@subscribe(StatusGranted, name="forum_admin.on_status_granted")
def on_status_granted(event: StatusGranted) -> None:
    # Purchases and automatic grants are not staff acts.
    if event.source != "staff":
        return
    log_action(
        actor_id=event.granted_by,
        action=Action.STATUS_GRANT,
        target_kind="member",
        target_id=event.user_id,
        extra={"status": event.status_code, "grant_id": event.grant_id, "ends_at": _iso(event.ends_at)},
    )


@subscribe(StatusRevoked, name="forum_admin.on_status_revoked")
def on_status_revoked(event: StatusRevoked) -> None:
    log_action(
        actor_id=event.revoked_by,
        action=Action.STATUS_REVOKE,
        target_kind="member",
        target_id=event.user_id,
        extra={"status": event.status_code, "grant_id": event.grant_id},
    )


def _iso(value: object) -> str | None:
    return None if value is None else str(getattr(value, "isoformat", lambda: value)())


# The moderation queue's count in the staff header: what changes it counts it again (and pushes it).


@subscribe(ReportFiled, name="forum_admin.queue_count_on_report_filed")
def queue_count_on_report_filed(event: ReportFiled) -> None:
    if not event.merged:  # a merged report joins a ticket the count holds already
        queue_count_refresh()


@subscribe(TicketStateChanged, name="forum_admin.queue_count_on_ticket_state")
def queue_count_on_ticket_state(event: TicketStateChanged) -> None:
    queue_count_refresh()  # a report's ticket resolved, closed or reopened


@subscribe(ThreadApproved, name="forum_admin.queue_count_on_thread_approved")
def queue_count_on_thread_approved(event: ThreadApproved) -> None:
    queue_count_refresh()


@subscribe(ThreadRejected, name="forum_admin.queue_count_on_thread_rejected")
def queue_count_on_thread_rejected(event: ThreadRejected) -> None:
    queue_count_refresh()


@subscribe(ThreadDeleted, name="forum_admin.queue_count_on_thread_deleted")
def queue_count_on_thread_deleted(event: ThreadDeleted) -> None:
    queue_count_refresh()  # a thread deleted while it waited leaves the queue


@subscribe(PostHeld, name="forum_admin.queue_count_on_post_held")
def queue_count_on_post_held(event: PostHeld) -> None:
    queue_count_refresh()


@subscribe(PostApproved, name="forum_admin.queue_count_on_post_approved")
def queue_count_on_post_approved(event: PostApproved) -> None:
    queue_count_refresh()


@subscribe(PostRejected, name="forum_admin.queue_count_on_post_rejected")
def queue_count_on_post_rejected(event: PostRejected) -> None:
    queue_count_refresh()


# The status app's automatic rules read a member's active warning points ("at most N"): a warning
# given or revoked evaluates the member again at once (a warning that runs out is seen by the status
# app's daily evaluation). Here rather than in the status app, which may not import this app's events.
@subscribe(MemberWarned, name="forum_admin.status_rules_on_member_warned")
def status_rules_on_member_warned(event: MemberWarned) -> None:
    rules_evaluate(user_id=event.member_id)


@subscribe(WarningRevoked, name="forum_admin.status_rules_on_warning_revoked")
def status_rules_on_warning_revoked(event: WarningRevoked) -> None:
    rules_evaluate(user_id=event.member_id)
