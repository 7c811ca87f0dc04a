"""Members' forum index and thread lists from parts built once per permission set (forum.versioned_cache).

What the index and a forum's thread list show is the same for every member with the same effective
permissions, except the member's own marks: which forums and threads they have not read, and their own
threads awaiting moderation. The shared part is built with a reader who has the member's permissions
but no id (so no marks and no threads of their own), kept under the permission-set key until the
``thread`` scope moves (every event of this app, pinning, a forum saved in the admin) or the ``user``
one (a renamed last poster); the marks are read for each request:

- the index: the forum tree (counters, last thread and poster, subtrees) kept, in the process's memory
  too; the unread markers per request (one query, ``selectors._forums_with_unread``);
- a thread list page: the page of threads (its count, rows and names) kept; per request the member's
  read marks of the page's threads (one query) and whether they have a thread of their own awaiting
  moderation or rejected in the forum (one query): when they do, the page is read as before, since
  those threads sit among the others.

Guests are not served from here: their whole pages are in the page cache (forum.pagecache).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace

from django.db import connection
from django.utils.translation import get_language

from apps.authorization.services import permission_set_key
from apps.thread import selectors
from apps.thread.models import Bookmark, Draft, MemberScore, Post, Reaction, ReadMark, Thread, ThreadState
from apps.thread.services._common import thread_scope
from apps.user.services import member_badges_for
from forum.paging import Page, page_in_range
from forum.versioned_cache import kept

# The thread app's data, and the names of last posters and authors (the user app's).
SCOPES = ("thread", "user")


def _shared_reader(viewer: selectors.Viewer) -> selectors.Viewer:
    """Who the shared part is built for: the member's permissions, nobody's marks or own threads."""
    return selectors.Viewer(user_id=None, permissions=viewer.permissions)


@dataclass(frozen=True)
class _Index:
    forums: tuple[selectors.ForumNode, ...]
    # Each listed forum's forums (itself and its subforums) that hold threads: its unread marker's scope.
    marked: tuple[tuple[int, ...], ...]


def forum_index(*, viewer: selectors.Viewer) -> list[selectors.ForumNode]:
    """``selectors.forum_index`` for ``viewer``: the tree kept, the unread markers read now."""
    if viewer.user_id is None:
        return selectors.forum_index(viewer=viewer)

    def build() -> _Index:
        reader = _shared_reader(viewer)
        forums = selectors.forums_visible(viewer=reader)
        nodes = selectors.forum_index(viewer=reader)
        marked = tuple(
            tuple(sub.id for sub in selectors._subtree(forums, node.id) if not sub.is_category)
            for node in nodes
        )
        return _Index(forums=tuple(nodes), marked=marked)

    index = kept("thread.forum_index", (permission_set_key(viewer.permissions),), SCOPES, build, local=True)
    every = sorted({forum_id for ids in index.marked for forum_id in ids})
    unread = selectors._forums_with_unread(viewer, every)
    return [
        replace(node, is_unread=any(forum_id in unread for forum_id in ids))
        for node, ids in zip(index.forums, index.marked, strict=True)
    ]


def _own_unapproved(viewer: selectors.Viewer, forum_id: int) -> tuple[selectors.ThreadRow, ...]:
    """The member's own threads in the forum that only they (and moderators) see: awaiting moderation
    or rejected. One query (and one for the names when there are some); none for moderators, whose
    shared part holds every thread already."""
    if viewer.user_id is None or viewer.moderator:
        return ()
    threads = Thread.objects.filter(
        forum_id=forum_id, author_id=viewer.user_id, deleted_at__isnull=True
    ).exclude(state=ThreadState.APPROVED)
    rows = list(threads.values(*selectors._THREAD_FIELDS))
    return selectors._thread_rows(rows, _shared_reader(viewer)) if rows else ()


def _order(row: selectors.ThreadRow) -> tuple[bool, object, int]:
    """The list's order (pinned first, then by last activity, newest first), as a sort key: ascending."""
    return (not row.pinned, -row.last_post_at.timestamp(), -row.id)


@dataclass(frozen=True)
class _Slice:
    total: int  # the shared list's length when this slice was built
    rows: tuple[selectors.ThreadRow, ...]


def _shared_slice(viewer: selectors.Viewer, forum_id: int, number: int) -> _Slice:
    """Slice ``number`` (from 0, THREADS_PER_PAGE long) of the forum's threads every reader with the
    member's permissions sees, and the list's length: kept."""
    per_page = selectors.THREADS_PER_PAGE

    def build() -> _Slice:
        reader = _shared_reader(viewer)
        threads = selectors.threads_visible_to(reader).filter(forum_id=forum_id)
        total = threads.count()
        ordered = threads.order_by("-pinned", "-last_post_at", "-id").values(*selectors._THREAD_FIELDS)
        rows = list(ordered[number * per_page : (number + 1) * per_page])
        return _Slice(total=total, rows=selectors._thread_rows(rows, reader))

    key = (forum_id, number, permission_set_key(viewer.permissions))
    return kept("thread.thread_slice", key, SCOPES, build)


def thread_page(*, viewer: selectors.Viewer, forum_id: int, page: int) -> Page[selectors.ThreadRow]:
    """``selectors.thread_page`` for ``viewer``: the shared list's slices kept, the member's own
    unapproved threads merged in at their places, and their read marks read now."""
    if viewer.user_id is None:
        return selectors.thread_page(viewer=viewer, forum_id=forum_id, page=page)
    per_page = selectors.THREADS_PER_PAGE
    own = sorted(_own_unapproved(viewer, forum_id), key=_order)
    first = _shared_slice(viewer, forum_id, 0)
    total = first.total + len(own)
    number = page_in_range(page, total, per_page)
    start = (number - 1) * per_page
    # The shared threads that can land on this page: from `len(own)` places before it (each own thread
    # sorted before them pushes them one place down) to its end.
    low, high = max(0, start - len(own)), start + per_page
    shared: list[selectors.ThreadRow] = []
    for slice_number in range(low // per_page, (high - 1) // per_page + 1):
        part = first if slice_number == 0 else _shared_slice(viewer, forum_id, slice_number)
        shared.extend(part.rows)
    offset = (low // per_page) * per_page  # the shared list's index of shared[0]
    merged = sorted(
        [(offset + index, row) for index, row in enumerate(shared)], key=lambda pair: _order(pair[1])
    )
    placed: list[tuple[int, selectors.ThreadRow]] = []
    for shared_index, row in merged:
        before = sum(1 for mine in own if _order(mine) < _order(row))
        placed.append((shared_index + before, row))
    for own_index, mine in enumerate(own):
        # An own thread's place: the shared threads before it, and the own threads before it. Only the
        # shared threads of the window are looked at: one that sorts before them all (or after them
        # all) lands before this page (or after it) whatever the exact count.
        shared_before = offset + sum(1 for row in shared if _order(row) < _order(mine))
        placed.append((shared_before + own_index, mine))
    rows = [
        row for place, row in sorted(placed, key=lambda pair: pair[0]) if start <= place < start + per_page
    ]
    return Page(items=_with_marks(viewer, rows), number=number, per_page=per_page, total=total)


def _with_marks(viewer: selectors.Viewer, rows: list[selectors.ThreadRow]) -> tuple[selectors.ThreadRow, ...]:
    """The rows with the member's read marks (one query) and what they make: New, Unread."""
    assert viewer.user_id is not None, "members only: guests' pages are in the page cache"
    read = dict(
        ReadMark.objects.filter(user_id=viewer.user_id, thread_id__in=[row.id for row in rows]).values_list(
            "thread_id", "last_read_position"
        )
    )
    cutoff = selectors.unread_cutoff()
    return tuple(
        replace(
            row,
            read_position=read.get(row.id),
            is_new=row.id not in read and row.last_post_at > cutoff,
            is_unread=row.id in read and read[row.id] < row.last_position and row.last_post_at > cutoff,
        )
        for row in rows
    )


# What a page of posts shows besides the thread's own posts: the authors' names, avatars and signatures
# (user), the frames they wear (frame), their roles (authorization). Their post counts and status badges
# change without the thread changing (a post elsewhere, a status's end): read for each request.
def _post_scopes(thread_id: int) -> tuple[str, ...]:
    return (thread_scope(thread_id), "user", "frame", "authorization")


def _shared_posts(thread: selectors.ThreadRow, page: int) -> Page[selectors.PostRow]:
    # The thread's count of posts is read again here, after the versions: the row the request read
    # before them may be older than the posts this reads, and would be kept with them.
    count = Thread.objects.filter(pk=thread.id).values_list("post_count", flat=True).first()
    current = thread if count is None else replace(thread, reply_count=max(0, int(count) - 1))
    return selectors.post_page(thread=current, page=page, with_author_cards=True)


@dataclass(frozen=True)
class PostPage:
    """A thread's page of posts for one reader, the member's draft of a reply there (None for guests
    and for members without one) and whether replies awaiting approval wait there for them (theirs;
    anyone's, for moderators): read with the member's marks, in one query."""

    posts: Page[selectors.PostRow]
    draft: selectors.DraftRow | None
    held_waiting: bool


def post_page(
    *, viewer: selectors.Viewer, thread: selectors.ThreadRow, page: int, read_position: int | None
) -> PostPage:
    """``selectors.post_page(..., with_author_cards=True)`` for ``viewer``: the posts and their authors'
    cards built once per thread, page and language and kept until the thread's version (or the user,
    frame or authorization scope) moves; for this request, the member's own (their reactions,
    bookmarks, draft, whether held replies wait for them) with the cards' post counts in one query
    (``_own``), and the cards' status badges in one more; what they have not read comes from
    ``read_position``."""
    if viewer.user_id is None:
        posts = selectors.post_page(
            thread=thread, page=page, read_position=read_position, with_author_cards=True
        )
        return PostPage(posts=posts, draft=None, held_waiting=False)
    shared = kept(
        "thread.post_page",
        (thread.id, page, get_language()),
        _post_scopes(thread.id),
        lambda: _shared_posts(thread, page),
    )
    author_ids = list({post.author_id for post in shared.items})
    own = _own(viewer, thread.id, [post.id for post in shared.items], author_ids)
    badges = member_badges_for(user_ids=author_ids) if author_ids else {}
    offers_bookmarks = thread.state == ThreadState.APPROVED
    items = []
    for post in shared.items:
        card = post.author_card
        if card is not None:
            card = replace(
                card, post_count=own.post_counts.get(card.user_id, 0), badges=badges.get(card.user_id, ())
            )
        items.append(
            replace(
                post,
                author_card=card,
                is_unread=read_position is not None and post.position > read_position,
                reactions=selectors._reactions(post.reaction_counts, own.reactions.get(post.id)),
                my_reaction=own.reactions.get(post.id),
                bookmarked=post.id in own.bookmarks if offers_bookmarks else None,
            )
        )
    posts = Page(items=tuple(items), number=shared.number, per_page=shared.per_page, total=shared.total)
    return PostPage(posts=posts, draft=own.draft, held_waiting=own.held_waiting)


@dataclass(frozen=True)
class _Own:
    reactions: dict[int, str]  # post id -> the member's reaction to it
    bookmarks: frozenset[int]  # the posts they keep
    post_counts: dict[int, int]  # author id -> their post count (MemberScore)
    draft: selectors.DraftRow | None  # their draft of a reply in the thread
    held_waiting: bool  # replies awaiting approval there that they see (``selectors.held_posts``)


def _own(viewer: selectors.Viewer, thread_id: int, post_ids: list[int], author_ids: list[int]) -> _Own:
    """What a member's page of posts reads from this app's tables for each request, in ONE query: the
    member's reaction to each post, the posts they keep, the authors' post counts, the member's draft
    of a reply in the thread (what ``selectors.draft_of`` reads) and whether there are replies awaiting
    approval that they see (what ``selectors.held_posts`` reads, then only when there are)."""
    user_id = viewer.user_id
    reaction, bookmark = Reaction._meta.db_table, Bookmark._meta.db_table
    score, draft_table, post = MemberScore._meta.db_table, Draft._meta.db_table, Post._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT (SELECT json_agg(json_build_array(r."post_id", r."kind")) FROM "{reaction}" r '
            'WHERE r."user_id" = %s AND r."post_id" = ANY(%s)), '
            f'(SELECT json_agg(b."post_id") FROM "{bookmark}" b '
            'WHERE b."user_id" = %s AND b."post_id" = ANY(%s)), '
            f'(SELECT json_agg(json_build_array(s."user_id", s."post_count")) FROM "{score}" s '
            'WHERE s."user_id" = ANY(%s)), '
            f'(SELECT json_build_array(d."title", d."body", d."updated_at") FROM "{draft_table}" d '
            'WHERE d."user_id" = %s AND d."thread_id" = %s LIMIT 1), '
            f'EXISTS (SELECT 1 FROM "{post}" p WHERE p."thread_id" = %s AND p."held" '
            'AND p."deleted_at" IS NULL AND (%s OR p."author_id" = %s))',
            [
                *(user_id, post_ids, user_id, post_ids, author_ids),
                *(user_id, thread_id),
                *(thread_id, viewer.moderator, user_id),
            ],
        )
        row = cursor.fetchone()
    reactions, bookmarks, counts, draft, held = row if row is not None else (None, None, None, None, True)
    return _Own(
        reactions={int(post_id): str(kind) for post_id, kind in reactions or ()},
        bookmarks=frozenset(int(post_id) for post_id in bookmarks or ()),
        post_counts={int(author_id): int(count) for author_id, count in counts or ()},
        draft=None
        if draft is None
        else selectors.DraftRow(
            thread_id=thread_id,
            forum_id=None,
            title=str(draft[0]),
            body=str(draft[1]),
            updated_at=datetime.datetime.fromisoformat(str(draft[2])),
        ),
        held_waiting=bool(held),
    )
