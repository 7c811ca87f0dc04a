"""Reads of the thread app: the forum tree a viewer may see, pages of threads and of posts.

Every page is a fixed number of queries whatever it holds: the rows in one, their authors' names in
one (``users_brief`` for the whole page), and the viewer's read marks joined into the same query.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from django.contrib.auth import get_user_model
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Lower

from apps.authorization.services import PermissionSet, permissions_for
from apps.thread.models import Forum, ForumKind, Post, ReadMark, Thread, ThreadState
from apps.user.services import users_brief

THREADS_PER_PAGE = 25
POSTS_PER_PAGE = 20
MODERATE_PERMISSION = "thread.moderate"

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


@dataclass(frozen=True)
class Viewer:
    """Who is looking, and what the permission engine lets them do (one query per request)."""

    user_id: int | None
    permissions: PermissionSet

    @property
    def moderator(self) -> bool:
        return self.can(MODERATE_PERMISSION)

    def can(self, permission: str) -> bool:
        if not permission:
            return True
        try:
            return self.permissions.allows(permission)
        except LookupError:  # a forum naming a permission nobody declared is closed, not a crash
            return False


def viewer_for(*, user_id: int | None) -> Viewer:
    return Viewer(user_id=user_id, permissions=permissions_for(user_id=user_id))


@dataclass(frozen=True)
class ForumNode:
    id: int
    parent_id: int | None
    kind: str
    name: str
    slug: str
    description: str
    depth: int
    position: int
    read_permission: str
    post_permission: str
    thread_count: int
    post_count: int
    last_post_id: int | None
    last_post_at: datetime.datetime | None
    last_thread_id: int | None
    last_thread_title: str = ""
    last_poster: str = ""
    children: tuple[int, ...] = field(default=())

    @property
    def is_category(self) -> bool:
        return self.kind == ForumKind.CATEGORY


_FORUM_FIELDS = (
    "id",
    "parent_id",
    "kind",
    "name",
    "slug",
    "description",
    "depth",
    "position",
    "read_permission",
    "post_permission",
    "thread_count",
    "post_count",
    "last_post_id",
    "last_post_at",
    "last_thread_id",
)


def forums_visible(*, viewer: Viewer) -> dict[int, ForumNode]:
    """Every forum the viewer may see, in tree order (a parent before its children), in one query.

    A forum is visible when the viewer holds its read permission and can see its parent.
    """
    rows = Forum.objects.order_by("depth", "position", "id").values(*_FORUM_FIELDS)
    visible: dict[int, dict[str, object]] = {}
    for row in rows:
        parent_id = row["parent_id"]
        if parent_id is not None and parent_id not in visible:
            continue
        if viewer.can(str(row["read_permission"])):
            visible[int(row["id"])] = dict(row)
    children: dict[int | None, list[int]] = {}
    for forum_id, row in visible.items():
        children.setdefault(row["parent_id"], []).append(forum_id)  # type: ignore[arg-type]
    ordered: dict[int, ForumNode] = {}

    def walk(parent_id: int | None) -> None:
        for forum_id in children.get(parent_id, []):
            row = visible[forum_id]
            ordered[forum_id] = ForumNode(**row, children=tuple(children.get(forum_id, [])))  # type: ignore[arg-type]
            walk(forum_id)

    walk(None)
    return ordered


def forum_index(*, viewer: Viewer) -> list[ForumNode]:
    """The tree for the index page with each forum's last thread and last poster: three queries."""
    forums = forums_visible(viewer=viewer)
    thread_ids = [node.last_thread_id for node in forums.values() if node.last_thread_id is not None]
    threads = {
        row["id"]: row
        for row in Thread.objects.filter(id__in=thread_ids).values("id", "title", "last_poster_id")
    }
    names = _usernames(row["last_poster_id"] for row in threads.values())
    result = []
    for node in forums.values():
        thread = threads.get(node.last_thread_id) if node.last_thread_id is not None else None
        if thread is None:
            result.append(node)
            continue
        poster = names.get(thread["last_poster_id"] or 0, "")
        result.append(replace(node, last_thread_title=thread["title"], last_poster=poster))
    return result


def forum_path(*, forums: dict[int, ForumNode], forum_id: int) -> list[ForumNode]:
    """The forum and its ancestors, root first (the breadcrumbs)."""
    path = []
    node = forums.get(forum_id)
    while node is not None:
        path.append(node)
        node = forums.get(node.parent_id) if node.parent_id is not None else None
    return list(reversed(path))


def _usernames(user_ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {user_id for user_id in user_ids if user_id is not None}
    if not wanted:
        return {}
    return {brief.id: brief.username for brief in users_brief(user_ids=wanted)}


# --- Threads ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadRow:
    id: int
    forum_id: int
    author_id: int
    author: str
    title: str
    slug: str
    state: str
    rejection_reason: str
    closed: bool
    pinned: bool
    created_at: datetime.datetime
    last_post_at: datetime.datetime
    last_post_id: int | None
    last_poster: str
    reply_count: int
    last_position: int
    # The viewer's: never opened (new), or posts after the last one read (unread). False for guests.
    is_new: bool
    is_unread: bool
    read_position: int | None = None

    @property
    def is_pending(self) -> bool:
        return self.state == ThreadState.PENDING

    @property
    def is_rejected(self) -> bool:
        return self.state == ThreadState.REJECTED


_THREAD_FIELDS = (
    "id",
    "forum_id",
    "author_id",
    "title",
    "slug",
    "state",
    "rejection_reason",
    "closed",
    "pinned",
    "created_at",
    "last_post_at",
    "last_post_id",
    "last_poster_id",
    "post_count",
    "last_position",
)


def threads_visible_to(viewer: Viewer) -> QuerySet[Thread]:
    """Threads not deleted that the viewer may see: approved ones, their own, everything for moderators."""
    threads = Thread.objects.filter(deleted_at__isnull=True)
    if viewer.moderator:
        return threads
    if viewer.user_id is None:
        return threads.filter(state=ThreadState.APPROVED)
    return threads.filter(Q(state=ThreadState.APPROVED) | Q(author_id=viewer.user_id))


def _with_read_position(threads: QuerySet[Thread], viewer: Viewer) -> QuerySet[Thread]:
    if viewer.user_id is None:
        return threads
    mark = ReadMark.objects.filter(user_id=viewer.user_id, thread_id=OuterRef("pk"))
    return threads.annotate(read_position=Subquery(mark.values("last_read_position")[:1]))


def _thread_rows(rows: Sequence[dict[str, Any]], viewer: Viewer) -> tuple[ThreadRow, ...]:
    names = _usernames([*(row["author_id"] for row in rows), *(row["last_poster_id"] for row in rows)])
    signed_in = viewer.user_id is not None
    result = []
    for row in rows:
        read_position = row.get("read_position")
        result.append(
            ThreadRow(
                id=row["id"],
                forum_id=row["forum_id"],
                author_id=row["author_id"],
                author=names.get(row["author_id"], ""),
                title=row["title"],
                slug=row["slug"],
                state=row["state"],
                rejection_reason=row["rejection_reason"],
                closed=row["closed"],
                pinned=row["pinned"],
                created_at=row["created_at"],
                last_post_at=row["last_post_at"],
                last_post_id=row["last_post_id"],
                last_poster=names.get(row["last_poster_id"], ""),
                reply_count=max(0, row["post_count"] - 1),
                last_position=row["last_position"],
                is_new=signed_in and read_position is None,
                is_unread=signed_in and read_position is not None and read_position < row["last_position"],
                read_position=read_position,
            )
        )
    return tuple(result)


def _page_number(page: int, total: int, per_page: int) -> int:
    return min(max(1, page), max(1, math.ceil(total / per_page)))


def thread_page(*, viewer: Viewer, forum_id: int, page: int = 1) -> Page[ThreadRow]:
    """A forum's threads the viewer may see: pinned first, then by last activity (three queries)."""
    threads = threads_visible_to(viewer).filter(forum_id=forum_id)
    total = threads.count()
    number = _page_number(page, total, THREADS_PER_PAGE)
    start = (number - 1) * THREADS_PER_PAGE
    ordered = _with_read_position(threads.order_by("-pinned", "-last_post_at", "-id"), viewer)
    fields = [*_THREAD_FIELDS, "read_position"] if viewer.user_id is not None else list(_THREAD_FIELDS)
    rows = list(ordered.values(*fields)[start : start + THREADS_PER_PAGE])
    return Page(items=_thread_rows(rows, viewer), number=number, per_page=THREADS_PER_PAGE, total=total)


def moderation_queue(*, viewer: Viewer, page: int = 1) -> Page[ThreadRow]:
    """Threads awaiting moderation, oldest first (for moderators)."""
    threads = Thread.objects.filter(deleted_at__isnull=True, state=ThreadState.PENDING)
    total = threads.count()
    number = _page_number(page, total, THREADS_PER_PAGE)
    start = (number - 1) * THREADS_PER_PAGE
    rows = list(
        threads.order_by("created_at", "id").values(*_THREAD_FIELDS)[start : start + THREADS_PER_PAGE]
    )
    return Page(items=_thread_rows(rows, viewer), number=number, per_page=THREADS_PER_PAGE, total=total)


def thread_row(*, viewer: Viewer, thread_id: int) -> ThreadRow | None:
    """One thread the viewer may see, with their read mark (two queries), or None."""
    threads = _with_read_position(threads_visible_to(viewer).filter(pk=thread_id), viewer)
    fields = [*_THREAD_FIELDS, "read_position"] if viewer.user_id is not None else list(_THREAD_FIELDS)
    rows = list(threads.values(*fields))
    return _thread_rows(rows, viewer)[0] if rows else None


# --- Posts --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostRow:
    id: int
    thread_id: int
    author_id: int
    author: str
    position: int
    body: str
    body_html: str
    created_at: datetime.datetime
    edited_at: datetime.datetime | None
    is_unread: bool


def _visible_posts(thread_id: int) -> QuerySet[Post]:
    return Post.objects.filter(thread_id=thread_id, deleted_at__isnull=True)


def post_page(*, thread: ThreadRow, page: int = 1, read_position: int | None = None) -> Page[PostRow]:
    """A page of a thread's posts in order, their authors' names in one query (three queries)."""
    posts = _visible_posts(thread.id)
    total = posts.count()
    number = _page_number(page, total, POSTS_PER_PAGE)
    start = (number - 1) * POSTS_PER_PAGE
    rows = list(
        posts.order_by("position").values(
            "id", "thread_id", "author_id", "position", "body", "body_html", "created_at", "edited_at"
        )[start : start + POSTS_PER_PAGE]
    )
    names = _usernames(row["author_id"] for row in rows)
    items = tuple(
        PostRow(
            **row,
            author=names.get(row["author_id"], ""),
            is_unread=read_position is not None and row["position"] > read_position,
        )
        for row in rows
    )
    return Page(items=items, number=number, per_page=POSTS_PER_PAGE, total=total)


def page_of_position(*, thread_id: int, position: int) -> int:
    """The page of a thread on which the first visible post at or after ``position`` stands."""
    before = _visible_posts(thread_id).filter(position__lt=position).count()
    return before // POSTS_PER_PAGE + 1


def first_unread_position(*, thread_id: int, read_position: int) -> int | None:
    return (
        _visible_posts(thread_id)
        .filter(position__gt=read_position)
        .order_by("position")
        .values_list("position", flat=True)
        .first()
    )


@dataclass(frozen=True)
class PostLocation:
    post_id: int
    thread_id: int
    position: int
    author_id: int
    created_at: datetime.datetime
    deleted: bool


def post_location(*, post_id: int) -> PostLocation | None:
    row = (
        Post.objects.filter(pk=post_id)
        .values("id", "thread_id", "position", "author_id", "created_at", "deleted_at")
        .first()
    )
    if row is None:
        return None
    return PostLocation(
        post_id=row["id"],
        thread_id=row["thread_id"],
        position=row["position"],
        author_id=row["author_id"],
        created_at=row["created_at"],
        deleted=row["deleted_at"] is not None,
    )


def forum_exists(*, forum_id: int) -> bool:
    return Forum.objects.filter(pk=forum_id).exists()


def post_body(*, post_id: int) -> str:
    return str(Post.objects.filter(pk=post_id).values_list("body", flat=True).first() or "")


def thread_forum_id(*, thread_id: int) -> int | None:
    return Thread.objects.filter(pk=thread_id).values_list("forum_id", flat=True).first()


def member_ids_by_username(*, usernames: Sequence[str]) -> dict[str, int]:
    """Accounts by lowercase username (for mentions), in one query; unknown names are left out.

    Read from the shared user model, which every app may reference (the one relation across apps).
    """
    wanted = [name.lower() for name in usernames]
    if not wanted:
        return {}
    rows = (
        get_user_model()
        .objects.annotate(name_lower=Lower("username"))
        .filter(name_lower__in=wanted, is_active=True)
        .values_list("name_lower", "pk")
    )
    return {str(name): int(pk) for name, pk in rows}


@dataclass(frozen=True)
class QuotablePost:
    post_id: int
    author_id: int
    author_name: str


def quotable_posts(*, viewer: Viewer, post_ids: Sequence[int]) -> list[QuotablePost]:
    """The posts among ``post_ids`` the viewer may see and so quote (two queries)."""
    wanted = [post_id for post_id in post_ids if 0 < post_id < 2**63]
    if not wanted:
        return []
    forums = forums_visible(viewer=viewer)
    rows = list(
        Post.objects.filter(
            pk__in=wanted,
            deleted_at__isnull=True,
            thread__in=threads_visible_to(viewer).filter(forum_id__in=list(forums)),
        ).values("id", "author_id", "author__username")
    )
    return [
        QuotablePost(post_id=row["id"], author_id=row["author_id"], author_name=row["author__username"])
        for row in rows
    ]
