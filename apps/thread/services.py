"""Published interface of the thread app: the functions other apps may call.

Functions here take and return plain data (ids, frozen dataclasses), never model instances, so that
each call could become an HTTP call when the app is split into its own service.

Who may do what is the permission engine's answer (apps.authorization.services). Counters on forums
and threads are kept right in the transaction of each change, under row locks taken in one order
(thread, then forum, forums by id) so that concurrent changes neither deadlock nor lose a count.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
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

from apps.authorization.services import limit, quota_consume, quota_refund, require
from apps.thread import selectors
from apps.thread.events import (
    PostCreated,
    PostDeleted,
    PostEdited,
    ReactionAdded,
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
    MAX_DEPTH,
    PENDING_ATTACHMENTS_MAX,
    REASON_MAX_LENGTH,
    TITLE_MAX_LENGTH,
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
from forum.bus import publish
from forum.errors import Conflict, Forbidden, NotFound, ValidationFailed
from forum.markup import MentionTarget, QuoteTarget, render
from forum.uploads import accept_upload, default_policy, delete_upload

__all__ = [
    "AttachmentRef",
    "ForumRef",
    "PostRef",
    "ReactionRef",
    "ThreadRef",
    "attachment_count_check",
    "attachment_upload",
    "attachments_discard",
    "forum_create",
    "moderation_require",
    "post_create",
    "post_delete",
    "post_edit",
    "reaction_clear",
    "reaction_kinds",
    "reaction_scores_for",
    "reaction_set",
    "thread_approve",
    "thread_close",
    "thread_create",
    "thread_delete",
    "thread_mark_read",
    "thread_move",
    "thread_pin",
    "thread_reject",
    "thread_reopen",
    "thread_unpin",
]

MODERATE = selectors.MODERATE_PERMISSION


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


def _clean_body(body: str) -> str:
    body = body.strip()
    if not body:
        raise ValidationFailed(_("Write something first."), fields={"body": [_("This field is required.")]})
    if len(body) > BODY_MAX_LENGTH:
        message = _("At most %(count)d characters.") % {"count": BODY_MAX_LENGTH}
        raise ValidationFailed(message, fields={"body": [message]})
    return body


def _clean_title(title: str) -> str:
    title = " ".join(title.split())
    if not title:
        raise ValidationFailed(
            _("Give the thread a title."), fields={"title": [_("This field is required.")]}
        )
    if len(title) > TITLE_MAX_LENGTH:
        message = _("At most %(count)d characters.") % {"count": TITLE_MAX_LENGTH}
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
    """Run ``action`` on one use of a quota, given back if the action fails."""
    use = quota_consume(user_id=user_id, permission=permission)
    try:
        return action()
    except BaseException:
        quota_refund(user_id=user_id, permission=permission, use_id=use.use_id)
        raise


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
            problems["parent_id"] = [_("Forums nest at most %(count)d levels deep.") % {"count": MAX_DEPTH}]
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
        with transaction.atomic():
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
            if public:
                Forum.objects.filter(pk=forum_id).update(
                    thread_count=F("thread_count") + 1,
                    post_count=F("post_count") + 1,
                    last_thread_id=thread.pk,
                    last_post_id=post.pk,
                    last_post_at=now,
                )
                _publish_public(thread, post, rendered)
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
        message = _("At most %(count)d characters.") % {"count": REASON_MAX_LENGTH}
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
    found = selectors.thread_row(viewer=viewer, thread_id=thread_id)
    if found is None:
        raise NotFound(_("There is no such thread."))
    _check_can_reply(viewer, found.forum_id, found.state, found.closed)
    body = _clean_body(body)
    attachment_ids = attachment_count_check(user_id=author_id, attachment_ids=attachment_ids)
    rendered = _render_body(body, viewer=viewer)

    def create() -> PostRef:
        with transaction.atomic():
            thread = _thread_for_update(thread_id)
            _check_can_reply(viewer, thread.forum_id, thread.state, thread.closed)  # it may have changed
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
            _publish_post_created(thread, post, rendered)
        thread_mark_read(user_id=author_id, thread_id=thread_id, position=position)
        return _post_ref(post)

    return _paid(author_id, "post.create_per_day", create)


def _check_can_reply(viewer: selectors.Viewer, forum_id: int, state: str, closed: bool) -> None:
    forum = selectors.forums_visible(viewer=viewer).get(forum_id)
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


def _post_for_change(user_id: int, post_id: int) -> tuple[selectors.Viewer, Post, Thread]:
    """Lock a post's thread and the post, and check that ``user_id`` may change it."""
    viewer = selectors.viewer_for(user_id=user_id)
    location = selectors.post_location(post_id=post_id)
    if location is None or location.deleted:
        raise NotFound(_("There is no such post."))
    if selectors.thread_row(viewer=viewer, thread_id=location.thread_id) is None:
        raise NotFound(_("There is no such post."))
    thread = _thread_for_update(location.thread_id)
    post = Post.objects.select_for_update().get(pk=post_id)
    if post.deleted_at is not None:
        raise NotFound(_("There is no such post."))
    if viewer.moderator:
        return viewer, post, thread
    if post.author_id != user_id:
        raise Forbidden(_("You may change only your own posts."))
    if thread.closed:
        raise Forbidden(_("The thread is closed."), code="thread_closed")
    if timezone.now() - post.created_at > _edit_window():
        raise Forbidden(
            _("Posts can be changed for %(minutes)d minutes after they are written.")
            % {"minutes": int(settings.THREAD_POST_EDIT_WINDOW_MINUTES)},
            code="edit_window_over",
        )
    return viewer, post, thread


def post_edit(*, editor_id: int, post_id: int, body: str) -> PostRef:
    """Change a post: its author within the edit window, moderators at any time. The text before is
    kept (PostEdit). Publishes ``thread.post_edited`` with the members newly mentioned."""
    body = _clean_body(body)
    with transaction.atomic():
        _viewer, post, thread = _post_for_change(editor_id, post_id)
        if body == post.body:
            return _post_ref(post)
        # Quotes resolve as the author would see them, whoever edits.
        author = selectors.viewer_for(user_id=post.author_id)
        before = _render_body(post.body, viewer=author)
        rendered = _render_body(body, viewer=author)
        now = timezone.now()
        PostEdit.objects.create(post=post, editor_id=editor_id, body_before=post.body, edited_at=now)
        post.body = body
        post.body_html = rendered.html
        post.edited_at = now
        post.save(update_fields=["body", "body_html", "edited_at"])
        if thread.state == ThreadState.APPROVED:
            newly = tuple(
                uid
                for uid in rendered.mentioned_ids
                if uid not in before.mentioned_ids and uid != post.author_id
            )
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
            publish(
                PostDeleted(
                    post_id=post.pk,
                    thread_id=thread.pk,
                    forum_id=thread.forum_id,
                    author_id=post.author_id,
                    deleted_by=user_id,
                )
            )


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
        message = _("At most %(count)d attachments on one post.") % {"count": most}
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
    accepted = accept_upload(file, filename=file.name or "", policy=default_policy(), field_name=field_name)
    try:
        with transaction.atomic():
            row = PostAttachment.objects.create(
                uploader_id=uploader_id,
                storage_key=accepted.storage_key,
                thumbnail_key=accepted.thumbnail_key or "",
                content_type=accepted.content_type,
                size=accepted.size,
                sha256=accepted.sha256,
                original_name=accepted.original_name,
                width=accepted.width,
                height=accepted.height,
                created_at=timezone.now(),
            )
    except BaseException:
        delete_upload(accepted.storage_key, accepted.thumbnail_key)  # no file without its row
        raise
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
    thread = selectors.thread_row(viewer=viewer, thread_id=location.thread_id)
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
    """Take one's reaction back (nothing happens when there is none)."""
    with transaction.atomic():
        post = _post_for_reaction(user_id, post_id)
        existing = Reaction.objects.filter(post_id=post_id, user_id=user_id).first()
        if existing is not None:
            existing.delete()
            _count(post, existing.kind, -1)
            post.save(update_fields=["reaction_counts"])
            _score(post.author_id, -1)
    return ReactionRef(post_id=post_id, kind=None, counts=dict(post.reaction_counts))


def reaction_scores_for(*, user_ids: Sequence[int]) -> dict[int, int]:
    """Reactions received by each member's posts, in one query; 0 for members without any."""
    wanted = {user_id for user_id in user_ids if 0 < user_id < 2**63}
    found = dict(MemberScore.objects.filter(user_id__in=wanted).values_list("user_id", "reactions_received"))
    return {user_id: int(found.get(user_id, 0)) for user_id in wanted}
