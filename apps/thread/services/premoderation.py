"""Replies held for premoderation: the queue of them, and a moderator's approval or rejection."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.authorization.services import Permission, permission_declare, require
from apps.thread import selectors
from apps.thread.events import PostApproved, PostRejected
from apps.thread.models import Post, Thread, ThreadState
from apps.thread.services._common import (
    MODERATE,
    _rejection_reason,
    _render_body,
    _thread_for_update,
    publish,
)
from apps.thread.services.posts import SKIP_PREMODERATION, _reply_published
from apps.thread.services.refs import PostRef, _post_ref
from forum import bus
from forum.errors import Conflict, NotFound
from forum.paging import Page


def permissions_declare() -> None:
    """The thread app's own permission (from ready()): members' replies are public at once unless an
    escalation's "premoderate" sanction takes this away (apps.admin, through the engine)."""
    permission_declare(
        Permission.flag(SKIP_PREMODERATION, gettext_lazy("Publish replies without premoderation"), user=True)
    )


# How much of a held reply's source the queue shows, on one line.
PENDING_EXCERPT_LENGTH = 300


@dataclass(frozen=True)
class PendingPostRow:
    """A reply awaiting approval, as the moderation queue lists it: with its thread, forum and author."""

    id: int
    thread_id: int
    thread_title: str
    forum_id: int
    forum_name: str
    author_id: int
    author: str
    excerpt: str  # the source, on one line, shortened
    body_html: str  # rendered as it will show, safe to insert
    created_at: datetime.datetime


def _excerpt(body: str) -> str:
    text = " ".join(body.split())
    return text if len(text) <= PENDING_EXCERPT_LENGTH else text[: PENDING_EXCERPT_LENGTH - 1] + "…"


def posts_pending(*, moderator_id: int, page: int = 1) -> Page[PendingPostRow]:
    """Replies awaiting approval, oldest first, a page of them and how many there are in all
    (``thread.moderate``; 403 otherwise). Two queries whatever the page holds."""
    require(user_id=moderator_id, permission=MODERATE)
    found = selectors.held_post_page(page=page)
    items = tuple(
        PendingPostRow(
            id=row.id,
            thread_id=row.thread_id,
            thread_title=row.thread_title,
            forum_id=row.forum_id,
            forum_name=row.forum_name,
            author_id=row.author_id,
            author=row.author,
            excerpt=_excerpt(row.body),
            body_html=row.body_html,
            created_at=row.created_at,
        )
        for row in found.items
    )
    return Page(items=items, number=found.number, per_page=found.per_page, total=found.total)


def _held_for_update(post_id: int) -> tuple[Post, Thread]:
    """Lock a held reply's thread and the reply (thread first, as every change does); NotFound for a
    post that does not exist or is deleted (rejected, withdrawn, or in a deleted thread), Conflict for
    one that is not held."""
    location = selectors.post_location(post_id=post_id) if 0 < post_id < 2**63 else None
    if location is None or location.deleted:
        raise NotFound(_("There is no such post."))
    thread = _thread_for_update(location.thread_id)
    post = Post.objects.select_for_update().get(pk=post_id)
    if post.deleted_at is not None:
        raise NotFound(_("There is no such post."))
    if not post.held:
        raise Conflict(_("The post does not await approval."), code="post_not_held")
    return post, thread


def post_approve(*, moderator_id: int, post_id: int) -> PostRef:
    """Publish a held reply (``thread.moderate``): it takes the thread's next position and the time
    of approval, and everything a new reply does follows in the same transaction (counters, the
    author's count, ``thread.post_approved`` then ``thread.post_created``: notifications, mentions,
    live pages, guests' pages). 404 for no such post, 409 for one not held."""
    require(user_id=moderator_id, permission=MODERATE)
    with transaction.atomic():
        post, thread = _held_for_update(post_id)
        now = timezone.now()
        post.held = False
        post.position = thread.last_position + 1
        post.created_at = now
        post.save(update_fields=["held", "position", "created_at"])
        publish(
            PostApproved(
                post_id=post.pk,
                thread_id=thread.pk,
                forum_id=thread.forum_id,
                author_id=post.author_id,
                position=post.position,
                approved_by=moderator_id,
            )
        )
        if thread.state == ThreadState.APPROVED:
            # Mentions and quotes resolve as the author sees them now, as for an approved thread.
            author = selectors.viewer_for(user_id=post.author_id)
            _reply_published(thread, post, _render_body(post.body, viewer=author), now)
        else:  # the thread went back to moderation since: it counts when the thread does
            thread.last_position = post.position
            thread.save(update_fields=["last_position"])
    return _post_ref(post)


def post_reject(*, moderator_id: int, post_id: int, reason: str) -> PostRef:
    """Turn down a held reply (``thread.moderate``): it is deleted, with the reason its author is told
    (``thread.post_rejected``). 404 for no such post, 409 for one not held, 400 without a reason."""
    require(user_id=moderator_id, permission=MODERATE)
    reason = _rejection_reason(reason, missing=_("Say why the post is rejected."))
    with transaction.atomic():
        post, thread = _held_for_update(post_id)
        post.deleted_at = timezone.now()
        post.deleted_by_id = moderator_id
        post.rejection_reason = reason
        post.save(update_fields=["deleted_at", "deleted_by_id", "rejection_reason"])
        # Not publish(): no guest ever saw it, so no guest's page changes.
        bus.publish(
            PostRejected(
                post_id=post.pk,
                thread_id=thread.pk,
                forum_id=thread.forum_id,
                author_id=post.author_id,
                rejected_by=moderator_id,
                reason=reason,
            )
        )
    return _post_ref(post)
