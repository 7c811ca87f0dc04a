"""The plain data the thread services take and return about forums, threads and posts (frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass

from apps.thread.models import (
    Post,
    Thread,
)


@dataclass(frozen=True)
class ForumRef:
    id: int
    parent_id: int | None
    kind: str
    name: str
    slug: str
    depth: int


@dataclass(frozen=True)
class ThreadRef:
    id: int
    forum_id: int
    author_id: int
    title: str
    slug: str
    state: str
    closed: bool
    pinned: bool
    first_post_id: int | None


@dataclass(frozen=True)
class PostRef:
    id: int
    thread_id: int
    author_id: int
    position: int
    # Awaiting a moderator's approval (the author's posts are premoderated): nobody else sees it yet.
    held: bool = False
    # The page of its thread it stands on, when the service knows it without asking (a new reply: the
    # thread's last page); 0 when it does not (see selectors.page_of_position).
    page: int = 0


def _thread_ref(thread: Thread) -> ThreadRef:
    return ThreadRef(
        id=thread.pk,
        forum_id=thread.forum_id,
        author_id=thread.author_id,
        title=thread.title,
        slug=thread.slug,
        state=thread.state,
        closed=thread.closed,
        pinned=thread.pinned,
        first_post_id=thread.first_post_id,
    )


def _post_ref(post: Post) -> PostRef:
    return PostRef(
        id=post.pk, thread_id=post.thread_id, author_id=post.author_id, position=post.position, held=post.held
    )
