"""A member's bookmarks and drafts."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import QuerySet
from django.db.models.functions import Substr

from apps.thread.models import (
    Bookmark,
    Draft,
    ThreadState,
)
from apps.thread.selectors.forums import (
    Viewer,
    _usernames,
    forums_visible,
)
from forum.paging import Page, page_in_range

# --- Bookmarks and drafts -----------------------------------------------------------------------------

BOOKMARKS_PER_PAGE = 20
# How much of a post's source the bookmark list reads and shows.
BOOKMARK_EXCERPT_LENGTH = 200


def bookmarked_among(*, user_id: int, post_ids: Sequence[int]) -> set[int]:
    """The posts among ``post_ids`` the member keeps (one query; none for no posts)."""
    if not post_ids:
        return set()
    return set(
        Bookmark.objects.filter(user_id=user_id, post_id__in=list(post_ids)).values_list("post_id", flat=True)
    )


@dataclass(frozen=True)
class BookmarkRow:
    post_id: int
    thread_id: int
    thread_title: str
    author_id: int
    author: str
    position: int
    excerpt: str
    post_created_at: datetime.datetime
    note: str
    created_at: datetime.datetime


def _excerpt(source: str) -> str:
    flat = " ".join(source.split())
    return (
        flat if len(flat) <= BOOKMARK_EXCERPT_LENGTH else flat[: BOOKMARK_EXCERPT_LENGTH - 1].rstrip() + "…"
    )


def bookmarks_shown(*, viewer: Viewer) -> QuerySet[Bookmark]:
    """The member's bookmarks of posts they may see now: not deleted, in an approved thread not
    deleted, in a forum they may read (one query to find the forums). The others are kept, not shown."""
    if viewer.user_id is None:
        return Bookmark.objects.none()
    forums = forums_visible(viewer=viewer)
    return Bookmark.objects.filter(
        user_id=viewer.user_id,
        post__deleted_at__isnull=True,
        post__held=False,
        post__thread__deleted_at__isnull=True,
        post__thread__state=ThreadState.APPROVED,
        post__thread__forum_id__in=list(forums),
    )


def bookmark_page(*, viewer: Viewer, page: int = 1, per_page: int = BOOKMARKS_PER_PAGE) -> Page[BookmarkRow]:
    """A page of the member's bookmarks they may still see, newest first, with each post's thread,
    author and the start of its text: the forums, the count, the rows and the authors' names (four
    queries, whatever the page holds)."""
    if viewer.user_id is None:
        return Page(items=(), number=1, per_page=per_page, total=0)
    bookmarks = bookmarks_shown(viewer=viewer)
    total = bookmarks.count()
    number = page_in_range(page, total, per_page)
    start = (number - 1) * per_page
    rows = list(
        bookmarks.order_by("-created_at", "-id")
        .annotate(excerpt=Substr("post__body", 1, BOOKMARK_EXCERPT_LENGTH * 2))
        .values(
            "post_id",
            "note",
            "created_at",
            "excerpt",
            "post__thread_id",
            "post__thread__title",
            "post__author_id",
            "post__position",
            "post__created_at",
        )[start : start + per_page]
    )
    names = _usernames(row["post__author_id"] for row in rows)
    items = tuple(
        BookmarkRow(
            post_id=row["post_id"],
            thread_id=row["post__thread_id"],
            thread_title=row["post__thread__title"],
            author_id=row["post__author_id"],
            author=names.get(row["post__author_id"], ""),
            position=row["post__position"],
            excerpt=_excerpt(row["excerpt"] or ""),
            post_created_at=row["post__created_at"],
            note=row["note"],
            created_at=row["created_at"],
        )
        for row in rows
    )
    return Page(items=items, number=number, per_page=per_page, total=total)


@dataclass(frozen=True)
class DraftRow:
    thread_id: int | None
    forum_id: int | None
    title: str
    body: str
    updated_at: datetime.datetime


def draft_of(*, user_id: int, thread_id: int | None = None, forum_id: int | None = None) -> DraftRow | None:
    """The member's draft of a reply in a thread or of a new thread in a forum, or None (one query).
    Whether they may still post there is the caller's check."""
    drafts = Draft.objects.filter(user_id=user_id)
    if thread_id is not None:
        drafts = drafts.filter(thread_id=thread_id)
    elif forum_id is not None:
        drafts = drafts.filter(forum_id=forum_id)
    else:
        return None
    row = drafts.values("thread_id", "forum_id", "title", "body", "updated_at").first()
    return None if row is None else DraftRow(**row)
