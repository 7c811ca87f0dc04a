"""Members' forum index and forum pages, rendered once per permission set with holes for each member's marks.

What the index and a forum's page (its subforums and threads) show is the same for every member with the
same effective permissions, language and time zone, except the member's own marks: which forums and
threads they have not read, and their own threads awaiting moderation or rejected. So the HTML of the
forum table and of the thread list is rendered once, for a reader who has the member's permissions but
no id (no marks, no threads of their own), with a hole (``forum.slots``) where each mark goes; it is
kept (``forum.versioned_cache.kept``, in the process's memory too) under the permission-set key, the
language and the zone until the ``thread`` scope moves (every event of this app, pinning, a forum saved
in the admin) or the ``user`` one (a renamed author or last poster), and filled per request:

- the index: the forum table kept; the unread markers from one query (``selectors._forums_with_unread``);
- a forum's page: the forum, its path, its subforums' table and the first page of threads kept in one
  entry (a forum the reader may not see keeps nothing: 404); further pages of threads in entries of
  their own. Per request ONE query (``_own_and_marks``) reads the member's read marks of the page's
  threads and the places of their own threads that only they (and moderators) see, and one more the
  subforums' unread markers when there are subforums. When the member's own threads change which
  threads the page shows (they sit among the others), the page is read and rendered as before: those
  rows, their names and the read marks of the rows not yet read.

Guests are not served from here: their whole pages are in the page cache (forum.pagecache); this module
renders their parts plainly.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from django.db import connection
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import get_language

from apps.authorization.services import permission_set_key
from apps.thread import selectors
from apps.thread.models import ReadMark, Thread, ThreadState
from forum.fragments import render_fragment
from forum.paging import Page, page_in_range
from forum.slots import Slotted
from forum.versioned_cache import kept

__all__ = ["ForumPage", "forum_page", "index_table", "thread_page"]

# The thread app's data, and the names of last posters and authors (the user app's).
SCOPES = ("thread", "user")

FORUM_TABLE = "thread/_forum_table.jinja"
THREAD_LIST = "thread/_thread_list.jinja"


def _shared_reader(viewer: selectors.Viewer) -> selectors.Viewer:
    """Who the shared part is built for: the member's permissions, nobody's marks or own threads."""
    return selectors.Viewer(user_id=None, permissions=viewer.permissions)


def _parts(viewer: selectors.Viewer, *ids: int) -> tuple[object, ...]:
    """What a kept part depends on besides the scopes' data: ``ids``, the permissions, the language and
    the zone (the dates are shown in local time)."""
    return (
        *ids,
        permission_set_key(viewer.permissions),
        get_language(),
        timezone.get_current_timezone_name(),
    )


@dataclass(frozen=True)
class _Rendered:
    """A fragment rendered with holes, and the markup its holes are filled with (the ``variant`` holes
    after it: rendered by the template, so in the page's language)."""

    html: Slotted
    variants: Mapping[str, str]


def _rendered(template: str, context: Mapping[str, object]) -> _Rendered:
    parsed = Slotted.parse(render_fragment(template, {**context, "slotted": True}))
    parts = parsed.parts
    first = next((index for index in range(1, len(parts), 3) if parts[index] == "variant"), len(parts))
    variants = {parts[index + 1]: parts[index + 2].rstrip() for index in range(first, len(parts), 3)}
    return _Rendered(html=Slotted(parts=parts[:first]), variants=variants)


# --- The forum table: the index, a forum's subforums ---------------------------------------------------


@dataclass(frozen=True)
class _Table:
    rendered: _Rendered
    # Each listed forum's id (as its holes carry it) -> the forums of its subtree that hold threads.
    marked: Mapping[str, tuple[int, ...]]
    every: tuple[int, ...]  # all of them: what the unread query asks about


def _table(forums: dict[int, selectors.ForumNode], nodes: list[selectors.ForumNode]) -> _Table | None:
    if not nodes:
        return None
    marked = {
        str(node.id): tuple(sub.id for sub in selectors._subtree(forums, node.id) if not sub.is_category)
        for node in nodes
    }
    return _Table(
        rendered=_rendered(FORUM_TABLE, {"forums": nodes}),
        marked=marked,
        every=tuple(sorted({forum_id for ids in marked.values() for forum_id in ids})),
    )


def _filled_table(viewer: selectors.Viewer, table: _Table | None) -> str:
    """The table with the member's unread markers (one query)."""
    if table is None:
        return ""
    unread = selectors._forums_with_unread(viewer, table.every)
    lit = {name for name, ids in table.marked.items() if any(forum_id in unread for forum_id in ids)}
    on_class, on_badge = " forum-tree__item--unread", table.rendered.variants["unread_badge"]
    return table.rendered.html.fill(
        {
            "forum_unread_class": lambda arg: on_class if arg in lit else "",
            "forum_unread_badge": lambda arg: on_badge if arg in lit else "",
        }
    )


def index_table(*, viewer: selectors.Viewer) -> str:
    """The index's forum table for ``viewer`` ("" when they may see no forum): for a member, kept per
    permission set, language and zone and filled with their unread markers (one query)."""
    if viewer.user_id is None:
        nodes = selectors.forum_index(viewer=viewer)
        return render_fragment(FORUM_TABLE, {"forums": nodes}) if nodes else ""

    def build() -> _Table | None:
        reader = _shared_reader(viewer)
        forums = selectors.forums_visible(viewer=reader)
        # What selectors.forum_index lists, from the forums read once: a category without a forum the
        # reader may see under it is left out.
        shown = [
            forum_id
            for forum_id, node in forums.items()
            if not node.is_category
            or any(not sub.is_category for sub in selectors._subtree(forums, forum_id))
        ]
        return _table(forums, selectors.forum_tree(viewer=reader, forums=forums, forum_ids=shown))

    return _filled_table(viewer, kept("thread.index_table", _parts(viewer), SCOPES, build, local=True))


# --- A forum's page: the forum, its subforums, its threads ---------------------------------------------


@dataclass(frozen=True)
class _Slice:
    """Slice ``number`` (from 0, THREADS_PER_PAGE long) of the forum's threads that every reader with the
    member's permissions sees, rendered with holes; and the list's length when it was built."""

    total: int
    rows: tuple[selectors.ThreadRow, ...]
    rendered: _Rendered


def _build_slice(reader: selectors.Viewer, forum_id: int, number: int) -> _Slice:
    per_page = selectors.THREADS_PER_PAGE
    threads = selectors.threads_visible_to(reader).filter(forum_id=forum_id)
    # The forum's kept count (and, for moderators, its threads awaiting moderation): not a count of its
    # threads, which grows with the forum.
    total = selectors.forum_thread_total(viewer=reader, forum_id=forum_id)
    ordered = threads.order_by("-pinned", "-last_post_at", "-id").values(*selectors._THREAD_FIELDS)
    rows = selectors._thread_rows(list(ordered[number * per_page : (number + 1) * per_page]), reader)
    return _Slice(total=total, rows=rows, rendered=_rendered(THREAD_LIST, {"threads": rows}))


def _shared_slice(viewer: selectors.Viewer, forum_id: int, number: int) -> _Slice:
    return kept(
        "thread.thread_slice",
        _parts(viewer, forum_id, number),
        SCOPES,
        lambda: _build_slice(_shared_reader(viewer), forum_id, number),
        local=True,
    )


@dataclass(frozen=True)
class _ForumPart:
    forum: selectors.ForumNode
    path: tuple[selectors.ForumNode, ...]
    path_html: str  # the breadcrumbs
    subforums: _Table | None
    first: _Slice | None  # the first slice of threads; None for a category


def _breadcrumbs(path: tuple[selectors.ForumNode, ...]) -> str:
    return render_to_string("thread/_path.html", {"path": path})


def _pager(page: Page[selectors.ThreadRow]) -> str:
    """The pager's links (``thread/_pages.html``)."""
    return _pager_of(get_language(), page.number, page.pages)


@functools.lru_cache(maxsize=1024)
def _pager_of(language: str | None, number: int, pages: int) -> str:
    # What the pager shows depends on nothing else: rendered once per language, page and count of pages.
    return render_to_string(
        "thread/_pages.html", {"page": Page(items=(), number=number, per_page=1, total=pages)}
    )


class _Hidden(Exception):
    """The forum is not one the reader may see (or none at all): nothing is kept."""


def _forum_part(viewer: selectors.Viewer, forum_id: int) -> _ForumPart | None:
    def build() -> _ForumPart:
        reader = _shared_reader(viewer)
        forums = selectors.forums_visible(viewer=reader)
        forum = forums.get(forum_id)
        if forum is None:
            raise _Hidden
        nodes = selectors.forum_tree(viewer=reader, forums=forums, forum_ids=forum.children)
        path = tuple(selectors.forum_path(forums=forums, forum_id=forum_id))
        return _ForumPart(
            forum=forum,
            path=path,
            path_html=_breadcrumbs(path),
            subforums=_table(forums, nodes),
            first=None if forum.is_category else _build_slice(reader, forum_id, 0),
        )

    try:
        return kept("thread.forum_page", _parts(viewer, forum_id), SCOPES, build, local=True)
    except _Hidden:
        return None


_SortKey = tuple[bool, float, int]


def _sort_key(pinned: bool, last_post_at: datetime.datetime, thread_id: int) -> _SortKey:
    """The list's order (pinned first, then by last activity, newest first), as an ascending key."""
    return (not pinned, -last_post_at.timestamp(), -thread_id)


def _row_key(row: selectors.ThreadRow) -> _SortKey:
    return _sort_key(row.pinned, row.last_post_at, row.id)


def _own_and_marks(
    viewer: selectors.Viewer, forum_id: int, thread_ids: list[int]
) -> tuple[dict[int, int], dict[int, _SortKey]]:
    """ONE query: the member's read marks of ``thread_ids`` (thread id -> last position read), and the
    places in the list (sort keys) of their own threads in the forum that only they and moderators see,
    awaiting moderation or rejected (none for moderators: the shared part holds every thread)."""
    assert viewer.user_id is not None, "members only"
    mark, thread = ReadMark._meta.db_table, Thread._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT (SELECT json_agg(json_build_array(r."thread_id", r."last_read_position")) '
            f'FROM "{mark}" r WHERE r."user_id" = %s AND r."thread_id" = ANY(%s)), '
            f'(SELECT json_agg(json_build_array(t."id", t."pinned", t."last_post_at")) FROM "{thread}" t '
            'WHERE %s AND t."forum_id" = %s AND t."author_id" = %s AND t."deleted_at" IS NULL '
            'AND t."state" <> %s)',
            [
                viewer.user_id,
                thread_ids,
                not viewer.moderator,
                forum_id,
                viewer.user_id,
                str(ThreadState.APPROVED),
            ],
        )
        row = cursor.fetchone()
    marks, own = row if row is not None else (None, None)
    return (
        {int(thread_id): int(position) for thread_id, position in marks or ()},
        {
            int(thread_id): _sort_key(bool(pinned), datetime.datetime.fromisoformat(str(at)), int(thread_id))
            for thread_id, pinned, at in own or ()
        },
    )


def _untouched(candidate: _Slice, own: dict[int, _SortKey], same_page: bool) -> bool:
    """Whether the member's own threads leave the page as it is for everyone: it is full and they all
    sort after its last thread (the usual case: they wait for a moderator, the others move on)."""
    rows = candidate.rows
    if not same_page or len(rows) < selectors.THREADS_PER_PAGE:
        return False
    last = _row_key(rows[-1])
    return all(key > last for key in own.values())


def _placed(
    shared: list[tuple[int, selectors.ThreadRow]], own: dict[int, _SortKey], start: int, per_page: int
) -> list[selectors.ThreadRow | int]:
    """The page from ``start``: the shared rows (with their indexes in the shared list, a window that
    holds every one that can land on the page) merged with the member's own threads (their ids, by
    sort key) at their places."""
    mine = sorted(own.items(), key=lambda item: item[1])
    placed: list[tuple[int, selectors.ThreadRow | int]] = []
    for shared_index, row in shared:
        key = _row_key(row)
        placed.append((shared_index + sum(1 for _id, own_key in mine if own_key < key), row))
    offset = shared[0][0] if shared else 0
    for own_index, (thread_id, own_key) in enumerate(mine):
        # An own thread's place: the shared threads before it, and the own threads before it. Only the
        # shared threads of the window are looked at: one that sorts before them all (or after them
        # all) lands before this page (or after it) whatever the exact count.
        shared_before = offset + sum(1 for _index, row in shared if _row_key(row) < own_key)
        placed.append((shared_before + own_index, thread_id))
    return [
        item for place, item in sorted(placed, key=lambda pair: pair[0]) if start <= place < start + per_page
    ]


def _marks_of(rows: tuple[selectors.ThreadRow, ...], read: Mapping[int, int]) -> dict[int, tuple[bool, bool]]:
    """Each row's (new, unread) for the member: never opened, or posts after the last one read; nothing
    for threads quiet since before the cutoff."""
    cutoff = selectors.unread_cutoff()
    marks = {}
    for row in rows:
        position = read.get(row.id)
        recent = row.last_post_at > cutoff
        marks[row.id] = (
            recent and position is None,
            recent and position is not None and position < row.last_position,
        )
    return marks


def _filled_list(part: _Slice, read: Mapping[int, int]) -> str:
    marks = {str(thread_id): mark for thread_id, mark in _marks_of(part.rows, read).items()}
    variants = part.rendered.variants
    on_class, new_badge, unread_badge = (
        " thread-list__item--unread",
        variants["new_badge"],
        variants["unread_badge"],
    )
    fillers: dict[str, Callable[[str], str]] = {
        "thread_unread_class": lambda arg: on_class if any(marks[arg]) else "",
        "thread_unread_link": lambda arg: "?unread=1" if marks[arg][1] else "",
        "thread_unread_badge": lambda arg: (
            new_badge if marks[arg][0] else unread_badge if marks[arg][1] else ""
        ),
    }
    return part.rendered.html.fill(fillers)


@dataclass(frozen=True)
class _Threads:
    page: Page[selectors.ThreadRow]  # the rows as shared (no marks: those are in ``read``)
    read: Mapping[int, int]  # the member's read marks of the page's threads
    html: str  # the thread list, with the member's marks


def _member_threads(viewer: selectors.Viewer, forum_id: int, page: int, first: _Slice) -> _Threads:
    per_page = selectors.THREADS_PER_PAGE
    # The page as it is for a member without threads of their own there: what the query's marks are for.
    guess = page_in_range(page, first.total, per_page)
    candidate = first if guess == 1 else _shared_slice(viewer, forum_id, guess - 1)
    read, own = _own_and_marks(viewer, forum_id, [row.id for row in candidate.rows])
    total = first.total + len(own)
    number = page_in_range(page, total, per_page)
    if own and not _untouched(candidate, own, number == guess):
        start = (number - 1) * per_page
        # The shared threads that can land on this page: from `len(own)` places before it (each own
        # thread sorted before them pushes them one place down) to its end.
        low, high = max(0, start - len(own)), start + per_page
        shared: list[tuple[int, selectors.ThreadRow]] = []
        for slice_number in range(low // per_page, (high - 1) // per_page + 1):
            part = candidate if slice_number == guess - 1 else _shared_slice(viewer, forum_id, slice_number)
            shared.extend(enumerate(part.rows, start=slice_number * per_page))
        shown = _placed(shared, own, start, per_page)
        if [item.id if isinstance(item, selectors.ThreadRow) else None for item in shown] != [
            row.id for row in candidate.rows
        ]:
            return _read_as_before(viewer, shown, read, [row.id for row in candidate.rows], number, total)
    items = Page(items=candidate.rows, number=number, per_page=per_page, total=total)
    return _Threads(page=items, read=read, html=_filled_list(candidate, read))


def _read_as_before(
    viewer: selectors.Viewer,
    shown: list[selectors.ThreadRow | int],
    read: dict[int, int],
    asked: list[int],
    number: int,
    total: int,
) -> _Threads:
    """The page when the member's own threads change what it shows: those rows with their names, the
    read marks of the rows the first query did not ask about, rendered as before."""
    own_ids = [item for item in shown if isinstance(item, int)]
    fields = selectors._THREAD_FIELDS
    own_rows = {
        row.id: row
        for row in selectors._thread_rows(
            list(Thread.objects.filter(pk__in=own_ids).values(*fields)), _shared_reader(viewer)
        )
    }
    # An own thread deleted since the first query is left out.
    rows = tuple(
        own_rows[item] if isinstance(item, int) else item
        for item in shown
        if not isinstance(item, int) or item in own_rows
    )
    missing = [row.id for row in rows if row.id not in asked]
    if missing and viewer.user_id is not None:
        read = read | dict(
            ReadMark.objects.filter(user_id=viewer.user_id, thread_id__in=missing).values_list(
                "thread_id", "last_read_position"
            )
        )
    page = Page(items=rows, number=number, per_page=selectors.THREADS_PER_PAGE, total=total)
    html = render_fragment(THREAD_LIST, {"threads": _with_marks(rows, read)})
    return _Threads(page=page, read=read, html=html)


def _with_marks(
    rows: tuple[selectors.ThreadRow, ...], read: Mapping[int, int]
) -> tuple[selectors.ThreadRow, ...]:
    marks = _marks_of(rows, read)
    return tuple(
        replace(row, read_position=read.get(row.id), is_new=marks[row.id][0], is_unread=marks[row.id][1])
        for row in rows
    )


@dataclass(frozen=True)
class ForumPage:
    """What a forum's page shows besides its header and forms."""

    forum: selectors.ForumNode
    path: tuple[selectors.ForumNode, ...]
    path_html: str  # the breadcrumbs
    subforums: str  # the subforums' table, with the reader's unread markers ("" when none)
    # The page of threads: its number, total and rows, for the pager. A member's rows carry no marks of
    # theirs (is_new, is_unread): those are in ``thread_list``.
    threads: Page[selectors.ThreadRow]
    thread_list: str  # the threads, with the reader's marks ("" for none)
    pager: str  # the links to the other pages of threads ("" for one page)


def forum_page(*, viewer: selectors.Viewer, forum_id: int, page: int) -> ForumPage | None:
    """The forum ``forum_id`` as ``viewer`` sees it, at ``page`` of its threads; None when they may not
    see it. For a member: the shared parts kept, filled with their marks (see the module)."""
    per_page = selectors.THREADS_PER_PAGE
    if viewer.user_id is None:
        forums = selectors.forums_visible(viewer=viewer)
        forum = forums.get(forum_id)
        if forum is None:
            return None
        nodes = selectors.forum_tree(viewer=viewer, forums=forums, forum_ids=forum.children)
        threads = selectors.thread_page(viewer=viewer, forum_id=forum_id, page=page)
        path = tuple(selectors.forum_path(forums=forums, forum_id=forum_id))
        return ForumPage(
            forum=forum,
            path=path,
            path_html=_breadcrumbs(path),
            subforums=render_fragment(FORUM_TABLE, {"forums": nodes}) if nodes else "",
            threads=threads,
            thread_list=render_fragment(THREAD_LIST, {"threads": threads.items}) if threads.items else "",
            pager=_pager(threads),
        )
    part = _forum_part(viewer, forum_id)
    if part is None:
        return None
    if part.first is None:
        shown = _Threads(page=Page(items=(), number=1, per_page=per_page, total=0), read={}, html="")
    else:
        shown = _member_threads(viewer, forum_id, page, part.first)
    return ForumPage(
        forum=part.forum,
        path=part.path,
        path_html=part.path_html,
        subforums=_filled_table(viewer, part.subforums),
        threads=shown.page,
        thread_list=shown.html if shown.page.items else "",
        pager=_pager(shown.page),
    )


def thread_page(*, viewer: selectors.Viewer, forum_id: int, page: int) -> Page[selectors.ThreadRow]:
    """``selectors.thread_page`` for ``viewer`` from the kept parts: the rows with the member's marks
    (what ``forum_page`` renders; an empty page for a forum they may not see or a category)."""
    if viewer.user_id is None:
        return selectors.thread_page(viewer=viewer, forum_id=forum_id, page=page)
    part = _forum_part(viewer, forum_id)
    if part is None or part.first is None:
        return Page(items=(), number=1, per_page=selectors.THREADS_PER_PAGE, total=0)
    shown = _member_threads(viewer, forum_id, page, part.first)
    return replace(shown.page, items=_with_marks(shown.page.items, shown.read))
