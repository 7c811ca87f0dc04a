"""Counters in Redis that limit sign-in failures, two-factor codes, sign-ups, resets and mail per address.

When Redis is down the limits do not switch off (an outage an attacker can cause must not open the
door to password guessing), and sign-ins are not refused either: each process counts in its own
memory instead, with the same limits and windows. With N processes an attacker gets at most N times
the allowance during the outage, which still keeps guessing hopeless. Counts taken in memory keep
applying after Redis returns, until their window ends, added to what Redis counts; Redis is not told
about them. After a failure Redis is skipped for ``REDIS_OUTAGE_SKIP_SECONDS`` (``forum.outage``).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings

from forum.outage import Breaker

__all__ = [
    "EMAILS_PER_ADDRESS",
    "PASSWORD_RESETS_PER_IP",
    "SIGNIN_FAILURES_PER_ACCOUNT",
    "SIGNIN_FAILURES_PER_DEVICE",
    "SIGNIN_FAILURES_PER_IP",
    "SIGNUPS_PER_IP",
    "TWO_FACTOR_FAILURES_PER_ACCOUNT",
    "TWO_FACTOR_FAILURES_PER_CHALLENGE",
    "TWO_FACTOR_FAILURES_PER_IP",
    "VERIFICATION_RESENDS_PER_ACCOUNT",
    "Limit",
    "LocalCounters",
    "address_subject",
    "clear",
    "hit",
    "local_counters",
    "redis_breaker",
    "retry_after",
    "store",
    "take",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    """At most ``limit`` events per ``window`` seconds, counted from the first one (a fixed window)."""

    name: str
    limit: int
    window: int


# Five wrong passwords lock one account for 15 minutes, whichever of its names (username, address)
# they were typed with (a name with no account is counted as typed); twenty lock one address, so that a
# single client cannot spray a common password across many accounts. A browser that signed in to the
# account before (its device cookie) is held only by its own five failures instead, so that strangers'
# failures cannot lock the owner out (OWASP, "Slow Down Online Guessing Attacks with Device Cookies").
SIGNIN_FAILURES_PER_ACCOUNT = Limit("signin-account", 5, 15 * 60)
SIGNIN_FAILURES_PER_DEVICE = Limit("signin-device", 5, 15 * 60)
SIGNIN_FAILURES_PER_IP = Limit("signin-ip", 20, 15 * 60)
# A six-digit code has a million values: ten wrong ones per account in 15 minutes (whichever sign-in or
# settings form they came through) keep guessing hopeless; one sign-in challenge takes five before it
# is dropped (the window outlives the challenge); one address may miss thirty across accounts.
TWO_FACTOR_FAILURES_PER_ACCOUNT = Limit("2fa-account", 10, 15 * 60)
TWO_FACTOR_FAILURES_PER_CHALLENGE = Limit("2fa-challenge", 5, 15 * 60)
TWO_FACTOR_FAILURES_PER_IP = Limit("2fa-ip", 30, 15 * 60)
SIGNUPS_PER_IP = Limit("signup-ip", 10, 60 * 60)
PASSWORD_RESETS_PER_IP = Limit("reset-ip", 5, 15 * 60)
VERIFICATION_RESENDS_PER_ACCOUNT = Limit("verify-resend", 3, 60 * 60)
# Links mailed to one address, whatever asked for them: nobody can flood a mailbox through us.
EMAILS_PER_ADDRESS = Limit("mail-address", 5, 60 * 60)


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def store() -> redis.Redis:
    """The Redis connection the counters live in; the two-factor sign-in challenges are kept there too."""
    return _client(settings.REDIS_URL)


def _key(limit: Limit, subject: str) -> str:
    # Hashed: keys carry no addresses or names, and any subject fits.
    digest = hashlib.sha256(subject.casefold().encode()).hexdigest()[:40]
    return f"{settings.REDIS_KEY_PREFIX}:auth-throttle:{limit.name}:{digest}"


class LocalCounters:
    """The same fixed windows in this process's memory, for while Redis is down.

    Bounded: past ``capacity`` keys the oldest windows are dropped first (expired ones before that),
    so that a flood of made-up names cannot exhaust the memory of the process.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._windows: OrderedDict[str, tuple[int, float]] = OrderedDict()  # key -> (count, ends at)

    def get(self, key: str) -> tuple[int, int]:
        """(count, seconds left) of the key's current window; (0, 0) when there is none."""
        with self._lock:
            found = self._windows.get(key)
            if found is None:
                return 0, 0
            count, ends_at = found
            left = ends_at - time.monotonic()
            if left <= 0:
                del self._windows[key]
                return 0, 0
            return count, max(1, int(left + 0.999))

    def hit(self, key: str, window: int) -> int:
        now = time.monotonic()
        with self._lock:
            count, ends_at = self._windows.get(key, (0, 0.0))
            if ends_at <= now:  # the window starts with its first event, as in Redis
                count, ends_at = 0, now + window
            self._windows[key] = (count + 1, ends_at)
            if len(self._windows) > self.capacity:
                self._make_room(now)
            return count + 1

    def _make_room(self, now: float) -> None:
        for key in [key for key, (_count, ends_at) in self._windows.items() if ends_at <= now]:
            del self._windows[key]
        while len(self._windows) > self.capacity:
            self._windows.popitem(last=False)

    def clear(self, key: str) -> None:
        with self._lock:
            self._windows.pop(key, None)

    def reset(self) -> None:
        """Forget every count (tests)."""
        with self._lock:
            self._windows.clear()


local_counters = LocalCounters()
redis_breaker = Breaker("auth-throttles")


def _redis_failed(limit: Limit) -> None:
    if redis_breaker.failed(settings.REDIS_URL):
        logger.exception(
            "throttle store unavailable: counting in this process until it returns",
            extra={"limit": limit.name},
        )


def _redis_worked() -> None:
    if redis_breaker.succeeded(settings.REDIS_URL):
        logger.info("throttle store available again")


def address_subject(ip: str) -> str:
    """What a per-address limit counts: the address, or for IPv6 its /64, which one client owns whole."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def retry_after(limit: Limit, subject: str) -> int | None:
    """Seconds until ``subject`` may try again, or None while it is under the limit."""
    key = _key(limit, subject)
    count, seconds_left = local_counters.get(key)
    waits = [seconds_left] if count else []
    if not redis_breaker.skipping(settings.REDIS_URL):
        try:
            with _client(settings.REDIS_URL).pipeline(transaction=False) as pipe:
                pipe.get(key)
                pipe.ttl(key)
                counted, ttl = pipe.execute()
        except redis.RedisError:
            _redis_failed(limit)
        else:
            _redis_worked()
            if counted is not None and int(counted) > 0:
                count += int(counted)
                waits.append(max(1, int(ttl)))
    if count < limit.limit:
        return None
    return max(waits)


def hit(limit: Limit, subject: str) -> int:
    """Count one event; returns the count in the current window (of Redis, or of this process)."""
    key = _key(limit, subject)
    if not redis_breaker.skipping(settings.REDIS_URL):
        try:
            with _client(settings.REDIS_URL).pipeline(transaction=True) as pipe:
                # The window starts with the key, which expires with it: no key is ever left without a TTL.
                pipe.set(key, 0, ex=limit.window, nx=True)
                pipe.incr(key)
                _created, count = pipe.execute()
        except redis.RedisError:
            _redis_failed(limit)
        else:
            _redis_worked()
            return int(count) + local_counters.get(key)[0]
    return local_counters.hit(key, limit.window)


def take(limit: Limit, subject: str) -> int | None:
    """Count one event unless over the limit already; the seconds to wait when it is, else None."""
    waited = retry_after(limit, subject)
    if waited is not None:
        return waited
    hit(limit, subject)
    return None


def clear(limit: Limit, subject: str) -> None:
    key = _key(limit, subject)
    local_counters.clear(key)
    if redis_breaker.skipping(settings.REDIS_URL):
        return
    try:
        _client(settings.REDIS_URL).delete(key)
    except redis.RedisError:
        _redis_failed(limit)
    else:
        _redis_worked()
