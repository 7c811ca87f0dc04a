"""Posts: preview, reply, edit, delete and restore, with the thread's and the forum's counters."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, replace

from django.conf import settings
from django.db import connection, transaction
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
    Draft,
    Forum,
    MemberScore,
    Post,
    PostAttachment,
    PostEdit,
    ReadMark,
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
    _post_created,
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
    nowhere until ``post_approve``; only ``thread.post_held`` is published.

    The thread is read once, locked, in the reply's transaction, after the quota use: a reply refused
    there (404, 403, 409) rolls the use back with it. A new public reply is then one statement (the
    post, the thread's and the forum's counters and last post, the author's count, the draft it was,
    the author's read mark) and its event one more: docs/architecture.md "Posting a reply"."""
    require(user_id=author_id, permission="post.create")
    viewer = selectors.viewer_for(user_id=author_id)
    body = _clean_body(body)
    attachment_ids = attachment_count_check(user_id=author_id, attachment_ids=attachment_ids)
    rendered = _render_body(body, viewer=viewer)
    held = not viewer.can(SKIP_PREMODERATION)

    def create() -> PostRef:
        with transaction.atomic(savepoint=False):  # inside _paid's transaction
            # A reply made public updates the forum's counters: its forum is locked with the thread.
            thread = _thread_to_reply(thread_id, lock_forum=not held)
            # Checked here, under the lock, and only here: the thread as it is now, in a forum the
            # member may see (and the forums above it) and post in.
            if thread is None or not thread.seen_by(viewer):
                raise NotFound(_("There is no such thread."))
            _check_may_reply(viewer, thread)
            now = timezone.now()
            # A held reply takes the position it would have now without keeping it from the next
            # reply: approval gives it the thread's next position then.
            position = thread.last_position + 1
            if held:
                post = Post.objects.create(
                    thread_id=thread_id,
                    author_id=author_id,
                    position=position,
                    body=body,
                    body_html=rendered.html,
                    created_at=now,
                    held=True,
                )
                _attach(author_id, post.pk, attachment_ids)
                _drafts_discard(author_id, thread_id=thread_id)  # sent: the draft of it is done with
                # Not publish(): nothing a guest's page shows has changed.
                bus.publish(
                    PostHeld(
                        post_id=post.pk, thread_id=thread_id, forum_id=thread.forum_id, author_id=author_id
                    )
                )
                # Listed under the thread's last page, as post_goto finds it.
                return replace(
                    _post_ref(post), page=max(1, -(-thread.post_count // selectors.POSTS_PER_PAGE))
                )
            post_id = _reply_written(
                thread,
                thread_id=thread_id,
                author_id=author_id,
                position=position,
                body=body,
                html=rendered.html,
                now=now,
            )
            _attach(author_id, post_id, attachment_ids)
            publish(_post_created(thread_id, thread.forum_id, post_id, author_id, position, rendered))
        # The thread's visible posts before it were post_count: it stands on the page after them.
        page = thread.post_count // selectors.POSTS_PER_PAGE + 1
        return PostRef(id=post_id, thread_id=thread_id, author_id=author_id, position=position, page=page)

    return _paid(author_id, "post.create_per_day", create)


@dataclass(frozen=True)
class _ThreadToReply:
    forum_id: int
    author_id: int
    state: str
    closed: bool
    last_position: int
    post_count: int
    post_permission: str
    # The read permissions of the thread's forum and of each forum above it.
    read_permissions: tuple[str, ...]

    def seen_by(self, viewer: selectors.Viewer) -> bool:
        """As selectors.threads_visible_to (approved threads, their own, every one for moderators) in a
        forum the viewer sees, as selectors.forums_visible (its read permission and its parents')."""
        return (
            self.state == ThreadState.APPROVED or self.author_id == viewer.user_id or viewer.moderator
        ) and all(viewer.can(permission) for permission in self.read_permissions)


_THREAD_TO_REPLY_SQL = f"""
SELECT t.forum_id, t.author_id, t.state, t.closed, t.last_position, t.post_count, f.post_permission,
    ARRAY(
        WITH RECURSIVE up AS (
            SELECT id, parent_id, read_permission FROM {Forum._meta.db_table} WHERE id = t.forum_id
            UNION
            SELECT above.id, above.parent_id, above.read_permission
            FROM {Forum._meta.db_table} AS above JOIN up ON above.id = up.parent_id
        )
        SELECT read_permission FROM up
    )
FROM {Thread._meta.db_table} AS t JOIN {Forum._meta.db_table} AS f ON f.id = t.forum_id
WHERE t.id = %s AND t.deleted_at IS NULL
"""


def _thread_to_reply(thread_id: int, *, lock_forum: bool) -> _ThreadToReply | None:
    """What a reply checks and changes of its thread (not deleted), locked, with what decides who may
    see its forum and post there (the forum and the forums above it: the tree is read with it, not
    as a whole before it). With ``lock_forum`` its forum's row is locked by the same statement (thread
    first, then forum: the order every writer takes), as ``_thread_for_update`` does. In SQL: the ORM's
    model instance cost more than the query."""
    if not 0 < thread_id < 2**63:
        return None
    locked = "t, f" if lock_forum else "t"
    with connection.cursor() as cursor:
        cursor.execute(f"{_THREAD_TO_REPLY_SQL} FOR UPDATE OF {locked}", [thread_id])
        row = cursor.fetchone()
    if row is None:
        return None
    forum_id, author_id, state, closed, last_position, post_count, post_permission, read = row
    return _ThreadToReply(
        forum_id=forum_id,
        author_id=author_id,
        state=state,
        closed=closed,
        last_position=last_position,
        post_count=post_count,
        post_permission=post_permission,
        read_permissions=tuple(read),
    )


def _check_may_reply(viewer: selectors.Viewer, thread: _ThreadToReply) -> None:
    """Refuse a reply in a thread the viewer sees (_thread_to_reply): a forum they may not post in, a
    thread awaiting moderation, a closed one (except to moderators)."""
    if not viewer.can(thread.post_permission):
        raise Forbidden(_("You may not post in this forum."))
    if thread.state != ThreadState.APPROVED:
        raise Conflict(
            _("The thread awaits moderation; replies open once it is approved."), code="thread_pending"
        )
    if thread.closed and not viewer.moderator:
        raise Forbidden(_("The thread is closed."), code="thread_closed")


# The new public reply and everything it changes besides its event, in one statement: each part
# writes a row of its own (the thread's and the forum's rows are locked already), and all of them see
# the post's id through ``post``. Kept as _reply_published keeps them for an approved held reply.
_REPLY_SQL = f"""
WITH post AS (
    INSERT INTO {Post._meta.db_table} (thread_id, author_id, position, body, body_html, created_at,
        edited_at, deleted_at, deleted_by_id, reaction_counts, held, rejection_reason)
    VALUES (%(thread_id)s, %(author_id)s, %(position)s, %(body)s, %(html)s, %(now)s,
        NULL, NULL, NULL, '{{}}'::jsonb, false, '')
    RETURNING id
),
thread AS (
    UPDATE {Thread._meta.db_table} SET post_count = post_count + 1, last_position = %(position)s,
        last_post_id = (SELECT id FROM post), last_post_at = %(now)s, last_poster_id = %(author_id)s
    WHERE id = %(thread_id)s
),
forum AS (
    UPDATE {Forum._meta.db_table} SET post_count = post_count + 1, last_thread_id = %(thread_id)s,
        last_post_id = (SELECT id FROM post), last_post_at = %(now)s
    WHERE id = %(forum_id)s
),
score AS (
    INSERT INTO {MemberScore._meta.db_table} (user_id, reactions_received, post_count)
    VALUES (%(author_id)s, 0, 1)
    ON CONFLICT (user_id) DO UPDATE SET post_count = {MemberScore._meta.db_table}.post_count + 1
),
draft AS (
    DELETE FROM {Draft._meta.db_table} WHERE user_id = %(author_id)s AND thread_id = %(thread_id)s
),
mark AS (
    INSERT INTO {ReadMark._meta.db_table} (user_id, thread_id, last_read_position)
    VALUES (%(author_id)s, %(thread_id)s, %(position)s)
    ON CONFLICT (user_id, thread_id) DO UPDATE SET last_read_position =
        GREATEST({ReadMark._meta.db_table}.last_read_position, EXCLUDED.last_read_position)
)
SELECT id FROM post
"""


def _reply_written(
    thread: _ThreadToReply,
    *,
    thread_id: int,
    author_id: int,
    position: int,
    body: str,
    html: str,
    now: datetime.datetime,
) -> int:
    """Write a new public reply at ``position`` under its thread's and forum's locks (see _REPLY_SQL):
    the thread's and the forum's counters and last post, the author's counted posts (the thread is
    approved), the author's draft of it gone (sent), their read mark at it. The post's id."""
    with connection.cursor() as cursor:
        cursor.execute(
            _REPLY_SQL,
            {
                "thread_id": thread_id,
                "forum_id": thread.forum_id,
                "author_id": author_id,
                "position": position,
                "body": body,
                "html": html,
                "now": now,
            },
        )
        row = cursor.fetchone()
    assert row is not None  # the INSERT always returns its row
    return int(row[0])


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
