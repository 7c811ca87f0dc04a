"""The moderation queue's count in the staff header ("Moderation (N)"): threads awaiting
premoderation, replies held by an escalation and open reports, kept in the cache and pushed live to
staff on the topic ``modqueue:all``.

The count comes from the owners' services (the thread app's pending threads and held replies, the
support app's open reports) and is kept in the cache: a staff page pays nothing when it is there, the
owners' few queries when it is not. The events that change it (a report filed or resolved, a ticket
changing state, a thread approved, rejected or deleted, a reply held, approved or rejected) count it
again and push it when it moved. A thread held for premoderation publishes nothing (nobody else may
learn of it), so the beat task ``forum_admin.refresh_queue_count`` (every 30 s) does the same and
catches those. Members who are not staff cost no query: whether the viewer is staff is the permission
engine's answer already loaded for the request.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterator

from django.conf import settings
from django.core.cache import cache
from redis.exceptions import RedisError

from apps.admin.services import WARN_PERMISSION
from apps.authorization.services import has_perm
from apps.support.services import report_tickets_open_count, staff_members
from apps.thread.services import posts_pending, threads_pending
from forum.realtime import send_to_topic

logger = logging.getLogger(__name__)

TOPIC_PREFIX = "modqueue"
TOPIC = f"{TOPIC_PREFIX}:all"
FRAME_KIND = "moderation.queue_count"
MODERATE_PERMISSION = "thread.moderate"
# Long enough to spare the owners' queries, short enough to heal a count an event missed.
CACHE_SECONDS = 300
# Refreshes take turns (see queue_count_refresh): how long one may hold the turn, and wait for it.
TURN_SECONDS = 10
TURN_WAIT_SECONDS = 5.0


def _cache_key() -> str:
    return f"{settings.REDIS_KEY_PREFIX}:forum_admin:queue_count:v1"


def _turn_key() -> str:
    return f"{settings.REDIS_KEY_PREFIX}:forum_admin:queue_count:turn"


@contextlib.contextmanager
def _turn() -> Iterator[None]:
    """One refresh at a time (a Redis key added only if absent). Without turns, a refresh that counted
    before a change committed could store and push its older count after the refresh that counted the
    change: the header would stay wrong until the beat task. With them, each refresh counts after the
    previous one pushed, so the last one counts what is committed last. Without Redis, no turns."""
    token = uuid.uuid4().hex
    held = False
    deadline = time.monotonic() + TURN_WAIT_SECONDS
    try:
        while not (held := cache.add(_turn_key(), token, TURN_SECONDS)) and time.monotonic() < deadline:
            time.sleep(0.02)
    except RedisError:
        held = False
    try:
        yield
    finally:
        if held:
            with contextlib.suppress(RedisError):
                if cache.get(_turn_key()) == token:
                    cache.delete(_turn_key())


def _compute(staff_id: int | None) -> int:
    threads = 0
    if staff_id is not None and has_perm(user_id=staff_id, permission=MODERATE_PERMISSION):
        threads = threads_pending(moderator_id=staff_id)[1] + posts_pending(moderator_id=staff_id).total
    return threads + report_tickets_open_count()


def queue_count_for(*, viewer_id: int | None) -> int | None:
    """The count for the header: None for anyone but staff (``moderation.warn``; no query)."""
    if viewer_id is None or not has_perm(user_id=viewer_id, permission=WARN_PERMISSION):
        return None
    try:
        cached = cache.get(_cache_key())
    except RedisError:
        logger.warning("moderation queue count: the cache cannot be reached")
        return _compute(viewer_id)
    if isinstance(cached, int):
        return cached
    count = _compute(viewer_id)
    try:
        # Only where nothing is kept: a refresh's newer count is never overwritten by this one.
        cache.add(_cache_key(), count, CACHE_SECONDS)
    except RedisError:
        logger.warning("moderation queue count: the cache cannot be reached")
    return count


def queue_count_refresh() -> int:
    """Count again (as a member of staff: the pending threads are theirs to see), keep it, and push
    it to the staff's topic when it moved, in turns (``_turn``). The count reads what is committed, so
    it is pushed at once, before the handler's own transaction ends: pushed after it, an older count
    could overtake a newer one. Returns the count."""
    counter = next(
        (
            member.id
            for member in staff_members()
            if has_perm(user_id=member.id, permission=MODERATE_PERMISSION)
        ),
        None,
    )
    with _turn():
        count = _compute(counter)
        try:
            before = cache.get(_cache_key())
            cache.set(_cache_key(), count, CACHE_SECONDS)
        except RedisError:
            logger.warning("moderation queue count: the cache cannot be reached")
            before = None
        if before != count:
            send_to_topic(TOPIC, FRAME_KIND, {"count": count}, on_commit=False)
    return count


def queue_topic_check(user_id: int, key: str) -> bool:
    """``modqueue:all``: staff who see the moderation queue; False for anything else."""
    return key == "all" and has_perm(user_id=user_id, permission=WARN_PERMISSION)
