"""Notifications from the thread app's events: replies, new threads, mentions, quotes, reactions,
moderation, and forgetting what a deletion took away."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from django.db import transaction

from apps.dialog import services as dialog_services
from apps.notification import kinds as registry
from apps.notification import selectors
from apps.notification.models import Notification, Watch, WatchTarget
from apps.notification.services.delivery import UNREAD_ALL_SCOPE, _About, _deliver, _unread_changed
from apps.notification.services.watching import WATCH_SCOPE, WATCHES_ALL_SCOPE
from apps.thread.services import (
    forum_names_visible_to,
    thread_readers_filter,
    thread_titles_visible_to,
)
from forum import member_cache


def _thread_title(thread_id: int, viewer_id: int) -> str | None:
    return thread_titles_visible_to(user_id=viewer_id, thread_ids=[thread_id]).get(thread_id)


def _watch_auto(user_id: int, thread_id: int) -> None:
    """Watch a thread one writes in, when the member's setting says so and they never unwatched it."""
    if user_id in selectors.auto_watchers(user_ids=[user_id]):
        Watch.objects.bulk_create(
            [Watch(user_id=user_id, target=WatchTarget.THREAD, target_id=thread_id)], ignore_conflicts=True
        )
        member_cache.changed(WATCH_SCOPE, [user_id])


def _drop_blockers(candidates: dict[int, list[str]], actor_id: int, *, addressed: Collection[int]) -> None:
    """Members who blocked the actor (in the dialog app) are not told of their mentions and quotes.
    Asked only of the members a post addresses (at most 50 mentions and 20 quotes a text), never of a
    thread's watchers, so a fan-out's cost does not grow with it."""
    personal = {registry.MENTION.code, registry.QUOTE.code}
    for user_id in set(addressed) & set(candidates):
        if dialog_services.block_exists(user_id=user_id, blocked_id=actor_id):
            # What they chose to watch still reaches them; what the blocked member aims at them does not.
            candidates[user_id] = [code for code in candidates[user_id] if code not in personal]
            if not candidates[user_id]:
                del candidates[user_id]


def post_created_notify(
    *,
    post_id: int,
    thread_id: int,
    forum_id: int,
    author_id: int,
    position: int,
    mentioned_ids: Sequence[int] = (),
    quoted_ids: Sequence[int] = (),
) -> list[int]:
    """A post became public: its thread's watchers (a reply) or its forum's (a new thread), and the
    members it mentions or quotes, each get one notification; the author watches the thread."""
    with transaction.atomic():
        _watch_auto(author_id, thread_id)
        candidates: dict[int, list[str]] = {}
        if position == 1:
            for user_id in selectors.watchers_of(target=WatchTarget.FORUM, target_id=forum_id):
                candidates.setdefault(user_id, []).append(registry.NEW_THREAD.code)
        else:
            for user_id in selectors.watchers_of(target=WatchTarget.THREAD, target_id=thread_id):
                candidates.setdefault(user_id, []).append(registry.REPLY.code)
        for user_id in mentioned_ids:
            candidates.setdefault(user_id, []).append(registry.MENTION.code)
        for user_id in quoted_ids:
            candidates.setdefault(user_id, []).append(registry.QUOTE.code)
        candidates.pop(author_id, None)
        _drop_blockers(candidates, author_id, addressed={*mentioned_ids, *quoted_ids})
        if not candidates:
            return []
        title = _thread_title(thread_id, author_id)
        if title is None:
            return []  # gone since (deleted, moved where the author cannot read)
        readers = thread_readers_filter(thread_id=thread_id, user_ids=candidates)
        params: dict[str, Any] = {"title": title}
        if position == 1:
            params["forum"] = forum_names_visible_to(user_id=author_id, forum_ids=[forum_id]).get(
                forum_id, ""
            )
        ordered = {
            user_id: sorted(set(kinds), key=registry.POST_PRIORITY.index)
            for user_id, kinds in candidates.items()
            if user_id in readers
        }
        about = _About(
            source=f"post:{post_id}", actor_id=author_id, params=params, thread_id=thread_id, post_id=post_id
        )
        return _deliver(ordered, about)


def post_edited_notify(
    *, post_id: int, thread_id: int, author_id: int, editor_id: int, mentioned_ids: Sequence[int]
) -> list[int]:
    """Members an edit newly mentions are told (once per post: a second edit changes nothing)."""
    with transaction.atomic():
        candidates = {user_id: [registry.MENTION.code] for user_id in mentioned_ids if user_id != editor_id}
        candidates.pop(author_id, None)
        _drop_blockers(candidates, author_id, addressed=set(candidates))
        if not candidates:
            return []
        title = _thread_title(thread_id, author_id)
        if title is None:
            return []
        readers = thread_readers_filter(thread_id=thread_id, user_ids=candidates)
        about = _About(
            source=f"post:{post_id}",
            actor_id=author_id,
            params={"title": title},
            thread_id=thread_id,
            post_id=post_id,
        )
        return _deliver({k: v for k, v in candidates.items() if k in readers}, about, upgrade=True)


def post_deleted_forget(*, post_id: int) -> int:
    """A deleted post's notifications go (replies, mentions, reactions to it)."""
    deleted, _counts = Notification.objects.filter(post_id=post_id).delete()
    if deleted:
        member_cache.changed(UNREAD_ALL_SCOPE)
    return deleted


def thread_deleted_forget(*, thread_id: int) -> int:
    """A deleted thread's notifications and watches go."""
    with transaction.atomic():
        if Watch.objects.filter(target=WatchTarget.THREAD, target_id=thread_id).delete()[0]:
            member_cache.changed(WATCHES_ALL_SCOPE)
        deleted, _counts = Notification.objects.filter(thread_id=thread_id).delete()
        if deleted:
            member_cache.changed(UNREAD_ALL_SCOPE)
    return deleted


def reaction_added_notify(
    *, post_id: int, thread_id: int, post_author_id: int, reactor_id: int, kind: str
) -> list[int]:
    """A post's author learns of reactions to it: one row per post, naming the latest reactor and
    counting them all, unread again when someone new reacts."""
    with transaction.atomic():
        if post_author_id == reactor_id or dialog_services.block_exists(
            user_id=post_author_id, blocked_id=reactor_id
        ):
            return []
        title = _thread_title(thread_id, reactor_id)
        if title is None or post_author_id not in thread_readers_filter(
            thread_id=thread_id, user_ids=[post_author_id]
        ):
            return []
        about = _About(
            source=f"reactions:{post_id}",
            actor_id=reactor_id,
            params={"title": title, "reaction": kind},
            thread_id=thread_id,
            post_id=post_id,
        )
        return _deliver({post_author_id: [registry.REACTION.code]}, about)


def reaction_cleared_forget(*, post_id: int, post_author_id: int, reactor_id: int) -> None:
    """A reaction taken back leaves the author's row (gone with the last reactor)."""
    with transaction.atomic():
        row = (
            Notification.objects.select_for_update()
            .filter(recipient_id=post_author_id, source=f"reactions:{post_id}")
            .first()
        )
        if row is None or reactor_id not in row.actor_ids:
            return
        row.actor_ids = [actor for actor in row.actor_ids if actor != reactor_id]
        if not row.actor_ids:
            row.delete()
            _unread_changed([post_author_id])
            return
        row.count = len(row.actor_ids)
        row.save(update_fields=["actor_ids", "count"])


def post_moderated_notify(
    *, post_id: int, thread_id: int, author_id: int, moderator_id: int, approved: bool, reason: str = ""
) -> list[int]:
    """A held reply's author learns that a moderator approved or rejected it."""
    with transaction.atomic():
        title = _thread_title(thread_id, author_id)
        if title is None:
            return []
        kind = registry.POST_APPROVED if approved else registry.POST_REJECTED
        about = _About(
            source=f"post:{post_id}:{'approved' if approved else 'rejected'}",
            actor_id=moderator_id,
            params={"title": title, "reason": reason},
            thread_id=thread_id,
            post_id=post_id if approved else None,
        )
        return _deliver({author_id: [kind.code]}, about)


def thread_moderated_notify(
    *, thread_id: int, author_id: int, moderator_id: int, approved: bool, reason: str = ""
) -> list[int]:
    """A thread's author learns that a moderator approved or rejected it."""
    with transaction.atomic():
        title = _thread_title(thread_id, author_id)
        if title is None:
            return []
        kind = registry.THREAD_APPROVED if approved else registry.THREAD_REJECTED
        about = _About(
            source=f"thread:{thread_id}:{'approved' if approved else 'rejected'}",
            actor_id=moderator_id,
            params={"title": title, "reason": reason},
            thread_id=thread_id,
        )
        return _deliver({author_id: [kind.code]}, about)
