"""The forums a viewer may see: the viewer, the tree, its unread markers, the path to a forum."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from apps.authorization.services import PermissionSet, permissions_for
from apps.thread.models import (
    Forum,
    ForumKind,
    Thread,
    ThreadState,
)
from apps.user.services import users_brief
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
    if not counters:
        return dict(_structure_visible(viewer))
    return _visible_of(_forum_rows(), viewer)


# The structure's visible forums per answer to its read permissions, for the structure kept now:
# (the kept rows, what the viewer may read of them) -> the nodes. Bounded: a few permission sets.
_VISIBLE_LIMIT = 32
_visible_kept: dict[tuple[int, tuple[bool, ...]], tuple[list[dict[str, Any]], dict[int, ForumNode]]] = {}


def _structure_visible(viewer: Viewer) -> dict[int, ForumNode]:
    """``forums_visible(counters=False)``, computed once per kept structure and per answer of the
    viewer's permissions to the forums' read permissions (the only thing of theirs it depends on)."""
    rows = _structure_rows()
    codes = sorted({str(row["read_permission"]) for row in rows})
    key = (id(rows), tuple(viewer.can(code) for code in codes))
    found = _visible_kept.get(key)
    if found is not None and found[0] is rows:
        return found[1]
    nodes = _visible_of(rows, viewer)
    if len(_visible_kept) >= _VISIBLE_LIMIT:
        _visible_kept.clear()
    _visible_kept[key] = (rows, nodes)  # the rows held too: their id is not reused while kept here
    return nodes


def _visible_of(rows: Iterable[dict[str, Any]], viewer: Viewer) -> dict[int, ForumNode]:
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
