"""Posts: pages of posts (by position, not OFFSET), author cards, attachments, reactions, quotes."""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils.translation import get_language

from apps.authorization.services import Role, roles_for
from apps.thread.models import (
    REACTION_LABELS,
    Bookmark,
    Forum,
    MemberScore,
    Post,
    PostAttachment,
    Reaction,
    Thread,
    ThreadState,
)
from apps.thread.selectors.bookmarks import bookmarked_among
from apps.thread.selectors.forums import (
    POSTS_PER_PAGE,
    Viewer,
    _usernames,
    forums_visible,
)
from apps.thread.selectors.threads import (
    ThreadRow,
    thread_row,
    threads_visible_to,
)
from apps.user.services import Badge, EquippedFrame, profiles_for
from forum.paging import Page, page_in_range

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
