"""Moderating threads: close, reopen, pin, move, approve, reject, delete, and the queue of pending threads."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.authorization.services import require
from apps.thread import selectors
from apps.thread.events import (
    ThreadApproved,
    ThreadClosed,
    ThreadDeleted,
    ThreadMoved,
    ThreadRejected,
    ThreadReopened,
)
from apps.thread.models import (
    Forum,
    ForumKind,
    Post,
    Thread,
    ThreadState,
)
from apps.thread.services._common import (
    MODERATE,
    _forum_recount,
    _lock_forums,
    _posts_by_author,
    _posts_counted,
    _publish_public,
    _rejection_reason,
    _render_body,
    _thread_for_update,
    publish,
)
from apps.thread.services.refs import ThreadRef, _thread_ref
from forum import pagecache
from forum.errors import Conflict, NotFound, ValidationFailed


def moderation_require(*, user_id: int) -> None:
    """Refuse (403) anyone who may not moderate threads."""
    require(user_id=user_id, permission=MODERATE)


def _moderated(moderator_id: int, thread_id: int, change: Callable[[Thread], list[str] | None]) -> ThreadRef:
    """Lock a thread, let ``change`` alter it (returning the fields changed, or None for no change)."""
    require(user_id=moderator_id, permission=MODERATE)
    with transaction.atomic():
        thread = _thread_for_update(thread_id)
        fields = change(thread)
        if fields:
            thread.save(update_fields=fields)
            pagecache.changed("thread")  # pinning, say, publishes no event but moves the thread
    return _thread_ref(thread)


def thread_close(*, moderator_id: int, thread_id: int) -> ThreadRef:
    """Close a thread to replies (moderators may still reply). Publishes ``thread.closed``."""

    def change(thread: Thread) -> list[str] | None:
        if thread.closed:
            return None
        thread.closed = True
        publish(ThreadClosed(thread_id=thread.pk, forum_id=thread.forum_id, closed_by=moderator_id))
        return ["closed"]

    return _moderated(moderator_id, thread_id, change)


def thread_reopen(*, moderator_id: int, thread_id: int) -> ThreadRef:
    def change(thread: Thread) -> list[str] | None:
        if not thread.closed:
            return None
        thread.closed = False
        publish(ThreadReopened(thread_id=thread.pk, forum_id=thread.forum_id, reopened_by=moderator_id))
        return ["closed"]

    return _moderated(moderator_id, thread_id, change)


def thread_pin(*, moderator_id: int, thread_id: int) -> ThreadRef:
    def change(thread: Thread) -> list[str] | None:
        thread.pinned = True
        return ["pinned"]

    return _moderated(moderator_id, thread_id, change)


def thread_unpin(*, moderator_id: int, thread_id: int) -> ThreadRef:
    def change(thread: Thread) -> list[str] | None:
        thread.pinned = False
        return ["pinned"]

    return _moderated(moderator_id, thread_id, change)


def thread_move(*, moderator_id: int, thread_id: int, forum_id: int) -> ThreadRef:
    """Move a thread to another forum; both forums' counters follow. Publishes ``thread.moved``."""
    require(user_id=moderator_id, permission=MODERATE)
    target = Forum.objects.filter(pk=forum_id).values("kind").first()
    if target is None:
        raise NotFound(_("There is no such forum."))
    if target["kind"] == ForumKind.CATEGORY:
        raise ValidationFailed(
            _("Threads are started in forums, not in categories."),
            fields={"forum_id": [_("Choose a forum.")]},
        )
    with transaction.atomic():
        thread = _thread_for_update(thread_id)
        source = thread.forum_id
        if source == forum_id:
            return _thread_ref(thread)
        _lock_forums(source, forum_id)
        thread.forum_id = forum_id
        thread.save(update_fields=["forum"])
        if thread.state == ThreadState.APPROVED:
            _forum_recount(source)
            _forum_recount(forum_id)
        publish(
            ThreadMoved(
                thread_id=thread.pk, from_forum_id=source, to_forum_id=forum_id, moved_by=moderator_id
            )
        )
    return _thread_ref(thread)


def thread_approve(*, moderator_id: int, thread_id: int) -> ThreadRef:
    """Publish a thread waiting for moderation (or rejected before). Publishes ``thread.approved``,
    then ``thread.created`` and the opening post's ``thread.post_created``: it is public from now."""
    require(user_id=moderator_id, permission=MODERATE)
    with transaction.atomic():
        thread = _thread_for_update(thread_id)
        if thread.state == ThreadState.APPROVED:
            raise Conflict(_("The thread is approved already."))
        _lock_forums(thread.forum_id)
        thread.state = ThreadState.APPROVED
        thread.rejection_reason = ""
        thread.moderated_by_id = moderator_id
        thread.moderated_at = timezone.now()
        thread.save(update_fields=["state", "rejection_reason", "moderated_by_id", "moderated_at"])
        _forum_recount(thread.forum_id)
        _posts_counted(_posts_by_author(thread.pk))
        publish(
            ThreadApproved(
                thread_id=thread.pk,
                forum_id=thread.forum_id,
                author_id=thread.author_id,
                approved_by=moderator_id,
            )
        )
        first_post = Post.objects.get(thread_id=thread.pk, position=1)
        author = selectors.viewer_for(user_id=thread.author_id)
        _publish_public(thread, first_post, _render_body(first_post.body, viewer=author))
    return _thread_ref(thread)


def thread_reject(*, moderator_id: int, thread_id: int, reason: str) -> ThreadRef:
    """Turn down a thread waiting for moderation, telling its author why. Publishes ``thread.rejected``."""
    require(user_id=moderator_id, permission=MODERATE)
    reason = _rejection_reason(reason, missing=_("Say why the thread is rejected."))
    with transaction.atomic():
        thread = _thread_for_update(thread_id)
        if thread.state != ThreadState.PENDING:
            raise Conflict(_("Only a thread awaiting moderation can be rejected."))
        thread.state = ThreadState.REJECTED
        thread.rejection_reason = reason
        thread.moderated_by_id = moderator_id
        thread.moderated_at = timezone.now()
        thread.save(update_fields=["state", "rejection_reason", "moderated_by_id", "moderated_at"])
        publish(
            ThreadRejected(
                thread_id=thread.pk,
                forum_id=thread.forum_id,
                author_id=thread.author_id,
                rejected_by=moderator_id,
                reason=reason,
            )
        )
    return _thread_ref(thread)


def thread_delete(*, moderator_id: int, thread_id: int) -> None:
    """Soft-delete a thread with its posts (moderators). Publishes ``thread.deleted``."""
    require(user_id=moderator_id, permission=MODERATE)
    with transaction.atomic():
        thread = _thread_for_update(thread_id)
        _lock_forums(thread.forum_id)
        thread.deleted_at = timezone.now()
        thread.save(update_fields=["deleted_at"])
        if thread.state == ThreadState.APPROVED:
            _forum_recount(thread.forum_id)
            _posts_counted({author_id: -posts for author_id, posts in _posts_by_author(thread.pk).items()})
        publish(
            ThreadDeleted(
                thread_id=thread.pk,
                forum_id=thread.forum_id,
                author_id=thread.author_id,
                deleted_by=moderator_id,
            )
        )


@dataclass(frozen=True)
class PendingThreadRow:
    """A thread awaiting moderation, as the moderation queue lists it."""

    id: int
    forum_id: int
    author_id: int
    author: str
    title: str
    created_at: datetime.datetime


def threads_pending(*, moderator_id: int, page: int = 1) -> tuple[tuple[PendingThreadRow, ...], int]:
    """Threads awaiting moderation, oldest first, and how many there are in all (``thread.moderate``;
    403 otherwise). A fixed number of queries whatever the page holds."""
    require(user_id=moderator_id, permission=MODERATE)
    found = selectors.moderation_queue(viewer=selectors.viewer_for(user_id=moderator_id), page=page)
    rows = tuple(
        PendingThreadRow(
            id=row.id,
            forum_id=row.forum_id,
            author_id=row.author_id,
            author=row.author,
            title=row.title,
            created_at=row.created_at,
        )
        for row in found.items
    )
    return rows, found.total
