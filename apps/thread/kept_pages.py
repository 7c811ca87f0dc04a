"""Members' pages of posts from parts built once for many readers (forum.versioned_cache).

The members' forum index and forum pages (their thread lists) are ``apps.thread.kept_lists``'s.
Guests are not served from here: their whole pages are in the page cache (forum.pagecache).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from django.db import connection
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from markupsafe import escape

from apps.authorization.services import permission_set_key
from apps.thread import kept_lists, selectors
from apps.thread.models import Bookmark, Draft, MemberScore, Post, Reaction, Thread, ThreadState
from apps.thread.services._common import thread_scope
from apps.user.services import member_badges_for
from forum.fragments import render_fragment
from forum.paging import Page
from forum.slots import Slotted, page_token
from forum.versioned_cache import kept

# The members' index and thread lists are kept_lists' (the test of their merge calls it from here).
thread_page = kept_lists.thread_page


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
    """A thread's page of posts for one reader: the rows (for a member, as kept: their ids, authors
    and positions; their marks are in ``html``), the fragment of the posts as that reader sees them,
    the member's draft of a reply there (None for guests and for members without one) and whether
    replies awaiting approval wait there for them (theirs; anyone's, for moderators): read with the
    member's marks, in one query."""

    posts: Page[KeptPost] | Page[selectors.PostRow]
    html: SafeString
    draft: selectors.DraftRow | None
    held_waiting: bool


@dataclass(frozen=True)
class KeptPost:
    """A post of a kept page (``_KeptPosts``): what each request needs of it besides its HTML."""

    id: int
    author_id: int
    position: int


@dataclass(frozen=True)
class _KeptPosts:
    """A page of posts rendered for every member with the same permissions (``_kept_posts``). Small:
    it is read for every request (the rows, with the posts' sources, stay in ``thread.post_page``)."""

    posts: Page[KeptPost]
    html: tuple[Slotted, ...]  # each post's HTML with its holes, in the rows' order
    variants: dict[str, str]  # the markup some holes are filled with: unread, bookmark_on, bookmark_off


# What _posts.jinja needs, besides the posts, that decides what the kept HTML shows (views._posts_context).
_CONTEXT_KEYS = ("moderator", "can_react", "can_reply", "can_report", "can_warn")


def _split(html: str) -> tuple[list[tuple[str, Slotted]], dict[str, str]]:
    """The posts of ``_posts.jinja`` rendered with ``kept`` or ``split``: each post's HTML (by the
    argument of its ``end`` hole) and the texts that follow the ``variant`` holes after them."""
    parts = Slotted.parse(html).parts
    posts: list[tuple[str, Slotted]] = []
    variants: dict[str, str] = {}
    current = [parts[0]]
    for index in range(1, len(parts), 3):
        name, arg, text = parts[index : index + 3]
        if name == "end":
            posts.append((arg, Slotted(parts=tuple(current))))
            current = [text]
        elif name == "variant":
            variants[arg] = text.strip()
        else:
            current.extend((name, arg, text))
    return posts, variants


def _kept_rows(thread: selectors.ThreadRow, page: int) -> Page[selectors.PostRow]:
    """The page's rows with their authors' cards, as every reader sees them: kept per language."""
    return kept(
        "thread.post_page",
        (thread.id, page, get_language()),
        _post_scopes(thread.id),
        lambda: _shared_posts(thread, page),
    )


def _kept_posts(
    viewer: selectors.Viewer, thread: selectors.ThreadRow, page: int, context: Mapping[str, Any]
) -> _KeptPosts:
    """The page of posts rendered once per thread, page, permission set, language and time zone (and
    what the page offers: reactions, replies, reports, warnings, bookmarks), as for a member who wrote
    none of them, with holes for the viewer's own bits; kept under the rows' scopes."""
    offers_bookmarks = thread.state == ThreadState.APPROVED
    scopes = _post_scopes(thread.id)

    def build() -> _KeptPosts:
        rows = _kept_rows(thread, page)
        # A member who wrote none of the posts (viewer id 0): their own are rendered per request.
        items = [replace(post, bookmarked=False) for post in rows.items] if offers_bookmarks else rows.items
        values = {**context, "posts": items, "viewer_id": 0, "kept": True}
        posts, variants = _split(render_fragment("thread/_posts.jinja", values))
        slim = tuple(KeptPost(id=post.id, author_id=post.author_id, position=post.position) for post in items)
        return _KeptPosts(
            posts=Page(items=slim, number=rows.number, per_page=rows.per_page, total=rows.total),
            html=tuple(html for _id, html in posts),
            variants=variants,
        )

    key = (
        thread.id,
        page,
        permission_set_key(viewer.permissions),
        get_language(),
        str(timezone.get_current_timezone()),
        offers_bookmarks,
        *(bool(context[name]) for name in _CONTEXT_KEYS),
    )
    # In the process's memory too (the versions are still read): a hot thread's first and last pages
    # are asked for far more often than the rest, and the entry is HTML, not rows to unpickle.
    return kept("thread.post_html", key, scopes, build, local=True)


def post_page(
    *,
    viewer: selectors.Viewer,
    thread: selectors.ThreadRow,
    page: int,
    read_position: int | None,
    context: Mapping[str, Any],
    request: HttpRequest | None,
) -> PostPage:
    """The thread's page of posts for ``viewer``, rendered (``thread/_posts.jinja`` with ``context``,
    ``views._posts_context``). For a member, the HTML of the posts is rendered once (``_kept_posts``)
    and filled per request with their own: their reactions, bookmarks, draft and whether held replies
    wait for them, with the cards' post counts, in one query (``_own``); the cards' status badges in
    one more; the unread marker from ``read_position``, and the CSRF field. The posts they wrote
    themselves (Edit, Delete, no reaction buttons nor Report) are rendered for this request."""
    if viewer.user_id is None:
        posts = selectors.post_page(
            thread=thread, page=page, read_position=read_position, with_author_cards=True
        )
        html = render_fragment("thread/_posts.jinja", {"posts": posts.items, **context}, request)
        return PostPage(posts=posts, html=html, draft=None, held_waiting=False)
    shared = _kept_posts(viewer, thread, page, context)
    rows = shared.posts.items
    author_ids = list({post.author_id for post in rows})
    own = _own(viewer, thread.id, [post.id for post in rows], author_ids)
    badges = member_badges_for(user_ids=author_ids) if author_ids else {}
    theirs = {post.id for post in rows if post.author_id == viewer.user_id}
    mine = _own_posts(thread, page, theirs, own, badges, read_position, context, request) if theirs else {}
    fillers = _fillers(shared, own, badges, read_position, request)
    filled = "".join(
        mine[post.id] if post.id in mine else part.fill(fillers)
        for post, part in zip(rows, shared.html, strict=True)
    )
    # The kept HTML was autoescaped when rendered, and the fillers escape what they insert.
    html = mark_safe(filled)  # noqa: S308
    return PostPage(posts=shared.posts, html=html, draft=own.draft, held_waiting=own.held_waiting)


def _mark_own(
    post: selectors.PostRow,
    own: _Own,
    badges: Mapping[int, tuple[Any, ...]],
    read_position: int | None,
    offers_bookmarks: bool,
) -> selectors.PostRow:
    """A kept row as ``selectors.post_page`` answers it for the member: their marks, the card's live bits."""
    card = post.author_card
    if card is not None:
        card = replace(
            card, post_count=own.post_counts.get(card.user_id, 0), badges=badges.get(card.user_id, ())
        )
    return replace(
        post,
        author_card=card,
        is_unread=read_position is not None and post.position > read_position,
        reactions=selectors._reactions(post.reaction_counts, own.reactions.get(post.id)),
        my_reaction=own.reactions.get(post.id),
        bookmarked=post.id in own.bookmarks if offers_bookmarks else None,
    )


def _own_posts(
    thread: selectors.ThreadRow,
    page: int,
    theirs: set[int],
    own: _Own,
    badges: Mapping[int, tuple[Any, ...]],
    read_position: int | None,
    context: Mapping[str, Any],
    request: HttpRequest | None,
) -> dict[int, str]:
    """The HTML of the posts on the page that the member wrote (``theirs``), rendered for them now from
    the kept rows (one render for all of them). A post the rows no longer hold (they moved on since the
    HTML was read) is left to the kept HTML."""
    offers_bookmarks = thread.state == ThreadState.APPROVED
    rows = [
        _mark_own(post, own, badges, read_position, offers_bookmarks)
        for post in _kept_rows(thread, page).items
        if post.id in theirs
    ]
    if not rows:
        return {}
    values = {**context, "posts": rows, "split": True}
    posts, _variants = _split(render_fragment("thread/_posts.jinja", values, request))
    return {int(post_id): str(html.fill({})) for post_id, html in posts}


def _fillers(
    shared: _KeptPosts,
    own: _Own,
    badges: Mapping[int, tuple[Any, ...]],
    read_position: int | None,
    request: HttpRequest | None,
) -> dict[str, Callable[[str], str]]:
    """What fills the holes of the kept posts for this member (see _posts.jinja)."""
    csrf = (
        format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', page_token(request))
        if request is not None
        else ""
    )
    read = read_position if read_position is not None else 2**63
    kinds = {kind: index for index, kind in enumerate(selectors.reaction_kinds())}
    pressed = {f"{post_id}:{kinds[kind]}" for post_id, kind in own.reactions.items() if kind in kinds}
    unread, on, off = (shared.variants[name] for name in ("unread", "bookmark_on", "bookmark_off"))
    statuses = {
        user_id: "".join(
            f'<li class="badge badge--status" data-status="{escape(badge.code)}">{escape(badge.name)}</li>'
            for badge in held
        )
        for user_id, held in badges.items()
    }
    return {
        "csrf": lambda _arg: csrf,
        "unread_class": lambda arg: " post--unread" if int(arg) > read else "",
        "unread_badge": lambda arg: unread if int(arg) > read else "",
        "mine": lambda arg: " reactions__button--mine" if arg in pressed else "",
        "pressed": lambda arg: "true" if arg in pressed else "false",
        "bookmark": lambda arg: on if int(arg) in own.bookmarks else off,
        "post_count": lambda arg: str(own.post_counts.get(int(arg), 0)),
        "badges": lambda arg: statuses.get(int(arg), ""),
        "badge_list": lambda arg: (
            f'<ul class="author-card__badges">{statuses[int(arg)]}</ul>' if statuses.get(int(arg)) else ""
        ),
    }


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
