"""Parts of pages built once and kept, under versions that the owning apps bump after their changes commit.

What a page shows the same way to everyone with the same permissions and language (a member's list of
threads on their profile, say) need not be built for every request. ``kept(what, parts, scopes, build)``
answers what ``build()`` answers, kept in Redis under a key made of ``what`` and ``parts`` (whatever
decides the content: an id, the reader's permission-set key, the language) together with the current
versions of ``scopes``. A scope is a name of what changes: each app's events bump the app's own scope
(``forum.bus.publish`` calls ``changed(<the event's app>)``: a ``thread.post_created`` bumps
``"thread"``), and a change that publishes no event calls ``changed(scope)`` itself in its transaction
(``forum.pagecache.changed`` does for the guests' pages, so each of those changes bumps the same scope
here too). A version is started once the transaction commits, never before: a version started before
the commit could be read by a request that still builds from the old rows and keeps them under it.

``local=True`` also keeps the built value in the process's memory, under the same versions: the versions
are still read from Redis on each call (one round trip for all of them), only the entry's transfer and
unpickling are saved. Nothing is served from memory without the versions read just now.

Inside ``request_scope()`` (every request: ``forum.member_cache.MemberCacheMiddleware`` opens it) a
version is read once per request: the first ``versions()`` call fetches its scopes together with every
shared scope (a name without ``:``) this process has been asked for lately, in one round trip, and
the session's own round trip brings them too (``forum.member_cache.prefetch_keys``), so a page that
reads the forums' structure, a thread's posts and the status badges reads the versions once, not three
times. A version this request starts (after its commit) replaces the one it read.

When Redis is down (or was, less than ``REDIS_OUTAGE_SKIP_SECONDS`` ago: ``forum.outage``) ``kept``
builds the value every time and keeps nothing; a version that could not be started is remembered by the
process and started at its next successful look at the cache, and every entry expires after
``KEPT_PARTS_SECONDS`` in any case (0 switches the whole mechanism off: every call builds).
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar, cast

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction

from forum import cache_client
from forum.outage import Breaker

__all__ = [
    "ChangeOutsideTransactionError",
    "changed",
    "changed_committed",
    "kept",
    "local_forget",
    "remember",
    "request_scope",
    "shared_scopes",
    "start_waiting",
    "version_key",
    "versions",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

breaker = Breaker("versioned_cache")
# Scopes whose new version could not be started (Redis was down): started at the next chance.
_unfinished: set[str] = set()
_lock = threading.Lock()
# The process's own layer: entry key -> (versions, value, expires at, monotonic). Bounded, oldest out.
_LOCAL_LIMIT = 256
_local: OrderedDict[str, tuple[tuple[str, ...], Any, float]] = OrderedDict()


# This request's versions (request_scope): scope -> version as read (or started) by this request.
_request: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "versioned_cache_request", default=None
)
# The shared scopes (no ":" in the name: not one thread's or member's) asked for lately, most recent
# last: fetched with any version a request reads first. Bounded: a scope unused for a while drops out.
_SHARED_LIMIT = 24
_shared: OrderedDict[str, None] = OrderedDict()


@contextmanager
def request_scope() -> Iterator[None]:
    """Read each version once until the block ends (a request). A nested scope shares the outer one."""
    if _request.get() is not None:
        yield
        return
    token = _request.set({})
    try:
        yield
    finally:
        _request.reset(token)


def shared_scopes() -> list[str]:
    """The shared scopes this process was asked for lately (what a request's first read brings along)."""
    with _lock:
        return list(_shared)


def remember(found: Mapping[str, str]) -> None:
    """Versions read (or started) elsewhere in this request, scope -> version: later reads in the
    request take them (``forum.member_cache`` hands over what the session's round trip brought)."""
    memo = _request.get()
    if memo is not None:
        memo.update(found)


def _learn(names: Iterable[str]) -> None:
    shared = [name for name in names if ":" not in name]
    if not shared:
        return
    with _lock:
        for name in shared:
            _shared[name] = None
            _shared.move_to_end(name)
        while len(_shared) > _SHARED_LIMIT:
            _shared.popitem(last=False)


class ChangeOutsideTransactionError(RuntimeError):
    """``changed()`` was called with no transaction open."""


def _version_key(scope: str) -> str:
    # REDIS_KEY_PREFIX too (the cache's own prefix is fixed at start): tests get keys of their own.
    return f"{settings.REDIS_KEY_PREFIX}:versions:{scope}"


def version_key(scope: str) -> str:
    """The Redis key (before the cache's own prefix) of ``scope``'s version, for a reader that fetches
    versions together with its entries in one round trip (forum.member_cache)."""
    return _version_key(scope)


def _entry_key(what: str, parts: Sequence[object]) -> str:
    digest = hashlib.sha256(repr(tuple(parts)).encode()).hexdigest()[:32]
    return f"{settings.REDIS_KEY_PREFIX}:kept:{what}:{digest}"


def _address() -> str:
    return str(settings.CACHES["default"].get("LOCATION", ""))


def _failed(address: str, what: str) -> None:
    if breaker.failed(address):
        logger.warning("versioned_cache: cache unavailable, %s", what, exc_info=True)


def _start(scopes: set[str]) -> None:
    """New versions for ``scopes``, now; those that cannot be started are kept for later."""
    address = _address()
    memo = _request.get()
    if not breaker.skipping(address):
        started = {scope: secrets.token_hex(8) for scope in scopes}
        try:
            cache.set_many({_version_key(scope): version for scope, version in started.items()}, timeout=None)
        except Exception:  # noqa: BLE001 - whatever the cache raises, the change must not fail
            _failed(address, "new versions kept for later")
        else:
            breaker.succeeded(address)
            with _lock:
                _unfinished.difference_update(scopes)
            if memo is not None:
                memo.update(started)
            return
    if memo is not None:  # read again (and found missing: nothing served as kept) by this request
        for scope in scopes:
            memo.pop(scope, None)
    with _lock:
        _unfinished.update(scopes)


def start_waiting() -> None:
    """Start the versions that could not be started when they changed (Redis was down), now: a reader
    that fetches versions itself (forum.member_cache) calls it first, as ``versions`` does."""
    with _lock:
        waiting = set(_unfinished)
    if waiting:
        _start(waiting)


def _after_commit(scopes: frozenset[str]) -> None:
    with _lock:
        waiting = set(_unfinished)
    _start({*scopes, *waiting})


def changed(*scopes: str) -> None:
    """What is kept under ``scopes`` goes stale once the current transaction commits."""
    if not connection.in_atomic_block:
        raise ChangeOutsideTransactionError(f"changed{scopes!r} needs an open transaction")
    if scopes:
        bump = _Bump(frozenset(scopes))
        waiting: list[_Bump] = connection.__dict__.setdefault("versioned_cache_bumps", [])
        waiting.append(bump)
        # Rolled-back callbacks stay listed until the next commit: bounded (one dropped from the list
        # still runs on its own commit, only not together with the others).
        del waiting[:-256]
        transaction.on_commit(bump, robust=True)


class _Bump:
    """The after-commit callback of one ``changed()`` call. The first of a transaction's callbacks to
    run starts the versions of all of them in one Redis write (a reply publishes an event, which moves
    its app's scope, the thread's scope and the guests' pages: one write, not three); the others then
    have nothing left to do. A callback dropped by a rollback may be taken along by the next commit's
    write: a version moved for nothing, never one missed."""

    def __init__(self, scopes: frozenset[str]) -> None:
        self.scopes = scopes
        self.ran = False

    def __call__(self) -> None:
        if self.ran:
            return
        waiting: list[_Bump] = connection.__dict__.get("versioned_cache_bumps", [])
        together = {bump for bump in waiting if not bump.ran} | {self}
        waiting.clear()
        scopes: set[str] = set()
        for bump in together:
            bump.ran = True
            scopes.update(bump.scopes)
        _after_commit(frozenset(scopes))


def changed_committed(*scopes: str) -> None:
    """``changed`` for a change already committed (a signal after an autocommit save): the new
    versions start now, or after the commit when a transaction is still open."""
    if connection.in_atomic_block:
        changed(*scopes)
    elif scopes:
        _after_commit(frozenset(scopes))


def _enabled() -> bool:
    return int(getattr(settings, "KEPT_PARTS_SECONDS", 0)) > 0


def versions(scopes: Iterable[str]) -> tuple[str, ...] | None:
    """The current versions of ``scopes`` (in their order), one round trip; None when Redis is down
    (then nothing may be served as kept)."""
    address = _address()
    if breaker.skipping(address):
        return None
    with _lock:
        waiting = set(_unfinished)
    if waiting:
        _start(waiting)
        if breaker.skipping(address):
            return None
    names = list(scopes)
    _learn(names)
    memo = _request.get()
    if memo is None:
        fetch = names
    else:
        if all(name in memo for name in names):
            return tuple(memo[name] for name in names)
        # With what this request did not read yet, the shared scopes it is likely to read next.
        fetch = list(dict.fromkeys(name for name in (*names, *shared_scopes()) if name not in memo))
    keys = {_version_key(scope): scope for scope in fetch}
    try:
        # The kept client (forum.cache_client): Django's builds a Redis client object on every call.
        found = cache_client.get_many(list(keys))
        for key in keys:
            if key not in found and keys[key] in names:
                cache.add(key, secrets.token_hex(8), timeout=None)
                found[key] = cache.get(key)
    except Exception:  # noqa: BLE001 - without versions, nothing is served as kept
        _failed(address, "building instead")
        return None
    breaker.succeeded(address)
    read = {scope: str(found[key]) for key, scope in keys.items() if found.get(key) is not None}
    if memo is not None:
        memo.update(read)
        read = memo
    if any(name not in read for name in names):
        return None
    return tuple(read[name] for name in names)


def _local_get(key: str, current: tuple[str, ...]) -> tuple[bool, Any]:
    with _lock:
        entry = _local.get(key)
    if entry is None or entry[0] != current or entry[2] < time.monotonic():
        return False, None
    return True, entry[1]


def _local_put(key: str, current: tuple[str, ...], value: Any) -> None:
    expires = time.monotonic() + int(settings.KEPT_PARTS_SECONDS)
    with _lock:
        _local[key] = (current, value, expires)
        _local.move_to_end(key)
        while len(_local) > _LOCAL_LIMIT:
            _local.popitem(last=False)


def local_forget() -> None:
    """Drop the process's own layer (tests)."""
    with _lock:
        _local.clear()


def kept(
    what: str,
    parts: Sequence[object],
    scopes: Sequence[str],
    build: Callable[[], T],
    *,
    local: bool = False,
) -> T:
    """``build()``, kept under ``what`` and ``parts`` until a version of ``scopes`` changes (see above).

    ``parts`` must name everything the value depends on besides the scopes' data: the ids, the reader's
    permission-set key (``apps.authorization.services.permission_key_for``), the language. The value
    must pickle (Redis) and must not be changed by its users (``local`` hands out the same object).
    """
    current = versions(scopes) if _enabled() else None
    if current is None:
        return build()
    key = _entry_key(what, parts)
    if local:
        hit, value = _local_get(key, current)
        if hit:
            return value  # type: ignore[no-any-return]
    address = _address()
    try:
        entry = cache_client.get(key)
    except Exception:  # noqa: BLE001 - a cache failure builds as if there were none
        _failed(address, f"building {what}")
        return build()
    if entry is not None and entry[0] == current:
        value = entry[1]
    else:
        value = build()
        try:
            cache.set(key, (current, value), timeout=int(settings.KEPT_PARTS_SECONDS))
        except Exception:  # noqa: BLE001 - the value is served, only not kept
            _failed(address, f"could not keep {what}")
            return value
    if local:
        _local_put(key, current, value)
    return cast(T, value)
