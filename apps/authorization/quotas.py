"""Counting quota uses in Redis over a rolling window, atomically, with one Lua script per call.

Each (permission, member) has a sorted set of uses scored by their time in milliseconds. A call drops
the uses older than the window, counts the rest, and (when asked to take one) adds a use if the count
is under the limit. A rolling window is fairer than a calendar day: a member who posts at 23:59 does
not get a fresh allowance one minute later. A use frees up exactly one window after it was taken.
"""

from __future__ import annotations

import datetime
import threading
from dataclasses import dataclass

import redis
from django.conf import settings
from django.utils import timezone
from redis.commands.core import Script

# KEYS[1] the set; ARGV: now (ms), window (ms), limit, member to add ('' only counts).
# Returns {taken (0/1), uses in the window, score of the use whose expiry frees the next unit (-1: none)}.
_SCRIPT = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local member = ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local used = redis.call('ZCARD', key)
local taken = 0
if member ~= '' and used < limit then
  redis.call('ZADD', key, now, member)
  redis.call('PEXPIRE', key, window)
  used = used + 1
  taken = 1
end
-- When over the limit (it may have dropped since the uses were taken), the next unit frees up when
-- enough of the oldest uses have left the window to bring the count under it.
local index = 0
if used >= limit and limit > 0 then
  index = used - limit
end
local next_free = -1
local found = redis.call('ZRANGE', key, index, index, 'WITHSCORES')
if found[2] then
  next_free = tonumber(found[2])
end
return {taken, used, next_free}
"""

# One client (and its connection pool) per Redis address, made on first use.
_clients: dict[str, tuple[redis.Redis, Script]] = {}
_lock = threading.Lock()


class QuotaUnavailable(RuntimeError):
    """Redis did not answer; the caller decides whether to fail open or closed."""


@dataclass(frozen=True)
class Count:
    taken: bool
    used: int
    # When the next unit comes back (a use leaves the window); None when nothing is used.
    frees_at: datetime.datetime | None


def _client() -> tuple[redis.Redis, Script]:
    url = settings.REDIS_URL
    with _lock:
        made = _clients.get(url)
        if made is None:
            client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
            # EVALSHA, falling back to EVAL the first time a server sees the script.
            made = (client, client.register_script(_SCRIPT))
            _clients[url] = made
        return made


def key_for(permission: str, user_id: int) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:quota:{permission}:{user_id}"


def now_ms() -> int:
    return int(timezone.now().timestamp() * 1000)


def _to_datetime(score: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(score / 1000, tz=datetime.UTC)


def count(*, key: str, window: datetime.timedelta, limit: int, member: str = "") -> Count:
    """Count the uses in the window, and take one more (as ``member``) if given and under ``limit``."""
    window_ms = int(window.total_seconds() * 1000)
    _redis, script = _client()
    try:
        taken, used, next_free = script(keys=[key], args=[now_ms(), window_ms, limit, member])
    except redis.RedisError as error:
        raise QuotaUnavailable(str(error)) from error
    return Count(
        taken=bool(taken),
        used=int(used),
        frees_at=None if int(next_free) < 0 else _to_datetime(int(next_free) + window_ms),
    )


def give_back(*, key: str, member: str) -> None:
    """Undo one use (the action it paid for did not happen)."""
    client, _script = _client()
    try:
        client.zrem(key, member)
    except redis.RedisError as error:
        raise QuotaUnavailable(str(error)) from error
