"""Counters in Redis that limit sign-in failures, two-factor codes, sign-ups, resets and mail per address."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings

__all__ = [
    "EMAILS_PER_ADDRESS",
    "PASSWORD_RESETS_PER_IP",
    "SIGNIN_FAILURES_PER_ACCOUNT",
    "SIGNIN_FAILURES_PER_IP",
    "SIGNUPS_PER_IP",
    "TWO_FACTOR_FAILURES_PER_ACCOUNT",
    "TWO_FACTOR_FAILURES_PER_CHALLENGE",
    "TWO_FACTOR_FAILURES_PER_IP",
    "VERIFICATION_RESENDS_PER_ACCOUNT",
    "Limit",
    "address_subject",
    "clear",
    "hit",
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


# Five wrong passwords lock one account name for 15 minutes; twenty lock one address, so that a
# single client cannot spray a common password across many accounts.
SIGNIN_FAILURES_PER_ACCOUNT = Limit("signin-account", 5, 15 * 60)
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
    try:
        client = _client(settings.REDIS_URL)
        with client.pipeline(transaction=False) as pipe:
            pipe.get(_key(limit, subject))
            pipe.ttl(_key(limit, subject))
            count, ttl = pipe.execute()
    except redis.RedisError:
        # Failing open: members can still sign in while Redis is down; the log says limits are off.
        logger.exception("throttle unavailable", extra={"limit": limit.name})
        return None
    if count is None or int(count) < limit.limit:
        return None
    return max(1, int(ttl))


def hit(limit: Limit, subject: str) -> int:
    """Count one event; returns the count in the current window (0 when Redis is unavailable)."""
    key = _key(limit, subject)
    try:
        with _client(settings.REDIS_URL).pipeline(transaction=True) as pipe:
            # The window starts with the key, which expires with it: no key is ever left without a TTL.
            pipe.set(key, 0, ex=limit.window, nx=True)
            pipe.incr(key)
            _created, count = pipe.execute()
    except redis.RedisError:
        logger.exception("throttle unavailable", extra={"limit": limit.name})
        return 0
    return int(count)


def take(limit: Limit, subject: str) -> int | None:
    """Count one event unless over the limit already; the seconds to wait when it is, else None."""
    waited = retry_after(limit, subject)
    if waited is not None:
        return waited
    hit(limit, subject)
    return None


def clear(limit: Limit, subject: str) -> None:
    try:
        _client(settings.REDIS_URL).delete(_key(limit, subject))
    except redis.RedisError:
        logger.exception("throttle unavailable", extra={"limit": limit.name})
