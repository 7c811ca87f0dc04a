"""Reads of the thread app: the forum tree a viewer may see, pages of threads and of posts.

Every page is a fixed number of queries whatever it holds: the rows in one, their authors' names in
one (``users_brief`` for the whole page), and the viewer's read marks joined into the same query. A
page of posts adds its attachments in one query and the viewer's reactions in one more; the reaction
counts are read with the posts. The thread page shows an author card beside each post: the profiles of
the page's authors come from ``profiles_for`` (their accounts with profiles, and their status badges:
three queries at most) and their roles from ``roles_for`` (one), in place of the names; their post
counts (``MemberScore``) are read with the posts.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Lower, Substr
from django.utils import timezone
from django.utils.translation import get_language

from apps.authorization.services import PermissionSet, Role, permissions_for, roles_for
from apps.thread.models import (
    REACTION_LABELS,
    Bookmark,
    Draft,
    Forum,
    ForumKind,
    MemberScore,
    Post,
    PostAttachment,
    Reaction,
    ReadMark,
    Thread,
    ThreadState,
)
from apps.user.services import Badge, EquippedFrame, profiles_for, users_brief
from forum.paging import Page, page_in_range
from forum.versioned_cache import kept

THREADS_PER_PAGE = 25
POSTS_PER_PAGE = 20
MODERATE_PERMISSION = "thread.moderate"


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
    # With the subforums the viewer may see (forum_tree fills them in; a bare node counts itself).
    total_thread_count: int = -1
    total_post_count: int = -1
    # Something in the forum or its subforums the member has not read (forum_tree; False for guests).
    is_unread: bool = False

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


@functools.cache
def _forums_sql() -> str:
    columns = {field.attname: field.column for field in Forum._meta.concrete_fields}
    listed = ", ".join(f'"{columns[name]}"' for name in _FORUM_FIELDS)
    return f'SELECT {listed} FROM "{Forum._meta.db_table}" ORDER BY "depth", "position", "id"'


def _forum_rows() -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(_forums_sql())
        return [dict(zip(_FORUM_FIELDS, row, strict=True)) for row in cursor.fetchall()]


# The version of the forums' structure (names, places, permissions; not their counters): moved after
# the commit of every save or deletion of a forum (apps.py connects it), never by a post.
FORUM_STRUCTURE_SCOPE = "forums"
_COUNTERS = {
    "thread_count": 0,
    "post_count": 0,
    "last_post_id": None,
    "last_post_at": None,
    "last_thread_id": None,
}


def _structure_rows() -> list[dict[str, Any]]:
    """The forums' rows with their counters blanked, kept in the process under the structure's version:
    what a page that shows no counter needs (the thread page's path, its forum's permissions)."""
    return kept(
        "thread.forum_structure",
        (),
        (FORUM_STRUCTURE_SCOPE,),
        lambda: [{**row, **_COUNTERS} for row in _forum_rows()],
        local=True,
    )


def forums_visible(*, viewer: Viewer, counters: bool = True) -> dict[int, ForumNode]:
    """Every forum the viewer may see, in tree order (a parent before its children), in one query.

    A forum is visible when the viewer holds its read permission and can see its parent. Read in
    plain SQL: every forum page, thread page and reply reads it, and the ORM took as long to build the
    query as PostgreSQL to run it. ``counters=False``: no query while the structure is kept (the
    nodes' counters are then zero: for pages that show none).
    """
    visible: dict[int, dict[str, object]] = {}
    for row in _forum_rows() if counters else _structure_rows():
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


def unread_cutoff() -> datetime.datetime:
    """Threads quiet since before this are read for everyone: no marker lights up for old news."""
    return timezone.now() - datetime.timedelta(days=settings.THREAD_UNREAD_DAYS)


def _subtree(forums: dict[int, ForumNode], forum_id: int) -> list[ForumNode]:
    nodes = [forums[forum_id]]
    for child in forums[forum_id].children:
        nodes.extend(_subtree(forums, child))
    return nodes


# How many of a forum's most recently active threads the unread marker of the forum looks at.
UNREAD_THREADS_CHECKED = 25


def _forums_with_unread(viewer: Viewer, forum_ids: Sequence[int]) -> set[int]:
    """Which of the forums hold, among their most recently active threads the member may see (at most
    UNREAD_THREADS_CHECKED, active since the cutoff), one not read to its end. One query reading a few
    index entries per forum: a member who never reads an old thread is not told about it forever, and
    the marker costs the same whatever the forum holds."""
    if viewer.user_id is None or not forum_ids:
        return set()
    visible = "" if viewer.moderator else "AND (t.state = %s OR t.author_id = %s)"
    visible_params: list[Any] = [] if viewer.moderator else [str(ThreadState.APPROVED), viewer.user_id]
    query = f"""
        SELECT f.id FROM unnest(%s::bigint[]) AS f(id)
        WHERE EXISTS (
            SELECT 1 FROM (
                SELECT t.id, t.last_position FROM thread_thread t
                WHERE t.forum_id = f.id AND t.deleted_at IS NULL AND t.last_post_at > %s {visible}
                ORDER BY t.last_post_at DESC LIMIT %s
            ) AS recent
            WHERE NOT EXISTS (
                SELECT 1 FROM thread_readmark r
                WHERE r.user_id = %s AND r.thread_id = recent.id
                    AND r.last_read_position >= recent.last_position
            )
        )
    """
    # Only the fixed visibility clause above is formatted in; every value is a parameter.
    params: list[Any] = [
        list(forum_ids),
        unread_cutoff(),
        *visible_params,
        UNREAD_THREADS_CHECKED,
        viewer.user_id,
    ]
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return {row[0] for row in cursor.fetchall()}


def forum_tree(*, viewer: Viewer, forums: dict[int, ForumNode], forum_ids: Sequence[int]) -> list[ForumNode]:
    """The forums ``forum_ids`` (of ``forums_visible``) ready to list: counters and the last post taken
    over each one's visible subforums too, the last thread's title and poster, and the member's unread
    marker. Three queries at most, whatever the tree holds."""
    subtrees = {forum_id: _subtree(forums, forum_id) for forum_id in forum_ids}
    latest: dict[int, ForumNode] = {}
    for forum_id, nodes in subtrees.items():
        active = [node for node in nodes if node.last_post_at is not None and node.last_thread_id is not None]
        if active:
            latest[forum_id] = max(active, key=lambda node: (node.last_post_at, node.last_post_id or 0))
    thread_ids = {node.last_thread_id for node in latest.values() if node.last_thread_id is not None}
    threads = {
        row["id"]: row
        for row in Thread.objects.filter(id__in=thread_ids).values("id", "title", "last_poster_id")
    }
    names = _usernames(row["last_poster_id"] for row in threads.values())
    with_unread = _forums_with_unread(
        viewer, list({node.id for nodes in subtrees.values() for node in nodes if not node.is_category})
    )
    result = []
    for forum_id in forum_ids:
        nodes = subtrees[forum_id]
        last = latest.get(forum_id)
        thread = threads.get(last.last_thread_id) if last is not None and last.last_thread_id else None
        shown = forums[forum_id]
        if last is None or thread is None:
            shown = replace(shown, last_post_id=None, last_post_at=None, last_thread_id=None)
        else:
            shown = replace(
                shown,
                last_post_id=last.last_post_id,
                last_post_at=last.last_post_at,
                last_thread_id=thread["id"],
                last_thread_title=thread["title"],
                last_poster=names.get(thread["last_poster_id"] or 0, ""),
            )
        result.append(
            replace(
                shown,
                total_thread_count=sum(node.thread_count for node in nodes),
                total_post_count=sum(node.post_count for node in nodes),
                is_unread=any(node.id in with_unread for node in nodes),
            )
        )
    return result


def forum_index(*, viewer: Viewer) -> list[ForumNode]:
    """The whole tree for the index page (see forum_tree): four queries. A category with no forum the
    viewer may see under it is left out (a guest would find an empty heading)."""
    forums = forums_visible(viewer=viewer)
    shown = [
        forum_id
        for forum_id, node in forums.items()
        if not node.is_category or any(not sub.is_category for sub in _subtree(forums, forum_id))
    ]
    return forum_tree(viewer=viewer, forums=forums, forum_ids=shown)


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


def _thread_rows(
    rows: Sequence[dict[str, Any]], viewer: Viewer, *, with_names: bool = True
) -> tuple[ThreadRow, ...]:
    names = (
        _usernames([*(row["author_id"] for row in rows), *(row["last_poster_id"] for row in rows)])
        if with_names
        else {}
    )
    signed_in = viewer.user_id is not None
    cutoff = unread_cutoff()
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
                is_new=signed_in and read_position is None and row["last_post_at"] > cutoff,
                is_unread=signed_in
                and read_position is not None
                and read_position < row["last_position"]
                and row["last_post_at"] > cutoff,
                read_position=read_position,
            )
        )
    return tuple(result)


def forum_thread_total(*, viewer: Viewer, forum_id: int) -> int:
    """How many of the forum's threads the viewer sees (``threads_visible_to`` there), in one query that
    does not grow with the forum: its public threads (approved, not deleted) are the count the services
    keep on the forum with them; only those the viewer alone sees are counted, their own awaiting
    moderation or rejected (every such thread for moderators: the moderation queue's few)."""
    forums, threads = Forum._meta.db_table, Thread._meta.db_table
    hidden, params = "0", list[Any]()
    if viewer.moderator or viewer.user_id is not None:
        own = "" if viewer.moderator else 'AND t."author_id" = %s'
        hidden = (
            f'(SELECT count(*) FROM "{threads}" t WHERE t."forum_id" = f."id" AND t."deleted_at" IS NULL '
            f'AND t."state" IN (%s, %s) {own})'
        )
        params = [str(ThreadState.PENDING), str(ThreadState.REJECTED)]
        params += [] if viewer.moderator else [viewer.user_id]
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT f."thread_count" + {hidden} FROM "{forums}" f WHERE f."id" = %s', [*params, forum_id]
        )
        row = cursor.fetchone()
    return int(row[0]) if row is not None else 0


def thread_page(*, viewer: Viewer, forum_id: int, page: int = 1) -> Page[ThreadRow]:
    """A forum's threads the viewer may see: pinned first, then by last activity (three queries)."""
    threads = threads_visible_to(viewer).filter(forum_id=forum_id)
    total = forum_thread_total(viewer=viewer, forum_id=forum_id)
    number = page_in_range(page, total, THREADS_PER_PAGE)
    start = (number - 1) * THREADS_PER_PAGE
    ordered = _with_read_position(threads.order_by("-pinned", "-last_post_at", "-id"), viewer)
    fields = [*_THREAD_FIELDS, "read_position"] if viewer.user_id is not None else list(_THREAD_FIELDS)
    rows = list(ordered.values(*fields)[start : start + THREADS_PER_PAGE])
    return Page(items=_thread_rows(rows, viewer), number=number, per_page=THREADS_PER_PAGE, total=total)


def moderation_queue(*, viewer: Viewer, page: int = 1) -> Page[ThreadRow]:
    """Threads awaiting moderation, oldest first (for moderators)."""
    threads = Thread.objects.filter(deleted_at__isnull=True, state=ThreadState.PENDING)
    total = threads.count()
    number = page_in_range(page, total, THREADS_PER_PAGE)
    start = (number - 1) * THREADS_PER_PAGE
    rows = list(
        threads.order_by("created_at", "id").values(*_THREAD_FIELDS)[start : start + THREADS_PER_PAGE]
    )
    return Page(items=_thread_rows(rows, viewer), number=number, per_page=THREADS_PER_PAGE, total=total)


def thread_row(*, viewer: Viewer, thread_id: int, with_names: bool = True) -> ThreadRow | None:
    """One thread the viewer may see, with their read mark, or None: one query, and one more for the
    author's and last poster's names unless ``with_names`` is False (their ``author`` and
    ``last_poster`` are then empty: the thread page and the services need neither)."""
    # Plain SQL: every page of a thread asks for its row, and the ORM cost several times the query.
    # The same rows as threads_visible_to() with _with_read_position().
    threads, marks = Thread._meta.db_table, ReadMark._meta.db_table
    columns = ", ".join(f't."{name}"' for name in _THREAD_FIELDS)
    params: list[Any] = []
    if viewer.user_id is not None:
        columns += (
            f', (SELECT m."last_read_position" FROM "{marks}" m WHERE m."user_id" = %s '
            'AND m."thread_id" = t."id" LIMIT 1)'
        )
        params.append(viewer.user_id)
    where = 't."id" = %s AND t."deleted_at" IS NULL'
    params.append(thread_id)
    if not viewer.moderator:
        if viewer.user_id is None:
            where += ' AND t."state" = %s'
            params.append(str(ThreadState.APPROVED))
        else:
            where += ' AND (t."state" = %s OR t."author_id" = %s)'
            params += [str(ThreadState.APPROVED), viewer.user_id]
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT {columns} FROM "{threads}" t WHERE {where}', params)
        found = cursor.fetchone()
    if found is None:
        return None
    names = [*_THREAD_FIELDS, "read_position"] if viewer.user_id is not None else list(_THREAD_FIELDS)
    return _thread_rows([dict(zip(names, found, strict=True))], viewer, with_names=with_names)[0]


# --- Posts --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachmentRow:
    id: int
    post_id: int | None
    original_name: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    has_thumbnail: bool

    @property
    def is_image(self) -> bool:
        return self.has_thumbnail


@dataclass(frozen=True)
class ReactionCount:
    kind: str
    count: int
    mine: bool

    @property
    def label(self) -> str:
        return _reaction_label(self.kind, get_language() or "")


@functools.lru_cache(maxsize=256)
def _reaction_label(kind: str, language: str) -> str:
    """A kind's label in a language (the page of posts asks for it for every kind of every post)."""
    return str(REACTION_LABELS.get(kind, kind))


@dataclass(frozen=True)
class AuthorCard:
    """Who wrote a post, as the thread page shows them beside it: one per author of a page."""

    user_id: int
    username: str
    profile_url: str
    avatar_url: str  # empty: no avatar (the card shows the initial)
    signature_html: str  # sanitized when saved: safe as is
    badges: tuple[Badge, ...]  # the statuses they hold now
    role: str  # authorization's Role: user, support, admin
    post_count: int  # posts that count (MemberScore), as their profile shows
    date_joined: datetime.datetime | None
    frame: EquippedFrame | None = None  # the frame they wear, drawn around the avatar

    @property
    def is_staff(self) -> bool:
        return self.role != Role.USER

    @property
    def initial(self) -> str:
        return self.username[:1].upper()

    @property
    def tint(self) -> int:
        """One of the stylesheet's eight backgrounds of an avatar without a picture, the same everywhere."""
        return self.user_id % 8


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
    attachments: tuple[AttachmentRow, ...] = ()
    # One per configured kind, in order; the viewer's own kind, None if they have not reacted.
    reactions: tuple[ReactionCount, ...] = ()
    my_reaction: str | None = None
    # Whether the viewer keeps it (bookmarks); None where no bookmark button is offered (guests, a
    # thread that is not approved).
    bookmarked: bool | None = None
    # The thread page's: the author's card (None unless asked for), and whether this post shows their
    # signature, which a page shows once per author, under their first post on it.
    author_card: AuthorCard | None = None
    signature_shown: bool = False
    # A reply awaiting a moderator's approval (premoderation), shown to its author and moderators only.
    held: bool = False

    @property
    def reaction_counts(self) -> dict[str, int]:
        return {reaction.kind: reaction.count for reaction in self.reactions if reaction.count}


def _visible_posts(thread_id: int) -> QuerySet[Post]:
    return Post.objects.filter(thread_id=thread_id, deleted_at__isnull=True, held=False)


_ATTACHMENT_FIELDS = (
    "id",
    "post_id",
    "original_name",
    "content_type",
    "size",
    "width",
    "height",
    "thumbnail_key",
)


def _attachment_row(row: dict[str, Any]) -> AttachmentRow:
    values = dict(row)
    values["has_thumbnail"] = bool(values.pop("thumbnail_key"))
    return AttachmentRow(**values)


def attachments_of(*, post_ids: Sequence[int]) -> dict[int, tuple[AttachmentRow, ...]]:
    """The attachments of each post, in upload order (one query)."""
    found: dict[int, list[AttachmentRow]] = {}
    if post_ids:
        rows = PostAttachment.objects.filter(post_id__in=list(post_ids)).order_by("id")
        for row in rows.values(*_ATTACHMENT_FIELDS):
            found.setdefault(row["post_id"], []).append(_attachment_row(row))
    return {post_id: tuple(items) for post_id, items in found.items()}


def reaction_kinds() -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(kind).strip() for kind in settings.THREAD_REACTION_KINDS if kind))


def _reactions(counts: dict[str, Any], mine: str | None) -> tuple[ReactionCount, ...]:
    return tuple(
        ReactionCount(kind=kind, count=int(counts.get(kind, 0)), mine=kind == mine)
        for kind in reaction_kinds()
    )


def reaction_labels() -> dict[str, str]:
    """Each kind's label in the active language, for a page to look up once: ``ReactionCount.label``
    finds the language through a context-local each time, and a page of posts shows 120 of them."""
    language = get_language() or ""
    return {kind: _reaction_label(kind, language) for kind in reaction_kinds()}


def reaction_counts_of(counts: dict[str, int]) -> tuple[ReactionCount, ...]:
    """A post's counts (``post_reaction_counts``) as the reactions a page lists, one per configured kind."""
    return _reactions(counts, None)


_POST_FIELDS = (
    "id",
    "thread_id",
    "author_id",
    "position",
    "body",
    "body_html",
    "created_at",
    "edited_at",
    "reaction_counts",
)


def post_page(
    *,
    thread: ThreadRow,
    page: int = 1,
    read_position: int | None = None,
    viewer_id: int | None = None,
    with_author_cards: bool = False,
) -> Page[PostRow]:
    """A page of a thread's posts in order, with the viewer's reaction and bookmark of each and each
    author's post count, in one query (plain SQL: the page every reader opens); their authors' names
    in one more, their attachments in a third only when one of them has some. ``with_author_cards``
    (the thread page): the authors' cards instead of their names, in at most four queries."""
    # The thread keeps the count of its visible posts, changed in the transactions that change them.
    total = thread.reply_count + 1
    number = page_in_range(page, total, POSTS_PER_PAGE)
    start = (number - 1) * POSTS_PER_PAGE
    with connection.cursor() as cursor:
        cursor.execute(
            _post_page_sql(),
            [viewer_id or 0, viewer_id or 0, thread.id, start + 1, thread.id, start + 1, POSTS_PER_PAGE],
        )
        found = cursor.fetchall()
    rows, mine, kept = [], {}, set()
    with_attachments = False
    for values in found:
        row = dict(zip(_POST_FIELDS, values, strict=False))
        # JSON arrives as text through a plain cursor (Django leaves decoding to the field).
        counts = row["reaction_counts"]
        row["reaction_counts"] = json.loads(counts) if counts is not None else None
        reaction, bookmarked, attached, row["author_post_count"] = values[len(_POST_FIELDS) :]
        if reaction is not None:
            mine[row["id"]] = reaction
        if bookmarked:
            kept.add(row["id"])
        with_attachments = with_attachments or attached
        rows.append(row)
    items = _post_rows(
        rows,
        thread=thread,
        read_position=read_position,
        viewer_id=viewer_id,
        known=(mine, kept, with_attachments),
        with_author_cards=with_author_cards,
    )
    return Page(items=items, number=number, per_page=POSTS_PER_PAGE, total=total)


@functools.cache
def _post_page_sql() -> str:
    posts, reactions = Post._meta.db_table, Reaction._meta.db_table
    bookmarks, attachments = Bookmark._meta.db_table, PostAttachment._meta.db_table
    scores = MemberScore._meta.db_table
    columns = {field.attname: field.column for field in Post._meta.concrete_fields}
    listed = ", ".join(f'p."{columns[name]}"' for name in _POST_FIELDS)
    page = ", ".join(f'"{columns[name]}"' for name in _POST_FIELDS)
    # The page is cut first, in the inner query: the per-post lookups then run for its 20 posts only.
    # It starts at the position of the page's first post (no OFFSET, whose cost grows with the page's
    # depth: the last page of a 50,000-post thread skipped 49,980 rows), found from the thread's
    # deleted posts alone (see _deleted_before).
    return (
        f"SELECT {listed}, "
        f'(SELECT r."kind" FROM "{reactions}" r WHERE r."post_id" = p."id" AND r."user_id" = %s LIMIT 1), '
        f'EXISTS (SELECT 1 FROM "{bookmarks}" b WHERE b."post_id" = p."id" AND b."user_id" = %s), '
        f'EXISTS (SELECT 1 FROM "{attachments}" a WHERE a."post_id" = p."id"), '
        f'(SELECT s."post_count" FROM "{scores}" s WHERE s."user_id" = p."author_id") '
        f'FROM (SELECT {page} FROM "{posts}" WHERE "thread_id" = %s AND "deleted_at" IS NULL '
        f'AND NOT "held" AND "position" >= %s + ({_deleted_before_sql()}) '
        'ORDER BY "position" LIMIT %s) p ORDER BY p."position"'
    )


@functools.cache
def _deleted_before_sql() -> str:
    """SQL of how many deleted posts of a thread stand before its ``rank``-th visible post (parameters:
    the thread's id, the rank). A thread's posts that are not held have the positions 1 to its
    ``last_position``, each once (positions are never reused): the ``i``-th deleted one, at ``d``, has
    ``d - i`` visible posts before it, so it stands before the ``rank``-th visible post when that is
    under ``rank``, and that post is at ``rank`` plus their number. It reads the thread's deleted posts
    only (the partial index ``post_thread_deleted``), whatever the depth of the page or the thread's
    length."""
    posts = Post._meta.db_table
    return (
        'SELECT count(*) FROM (SELECT "position" - row_number() OVER (ORDER BY "position") AS visible_before '
        f'FROM "{posts}" WHERE "thread_id" = %s AND "deleted_at" IS NOT NULL AND NOT "held") AS d '
        "WHERE d.visible_before < %s"
    )


def _post_rows(
    rows: Sequence[dict[str, Any]],
    *,
    thread: ThreadRow,
    read_position: int | None,
    viewer_id: int | None,
    known: tuple[dict[int, str], set[int], bool] | None = None,
    with_author_cards: bool = False,
) -> tuple[PostRow, ...]:
    """Posts as a page shows them to the viewer: what they need besides their own row is read for
    all of them at once (post_page, and post_row for one post). ``known``: the viewer's reactions,
    bookmarks and whether any post has attachments, when the caller read them with the posts. With
    ``with_author_cards``, each row carries its author's ``author_post_count``."""
    post_ids = [row["id"] for row in rows]
    cards: dict[int, AuthorCard] = {}
    if with_author_cards:
        cards = _author_cards({row["author_id"]: row["author_post_count"] or 0 for row in rows})
        names = {user_id: card.username for user_id, card in cards.items()}
    else:
        names = _usernames(row["author_id"] for row in rows)
    signed: set[int] = set()
    mine: dict[int, str] = {}
    bookmarks: set[int] = set()
    if known is not None:
        mine, bookmarks, with_attachments = known
        attachments = attachments_of(post_ids=post_ids) if with_attachments else {}
    else:
        attachments = attachments_of(post_ids=post_ids)
        if viewer_id is not None and post_ids:
            mine = dict(
                Reaction.objects.filter(user_id=viewer_id, post_id__in=post_ids).values_list(
                    "post_id", "kind"
                )
            )
        if viewer_id is not None:
            bookmarks = bookmarked_among(user_id=viewer_id, post_ids=post_ids)
    kept: set[int] | None = None
    if viewer_id is not None and thread.state == ThreadState.APPROVED:
        kept = bookmarks
    items = []
    for row in rows:
        counts: dict[str, Any] = row["reaction_counts"] or {}
        card = cards.get(row["author_id"])
        signature_shown = card is not None and bool(card.signature_html) and card.user_id not in signed
        if signature_shown:
            signed.add(row["author_id"])
        items.append(
            PostRow(
                id=row["id"],
                thread_id=row["thread_id"],
                author_id=row["author_id"],
                position=row["position"],
                body=row["body"],
                body_html=row["body_html"],
                created_at=row["created_at"],
                edited_at=row["edited_at"],
                author=names.get(row["author_id"], ""),
                is_unread=read_position is not None and row["position"] > read_position,
                attachments=attachments.get(row["id"], ()),
                reactions=_reactions(counts, mine.get(row["id"])),
                my_reaction=mine.get(row["id"]),
                bookmarked=None if kept is None else row["id"] in kept,
                author_card=card,
                signature_shown=signature_shown,
            )
        )
    return tuple(items)


def _author_cards(post_counts: dict[int, int]) -> dict[int, AuthorCard]:
    """The cards of a page's authors (``post_counts``: author id to their counted posts, read with
    the posts): their profiles in at most three queries and their roles in one, whatever their number.
    An account that is gone has no card."""
    author_ids = list(post_counts)
    profiles = profiles_for(user_ids=author_ids)
    roles = roles_for(user_ids=list(profiles))
    return {
        user_id: AuthorCard(
            user_id=user_id,
            username=profile.username,
            profile_url=profile.profile_url,
            avatar_url=profile.avatar_url,
            signature_html=profile.signature_html,
            badges=profile.badges,
            role=str(roles.get(user_id, Role.USER)),
            post_count=post_counts[user_id],
            date_joined=profile.date_joined,
            frame=profile.frame,
        )
        for user_id, profile in profiles.items()
    }


def page_of_position(*, thread_id: int, position: int) -> int:
    """The page of a thread on which the first visible post at or after ``position`` stands: the
    visible posts before it are the positions before it but the deleted ones (counted through the
    partial index ``post_thread_deleted``: a deep post costs no more than the first)."""
    posts, threads = Post._meta.db_table, Thread._meta.db_table
    with connection.cursor() as cursor:
        # Positions past the thread's last (a held reply's) have no post before them but the last.
        cursor.execute(
            f'SELECT least(%s, t."last_position") - (SELECT count(*) FROM "{posts}" p '
            'WHERE p."thread_id" = t."id" AND p."position" < %s AND p."deleted_at" IS NOT NULL '
            f'AND NOT p."held") FROM "{threads}" t WHERE t."id" = %s',
            [position - 1, position, thread_id],
        )
        row = cursor.fetchone()
    before = max(0, int(row[0])) if row is not None else 0
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
    held: bool = False

    def hidden_from(self, viewer: Viewer) -> bool:
        """Whether the viewer may not see the post, whatever its thread: deleted, or held for a
        moderator and the viewer neither its author nor a moderator."""
        return self.deleted or (
            self.held
            and not viewer.moderator
            and (viewer.user_id is None or viewer.user_id != self.author_id)
        )


def post_location(*, post_id: int) -> PostLocation | None:
    row = (
        Post.objects.filter(pk=post_id)
        .values("id", "thread_id", "position", "author_id", "created_at", "deleted_at", "held")
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
        held=row["held"],
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
            held=False,
            thread__in=threads_visible_to(viewer).filter(forum_id__in=list(forums)),
        ).values("id", "author_id", "author__username")
    )
    return [
        QuotablePost(post_id=row["id"], author_id=row["author_id"], author_name=row["author__username"])
        for row in rows
    ]


@dataclass(frozen=True)
class AttachmentFile:
    """Where an attachment's bytes are, for a download the viewer may make."""

    id: int
    storage_key: str
    thumbnail_key: str
    content_type: str
    original_name: str


def attachment_for_download(*, viewer: Viewer, attachment_id: int) -> AttachmentFile | None:
    """An attachment the viewer may download, or None (a 404) when it does not exist or its post is
    one the thread page would not show them: deleted, in a thread they may not see (pending,
    rejected, deleted), or in a forum they may not read. An upload on no post yet is its uploader's."""
    if not 0 < attachment_id < 2**63:
        return None
    row = (
        PostAttachment.objects.filter(pk=attachment_id)
        .values(
            "id", "post_id", "uploader_id", "storage_key", "thumbnail_key", "content_type", "original_name"
        )
        .first()
    )
    if row is None:
        return None
    if row["post_id"] is None:
        if viewer.user_id is None or row["uploader_id"] != viewer.user_id:
            return None
    else:
        location = post_location(post_id=row["post_id"])
        if location is None or location.hidden_from(viewer):
            return None
        thread = thread_row(viewer=viewer, thread_id=location.thread_id)
        if thread is None or thread.forum_id not in forums_visible(viewer=viewer):
            return None
    return AttachmentFile(
        id=row["id"],
        storage_key=row["storage_key"],
        thumbnail_key=row["thumbnail_key"],
        content_type=row["content_type"],
        original_name=row["original_name"],
    )


def my_reaction(*, user_id: int, post_id: int) -> str | None:
    return Reaction.objects.filter(user_id=user_id, post_id=post_id).values_list("kind", flat=True).first()


REACTORS_PER_PAGE = 50


@dataclass(frozen=True)
class Reactor:
    """A member who reacted to a post, and how."""

    user_id: int
    username: str
    kind: str
    created_at: datetime.datetime

    @property
    def label(self) -> str:
        return _reaction_label(self.kind, get_language() or "")


def reactor_page(
    *, post_id: int, kind: str = "", page: int = 1, per_page: int = REACTORS_PER_PAGE
) -> Page[Reactor]:
    """Who reacted to a post (of ``kind`` only, when given), the latest first: the count and a page
    of them with their names (two queries). Whether the viewer may see the post is the caller's check."""
    reactions = Reaction.objects.filter(post_id=post_id)
    if kind:
        reactions = reactions.filter(kind=kind)
    total = reactions.count()
    number = page_in_range(page, total, per_page)
    start = (number - 1) * per_page
    # The name comes along the one relation every app may follow: the foreign key to the user model.
    rows = reactions.order_by("-created_at", "-id").values("user_id", "user__username", "kind", "created_at")
    items = tuple(
        Reactor(
            user_id=row["user_id"],
            username=row["user__username"],
            kind=row["kind"],
            created_at=row["created_at"],
        )
        for row in rows[start : start + per_page]
    )
    return Page(items=items, number=number, per_page=per_page, total=total)


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
