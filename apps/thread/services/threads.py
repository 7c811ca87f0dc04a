"""Starting threads, and how far a member has read one."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from apps.authorization.services import require
from apps.thread import selectors
from apps.thread.models import (
    Forum,
    Post,
    Thread,
    ThreadState,
)
from apps.thread.services._common import (
    _clean_body,
    _clean_title,
    _lock_forums,
    _paid,
    _posts_counted,
    _publish_public,
    _render_body,
    _slug,
)
from apps.thread.services.attachments import _attach, attachment_count_check
from apps.thread.services.drafts import _drafts_discard
from apps.thread.services.forums import _forum_for_posting
from apps.thread.services.refs import ThreadRef, _thread_ref


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


def thread_mark_read(*, user_id: int, thread_id: int, position: int) -> None:
    """Remember that a member has read a thread up to ``position``; the mark never moves back."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO thread_readmark (user_id, thread_id, last_read_position) VALUES (%s, %s, %s) "
            "ON CONFLICT (user_id, thread_id) DO UPDATE SET last_read_position = "
            "GREATEST(thread_readmark.last_read_position, EXCLUDED.last_read_position)",
            [user_id, thread_id, max(0, position)],
        )
