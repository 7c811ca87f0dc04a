"""Watching threads and forums: the checks, the switches, and the list of what a member watches."""

from __future__ import annotations

from collections.abc import Collection

from django.db import transaction
from django.utils.translation import gettext as _

from apps.notification import selectors
from apps.notification.models import Watch, WatchTarget
from apps.notification.services.data import WatchItem, WatchList
from apps.thread.services import (
    forum_names_visible_to,
    forum_visible_to,
    thread_titles_visible_to,
    thread_visible_to,
)
from forum import member_cache
from forum.errors import NotFound

# What a member's thread and forum pages show of their watching, remembered per member (forum.member_cache,
# read with the session): (target, id) -> watching, for the last threads and forums they looked at.
# Moved by every change of the member's watches; a thread's deletion (which drops its watches) moves
# everyone's.
WATCH_PART = "notification.watching"
WATCH_SCOPE = "watch:{id}"
WATCHES_ALL_SCOPE = "watches"
member_cache.register(WATCH_PART, WATCH_SCOPE, WATCHES_ALL_SCOPE)
# How many targets a member's memo holds (the oldest looked-at goes first).
_REMEMBERED = 48


def watch_target_check(*, user_id: int, target: str, target_id: int) -> None:
    """NotFound unless the member may see the thread or forum (what watching it asks first)."""
    if target == WatchTarget.THREAD:
        visible = 0 < target_id < 2**63 and thread_visible_to(user_id=user_id, thread_id=target_id)
        if not visible:
            raise NotFound(_("There is no such thread."))
    elif target == WatchTarget.FORUM:
        if not (0 < target_id < 2**63 and forum_visible_to(user_id=user_id, forum_id=target_id)):
            raise NotFound(_("There is no such forum."))
    else:
        raise NotFound(_("There is nothing like that to watch."))


def _watch(user_id: int, target: str, target_id: int, watching: bool) -> bool:
    watch_target_check(user_id=user_id, target=target, target_id=target_id)
    with transaction.atomic():
        Watch.objects.update_or_create(
            user_id=user_id, target=target, target_id=target_id, defaults={"watching": watching}
        )
        member_cache.changed(WATCH_SCOPE, [user_id])
    return watching


def watch_set(*, user_id: int, target: str, target_id: int) -> bool:
    """Watch a thread (its replies) or a forum (its new threads) the member may see; 404 otherwise."""
    return _watch(user_id, target, target_id, True)


def watch_unset(*, user_id: int, target: str, target_id: int) -> bool:
    """Stop watching (and do not watch it again by replying, for a thread); 404 for what the member
    may not see."""
    return _watch(user_id, target, target_id, False)


def watched_among(*, user_id: int, target: str, target_ids: Collection[int]) -> set[int]:
    """Which of ``target_ids`` the member watches (one query): for the buttons of a page."""
    return selectors.watched_among(user_id=user_id, target=target, target_ids=target_ids)


def watch_state(*, user_id: int, target: str, target_id: int) -> bool:
    """Whether the member watches this thread or forum: for the Watch button of its page. Remembered
    with the member's session read (``WATCH_PART``), so a page they come back to asks no query."""
    remembered: dict[tuple[str, int], bool] = member_cache.read(WATCH_PART, user_id, dict)
    known = remembered.get((target, target_id))
    if known is not None:
        return known
    found = target_id in selectors.watched_among(user_id=user_id, target=target, target_ids=[target_id])
    # A new dict (what read() handed out is shared with the rest of the request), the newest last.
    grown = {key: value for key, value in remembered.items() if key != (target, target_id)}
    grown[(target, target_id)] = found
    while len(grown) > _REMEMBERED:
        del grown[next(iter(grown))]
    member_cache.keep(WATCH_PART, user_id, grown)
    return found


def watch_list(*, user_id: int) -> WatchList:
    """What the member watches and may still see, with titles (a constant number of queries)."""
    thread_ids = selectors.watched_by(user_id=user_id, target=WatchTarget.THREAD)
    forum_ids = selectors.watched_by(user_id=user_id, target=WatchTarget.FORUM)
    titles = thread_titles_visible_to(user_id=user_id, thread_ids=thread_ids) if thread_ids else {}
    names = forum_names_visible_to(user_id=user_id, forum_ids=forum_ids) if forum_ids else {}
    return WatchList(
        threads=tuple(WatchItem(WatchTarget.THREAD, pk, titles[pk]) for pk in thread_ids if pk in titles),
        forums=tuple(WatchItem(WatchTarget.FORUM, pk, names[pk]) for pk in forum_ids if pk in names),
    )
