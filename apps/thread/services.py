"""Published interface of the thread app: the functions other apps may call.

Functions here take and return plain data (ids, frozen dataclasses), never model instances, so that
each call could become an HTTP call when the app is split into its own service.

Who may do what is the permission engine's answer (apps.authorization.services). Counters on forums
and threads are kept right in the transaction of each change, under row locks taken in one order
(thread, then forum, forums by id) so that concurrent changes neither deadlock nor lose a count.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Count, F, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.authorization.services import limit, permissions_for_many, quota_consume, require
from apps.thread import selectors
from apps.thread.events import (
    PostCreated,
    PostDeleted,
    PostEdited,
    PostRestored,
    ReactionAdded,
    ReactionCleared,
    ThreadApproved,
    ThreadClosed,
    ThreadCreated,
    ThreadDeleted,
    ThreadMoved,
    ThreadRejected,
    ThreadReopened,
)
from apps.thread.models import (
    BODY_MAX_LENGTH,
    BOOKMARK_NOTE_MAX_LENGTH,
    MAX_DEPTH,
    PENDING_ATTACHMENTS_MAX,
    REASON_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Bookmark,
    Draft,
    Forum,
    ForumKind,
    MemberScore,
    Post,
    PostAttachment,
    PostEdit,
    Reaction,
    Thread,
    ThreadState,
)
from forum import bus, pagecache
from forum.errors import Conflict, Forbidden, NotFound, ValidationFailed
from forum.events import Event
from forum.markup import MentionTarget, QuoteTarget, render
from forum.ratelimit import preview_rate_limit_hit
from forum.uploads import delete_unclaimed, delete_upload, store_upload

__all__ = [
    "AttachmentRef",
    "BookmarkRef",
    "DraftRef",
    "ForumRef",
    "PendingThreadRow",
    "PostRef",
    "ReactionRef",
    "ReportedContent",
    "ThreadRef",
    "attachment_count_check",
    "attachment_upload",
    "attachments_delete_orphans",
    "attachments_discard",
    "bookmark_remove",
    "bookmark_set",
    "draft_delete",
    "draft_get",
    "draft_save",
    "drafts_delete_stale",
    "forum_create",
    "forum_names_visible_to",
    "forum_visible_to",
    "moderation_require",
    "post_brief_for_report",
    "post_create",
    "post_delete",
    "post_edit",
    "post_preview",
    "post_restore",
    "reaction_clear",
    "reaction_kinds",
    "reaction_scores_for",
    "reaction_set",
    "thread_approve",
    "thread_brief_for_report",
    "thread_close",
    "thread_create",
    "thread_delete",
    "thread_mark_read",
    "thread_move",
    "thread_pin",
    "thread_readers_filter",
    "thread_reject",
    "thread_reopen",
    "thread_start_check",
    "thread_titles_visible_to",
    "thread_unpin",
    "thread_visible_to",
    "threads_pending",
]

MODERATE = selectors.MODERATE_PERMISSION


def publish(event: Event) -> None:
    """Every fact this app publishes is also something guests' pages show: publish it to the outbox
    and let the cached guest pages go once the transaction commits (forum.pagecache)."""
    bus.publish(event)
    pagecache.changed("thread")


@dataclass(frozen=True)
class ForumRef:
    id: int
    parent_id: int | None
    kind: str
    name: str
    slug: str
    depth: int


@dataclass(frozen=True)
class ThreadRef:
    id: int
    forum_id: int
    author_id: int
    title: str
    slug: str
    state: str
    closed: bool
    pinned: bool
    first_post_id: int | None


@dataclass(frozen=True)
class PostRef:
    id: int
    thread_id: int
    author_id: int
    position: int


def _thread_ref(thread: Thread) -> ThreadRef:
    return ThreadRef(
        id=thread.pk,
        forum_id=thread.forum_id,
        author_id=thread.author_id,
        title=thread.title,
        slug=thread.slug,
        state=thread.state,
        closed=thread.closed,
        pinned=thread.pinned,
        first_post_id=thread.first_post_id,
    )


def _post_ref(post: Post) -> PostRef:
    return PostRef(id=post.pk, thread_id=post.thread_id, author_id=post.author_id, position=post.position)


# --- Bodies -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Body:
    html: str
    mentioned_ids: tuple[int, ...]
    quoted_ids: tuple[int, ...]
    quoted_post_ids: tuple[int, ...]


# Where a mention links to; the user app has no profile page yet, so this is the address it will get.
_PROFILE_URL = "/members/{user_id}/"


def _render_body(source: str, *, viewer: selectors.Viewer) -> _Body:
    """The one place a post's source becomes HTML (forum.markup), with whom it mentions and quotes.

    Quotes resolve only to posts the writer may see; mentions to any account, by username.
    """

    def resolve_mentions(names: Sequence[str]) -> Mapping[str, MentionTarget]:
        found = selectors.member_ids_by_username(usernames=names)
        return {
            name: MentionTarget(user_id=user_id, profile_url=_PROFILE_URL.format(user_id=user_id))
            for name, user_id in found.items()
        }

    def resolve_quotes(post_ids: Sequence[int]) -> Mapping[int, QuoteTarget]:
        return {
            post.post_id: QuoteTarget(
                author_id=post.author_id,
                author_name=post.author_name,
                url=reverse("thread-post", args=[post.post_id]),
            )
            for post in selectors.quotable_posts(viewer=viewer, post_ids=post_ids)
        }

    rendered = render(source, resolve_mentions=resolve_mentions, quote_resolver=resolve_quotes)
    return _Body(
        html=rendered.html,
        mentioned_ids=rendered.mentioned_user_ids,
        quoted_ids=tuple(dict.fromkeys(quote.author_id for quote in rendered.quoted)),
        quoted_post_ids=tuple(quote.post_id for quote in rendered.quoted),
    )


def post_preview(*, author_id: int, body: str) -> str:
    """The HTML ``body`` would be stored with as a post of ``author_id``, rendered exactly as
    ``post_create`` and ``post_edit`` render it (quotes resolve only to posts the writer may see);
    nothing is stored. Longer than a post may be: ValidationFailed (``too_long``). At most
    MARKUP_PREVIEW_PER_MINUTE a minute per member, dialog previews included (RateLimited)."""
    if len(body) > BODY_MAX_LENGTH:
        message = ngettext(
            "At most %(count)d character.", "At most %(count)d characters.", BODY_MAX_LENGTH
        ) % {"count": BODY_MAX_LENGTH}
        raise ValidationFailed(message, code="too_long", fields={"body": [message]})
    preview_rate_limit_hit(user_id=author_id)
    return _render_body(body.strip(), viewer=selectors.viewer_for(user_id=author_id)).html


def _clean_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise ValidationFailed(_("Write something first."), fields={"body": [_("This field is required.")]})
    if len(body) > BODY_MAX_LENGTH:
        message = ngettext(
            "At most %(count)d character.", "At most %(count)d characters.", BODY_MAX_LENGTH
        ) % {"count": BODY_MAX_LENGTH}
        raise ValidationFailed(message, fields={"body": [message]})
    return body


def _clean_title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise ValidationFailed(
            _("Give the thread a title."), fields={"title": [_("This field is required.")]}
        )
    if len(title) > TITLE_MAX_LENGTH:
        message = ngettext(
            "At most %(count)d character.", "At most %(count)d characters.", TITLE_MAX_LENGTH
        ) % {"count": TITLE_MAX_LENGTH}
        raise ValidationFailed(message, fields={"title": [message]})
    return title


def _slug(text: str) -> str:
    return slugify(text, allow_unicode=True)[:TITLE_MAX_LENGTH].strip("-") or "thread"


def _edit_window() -> datetime.timedelta:
    return datetime.timedelta(minutes=int(settings.THREAD_POST_EDIT_WINDOW_MINUTES))


# --- Locks and counters -------------------------------------------------------------------------------


def _thread_for_update(thread_id: int) -> Thread:
    thread = Thread.objects.select_for_update().filter(pk=thread_id, deleted_at__isnull=True).first()
    if thread is None:
        raise NotFound(_("There is no such thread."))
    return thread


def _lock_forums(*forum_ids: int) -> None:
    list(Forum.objects.select_for_update().filter(pk__in=sorted(set(forum_ids))).order_by("pk").values("pk"))


def _posts_counted(changes: Mapping[int, int]) -> None:
    """Add ``changes`` (member id: posts that now count, or no longer do when negative) to the
    members' counted posts (``MemberScore.post_count``), in one statement. Rows are written in the
    order of the ids: two transactions changing the same members lock them in the same order."""
    rows = sorted((user_id, delta) for user_id, delta in changes.items() if delta)
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO thread_memberscore (user_id, reactions_received, post_count) "
            "SELECT changed.user_id, 0, changed.delta "
            "FROM unnest(%s::bigint[], %s::integer[]) AS changed(user_id, delta) ORDER BY changed.user_id "
            "ON CONFLICT (user_id) DO UPDATE SET "
            "post_count = thread_memberscore.post_count + EXCLUDED.post_count",
            [[user_id for user_id, _delta in rows], [delta for _user_id, delta in rows]],
        )


def _posts_by_author(thread_id: int) -> dict[int, int]:
    """How many visible posts each member has in a thread (when the whole thread starts or stops counting)."""
    rows = (
        Post.objects.filter(thread_id=thread_id, deleted_at__isnull=True)
        .values("author_id")
        .annotate(posts=Count("pk"))
        .values_list("author_id", "posts")
    )
    return {int(author_id): int(posts) for author_id, posts in rows}


def _forum_recount(forum_id: int) -> None:
    """Count a forum's public threads and posts again and find its last post (under its lock)."""
    public = Thread.objects.filter(forum_id=forum_id, state=ThreadState.APPROVED, deleted_at__isnull=True)
    totals = public.aggregate(threads=Count("pk"), posts=Sum("post_count"))
    last = public.order_by("-last_post_at", "-id").values("id", "last_post_id", "last_post_at").first()
    Forum.objects.filter(pk=forum_id).update(
        thread_count=totals["threads"] or 0,
        post_count=totals["posts"] or 0,
        last_thread_id=last["id"] if last else None,
        last_post_id=last["last_post_id"] if last else None,
        last_post_at=last["last_post_at"] if last else None,
    )


def _thread_recount(thread: Thread) -> None:
    """A thread's visible posts and its last one, again (after a post is deleted)."""
    visible = Post.objects.filter(thread_id=thread.pk, deleted_at__isnull=True)
    last = visible.order_by("-position").values("id", "created_at", "author_id").first()
    thread.post_count = visible.count()
    if last is not None:
        thread.last_post_id = last["id"]
        thread.last_post_at = last["created_at"]
        thread.last_poster_id = last["author_id"]
    thread.save(update_fields=["post_count", "last_post_id", "last_post_at", "last_poster_id"])


R = TypeVar("R")


def _paid(user_id: int, permission: str, action: Callable[[], R]) -> R:
    """Run ``action`` and take one use of a quota in the same transaction: the use is stored with
    what it paid for and rolled back with it (one commit, not one for the quota and one for the post)."""
    with transaction.atomic():
        quota_consume(user_id=user_id, permission=permission)
        return action()


# --- Forums -------------------------------------------------------------------------------------------


def forum_create(
    *,
    name: str,
    parent_id: int | None = None,
    kind: str = ForumKind.FORUM,
    description: str = "",
    position: int = 0,
    slug: str = "",
    read_permission: str = "forum.read",
    post_permission: str = "thread.create",
) -> ForumRef:
    """A category (top level) or a forum (under a category or another forum), for the admin and demos."""
    name = " ".join(name.split())
    problems: dict[str, list[str]] = {}
    if not name:
        problems["name"] = [_("This field is required.")]
    if kind not in ForumKind.values:
        problems["kind"] = [_("Choose a category or a forum.")]
    depth = 0
    if parent_id is not None:
        parent = Forum.objects.filter(pk=parent_id).values("depth").first()
        if parent is None:
            raise NotFound(_("There is no such forum."))
        depth = parent["depth"] + 1
        if depth >= MAX_DEPTH:
            problems["parent_id"] = [
                ngettext(
                    "Forums nest at most %(count)d level deep.",
                    "Forums nest at most %(count)d levels deep.",
                    MAX_DEPTH,
                )
                % {"count": MAX_DEPTH}
            ]
    if problems:
        raise ValidationFailed(_("The forum is not valid."), fields=problems)
    with transaction.atomic():
        forum = Forum.objects.create(
            parent_id=parent_id,
            kind=kind,
            name=name,
            slug=slug or _slug(name),
            description=description,
            position=position,
            depth=depth,
            read_permission=read_permission,
            post_permission=post_permission,
        )
    return ForumRef(
        id=forum.pk, parent_id=parent_id, kind=forum.kind, name=name, slug=forum.slug, depth=depth
    )


def _forum_for_posting(viewer: selectors.Viewer, forum_id: int) -> selectors.ForumNode:
    forum = selectors.forums_visible(viewer=viewer).get(forum_id)
    if forum is None:
        raise NotFound(_("There is no such forum."))
    if forum.is_category:
        raise ValidationFailed(
            _("Threads are started in forums, not in categories."),
            fields={"forum_id": [_("Choose a forum.")]},
        )
    if not viewer.can(forum.post_permission):
        raise Forbidden(_("You may not post in this forum."))
    return forum


# --- Threads ------------------------------------------------------------------------------------------


def thread_start_check(*, author_id: int, forum_id: int) -> None:
    """Raise what ``thread_create`` would refuse the member for in this forum, whatever they write:
    NotFound, ValidationFailed for a category, Forbidden without the right to post there. The new-thread
    page asks before it shows its form, so that nobody fills in a form only to be refused."""
    require(user_id=author_id, permission="thread.create")
    _forum_for_posting(selectors.viewer_for(user_id=author_id), forum_id)


def thread_create(
    *, author_id: int, forum_id: int, title: str, body: str, attachment_ids: Sequence[int] = ()
) -> ThreadRef:
    """Start a thread with its opening post. Uses one of the day's ``thread.create_per_day``.

    ``attachment_ids`` are the author's uploads not yet on a post (``attachment_upload``), at most
    ``post.attachments_max`` of them.

    A member without ``thread.skip_premoderation`` waits for a moderator: the thread is pending, seen
    by its author and moderators only, and counted nowhere until approved.
    """
    require(user_id=author_id, permission="thread.create")
    viewer = selectors.viewer_for(user_id=author_id)
    _forum_for_posting(viewer, forum_id)
    title = _clean_title(title)
    body = _clean_body(body)
    attachment_ids = attachment_count_check(user_id=author_id, attachment_ids=attachment_ids)
    public = viewer.can("thread.skip_premoderation")
    rendered = _render_body(body, viewer=viewer)

    def create() -> ThreadRef:
        now = timezone.now()
        with transaction.atomic(savepoint=False):  # inside _paid's transaction
            _lock_forums(forum_id)
            thread = Thread.objects.create(
                forum_id=forum_id,
                author_id=author_id,
                title=title,
                slug=_slug(title),
                state=ThreadState.APPROVED if public else ThreadState.PENDING,
                created_at=now,
                last_post_at=now,
                last_poster_id=author_id,
                last_position=1,
                post_count=1,
            )
            post = Post.objects.create(
                thread=thread,
                author_id=author_id,
                position=1,
                body=body,
                body_html=rendered.html,
                created_at=now,
            )
            thread.first_post_id = thread.last_post_id = post.pk
            thread.save(update_fields=["first_post_id", "last_post_id"])
            _attach(author_id, post.pk, attachment_ids)
            _drafts_discard(author_id, forum_id=forum_id)  # sent: the draft of it is done with
            if public:
                Forum.objects.filter(pk=forum_id).update(
                    thread_count=F("thread_count") + 1,
                    post_count=F("post_count") + 1,
                    last_thread_id=thread.pk,
                    last_post_id=post.pk,
                    last_post_at=now,
                )
                _posts_counted({author_id: 1})
                _publish_public(thread, post, rendered)
            # The author has read what they wrote: no "new" marker on their own thread.
            thread_mark_read(user_id=author_id, thread_id=thread.pk, position=1)
        return _thread_ref(thread)

    return _paid(author_id, "thread.create_per_day", create)


def _publish_public(thread: Thread, first_post: Post, rendered: _Body) -> None:
    publish(
        ThreadCreated(
            thread_id=thread.pk,
            forum_id=thread.forum_id,
            author_id=thread.author_id,
            title=thread.title,
            first_post_id=first_post.pk,
        )
    )
    _publish_post_created(thread, first_post, rendered)


def _publish_post_created(thread: Thread, post: Post, rendered: _Body) -> None:
    publish(
        PostCreated(
            post_id=post.pk,
            thread_id=thread.pk,
            forum_id=thread.forum_id,
            author_id=post.author_id,
            position=post.position,
            mentioned_ids=tuple(uid for uid in rendered.mentioned_ids if uid != post.author_id),
            quoted_ids=tuple(uid for uid in rendered.quoted_ids if uid != post.author_id),
            quoted_post_ids=rendered.quoted_post_ids,
        )
    )


def moderation_require(*, user_id: int) -> None:
    """Refuse (403) anyone who may not moderate threads."""
    require(user_id=user_id, permission=MODERATE)


def _moderated(moderator_id: int, thread_id: int, change: Callable[[Thread], list[str] | None]) -> ThreadRef:
    """Lock a thread, let ``change`` alter it (returning the fields changed, or None for no change)."""
    require(user_id=moderator_id, permission=MODERATE)
    with transaction.atomic():
        thread = _thread_for_update(thread_id)
        fields = change(thread)
        if fields:
            thread.save(update_fields=fields)
            pagecache.changed("thread")  # pinning, say, publishes no event but moves the thread
    return _thread_ref(thread)


def thread_close(*, moderator_id: int, thread_id: int) -> ThreadRef:
    """Close a thread to replies (moderators may still reply). Publishes ``thread.closed``."""

    def change(thread: Thread) -> list[str] | None:
        if thread.closed:
            return None
        thread.closed = True
        publish(ThreadClosed(thread_id=thread.pk, forum_id=thread.forum_id, closed_by=moderator_id))
        return ["closed"]

    return _moderated(moderator_id, thread_id, change)


def thread_reopen(*, moderator_id: int, thread_id: int) -> ThreadRef:
    def change(thread: Thread) -> list[str] | None:
        if not thread.closed:
            return None
        thread.closed = False
        publish(ThreadReopened(thread_id=thread.pk, forum_id=thread.forum_id, reopened_by=moderator_id))
        return ["closed"]

    return _moderated(moderator_id, thread_id, change)


def thread_pin(*, moderator_id: int, thread_id: int) -> ThreadRef:
    def change(thread: Thread) -> list[str] | None:
        thread.pinned = True
        return ["pinned"]

    return _moderated(moderator_id, thread_id, change)


def thread_unpin(*, moderator_id: int, thread_id: int) -> ThreadRef:
    def change(thread: Thread) -> list[str] | None:
        thread.pinned = False
        return ["pinned"]

    return _moderated(moderator_id, thread_id, change)


def thread_move(*, moderator_id: int, thread_id: int, forum_id: int) -> ThreadRef:
    """Move a thread to another forum; both forums' counters follow. Publishes ``thread.moved``."""
    require(user_id=moderator_id, permission=MODERATE)
    target = Forum.objects.filter(pk=forum_id).values("kind").first()
    if target is None:
        raise NotFound(_("There is no such forum."))
    if target["kind"] == ForumKind.CATEGORY:
        raise ValidationFailed(
            _("Threads are started in forums, not in categories."),
            fields={"forum_id": [_("Choose a forum.")]},
        )
    with transaction.atomic():
        thread = _thread_for_update(thread_id)
        source = thread.forum_id
        if source == forum_id:
            return _thread_ref(thread)
        _lock_forums(source, forum_id)
        thread.forum_id = forum_id
        thread.save(update_fields=["forum"])
        if thread.state == ThreadState.APPROVED:
            _forum_recount(source)
            _forum_recount(forum_id)
        publish(
            ThreadMoved(
                thread_id=thread.pk, from_forum_id=source, to_forum_id=forum_id, moved_by=moderator_id
            )
        )
    return _thread_ref(thread)


def thread_approve(*, moderator_id: int, thread_id: int) -> ThreadRef:
    """Publish a thread waiting for moderation (or rejected before). Publishes ``thread.approved``,
    then ``thread.created`` and the opening post's ``thread.post_created``: it is public from now."""
    require(user_id=moderator_id, permission=MODERATE)
    with transaction.atomic():
        thread = _thread_for_update(thread_id)
        if thread.state == ThreadState.APPROVED:
            raise Conflict(_("The thread is approved already."))
        _lock_forums(thread.forum_id)
        thread.state = ThreadState.APPROVED
        thread.rejection_reason = ""
        thread.moderated_by_id = moderator_id
        thread.moderated_at = timezone.now()
        thread.save(update_fields=["state", "rejection_reason", "moderated_by_id", "moderated_at"])
        _forum_recount(thread.forum_id)
        _posts_counted(_posts_by_author(thread.pk))
        publish(
            ThreadApproved(
                thread_id=thread.pk,
                forum_id=thread.forum_id,
                author_id=thread.author_id,
                approved_by=moderator_id,
            )
        )
        first_post = Post.objects.get(thread_id=thread.pk, position=1)
        author = selectors.viewer_for(user_id=thread.author_id)
        _publish_public(thread, first_post, _render_body(first_post.body, viewer=author))
    return _thread_ref(thread)


def thread_reject(*, moderator_id: int, thread_id: int, reason: str) -> ThreadRef:
    """Turn down a thread waiting for moderation, telling its author why. Publishes ``thread.rejected``."""
    require(user_id=moderator_id, permission=MODERATE)
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationFailed(
            _("Say why the thread is rejected."), fields={"reason": [_("This field is required.")]}
        )
    if len(reason) > REASON_MAX_LENGTH:
        message = ngettext(
            "At most %(count)d character.", "At most %(count)d characters.", REASON_MAX_LENGTH
        ) % {"count": REASON_MAX_LENGTH}
        raise ValidationFailed(message, fields={"reason": [message]})
    with transaction.atomic():
        thread = _thread_for_update(thread_id)
        if thread.state != ThreadState.PENDING:
            raise Conflict(_("Only a thread awaiting moderation can be rejected."))
        thread.state = ThreadState.REJECTED
        thread.rejection_reason = reason
        thread.moderated_by_id = moderator_id
        thread.moderated_at = timezone.now()
        thread.save(update_fields=["state", "rejection_reason", "moderated_by_id", "moderated_at"])
        publish(
            ThreadRejected(
                thread_id=thread.pk,
                forum_id=thread.forum_id,
                author_id=thread.author_id,
                rejected_by=moderator_id,
                reason=reason,
            )
        )
    return _thread_ref(thread)


def thread_delete(*, moderator_id: int, thread_id: int) -> None:
    """Soft-delete a thread with its posts (moderators). Publishes ``thread.deleted``."""
    require(user_id=moderator_id, permission=MODERATE)
    with transaction.atomic():
        thread = _thread_for_update(thread_id)
        _lock_forums(thread.forum_id)
        thread.deleted_at = timezone.now()
        thread.save(update_fields=["deleted_at"])
        if thread.state == ThreadState.APPROVED:
            _forum_recount(thread.forum_id)
            _posts_counted({author_id: -posts for author_id, posts in _posts_by_author(thread.pk).items()})
        publish(
            ThreadDeleted(
                thread_id=thread.pk,
                forum_id=thread.forum_id,
                author_id=thread.author_id,
                deleted_by=moderator_id,
            )
        )


def thread_mark_read(*, user_id: int, thread_id: int, position: int) -> None:
    """Remember that a member has read a thread up to ``position``; the mark never moves back."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO thread_readmark (user_id, thread_id, last_read_position) VALUES (%s, %s, %s) "
            "ON CONFLICT (user_id, thread_id) DO UPDATE SET last_read_position = "
            "GREATEST(thread_readmark.last_read_position, EXCLUDED.last_read_position)",
            [user_id, thread_id, max(0, position)],
        )


# --- Posts --------------------------------------------------------------------------------------------


def post_create(*, author_id: int, thread_id: int, body: str, attachment_ids: Sequence[int] = ()) -> PostRef:
    """Reply in a thread. Closed threads refuse, except to moderators; a thread waiting for moderation
    takes no replies. Uses one of the day's ``post.create_per_day``. Publishes ``thread.post_created``.

    ``attachment_ids`` are the author's uploads not yet on a post, as for ``thread_create``."""
    require(user_id=author_id, permission="post.create")
    viewer = selectors.viewer_for(user_id=author_id)
    found = selectors.thread_row(viewer=viewer, thread_id=thread_id, with_names=False)
    if found is None:
        raise NotFound(_("There is no such thread."))
    forums = selectors.forums_visible(viewer=viewer)
    _check_can_reply(viewer, forums, found.forum_id, found.state, found.closed)
    body = _clean_body(body)
    attachment_ids = attachment_count_check(user_id=author_id, attachment_ids=attachment_ids)
    rendered = _render_body(body, viewer=viewer)

    def create() -> PostRef:
        with transaction.atomic(savepoint=False):  # inside _paid's transaction
            thread = _thread_for_update(thread_id)
            # The thread may have been closed, moved or sent back to moderation since (the forums'
            # permissions read just before stand: they change by an administrator's hand).
            _check_can_reply(viewer, forums, thread.forum_id, thread.state, thread.closed)
            _lock_forums(thread.forum_id)
            now = timezone.now()
            position = thread.last_position + 1
            post = Post.objects.create(
                thread=thread,
                author_id=author_id,
                position=position,
                body=body,
                body_html=rendered.html,
                created_at=now,
            )
            _attach(author_id, post.pk, attachment_ids)
            _drafts_discard(author_id, thread_id=thread_id)  # sent: the draft of it is done with
            thread.last_position = position
            thread.post_count += 1
            thread.last_post_id = post.pk
            thread.last_post_at = now
            thread.last_poster_id = author_id
            thread.save(
                update_fields=[
                    "last_position",
                    "post_count",
                    "last_post_id",
                    "last_post_at",
                    "last_poster_id",
                ]
            )
            Forum.objects.filter(pk=thread.forum_id).update(
                post_count=F("post_count") + 1,
                last_thread_id=thread.pk,
                last_post_id=post.pk,
                last_post_at=now,
            )
            if thread.state == ThreadState.APPROVED:
                _posts_counted({author_id: 1})
            _publish_post_created(thread, post, rendered)
        thread_mark_read(user_id=author_id, thread_id=thread_id, position=position)
        return _post_ref(post)

    return _paid(author_id, "post.create_per_day", create)


def _check_can_reply(
    viewer: selectors.Viewer, forums: dict[int, selectors.ForumNode], forum_id: int, state: str, closed: bool
) -> None:
    forum = forums.get(forum_id)
    if forum is None:
        raise NotFound(_("There is no such thread."))
    if not viewer.can(forum.post_permission):
        raise Forbidden(_("You may not post in this forum."))
    if state != ThreadState.APPROVED:
        raise Conflict(
            _("The thread awaits moderation; replies open once it is approved."), code="thread_pending"
        )
    if closed and not viewer.moderator:
        raise Forbidden(_("The thread is closed."), code="thread_closed")


def _check_may_change(
    viewer: selectors.Viewer, *, user_id: int, author_id: int, created_at: datetime.datetime, closed: bool
) -> None:
    """Refuse ``user_id`` a change to a post that is not theirs to change (moderators may change any)."""
    if viewer.moderator:
        return
    if author_id != user_id:
        raise Forbidden(_("You may change only your own posts."))
    if closed:
        raise Forbidden(_("The thread is closed."), code="thread_closed")
    if timezone.now() - created_at > _edit_window():
        raise Forbidden(
            ngettext(
                "Posts can be changed for %(minutes)d minute after they are written.",
                "Posts can be changed for %(minutes)d minutes after they are written.",
                int(settings.THREAD_POST_EDIT_WINDOW_MINUTES),
            )
            % {"minutes": int(settings.THREAD_POST_EDIT_WINDOW_MINUTES)},
            code="edit_window_over",
        )


def _post_for_change(user_id: int, post_id: int) -> tuple[selectors.Viewer, Post, Thread]:
    """Lock a post's thread and the post, and check that ``user_id`` may change it."""
    viewer = selectors.viewer_for(user_id=user_id)
    location = selectors.post_location(post_id=post_id)
    if location is None or location.deleted:
        raise NotFound(_("There is no such post."))
    if selectors.thread_row(viewer=viewer, thread_id=location.thread_id, with_names=False) is None:
        raise NotFound(_("There is no such post."))
    thread = _thread_for_update(location.thread_id)
    post = Post.objects.select_for_update().get(pk=post_id)
    if post.deleted_at is not None:
        raise NotFound(_("There is no such post."))
    _check_may_change(
        viewer, user_id=user_id, author_id=post.author_id, created_at=post.created_at, closed=thread.closed
    )
    return viewer, post, thread


def post_edit_check(*, editor_id: int, post_id: int) -> None:
    """Raise what ``post_edit`` by ``editor_id`` would refuse before looking at the change itself
    (NotFound, Forbidden): the edit form is refused the same way as its submission."""
    viewer = selectors.viewer_for(user_id=editor_id)
    location = selectors.post_location(post_id=post_id)
    if location is None or location.deleted:
        raise NotFound(_("There is no such post."))
    row = selectors.thread_row(viewer=viewer, thread_id=location.thread_id, with_names=False)
    if row is None:
        raise NotFound(_("There is no such post."))
    post = Post.objects.filter(pk=post_id).values("author_id", "created_at").first()
    if post is None:
        raise NotFound(_("There is no such post."))
    _check_may_change(
        viewer,
        user_id=editor_id,
        author_id=post["author_id"],
        created_at=post["created_at"],
        closed=row.closed,
    )


def post_edit(
    *,
    editor_id: int,
    post_id: int,
    body: str | None = None,
    attachment_ids: Sequence[int] = (),
    remove_attachment_ids: Sequence[int] = (),
) -> PostRef:
    """Change a post: its author within the edit window, moderators at any time. The text before is
    kept (PostEdit), with the attachments the edit added and removed. Publishes ``thread.post_edited``
    with the members newly mentioned.

    ``body`` None keeps the text. ``attachment_ids`` are the editor's uploads not yet on a post, as
    for ``post_create``; the post then holds at most the editor's ``post.attachments_max`` (removing
    is always allowed). ``remove_attachment_ids`` are attachments of this post: their rows go, and
    their files after the commit. An id that is not what it should be refuses the whole edit (404
    ``attachment_unknown``, whose upload it is never shown)."""
    body = None if body is None else _clean_body(body)
    adding = _attachment_ids_clean(attachment_ids)
    removing = _attachment_ids_clean(remove_attachment_ids)
    most = limit(user_id=editor_id, permission="post.attachments_max") if adding else None
    with transaction.atomic():
        _viewer, post, thread = _post_for_change(editor_id, post_id)
        text_changed = body is not None and body != post.body
        if not text_changed and not adding and not removing:
            return _post_ref(post)
        removed = _detach(post.pk, removing)
        added = _attach_to_edited(editor_id, post.pk, adding)
        if most is not None and added:
            total = PostAttachment.objects.filter(post_id=post.pk).count()
            if total > most:
                message = ngettext(
                    "At most %(count)d attachment on one post.",
                    "At most %(count)d attachments on one post.",
                    most,
                ) % {"count": most}
                raise ValidationFailed(
                    message, code="too_many_attachments", fields={"attachment_ids": [message]}
                )
        now = timezone.now()
        PostEdit.objects.create(
            post=post,
            editor_id=editor_id,
            body_before=post.body,
            edited_at=now,
            attachments_added=added,
            attachments_removed=removed,
        )
        newly: tuple[int, ...] = ()
        fields = ["edited_at"]
        if text_changed:
            assert body is not None
            # Quotes resolve as the author would see them, whoever edits.
            author = selectors.viewer_for(user_id=post.author_id)
            before = _render_body(post.body, viewer=author)
            rendered = _render_body(body, viewer=author)
            newly = tuple(
                uid
                for uid in rendered.mentioned_ids
                if uid not in before.mentioned_ids and uid != post.author_id
            )
            post.body = body
            post.body_html = rendered.html
            fields += ["body", "body_html"]
        post.edited_at = now
        post.save(update_fields=fields)
        if thread.state == ThreadState.APPROVED:
            publish(
                PostEdited(
                    post_id=post.pk,
                    thread_id=thread.pk,
                    author_id=post.author_id,
                    editor_id=editor_id,
                    mentioned_ids=newly,
                )
            )
    return _post_ref(post)


def post_delete(*, user_id: int, post_id: int) -> None:
    """Soft-delete a reply: its author within the edit window, moderators at any time. The opening
    post goes only with its thread (``thread_delete``). Publishes ``thread.post_deleted``."""
    with transaction.atomic():
        _viewer, post, thread = _post_for_change(user_id, post_id)
        if post.position == 1:
            raise ValidationFailed(_("The opening post goes only with its thread."), code="first_post")
        _lock_forums(thread.forum_id)
        post.deleted_at = timezone.now()
        post.deleted_by_id = user_id
        post.save(update_fields=["deleted_at", "deleted_by_id"])
        _thread_recount(thread)
        if thread.state == ThreadState.APPROVED:
            _forum_recount(thread.forum_id)
            _posts_counted({post.author_id: -1})
            publish(
                PostDeleted(
                    post_id=post.pk,
                    thread_id=thread.pk,
                    forum_id=thread.forum_id,
                    author_id=post.author_id,
                    deleted_by=user_id,
                )
            )


def post_restore(*, moderator_id: int, post_id: int) -> PostRef:
    """Show again a reply that was hidden (soft-deleted), by its author or a moderator: moderators
    only. The thread's and the forum's counters count it again and the guests' pages are let go.
    Publishes ``thread.post_restored``. The notifications the deletion took along do not come back."""
    require(user_id=moderator_id, permission=MODERATE)
    viewer = selectors.viewer_for(user_id=moderator_id)
    location = selectors.post_location(post_id=post_id)
    if (
        location is None
        or selectors.thread_row(viewer=viewer, thread_id=location.thread_id, with_names=False) is None
    ):
        raise NotFound(_("There is no such post."))
    with transaction.atomic():
        thread = _thread_for_update(location.thread_id)
        post = Post.objects.select_for_update().get(pk=post_id)
        if post.deleted_at is None:
            raise Conflict(_("The post is not hidden."), code="post_not_hidden")
        _lock_forums(thread.forum_id)
        post.deleted_at = None
        post.deleted_by_id = None
        post.save(update_fields=["deleted_at", "deleted_by_id"])
        _thread_recount(thread)
        if thread.state == ThreadState.APPROVED:
            _forum_recount(thread.forum_id)
            _posts_counted({post.author_id: 1})
            publish(
                PostRestored(
                    post_id=post.pk,
                    thread_id=thread.pk,
                    forum_id=thread.forum_id,
                    author_id=post.author_id,
                    position=post.position,
                    restored_by=moderator_id,
                )
            )
    return _post_ref(post)


# --- Attachments --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttachmentRef:
    id: int
    post_id: int | None
    original_name: str
    content_type: str
    size: int
    width: int | None
    height: int | None
    has_thumbnail: bool


def _attachment_ref(row: PostAttachment) -> AttachmentRef:
    return AttachmentRef(
        id=row.pk,
        post_id=row.post_id,
        original_name=row.original_name,
        content_type=row.content_type,
        size=row.size,
        width=row.width,
        height=row.height,
        has_thumbnail=bool(row.thumbnail_key),
    )


def attachment_count_check(*, user_id: int, attachment_ids: Sequence[int]) -> tuple[int, ...]:
    """The ids without repeats, or ValidationFailed (``too_many_attachments``) when they are more than
    the member's ``post.attachments_max``."""
    unique = tuple(dict.fromkeys(attachment_ids))
    if not unique:
        return unique
    most = limit(user_id=user_id, permission="post.attachments_max")
    if most is not None and len(unique) > most:
        message = ngettext(
            "At most %(count)d attachment on one post.", "At most %(count)d attachments on one post.", most
        ) % {"count": most}
        raise ValidationFailed(message, code="too_many_attachments", fields={"attachment_ids": [message]})
    return unique


def _attach(author_id: int, post_id: int, attachment_ids: Sequence[int]) -> None:
    """Put the author's pending uploads on a new post (inside its transaction); anything else among
    ``attachment_ids`` (another member's, on a post already, unknown) refuses the whole post."""
    if not attachment_ids:
        return
    wanted = [pk for pk in attachment_ids if 0 < pk < 2**63]
    mine = PostAttachment.objects.select_for_update().filter(
        pk__in=wanted, uploader_id=author_id, post__isnull=True
    )
    if len(mine.values_list("pk", flat=True)) != len(attachment_ids):
        message = _("An attachment is not one of your uploads waiting for a post.")
        raise ValidationFailed(message, code="attachment_unknown", fields={"attachment_ids": [message]})
    PostAttachment.objects.filter(pk__in=wanted).update(post_id=post_id)


def _attachment_ids_clean(attachment_ids: Sequence[int]) -> tuple[int, ...]:
    return tuple(dict.fromkeys(attachment_ids))


# What PostEdit keeps of each attachment an edit added or removed: the removed ones' rows are gone.
_AttachmentTrace = dict[str, int | str]


def _attach_to_edited(editor_id: int, post_id: int, attachment_ids: Sequence[int]) -> list[_AttachmentTrace]:
    """Put the editor's pending uploads on a post being edited (inside its transaction, under the
    post's lock). Anything else among ``attachment_ids`` refuses the whole edit with a 404: another
    member's upload is not shown to exist."""
    if not attachment_ids:
        return []
    wanted = [pk for pk in attachment_ids if 0 < pk < 2**63]
    rows = list(
        PostAttachment.objects.select_for_update()
        .filter(pk__in=wanted, uploader_id=editor_id, post__isnull=True)
        .order_by("pk")
        .values_list("pk", "original_name")
    )
    if len(rows) != len(attachment_ids):
        message = _("An attachment is not one of your uploads waiting for a post.")
        raise NotFound(message, code="attachment_unknown", fields={"attachment_ids": [message]})
    PostAttachment.objects.filter(pk__in=wanted).update(post_id=post_id)
    return [{"id": pk, "name": name} for pk, name in rows]


def _detach(post_id: int, attachment_ids: Sequence[int]) -> list[_AttachmentTrace]:
    """Delete attachments of a post (inside its transaction, under the post's lock); their files go
    after the commit. An id that is not on this post refuses the whole edit with a 404."""
    if not attachment_ids:
        return []
    wanted = [pk for pk in attachment_ids if 0 < pk < 2**63]
    rows = list(
        PostAttachment.objects.select_for_update()
        .filter(pk__in=wanted, post_id=post_id)
        .order_by("pk")
        .values_list("pk", "original_name", "storage_key", "thumbnail_key")
    )
    if len(rows) != len(attachment_ids):
        message = _("There is no such attachment on this post.")
        raise NotFound(message, code="attachment_unknown", fields={"remove_attachment_ids": [message]})
    PostAttachment.objects.filter(pk__in=[row[0] for row in rows]).delete()
    for _pk, _name, key, thumbnail in rows:
        # robust: storage that fails now leaves a file behind (logged), never a 500 for a committed edit.
        transaction.on_commit(partial(delete_upload, key, thumbnail or None), robust=True)
    return [{"id": pk, "name": name} for pk, name, _key, _thumbnail in rows]


def attachment_upload(
    *, uploader_id: int, file: UploadedFile[bytes], field_name: str = "file"
) -> AttachmentRef:
    """Store a file for a post still being written (the kernel checks type and size and strips
    metadata); it stays the uploader's alone until a post takes it by id. Members who may post and
    attach files only, with at most PENDING_ATTACHMENTS_MAX uploads waiting at once."""
    require(user_id=uploader_id, permission="post.create")
    if limit(user_id=uploader_id, permission="post.attachments_max") == 0:
        raise Forbidden(_("You may not attach files."), code="attachments_not_allowed")
    waiting = PostAttachment.objects.filter(uploader_id=uploader_id, post__isnull=True).count()
    if waiting >= PENDING_ATTACHMENTS_MAX:
        raise Conflict(
            _("Too many uploads are waiting for a post (%(count)d); post or discard them first.")
            % {"count": waiting},
            code="too_many_pending_attachments",
        )
    row = store_upload(
        file,
        field_name=field_name,
        keep=lambda fields: PostAttachment.objects.create(
            uploader_id=uploader_id, created_at=timezone.now(), **fields
        ),
    )
    return _attachment_ref(row)


def attachments_discard(*, uploader_id: int, attachment_ids: Sequence[int]) -> int:
    """Delete the member's uploads among ``attachment_ids`` that no post took; their files go after
    the commit. Returns how many were deleted."""
    wanted = [pk for pk in attachment_ids if 0 < pk < 2**63]
    with transaction.atomic():
        rows = list(
            PostAttachment.objects.select_for_update()
            .filter(pk__in=wanted, uploader_id=uploader_id, post__isnull=True)
            .values_list("pk", "storage_key", "thumbnail_key")
        )
        PostAttachment.objects.filter(pk__in=[pk for pk, _key, _thumb in rows]).delete()
        for _pk, key, thumbnail in rows:
            transaction.on_commit(partial(delete_upload, key, thumbnail or None))
    return len(rows)


# Uploads deleted per transaction by ``attachments_delete_orphans``.
ORPHAN_BATCH_SIZE = 100


def attachments_delete_orphans(
    *, older_than: datetime.timedelta | None = None, batch_size: int = ORPHAN_BATCH_SIZE
) -> int:
    """Delete uploads that no post took within ``older_than`` (THREAD_UPLOAD_ORPHAN_HOURS by default),
    rows and files (thumbnails too), ``batch_size`` at a time. Returns how many went.

    Only uploads without a post: a soft-deleted post keeps its attachments for the moderators. How
    the batches go (locked rows skipped, files before rows) is ``forum.uploads.delete_unclaimed``.
    """
    if older_than is None:
        older_than = datetime.timedelta(hours=float(settings.THREAD_UPLOAD_ORPHAN_HOURS))
    unclaimed = PostAttachment.objects.filter(post__isnull=True, created_at__lt=timezone.now() - older_than)
    return delete_unclaimed(unclaimed, batch_size=batch_size)


# --- Reactions ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReactionRef:
    post_id: int
    kind: str | None
    counts: dict[str, int]


def reaction_kinds() -> tuple[str, ...]:
    """The kinds of reaction of the settings (THREAD_REACTION_KINDS), in order."""
    return selectors.reaction_kinds()


def _post_for_reaction(user_id: int, post_id: int) -> Post:
    """Lock a post the member may see and react to; 404 for one they may not see."""
    require(user_id=user_id, permission="reaction.add")
    viewer = selectors.viewer_for(user_id=user_id)
    location = selectors.post_location(post_id=post_id)
    if location is None or location.deleted:
        raise NotFound(_("There is no such post."))
    thread = selectors.thread_row(viewer=viewer, thread_id=location.thread_id, with_names=False)
    if thread is None or thread.forum_id not in selectors.forums_visible(viewer=viewer):
        raise NotFound(_("There is no such post."))
    if thread.state != ThreadState.APPROVED:
        raise Conflict(_("The thread awaits moderation."), code="thread_pending")
    if location.author_id == user_id:
        raise Conflict(_("You cannot react to your own post."), code="own_post")
    post = (
        Post.objects.select_for_update()
        .only("id", "thread_id", "author_id", "deleted_at", "reaction_counts")
        .filter(pk=post_id)
        .first()
    )
    if post is None or post.deleted_at is not None:
        raise NotFound(_("There is no such post."))
    return post


def _count(post: Post, kind: str, delta: int) -> None:
    counts = dict(post.reaction_counts or {})
    value = int(counts.get(kind, 0)) + delta
    if value > 0:
        counts[kind] = value
    else:
        counts.pop(kind, None)
    post.reaction_counts = counts


def _score(user_id: int, delta: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO thread_memberscore (user_id, reactions_received) VALUES (%s, %s) "
            "ON CONFLICT (user_id) DO UPDATE SET reactions_received = "
            "thread_memberscore.reactions_received + EXCLUDED.reactions_received",
            [user_id, delta],
        )


def reaction_set(*, user_id: int, post_id: int, kind: str) -> ReactionRef:
    """React to another member's post, or change the kind of one's reaction. The post's counts and
    its author's score change in the same transaction, under the post's row lock, so concurrent
    reactions never lose a count. Publishes ``thread.reaction_added`` unless nothing changed."""
    if kind not in reaction_kinds():
        message = _("Choose one of: %(kinds)s.") % {"kinds": ", ".join(reaction_kinds())}
        raise ValidationFailed(message, code="unknown_reaction", fields={"kind": [message]})
    with transaction.atomic():
        post = _post_for_reaction(user_id, post_id)
        existing = Reaction.objects.filter(post_id=post_id, user_id=user_id).first()
        if existing is not None and existing.kind == kind:
            return ReactionRef(post_id=post_id, kind=kind, counts=dict(post.reaction_counts))
        if existing is None:
            Reaction.objects.create(post_id=post_id, user_id=user_id, kind=kind, created_at=timezone.now())
            _score(post.author_id, 1)
        else:
            _count(post, existing.kind, -1)
            existing.kind = kind
            existing.save(update_fields=["kind"])
        _count(post, kind, 1)
        post.save(update_fields=["reaction_counts"])
        publish(
            ReactionAdded(
                post_id=post_id,
                thread_id=post.thread_id,
                post_author_id=post.author_id,
                reactor_id=user_id,
                kind=kind,
            )
        )
    return ReactionRef(post_id=post_id, kind=kind, counts=dict(post.reaction_counts))


def reaction_clear(*, user_id: int, post_id: int) -> ReactionRef:
    """Take one's reaction back (nothing happens when there is none). Publishes
    ``thread.reaction_cleared`` when there was one."""
    with transaction.atomic():
        post = _post_for_reaction(user_id, post_id)
        existing = Reaction.objects.filter(post_id=post_id, user_id=user_id).first()
        if existing is not None:
            existing.delete()
            _count(post, existing.kind, -1)
            post.save(update_fields=["reaction_counts"])
            _score(post.author_id, -1)
            publish(
                ReactionCleared(
                    post_id=post_id,
                    thread_id=post.thread_id,
                    post_author_id=post.author_id,
                    reactor_id=user_id,
                    kind=existing.kind,
                )
            )
    return ReactionRef(post_id=post_id, kind=None, counts=dict(post.reaction_counts))


def reaction_scores_for(*, user_ids: Sequence[int]) -> dict[int, int]:
    """Reactions received by each member's posts, in one query; 0 for members without any."""
    wanted = {user_id for user_id in user_ids if 0 < user_id < 2**63}
    found = dict(MemberScore.objects.filter(user_id__in=wanted).values_list("user_id", "reactions_received"))
    return {user_id: int(found.get(user_id, 0)) for user_id in wanted}


# --- Who may see what, for other apps -----------------------------------------------------------------
# Other apps (notifications first) ask here before they tell a member about a thread, so that nobody
# learns of a thread they could not open. The answers are the thread page's own rules.


def thread_visible_to(*, user_id: int, thread_id: int) -> bool:
    """Whether the member may read the thread, as its page decides (False for no such thread)."""
    return selectors.thread_is_readable(viewer=selectors.viewer_for(user_id=user_id), thread_id=thread_id)


def forum_visible_to(*, user_id: int, forum_id: int) -> bool:
    """Whether the member may see the forum (its read permission and its parents')."""
    return forum_id in selectors.forums_visible(viewer=selectors.viewer_for(user_id=user_id))


def thread_readers_filter(*, thread_id: int, user_ids: Collection[int]) -> set[int]:
    """The members among ``user_ids`` who may read the thread, in three queries whatever their number
    (the thread, the forum tree, everyone's permissions at once): what a reply to a thread with a
    thousand watchers costs. Accounts that are gone or deactivated are left out."""
    wanted = {user_id for user_id in user_ids if 0 < user_id < 2**63}
    if not wanted or not 0 < thread_id < 2**63:
        return set()
    thread = (
        Thread.objects.filter(pk=thread_id, deleted_at__isnull=True)
        .values("forum_id", "state", "author_id")
        .first()
    )
    if thread is None:
        return set()
    forums = {
        pk: (parent_id, read)
        for pk, parent_id, read in Forum.objects.values_list("pk", "parent_id", "read_permission")
    }
    chain: list[str] = []
    forum_id: int | None = thread["forum_id"]
    while forum_id is not None and len(chain) <= MAX_DEPTH:
        if forum_id not in forums:
            return set()
        forum_id, read_permission = forums[forum_id]
        chain.append(read_permission)
    readers = set()
    for user_id, held in permissions_for_many(user_ids=wanted).items():
        if held.user_id is None:  # no account, or a deactivated one
            continue
        viewer = selectors.Viewer(user_id=user_id, permissions=held)
        if not all(viewer.can(permission) for permission in chain):
            continue
        if (
            thread["state"] != ThreadState.APPROVED
            and thread["author_id"] != user_id
            and not viewer.moderator
        ):
            continue
        readers.add(user_id)
    return readers


def thread_titles_visible_to(*, user_id: int | None, thread_ids: Collection[int]) -> dict[int, str]:
    """The titles of the threads among ``thread_ids`` the member may read (three queries); the others
    are left out, as if they did not exist."""
    wanted = [thread_id for thread_id in set(thread_ids) if 0 < thread_id < 2**63]
    if not wanted:
        return {}
    viewer = selectors.viewer_for(user_id=user_id)
    forums = selectors.forums_visible(viewer=viewer)
    rows = (
        selectors.threads_visible_to(viewer)
        .filter(pk__in=wanted, forum_id__in=list(forums))
        .values_list("pk", "title")
    )
    return {int(pk): str(title) for pk, title in rows}


def forum_names_visible_to(*, user_id: int | None, forum_ids: Collection[int]) -> dict[int, str]:
    """The names of the forums among ``forum_ids`` the member may see (two queries)."""
    forums = selectors.forums_visible(viewer=selectors.viewer_for(user_id=user_id))
    return {forum_id: forums[forum_id].name for forum_id in set(forum_ids) if forum_id in forums}


# What a report keeps of the words reported, as plain Markdown source on one line.
REPORT_EXCERPT_LENGTH = 500


@dataclass(frozen=True)
class ReportedContent:
    """A post or a thread as the member reporting it sees it (the support app files the report)."""

    kind: str  # "post" or "thread"
    id: int
    thread_id: int
    thread_title: str
    author_id: int
    excerpt: str  # the post's (or the opening post's) source, on one line, shortened


def _report_excerpt(body: str) -> str:
    text = " ".join(body.split())
    return text if len(text) <= REPORT_EXCERPT_LENGTH else text[: REPORT_EXCERPT_LENGTH - 1] + "…"


def post_brief_for_report(*, viewer_id: int, post_id: int) -> ReportedContent | None:
    """The post, when the member may see it (not deleted, in a thread and forum they may read); None
    otherwise, as for no such post. Two queries."""
    if not 0 < post_id < 2**63:
        return None
    viewer = selectors.viewer_for(user_id=viewer_id)
    forums = selectors.forums_visible(viewer=viewer)
    row = (
        Post.objects.filter(
            pk=post_id,
            deleted_at__isnull=True,
            thread__in=selectors.threads_visible_to(viewer).filter(forum_id__in=list(forums)),
        )
        .values("id", "thread_id", "thread__title", "author_id", "body")
        .first()
    )
    if row is None:
        return None
    return ReportedContent(
        kind="post",
        id=row["id"],
        thread_id=row["thread_id"],
        thread_title=row["thread__title"],
        author_id=row["author_id"],
        excerpt=_report_excerpt(row["body"]),
    )


def thread_brief_for_report(*, viewer_id: int, thread_id: int) -> ReportedContent | None:
    """The thread (its opening post's words as the excerpt), when the member may read it; None
    otherwise, as for no such thread. Three queries."""
    if not selectors.thread_is_readable(viewer=selectors.viewer_for(user_id=viewer_id), thread_id=thread_id):
        return None
    row = Thread.objects.filter(pk=thread_id).values("id", "title", "author_id", "first_post_id").first()
    if row is None:
        return None
    first_body = ""
    if row["first_post_id"] is not None:
        first_body = (
            Post.objects.filter(pk=row["first_post_id"], deleted_at__isnull=True)
            .values_list("body", flat=True)
            .first()
            or ""
        )
    return ReportedContent(
        kind="thread",
        id=row["id"],
        thread_id=row["id"],
        thread_title=row["title"],
        author_id=row["author_id"],
        excerpt=_report_excerpt(first_body),
    )


# --- Bookmarks ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookmarkRef:
    post_id: int
    note: str
    created_at: datetime.datetime


def _post_to_bookmark(user_id: int, post_id: int, *, keeping: bool) -> None:
    """Refuse a post the member may not see (404, as for one that does not exist); to keep one, its
    thread must also be public (409 ``thread_pending``): the list shows nothing else."""
    viewer = selectors.viewer_for(user_id=user_id)
    location = selectors.post_location(post_id=post_id) if 0 < post_id < 2**63 else None
    if location is None or location.deleted:
        raise NotFound(_("There is no such post."))
    thread = selectors.thread_row(viewer=viewer, thread_id=location.thread_id, with_names=False)
    if thread is None or thread.forum_id not in selectors.forums_visible(viewer=viewer):
        raise NotFound(_("There is no such post."))
    if keeping and thread.state != ThreadState.APPROVED:
        raise Conflict(_("The thread awaits moderation."), code="thread_pending")


def _clean_note(note: str) -> str:
    note = " ".join(note.split())
    if len(note) > BOOKMARK_NOTE_MAX_LENGTH:
        message = ngettext(
            "At most %(count)d character.", "At most %(count)d characters.", BOOKMARK_NOTE_MAX_LENGTH
        ) % {"count": BOOKMARK_NOTE_MAX_LENGTH}
        raise ValidationFailed(message, fields={"note": [message]})
    return note


def bookmark_set(*, user_id: int, post_id: int, note: str | None = None) -> BookmarkRef:
    """Keep a post the member may see, once, with a short note of theirs (at most
    BOOKMARK_NOTE_MAX_LENGTH characters); on a post kept already, change the note. ``note`` None
    leaves the note as it is (empty on a new bookmark)."""
    cleaned = None if note is None else _clean_note(note)
    _post_to_bookmark(user_id, post_id, keeping=True)
    with transaction.atomic():
        bookmark, created = Bookmark.objects.get_or_create(
            user_id=user_id, post_id=post_id, defaults={"note": cleaned or "", "created_at": timezone.now()}
        )
        if not created and cleaned is not None and cleaned != bookmark.note:
            bookmark.note = cleaned
            bookmark.save(update_fields=["note"])
    return BookmarkRef(post_id=post_id, note=bookmark.note, created_at=bookmark.created_at)


def bookmark_remove(*, user_id: int, post_id: int) -> None:
    """Stop keeping a post (nothing happens when it is not kept); 404 for a post the member may not see."""
    _post_to_bookmark(user_id, post_id, keeping=False)
    Bookmark.objects.filter(user_id=user_id, post_id=post_id).delete()


# --- Drafts -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DraftRef:
    """What a member is writing: a reply in ``thread_id`` (no title) or a new thread in ``forum_id``."""

    thread_id: int | None
    forum_id: int | None
    title: str
    body: str
    updated_at: datetime.datetime


def _draft_target(user_id: int, thread_id: int | None, forum_id: int | None, *, writing: bool) -> None:
    """Refuse a draft's target the member may not see, or, to write one, may not post in (404 both:
    a draft is only for where the member could send it)."""
    if (thread_id is None) == (forum_id is None):
        raise ValidationFailed(
            _("A draft is of a reply in a thread or of a new thread in a forum."), code="draft_target"
        )
    viewer = selectors.viewer_for(user_id=user_id)
    forums = selectors.forums_visible(viewer=viewer)
    if thread_id is not None:
        thread = (
            selectors.thread_row(viewer=viewer, thread_id=thread_id, with_names=False)
            if 0 < thread_id < 2**63
            else None
        )
        forum = None if thread is None else forums.get(thread.forum_id)
        if thread is None or forum is None:
            raise NotFound(_("There is no such thread."))
        may_post = (
            viewer.can("post.create")
            and viewer.can(forum.post_permission)
            and thread.state == ThreadState.APPROVED
            and (not thread.closed or viewer.moderator)
        )
    else:
        assert forum_id is not None
        found = forums.get(forum_id) if 0 < forum_id < 2**63 else None
        if found is None:
            raise NotFound(_("There is no such forum."))
        may_post = not found.is_category and viewer.can("thread.create") and viewer.can(found.post_permission)
    if writing and not may_post:
        raise NotFound(_("You may not post here."), code="cannot_post")


def _draft_texts(title: str, body: str, *, reply: bool) -> None:
    """The limits of a post and of a title; a reply has no title."""
    problems: dict[str, list[str]] = {}
    if reply and title.strip():
        problems["title"] = [_("A reply has no title.")]
    elif len(title) > TITLE_MAX_LENGTH:
        problems["title"] = [
            ngettext("At most %(count)d character.", "At most %(count)d characters.", TITLE_MAX_LENGTH)
            % {"count": TITLE_MAX_LENGTH}
        ]
    if len(body) > BODY_MAX_LENGTH:
        problems["body"] = [
            ngettext("At most %(count)d character.", "At most %(count)d characters.", BODY_MAX_LENGTH)
            % {"count": BODY_MAX_LENGTH}
        ]
    if problems:
        raise ValidationFailed(next(iter(problems.values()))[0], fields=problems)


def _drafts_discard(user_id: int, *, thread_id: int | None = None, forum_id: int | None = None) -> None:
    if thread_id is not None:
        Draft.objects.filter(user_id=user_id, thread_id=thread_id).delete()
    elif forum_id is not None:
        Draft.objects.filter(user_id=user_id, forum_id=forum_id).delete()


def draft_save(
    *,
    user_id: int,
    thread_id: int | None = None,
    forum_id: int | None = None,
    title: str = "",
    body: str = "",
) -> DraftRef | None:
    """Keep what the member is writing, as it is, in place of what was kept before: a reply in a
    thread they may reply in, or a new thread in a forum they may start threads in (404 otherwise).
    Nothing written (title and body blank) deletes the draft and returns None. The limits are a
    post's and a title's (400); sending the post or thread deletes its draft."""
    _draft_texts(title, body, reply=thread_id is not None)
    _draft_target(user_id, thread_id, forum_id, writing=True)
    if not title.strip() and not body.strip():
        _drafts_discard(user_id, thread_id=thread_id, forum_id=forum_id)
        return None
    # One of the two is set (_draft_target checked); the other stays empty on a new row.
    target = {"thread_id": thread_id} if thread_id is not None else {"forum_id": forum_id}
    with transaction.atomic():
        draft, _created = Draft.objects.update_or_create(
            user_id=user_id,
            **target,
            defaults={"title": title, "body": body, "updated_at": timezone.now()},
        )
    return DraftRef(
        thread_id=thread_id,
        forum_id=forum_id,
        title=draft.title,
        body=draft.body,
        updated_at=draft.updated_at,
    )


def draft_get(*, user_id: int, thread_id: int | None = None, forum_id: int | None = None) -> DraftRef | None:
    """The member's draft in a thread or forum they may see (404 otherwise), or None. It stays theirs
    to read when they may no longer post there (a thread closed since), so that nothing is lost."""
    _draft_target(user_id, thread_id, forum_id, writing=False)
    row = selectors.draft_of(user_id=user_id, thread_id=thread_id, forum_id=forum_id)
    if row is None:
        return None
    return DraftRef(
        thread_id=row.thread_id,
        forum_id=row.forum_id,
        title=row.title,
        body=row.body,
        updated_at=row.updated_at,
    )


def draft_delete(*, user_id: int, thread_id: int | None = None, forum_id: int | None = None) -> None:
    """Throw the member's draft away (nothing happens when there is none); 404 as for ``draft_get``."""
    _draft_target(user_id, thread_id, forum_id, writing=False)
    _drafts_discard(user_id, thread_id=thread_id, forum_id=forum_id)


def drafts_delete_stale() -> int:
    """Delete the drafts nobody touched for THREAD_DRAFT_MAX_AGE_DAYS (the periodic task); how many."""
    cutoff = timezone.now() - datetime.timedelta(days=float(settings.THREAD_DRAFT_MAX_AGE_DAYS))
    deleted, _by_model = Draft.objects.filter(updated_at__lt=cutoff).delete()
    return int(deleted)


@dataclass(frozen=True)
class PendingThreadRow:
    """A thread awaiting moderation, as the moderation queue lists it."""

    id: int
    forum_id: int
    author_id: int
    author: str
    title: str
    created_at: datetime.datetime


def threads_pending(*, moderator_id: int, page: int = 1) -> tuple[tuple[PendingThreadRow, ...], int]:
    """Threads awaiting moderation, oldest first, and how many there are in all (``thread.moderate``;
    403 otherwise). A fixed number of queries whatever the page holds."""
    require(user_id=moderator_id, permission=MODERATE)
    found = selectors.moderation_queue(viewer=selectors.viewer_for(user_id=moderator_id), page=page)
    rows = tuple(
        PendingThreadRow(
            id=row.id,
            forum_id=row.forum_id,
            author_id=row.author_id,
            author=row.author,
            title=row.title,
            created_at=row.created_at,
        )
        for row in found.items
    )
    return rows, found.total
