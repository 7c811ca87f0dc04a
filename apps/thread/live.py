"""Live thread pages: the ``thread:<id>`` topic of the real-time gateway and who may follow it.

A thread page subscribes to its topic (static/thread/live.js); the handlers in handlers.py push to it
ids and counts only, never HTML, and each page fetches what it shows from ``/posts/<id>/fragment/``,
where the page's own permission checks apply (docs/realtime.md).
"""

from __future__ import annotations

from apps.thread import selectors
from forum.realtime import register_topic

TOPIC_PREFIX = "thread"

# Kinds of the frames pushed to a thread's topic, and their payloads.
POST_CREATED = "post.created"  # {thread_id, post_id, position}: a new, approved or restored reply
POST_EDITED = "post.edited"  # {thread_id, post_id}
POST_DELETED = "post.deleted"  # {thread_id, post_id}
POST_REACTIONS = "post.reactions"  # {thread_id, post_id, counts: {kind: count}}


def thread_topic(thread_id: int) -> str:
    return f"{TOPIC_PREFIX}:{thread_id}"


def may_follow(user_id: int | None, key: str) -> bool:
    """The topic check: exactly who may read the thread's page (a pending thread: its author and the
    moderators; a forum: who holds its read permission; a deleted thread: nobody). False for a key
    that is no thread id, and for a thread that does not exist."""
    if not key.isascii() or not key.isdigit() or len(key) > 18:
        return False
    viewer = selectors.viewer_for(user_id=user_id)
    return selectors.thread_is_readable(viewer=viewer, thread_id=int(key))


def register() -> None:
    """Called from ThreadConfig.ready."""
    register_topic(TOPIC_PREFIX, may_follow)
