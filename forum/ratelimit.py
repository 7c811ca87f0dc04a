"""A per-subject rate limit counted in Redis, for cheap requests a member may repeat at will (the
composer's preview).

A fixed window: at most ``limit`` hits per ``window`` seconds, counted from the first one. The count,
its expiry and what is left of the window are one round trip (a MULTI pipeline).

When Redis is down the limit fails open: what it guards is read-only and bounded in size (a preview
renders at most one post's worth of text), so refusing every member for the length of an outage would
cost more than a few unthrottled previews. That is the opposite of the sign-in counters
(apps/authentication/throttles.py), which keep counting in memory because guessing passwords is at
stake there. After a failure Redis is skipped for ``REDIS_OUTAGE_SKIP_SECONDS`` (``forum.outage``).
"""

from __future__ import annotations

import hashlib
import logging
from functools import cache

import redis
from django.conf import settings
from django.utils.translation import gettext as _

from forum.errors import RateLimited
from forum.outage import Breaker

__all__ = ["preview_rate_limit_hit", "rate_limit_breaker", "rate_limit_hit"]

logger = logging.getLogger(__name__)

rate_limit_breaker = Breaker("rate-limit")


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def _key(name: str, subject: str) -> str:
    # Hashed: keys carry no names or addresses, and any subject fits.
    digest = hashlib.sha256(subject.encode()).hexdigest()[:40]
    return f"{settings.REDIS_KEY_PREFIX}:ratelimit:{name}:{digest}"


def rate_limit_hit(*, name: str, subject: str, limit: int, window: int) -> None:
    """Count one use of ``name`` by ``subject``; RateLimited (429, Retry-After: the rest of the
    window) when it is the one past ``limit`` in ``window`` seconds. A ``limit`` of 0 or less turns
    the limit off."""
    if limit <= 0:
        return
    url = settings.REDIS_URL
    if rate_limit_breaker.skipping(url):
        return
    key = _key(name, subject)
    try:
        pipe = _client(url).pipeline(transaction=True)
        pipe.set(key, 0, ex=window, nx=True)
        pipe.incr(key)
        pipe.ttl(key)
        _created, count, left = pipe.execute()
    except redis.RedisError as error:
        if rate_limit_breaker.failed(url):
            logger.warning(
                "rate limit store unavailable: not limiting until it returns", extra={"error": str(error)}
            )
        return
    if rate_limit_breaker.succeeded(url):
        logger.info("rate limit store available again")
    if int(count) > limit:
        raise RateLimited(
            _("Too many requests in a short time. Wait a moment and try again."),
            retry_after=max(1, int(left)) if int(left) > 0 else window,
        )


def preview_rate_limit_hit(*, user_id: int) -> None:
    """One preview of a member's text: MARKUP_PREVIEW_PER_MINUTE a minute, posts and dialog messages
    drawing on the same budget (one person, one renderer)."""
    rate_limit_hit(
        name="markup-preview", subject=str(user_id), limit=settings.MARKUP_PREVIEW_PER_MINUTE, window=60
    )
