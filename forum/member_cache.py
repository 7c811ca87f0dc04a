"""What every signed-in request reads of its member, kept in Redis per member and read in one round trip.

Before a page does its own work it reads the member's account (the authentication backend), their
permission facts (the authorization app) and the header's two counts (the dialog and notification
apps). Each app registers its **part** with the per-member scopes it depends on
(``register("dialog.unread", "dialog-unread:{id}")``) and reads it with ``read(part, user_id, build)``.
Inside ``member_scope()`` (opened for every request by ``MemberCacheMiddleware``) the first read of a
member fetches every registered part of theirs and the versions of their scopes in ONE ``MGET``; the
other parts of the request are then answered from that, with no further round trip. For the signed-in
member of a request even that is saved: the session store fetches their parts in the round trip that
reads the session (``prefetch_keys``, ``prefill``).

A part is served only when it was kept under the current versions of its scopes (as in
``forum.versioned_cache``, whose versions these are). The app that changes what a part holds calls
``changed("dialog-unread:{id}", user_ids)`` in the changing transaction: a new version starts at once
(reads inside that transaction see the change) and another once it commits (``versioned_cache.changed``:
whatever a request built from the old rows in between is never served), and the rest of the current
request reads that part from the database. A scope without ``{id}`` is shared by every member
(a change too wide to name its members, such as a deleted thread's notifications).

``KEPT_PARTS_SECONDS`` bounds every entry's life, and 0 turns the mechanism off (the test profile;
the freshness tests turn it on). When Redis is down (``forum.outage``) every part is read from the
database.
"""

from __future__ import annotations

import contextvars
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponseBase

from forum import cache_client, versioned_cache
from forum.outage import Breaker

__all__ = [
    "ALL_MEMBERS_SCOPE",
    "MEMBER_SCOPE",
    "MemberCacheMiddleware",
    "breaker",
    "changed",
    "enabled",
    "keep",
    "member_scope",
    "prefetch_keys",
    "prefill",
    "read",
    "register",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

breaker = Breaker("member_cache")

# The scope of a member's account and access (their row, role, ban, statuses, restrictions): moved by
# the authentication app on every save of the account, and by the authorization app.
MEMBER_SCOPE = "member:{id}"
# The same for every member at once: a change of many accounts made without saving each (an UPDATE of
# many rows, as the bench's seeding does) moves it.
ALL_MEMBERS_SCOPE = "members"

# part -> the templates of its scopes ("member:{id}"), in order.
_parts: dict[str, tuple[str, ...]] = {}


@dataclass
class _Loaded:
    """One member's parts as read in this request."""

    versions: dict[str, str] = field(default_factory=dict)  # scope -> its version now
    values: dict[str, Any] = field(default_factory=dict)  # part -> its value for this request
    asked: set[str] = field(default_factory=set)  # the parts whose entries were fetched
    stale: set[str] = field(default_factory=set)  # scopes this request changed: read, not kept


_memo: contextvars.ContextVar[dict[int, _Loaded] | None] = contextvars.ContextVar(
    "member_cache", default=None
)
# The shared scopes whose versions this request's session read brings (prefetch_keys), for prefill.
_shared_asked: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "member_cache_shared", default=()
)


def register(part: str, *scopes: str) -> None:
    """Declare a part and the scopes it is kept under (``{id}``: the member's id)."""
    _parts[part] = scopes


def enabled() -> bool:

    return int(getattr(settings, "KEPT_PARTS_SECONDS", 0)) > 0


def _address() -> str:
    return str(settings.CACHES["default"].get("LOCATION", ""))


def _failed(address: str, what: str) -> None:
    if breaker.failed(address):
        logger.warning("member_cache: cache unavailable, %s", what, exc_info=True)


def _entry_key(part: str, user_id: int | str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:member:{part}:{user_id}"


def _scopes(part: str, user_id: int) -> tuple[str, ...]:
    return tuple(template.replace("{id}", str(user_id)) for template in _parts[part])


@contextmanager
def member_scope() -> Iterator[None]:
    """Keep what was read of each member until the block ends (a request). A nested scope shares
    the outer one."""
    if _memo.get() is not None:
        yield
        return
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


class MemberCacheMiddleware:
    """Opens ``member_scope`` and ``versioned_cache.request_scope`` around the request, before the
    session and the account are read."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        with member_scope(), versioned_cache.request_scope():
            return self.get_response(request)


def _load(user_id: int, parts: Iterable[str], into: _Loaded) -> bool:
    """Fetch ``parts`` of the member and the versions of their scopes in one round trip (two when a
    version is new: it is started before anything is built under it). False when Redis failed."""
    address = _address()
    if breaker.skipping(address):
        return False
    versioned_cache.start_waiting()
    wanted = [part for part in parts if part not in into.asked]
    scopes = list(dict.fromkeys(scope for part in wanted for scope in _scopes(part, user_id)))
    version_keys = {
        versioned_cache.version_key(scope): scope for scope in scopes if scope not in into.versions
    }
    entry_keys = {_entry_key(part, user_id): part for part in wanted}
    try:
        found = cache_client.get_many([*version_keys, *entry_keys])
        missing = [key for key in version_keys if found.get(key) is None]
        if missing:
            cache_client.add_many({key: secrets.token_hex(8) for key in missing})
            found.update(cache_client.get_many(missing))
    except Exception:  # noqa: BLE001 - without Redis, every part is read from the database
        _failed(address, "reading members from the database")
        return False
    breaker.succeeded(address)
    for key, scope in version_keys.items():
        version = found.get(key)
        if version is None:
            return False
        into.versions[scope] = str(version)
    into.asked.update(wanted)
    for key, part in entry_keys.items():
        entry = found.get(key)
        current = tuple(into.versions[scope] for scope in _scopes(part, user_id))
        if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == current:
            into.values[part] = entry[1]
    return True


def _plan() -> tuple[list[str], list[str]]:
    """Every registered scope template and part, in the order ``prefetch_keys`` names their keys."""
    scopes = list(dict.fromkeys(template for part in _parts for template in _parts[part]))
    return scopes, list(_parts)


def prefetch_keys() -> list[str]:
    """The keys of every part of a member and of their scopes' versions, "{id}" standing for the
    member's id, then the versions of the shared scopes the page will likely read
    (``versioned_cache.shared_scopes``): what the session store fetches in the same round trip as the
    session (``cache_client.get_with_related``), to be handed to ``prefill``. Empty when nothing may be
    read from Redis now. Versions left waiting (Redis was down when they moved) are started first."""
    if not enabled() or _memo.get() is None or breaker.skipping(_address()):
        return []
    versioned_cache.start_waiting()
    scopes, parts = _plan()
    shared = tuple(versioned_cache.shared_scopes())
    _shared_asked.set(shared)
    return (
        [versioned_cache.version_key(scope) for scope in scopes]
        + [_entry_key(part, "{id}") for part in parts]
        + [versioned_cache.version_key(scope) for scope in shared]
    )


def prefill(user_id: int, values: Sequence[Any]) -> None:
    """Take what was fetched with ``prefetch_keys`` for ``user_id`` (its values in that order, None
    where missing) as this request's read of the member. A missing version leaves the member to the
    ordinary read, which starts it."""
    memo = _memo.get()
    if memo is None or user_id in memo:
        return
    scopes, parts = _plan()
    shared = _shared_asked.get()
    if len(values) != len(scopes) + len(parts) + len(shared):
        return
    versioned_cache.remember(
        {
            scope: str(version)
            for scope, version in zip(shared, values[len(scopes) + len(parts) :], strict=True)
            if version is not None
        }
    )
    values = values[: len(scopes) + len(parts)]
    if any(value is None for value in values[: len(scopes)]):
        return
    loaded = _Loaded()
    for template, version in zip(scopes, values, strict=False):
        loaded.versions[template.replace("{id}", str(user_id))] = str(version)
    for part, entry in zip(parts, values[len(scopes) :], strict=True):
        current = tuple(loaded.versions[scope] for scope in _scopes(part, user_id))
        if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == current:
            loaded.values[part] = entry[1]
    loaded.asked.update(parts)
    memo[user_id] = loaded


def read(part: str, user_id: int, build: Callable[[], T]) -> T:
    """The member's ``part``: kept in Redis under the current versions of its scopes, else ``build()``
    (and kept). Inside ``member_scope`` the first read of a member fetches all their parts at once."""
    if not enabled():
        return build()
    memo = _memo.get()
    loaded = memo.get(user_id) if memo is not None else None
    if loaded is None:
        loaded = _Loaded()
        if memo is not None:
            memo[user_id] = loaded
    if part in loaded.values:
        return cast(T, loaded.values[part])
    scopes = _scopes(part, user_id)
    if loaded.stale.intersection(scopes):
        value = build()  # changed by this request: its new version starts only after the commit
        loaded.values[part] = value
        return value
    if part not in loaded.asked:
        everything = list(_parts) if memo is not None else [part]
        if not _load(user_id, everything, loaded):
            return build()
        if part in loaded.values:
            return cast(T, loaded.values[part])
    value = build()
    loaded.values[part] = value
    _store(part, user_id, loaded, scopes, value)
    return value


def _store(part: str, user_id: int, loaded: _Loaded, scopes: tuple[str, ...], value: Any) -> None:
    """Keep ``value`` in Redis under the versions of ``scopes`` this request read."""
    current = tuple(loaded.versions[scope] for scope in scopes)
    address = _address()
    try:
        cache_client.set_value(
            _entry_key(part, user_id), (current, value), timeout=int(settings.KEPT_PARTS_SECONDS)
        )
    except Exception:  # noqa: BLE001 - the value is served, only not kept
        _failed(address, f"could not keep {part}")


def keep(part: str, user_id: int, value: Any) -> None:
    """Replace the member's ``part`` with ``value`` (read by ``read`` before in this request, and
    grown by what the request found: a memo of the member's, such as the watch states of the threads
    they look at). Kept under the versions read then; nothing is kept when this request changed one of
    its scopes or Redis could not be read."""
    if not enabled():
        return
    memo = _memo.get()
    loaded = memo.get(user_id) if memo is not None else None
    if loaded is None:
        return
    scopes = _scopes(part, user_id)
    loaded.values[part] = value
    if loaded.stale.intersection(scopes) or any(scope not in loaded.versions for scope in scopes):
        return
    _store(part, user_id, loaded, scopes, value)


def _start_now(scopes: Iterable[str]) -> None:
    address = _address()
    if not enabled() or breaker.skipping(address):
        return
    started = {scope: secrets.token_hex(8) for scope in scopes}
    try:
        cache_client.set_many_forever(
            {versioned_cache.version_key(scope): version for scope, version in started.items()}
        )
    except Exception:  # noqa: BLE001 - the version after the commit is started (or kept waiting) anyway
        _failed(address, "a version started after the commit only")
    else:
        versioned_cache.remember(started)


def changed(scope: str, user_ids: Iterable[int] = ()) -> None:
    """What is kept under ``scope`` (a template with ``{id}``, for each of ``user_ids``; or a shared
    scope) goes stale: for the rest of this request at once, for everyone once the current transaction
    commits (at once when none is open: the change is committed already)."""
    names = {scope.replace("{id}", str(user_id)) for user_id in user_ids} if "{id}" in scope else {scope}
    if not names:
        return
    if connection.in_atomic_block:
        # Also now, not only after the commit: what reads inside the same transaction (a test's, say)
        # sees the change; a request that builds from the old rows meanwhile keeps them under this
        # version, which the commit's own replaces.
        _start_now(names)
    versioned_cache.changed_committed(*sorted(names))
    memo = _memo.get()
    if memo:
        for user_id, loaded in memo.items():
            for part in _parts:
                if names.intersection(_scopes(part, user_id)):
                    loaded.values.pop(part, None)
                    loaded.stale.update(names.intersection(_scopes(part, user_id)))
