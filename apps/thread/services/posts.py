"""Posts: preview, reply, edit, delete and restore, with the thread's and the forum's counters."""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.authorization.services import limit, require
from apps.thread import selectors
from apps.thread.events import (
    PostDeleted,
    PostEdited,
    PostHeld,
    PostRestored,
)
from apps.thread.models import (
    BODY_MAX_LENGTH,
    Forum,
    Post,
    PostAttachment,
    PostEdit,
    Thread,
    ThreadState,
)
from apps.thread.services._common import (
    MODERATE,
    _Body,
    _clean_body,
    _edit_window,
    _forum_recount,
    _lock_forums,
    _paid,
    _posts_counted,
    _publish_post_created,
    _render_body,
    _thread_for_update,
    _thread_recount,
    publish,
)
from apps.thread.services.attachments import (
    _attach,
    _attach_to_edited,
    _attachment_ids_clean,
    _detach,
    attachment_count_check,
)
from apps.thread.services.drafts import _drafts_discard
from apps.thread.services.refs import PostRef, _post_ref
from apps.thread.services.threads import thread_mark_read
from forum import bus
from forum.errors import Conflict, Forbidden, NotFound, ValidationFailed
from forum.ratelimit import preview_rate_limit_hit


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


# Without it (an escalation's "premoderate" takes it away), a member's replies wait for a moderator.
SKIP_PREMODERATION = "post.skip_premoderation"


def post_create(*, author_id: int, thread_id: int, body: str, attachment_ids: Sequence[int] = ()) -> PostRef:
    """Reply in a thread. Closed threads refuse, except to moderators; a thread waiting for moderation
    takes no replies. Uses one of the day's ``post.create_per_day``. Publishes ``thread.post_created``.

    ``attachment_ids`` are the author's uploads not yet on a post, as for ``thread_create``.

    A member without ``post.skip_premoderation`` waits for a moderator: the reply is held
    (``PostRef.held``), seen by its author and moderators only, and counted, announced and delivered
    nowhere until ``post_approve``; only ``thread.post_held`` is published."""
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
    held = not viewer.can(SKIP_PREMODERATION)

    def create() -> PostRef:
        with transaction.atomic(savepoint=False):  # inside _paid's transaction
            # A reply made public updates the forum's counters: its forum is locked with the thread.
            thread = _thread_for_update(thread_id, lock_forum=not held)
            # The thread may have been closed, moved or sent back to moderation since (the forums'
            # permissions read just before stand: they change by an administrator's hand).
            _check_can_reply(viewer, forums, thread.forum_id, thread.state, thread.closed)
            now = timezone.now()
            # A held reply takes the position it would have now without keeping it from the next
            # reply: approval gives it the thread's next position then.
            position = thread.last_position + 1
            post = Post.objects.create(
                thread=thread,
                author_id=author_id,
                position=position,
                body=body,
                body_html=rendered.html,
                created_at=now,
                held=held,
            )
            _attach(author_id, post.pk, attachment_ids)
            _drafts_discard(author_id, thread_id=thread_id)  # sent: the draft of it is done with
            if held:
                # Not publish(): nothing a guest's page shows has changed.
                bus.publish(
                    PostHeld(
                        post_id=post.pk, thread_id=thread.pk, forum_id=thread.forum_id, author_id=author_id
                    )
                )
                return _post_ref(post)
            _reply_published(thread, post, rendered, now, forum_locked=True)
        thread_mark_read(user_id=author_id, thread_id=thread_id, position=position)
        return _post_ref(post)

    return _paid(author_id, "post.create_per_day", create)


def _reply_published(
    thread: Thread, post: Post, rendered: _Body, now: datetime.datetime, *, forum_locked: bool = False
) -> None:
    """A reply becomes public at the thread's last position (inside the transaction that holds the
    thread's lock, and the forum's when ``forum_locked``): the thread's and the forum's counters and
    last post, the author's count, and ``thread.post_created``. For a new reply and for a held one
    approved."""
    if not forum_locked:
        _lock_forums(thread.forum_id)
    thread.last_position = post.position
    thread.post_count += 1
    thread.last_post_id = post.pk
    thread.last_post_at = now
    thread.last_poster_id = post.author_id
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
        _posts_counted({post.author_id: 1})
    _publish_post_created(thread, post, rendered)


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
    if location is None or location.hidden_from(viewer):
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
    if location is None or location.hidden_from(viewer):
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
        if thread.state == ThreadState.APPROVED and not post.held:
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
        if post.held:  # counted and announced nowhere: it leaves the moderation queue, that is all
            return
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
        if post.held:
            # Never public: a reply rejected or withdrawn while awaiting approval stays gone.
            raise Conflict(_("The post was never approved."), code="post_held")
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
