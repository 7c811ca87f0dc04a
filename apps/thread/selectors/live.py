"""What live thread pages and the moderation of held replies read."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace

from django.db.models import OuterRef, Subquery

from apps.thread.models import (
    MemberScore,
    Post,
)
from apps.thread.selectors.forums import (
    THREADS_PER_PAGE,
    Viewer,
    forums_visible,
)
from apps.thread.selectors.posts import (
    _POST_FIELDS,
    PostRow,
    _post_rows,
    _visible_posts,
)
from apps.thread.selectors.threads import (
    ThreadRow,
    threads_visible_to,
)
from forum.paging import Page, page_in_range

# --- Live thread pages --------------------------------------------------------------------------------


def thread_is_readable(*, viewer: Viewer, thread_id: int) -> bool:
    """Whether the viewer may read a thread, as its page decides (two queries; none for a bad id):
    not deleted, public or theirs (or anything, for moderators), in a forum whose read permission they
    hold. False when there is no such thread, so that nobody learns which ids exist."""
    if not 0 < thread_id < 2**63:
        return False
    forum_id = threads_visible_to(viewer).filter(pk=thread_id).values_list("forum_id", flat=True).first()
    return forum_id is not None and forum_id in forums_visible(viewer=viewer)


def post_row(
    *, thread: ThreadRow, post_id: int, viewer_id: int | None, with_author_cards: bool = False
) -> PostRow | None:
    """One post of ``thread``, not deleted, as its page shows it to the viewer, or None. Whether the
    viewer may see the thread is the caller's check (the thread comes from ``thread_row``).
    ``with_author_cards``: with its author's card and signature, as on the thread page."""
    if not 0 < post_id < 2**63:
        return None
    posts = _visible_posts(thread.id).filter(pk=post_id)
    if with_author_cards:
        score = MemberScore.objects.filter(user_id=OuterRef("author_id")).values("post_count")[:1]
        rows = list(
            posts.annotate(author_post_count=Subquery(score)).values(*_POST_FIELDS, "author_post_count")
        )
    else:
        rows = list(posts.values(*_POST_FIELDS))
    if not rows:
        return None
    # On the viewer's screen from now on: not unread.
    return _post_rows(
        rows, thread=thread, read_position=None, viewer_id=viewer_id, with_author_cards=with_author_cards
    )[0]


# The most replies awaiting approval a thread page lists (a moderator sees everyone's).
HELD_SHOWN_MAX = 50


def held_posts(*, viewer: Viewer, thread: ThreadRow, with_author_cards: bool = False) -> tuple[PostRow, ...]:
    """The thread's replies awaiting a moderator that the viewer may see, oldest first: their own, or
    everyone's for moderators; none for guests (no query). One query, and when there are some, their
    attachments and authors (names, or cards with ``with_author_cards``) for all of them at once.
    Whether the viewer may see the thread is the caller's check."""
    if viewer.user_id is None:
        return ()
    posts = Post.objects.filter(thread_id=thread.id, held=True, deleted_at__isnull=True)
    if not viewer.moderator:
        posts = posts.filter(author_id=viewer.user_id)
    posts = posts.order_by("created_at", "id")
    if with_author_cards:
        score = MemberScore.objects.filter(user_id=OuterRef("author_id")).values("post_count")[:1]
        posts = posts.annotate(author_post_count=Subquery(score))
        rows = list(posts.values(*_POST_FIELDS, "author_post_count")[:HELD_SHOWN_MAX])
    else:
        rows = list(posts.values(*_POST_FIELDS)[:HELD_SHOWN_MAX])
    if not rows:
        return ()
    # Nobody reacts to a held reply nor keeps it: no reactions or bookmarks to read.
    shown = _post_rows(
        rows, thread=thread, read_position=None, viewer_id=None, with_author_cards=with_author_cards
    )
    return tuple(replace(post, held=True) for post in shown)


@dataclass(frozen=True)
class HeldPostRow:
    """A reply awaiting approval as the moderation queue lists it, with its thread and forum."""

    id: int
    thread_id: int
    thread_title: str
    forum_id: int
    forum_name: str
    author_id: int
    author: str
    body: str
    body_html: str
    created_at: datetime.datetime


def held_post_page(*, page: int = 1, per_page: int = THREADS_PER_PAGE) -> Page[HeldPostRow]:
    """Replies awaiting approval in threads not deleted, oldest first (for moderators: the caller's
    check): the count and a page of them with their thread, forum and author (two queries)."""
    posts = Post.objects.filter(held=True, deleted_at__isnull=True, thread__deleted_at__isnull=True)
    total = posts.count()
    number = page_in_range(page, total, per_page)
    start = (number - 1) * per_page
    # The names come along the thread's and the forum's own keys and the one relation every app may
    # follow, the foreign key to the user model: one query for the page.
    rows = posts.order_by("created_at", "id").values(
        "id",
        "thread_id",
        "thread__title",
        "thread__forum_id",
        "thread__forum__name",
        "author_id",
        "author__username",
        "body",
        "body_html",
        "created_at",
    )[start : start + per_page]
    items = tuple(
        HeldPostRow(
            id=row["id"],
            thread_id=row["thread_id"],
            thread_title=row["thread__title"],
            forum_id=row["thread__forum_id"],
            forum_name=row["thread__forum__name"],
            author_id=row["author_id"],
            author=row["author__username"],
            body=row["body"],
            body_html=row["body_html"],
            created_at=row["created_at"],
        )
        for row in rows
    )
    return Page(items=items, number=number, per_page=per_page, total=total)


def post_reaction_counts(*, post_id: int) -> dict[str, int] | None:
    """A post's reaction counts now (kinds with none left out), or None when it is deleted or gone."""
    row = Post.objects.filter(pk=post_id, deleted_at__isnull=True).values_list("reaction_counts", flat=True)
    found = list(row[:1])
    if not found:
        return None
    return {str(kind): int(count) for kind, count in (found[0] or {}).items() if int(count) > 0}
