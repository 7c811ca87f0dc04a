"""Facts the thread app publishes: versioned, JSON-serializable frozen dataclasses.

Imports only the standard library and forum.events (checked by import-linter).

A thread under premoderation is nobody's business but its author's and the moderators': its
``thread.created`` and the ``thread.post_created`` of its opening post are published when it becomes
public (at once for a member who skips premoderation, otherwise on approval, after
``thread.approved``), so that no feed, counter or notification learns of it before. A reply held for
premoderation likewise: ``thread.post_held`` when written, its ``thread.post_created`` only on
``thread.post_approved``.
"""

from __future__ import annotations

from forum.events import Event, event


@event("thread.created", version=1)
class ThreadCreated(Event):
    thread_id: int
    forum_id: int
    author_id: int
    title: str
    first_post_id: int


@event("thread.post_created", version=1)
class PostCreated(Event):
    post_id: int
    thread_id: int
    forum_id: int
    author_id: int
    position: int
    mentioned_ids: tuple[int, ...] = ()
    # The members whose posts this one quotes, and those posts.
    quoted_ids: tuple[int, ...] = ()
    quoted_post_ids: tuple[int, ...] = ()


@event("thread.post_edited", version=1)
class PostEdited(Event):
    post_id: int
    thread_id: int
    author_id: int
    editor_id: int
    # Members mentioned by the edit who were not mentioned before.
    mentioned_ids: tuple[int, ...] = ()


@event("thread.post_deleted", version=1)
class PostDeleted(Event):
    post_id: int
    thread_id: int
    forum_id: int
    author_id: int
    deleted_by: int


@event("thread.post_restored", version=1)
class PostRestored(Event):
    """A hidden (soft-deleted) reply shown again by a moderator: counted again from now on."""

    post_id: int
    thread_id: int
    forum_id: int
    author_id: int
    position: int
    restored_by: int


@event("thread.deleted", version=1)
class ThreadDeleted(Event):
    thread_id: int
    forum_id: int
    author_id: int
    deleted_by: int


@event("thread.moved", version=1)
class ThreadMoved(Event):
    thread_id: int
    from_forum_id: int
    to_forum_id: int
    moved_by: int


@event("thread.closed", version=1)
class ThreadClosed(Event):
    thread_id: int
    forum_id: int
    closed_by: int


@event("thread.reopened", version=1)
class ThreadReopened(Event):
    thread_id: int
    forum_id: int
    reopened_by: int


@event("thread.approved", version=1)
class ThreadApproved(Event):
    thread_id: int
    forum_id: int
    author_id: int
    approved_by: int


@event("thread.rejected", version=1)
class ThreadRejected(Event):
    thread_id: int
    forum_id: int
    author_id: int
    rejected_by: int
    reason: str


@event("thread.reaction_added", version=1)
class ReactionAdded(Event):
    """A member reacted to a post, or changed the kind of their reaction."""

    post_id: int
    thread_id: int
    post_author_id: int
    reactor_id: int
    kind: str


@event("thread.reaction_cleared", version=1)
class ReactionCleared(Event):
    """A member took their reaction to a post back."""

    post_id: int
    thread_id: int
    post_author_id: int
    reactor_id: int
    kind: str


@event("thread.post_held", version=1)
class PostHeld(Event):
    """A reply of a member whose posts are premoderated, held for a moderator: nobody else learns of
    it (no ``thread.post_created``) until ``thread.post_approved``."""

    post_id: int
    thread_id: int
    forum_id: int
    author_id: int


@event("thread.post_approved", version=1)
class PostApproved(Event):
    """A held reply made public by a moderator, at ``position``; its ``thread.post_created`` follows
    in the same transaction, as for any new reply."""

    post_id: int
    thread_id: int
    forum_id: int
    author_id: int
    position: int
    approved_by: int


@event("thread.post_rejected", version=1)
class PostRejected(Event):
    """A held reply turned down by a moderator (it is deleted), telling its author why."""

    post_id: int
    thread_id: int
    forum_id: int
    author_id: int
    rejected_by: int
    reason: str
