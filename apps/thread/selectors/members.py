"""A member's threads and posts (the API's lists of one member)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from apps.thread.models import (
    Post,
    Reaction,
    Thread,
    ThreadState,
)
from apps.thread.selectors.bookmarks import (
    bookmarked_among,
)
from apps.thread.selectors.forums import (
    POSTS_PER_PAGE,
    THREADS_PER_PAGE,
    Viewer,
    _usernames,
    forums_visible,
)
from apps.thread.selectors.posts import (
    _POST_FIELDS,
    PostRow,
    _reactions,
    attachments_of,
)
from apps.thread.selectors.threads import (
    _THREAD_FIELDS,
    ThreadRow,
    _thread_rows,
    _with_read_position,
    threads_visible_to,
)
from forum.paging import Page, page_in_range

# --- A member's threads and posts (the API's lists of one member) ---------------------------------------


@dataclass(frozen=True)
class PostInThreadRow(PostRow):
    """A post shown without its thread page (one post, a list of one member's posts, which span
    threads): with its thread's title and forum."""

    thread_title: str = ""
    forum_id: int = 0


def post_in_thread(*, post: PostRow, thread: ThreadRow) -> PostInThreadRow:
    values = {name: getattr(post, name) for name in PostRow.__dataclass_fields__}
    return PostInThreadRow(**values, thread_title=thread.title, forum_id=thread.forum_id)


def _threads_readable(viewer: Viewer) -> QuerySet[Thread]:
    """The threads the viewer may open, as their pages decide: not deleted, approved (or the viewer's
    own, or any for moderators), in a forum whose read permission they hold (one query, the forums)."""
    forums = forums_visible(viewer=viewer)
    return threads_visible_to(viewer).filter(forum_id__in=list(forums))


def member_thread_page(*, viewer: Viewer, author_id: int, page: int = 1) -> Page[ThreadRow]:
    """The threads a member started that the viewer may see, newest first, with the viewer's read
    marks: the forums, the count, the rows and the names (four queries whatever the page holds)."""
    threads = _threads_readable(viewer).filter(author_id=author_id)
    total = threads.count()
    number = page_in_range(page, total, THREADS_PER_PAGE)
    start = (number - 1) * THREADS_PER_PAGE
    ordered = _with_read_position(threads.order_by("-created_at", "-id"), viewer)
    fields = [*_THREAD_FIELDS, "read_position"] if viewer.user_id is not None else list(_THREAD_FIELDS)
    rows = list(ordered.values(*fields)[start : start + THREADS_PER_PAGE])
    return Page(items=_thread_rows(rows, viewer), number=number, per_page=THREADS_PER_PAGE, total=total)


def member_post_page(*, viewer: Viewer, author_id: int, page: int = 1) -> Page[PostInThreadRow]:
    """The posts a member wrote that the viewer may see (not deleted, in a thread the viewer may open),
    newest first, each as a thread page shows it to the viewer: the forums, the count, the rows with
    their threads, the author's name, and the attachments, the viewer's reactions and bookmarks of the
    whole page (eight queries at most, whatever the page holds)."""
    posts = Post.objects.filter(
        author_id=author_id, deleted_at__isnull=True, held=False, thread__in=_threads_readable(viewer)
    )
    total = posts.count()
    number = page_in_range(page, total, POSTS_PER_PAGE)
    start = (number - 1) * POSTS_PER_PAGE
    extra = ("thread__title", "thread__forum_id", "thread__state")
    rows = list(
        posts.order_by("-created_at", "-id").values(*_POST_FIELDS, *extra)[start : start + POSTS_PER_PAGE]
    )
    post_ids = [row["id"] for row in rows]
    names = _usernames(row["author_id"] for row in rows)
    attachments = attachments_of(post_ids=post_ids)
    mine: dict[int, str] = {}
    kept: set[int] = set()
    if viewer.user_id is not None and post_ids:
        mine = dict(
            Reaction.objects.filter(user_id=viewer.user_id, post_id__in=post_ids).values_list(
                "post_id", "kind"
            )
        )
        kept = bookmarked_among(user_id=viewer.user_id, post_ids=post_ids)
    items = tuple(
        PostInThreadRow(
            id=row["id"],
            thread_id=row["thread_id"],
            author_id=row["author_id"],
            position=row["position"],
            body=row["body"],
            body_html=row["body_html"],
            created_at=row["created_at"],
            edited_at=row["edited_at"],
            author=names.get(row["author_id"], ""),
            is_unread=False,
            attachments=attachments.get(row["id"], ()),
            reactions=_reactions(row["reaction_counts"] or {}, mine.get(row["id"])),
            my_reaction=mine.get(row["id"]),
            # As on the thread page: a bookmark button only for members, in approved threads.
            bookmarked=row["id"] in kept
            if viewer.user_id is not None and row["thread__state"] == ThreadState.APPROVED
            else None,
            thread_title=row["thread__title"],
            forum_id=row["thread__forum_id"],
        )
        for row in rows
    )
    return Page(items=items, number=number, per_page=POSTS_PER_PAGE, total=total)
