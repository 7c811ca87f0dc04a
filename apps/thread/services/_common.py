"""What the concerns of the thread services share: publishing, bodies, locks and counters."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from apps.authorization.services import quota_consume
from apps.thread import selectors
from apps.thread.events import (
    PostCreated,
    ThreadCreated,
)
from apps.thread.models import (
    BODY_MAX_LENGTH,
    REASON_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Forum,
    Post,
    Thread,
    ThreadState,
)
from forum import bus, pagecache, versioned_cache
from forum.errors import NotFound, ValidationFailed
from forum.events import Event
from forum.markup import MentionTarget, QuoteTarget, render

MODERATE = selectors.MODERATE_PERMISSION


def publish(event: Event) -> None:
    """Every fact this app publishes is also something guests' pages show: publish it to the outbox
    and let the cached guest pages go once the transaction commits (forum.pagecache). The thread's own
    version moves too (``thread:<id>``: the members' kept pages of posts, apps/thread/kept_pages.py)."""
    publish_all(event)


def publish_all(*events: Event) -> None:
    """``publish`` for the events of one change: their outbox rows in one INSERT (forum.bus.publish_many)."""
    bus.publish_many(events)
    pagecache.changed("thread")
    thread_ids = [getattr(event, "thread_id", None) for event in events]
    scopes = [thread_scope(int(thread_id)) for thread_id in thread_ids if thread_id is not None]
    if scopes:
        versioned_cache.changed(*dict.fromkeys(scopes))


def thread_scope(thread_id: int) -> str:
    """The version scope of one thread's posts (forum.versioned_cache)."""
    return f"thread:{thread_id}"


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


def _thread_for_update(thread_id: int, *, lock_forum: bool = False) -> Thread:
    """The thread, locked; with ``lock_forum`` its forum's row is locked by the same statement (thread
    first, then forum: the order every writer takes), as ``_lock_forums(thread.forum_id)`` would."""
    threads = Thread.objects.select_for_update()
    if lock_forum:
        threads = threads.select_related("forum")
    thread = threads.filter(pk=thread_id, deleted_at__isnull=True).first()
    if thread is None:
        raise NotFound(_("There is no such thread."))
    return thread


def _rejection_reason(reason: str, *, missing: str) -> str:
    """A moderator's reason for turning something down, on one line; ValidationFailed (``missing`` as
    the message) when there is none, or when it is longer than REASON_MAX_LENGTH."""
    reason = " ".join(reason.split())
    if not reason:
        raise ValidationFailed(missing, fields={"reason": [_("This field is required.")]})
    if len(reason) > REASON_MAX_LENGTH:
        message = ngettext(
            "At most %(count)d character.", "At most %(count)d characters.", REASON_MAX_LENGTH
        ) % {"count": REASON_MAX_LENGTH}
        raise ValidationFailed(message, fields={"reason": [message]})
    return reason


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
        Post.objects.filter(thread_id=thread_id, deleted_at__isnull=True, held=False)
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
    visible = Post.objects.filter(thread_id=thread.pk, deleted_at__isnull=True, held=False)
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


def _publish_public(thread: Thread, first_post: Post, rendered: _Body) -> None:
    publish_all(
        ThreadCreated(
            thread_id=thread.pk,
            forum_id=thread.forum_id,
            author_id=thread.author_id,
            title=thread.title,
            first_post_id=first_post.pk,
        ),
        _post_created(
            thread.pk, thread.forum_id, first_post.pk, first_post.author_id, first_post.position, rendered
        ),
    )


def _publish_post_created(thread: Thread, post: Post, rendered: _Body) -> None:
    publish(_post_created(thread.pk, thread.forum_id, post.pk, post.author_id, post.position, rendered))


def _post_created(
    thread_id: int, forum_id: int, post_id: int, author_id: int, position: int, rendered: _Body
) -> PostCreated:
    return PostCreated(
        post_id=post_id,
        thread_id=thread_id,
        forum_id=forum_id,
        author_id=author_id,
        position=position,
        mentioned_ids=tuple(uid for uid in rendered.mentioned_ids if uid != author_id),
        quoted_ids=tuple(uid for uid in rendered.quoted_ids if uid != author_id),
        quoted_post_ids=rendered.quoted_post_ids,
    )
