"""Subscribers of the admin app: the moderation acts other apps publish, written to the staff action log.

Each handler runs once per event (the bus records it as handled in the handler's transaction), so a
redelivered event is not logged twice. Acts a member does to their own content (deleting their own
post) are not moderation and are left out.
"""

from __future__ import annotations

from apps.admin.services import Action, log_action
from apps.authorization.events import RoleAssigned
from apps.status.events import StatusGranted, StatusRevoked
from apps.thread.events import (
    PostDeleted,
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
