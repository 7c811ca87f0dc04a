"""The session engine: Django's database sessions, read from Redis with the database behind.

Every signed-in request reads its session first. As Django's ``cached_db`` engine does, this store
reads a session from the cache and, on a miss, from the database (one statement in plain SQL: the
ORM's query cost about three times the query itself), and writes every change to the database and
then the cache. The database stays the record: the sessions list reads it
(``apps/authorization/sessions.py``), and every deletion (signing out, cycling the key on sign-in,
ending another session) goes through ``delete`` here, which drops the cached copy too.

Unlike ``cached_db``: keys carry ``REDIS_KEY_PREFIX``; a cached copy lives at most
``KEPT_PARTS_SECONDS`` (0: no cache, the database alone, as in the test profile); while Redis is down
(``forum.outage``) sessions are read from and written to the database only; and a copy that could not
be dropped or replaced (Redis failing at that moment) is dropped at the process's next successful call.
A signed-in session's copy starts with its member's id, so that the one round trip that reads it also
fetches what the request reads of that member (``forum.member_cache.prefetch_keys``): a warm request
reads its session, account, permission facts and header counts in one call to Redis.
``SESSION_ENGINE = "forum.session_store"``; saving, expiry, ``clearsessions`` are Django's.
"""

from __future__ import annotations

import logging
import pickle
import threading
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

from forum import cache_client, member_cache
from forum.member_cache import breaker

__all__ = ["SessionStore"]

logger = logging.getLogger(__name__)

# Cached copies that could not be dropped or replaced (Redis failed): dropped at the next chance.
_undone: set[str] = set()
_undone_lock = threading.Lock()
_UNDONE_LIMIT = 10_000


def _seconds() -> int:

    return int(getattr(settings, "KEPT_PARTS_SECONDS", 0))


def _address() -> str:
    return str(settings.CACHES["default"].get("LOCATION", ""))


def _key(session_key: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:session:{session_key}"


def _failed(address: str, what: str) -> None:
    if breaker.failed(address):
        logger.warning("session_store: cache unavailable, %s", what, exc_info=True)


def _remember_undone(session_key: str) -> None:
    with _undone_lock:
        if len(_undone) < _UNDONE_LIMIT:
            _undone.add(session_key)


def _drop_undone() -> None:
    """Drop the copies this process could not drop before (Redis is reachable again)."""
    with _undone_lock:
        keys = list(_undone)
        _undone.clear()
    if keys:
        try:
            cache_client.delete_many([_key(key) for key in keys])
        except Exception:  # kept for the next chance, and raised to the caller
            for key in keys:
                _remember_undone(key)
            raise


def _member_of(data: dict[str, Any]) -> int | None:
    value = data.get(SESSION_KEY)
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 19 else None


def _encoded(data: dict[str, Any]) -> bytes:
    """A session's copy in Redis: its member's id (if signed in), a colon, the data pickled. The id
    in front lets one round trip fetch the member's parts too (``forum.member_cache``)."""
    member = _member_of(data)
    return f"{'' if member is None else member}:".encode() + pickle.dumps(data, pickle.HIGHEST_PROTOCOL)


def _decoded(raw: bytes | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    _member, colon, body = raw.partition(b":")
    if not colon:
        return None
    try:
        data = pickle.loads(body)  # noqa: S301 - written by this module into the forum's own Redis
    except Exception:  # noqa: BLE001 - an unreadable copy is read again from the database
        return None
    return data if isinstance(data, dict) else None


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self) -> Session | None:
        key = self.session_key
        row = None
        if key is not None:
            with connection.cursor() as cursor:
                cursor.execute(
                    f'SELECT "session_data", "expire_date" FROM "{Session._meta.db_table}" '
                    'WHERE "session_key" = %s AND "expire_date" > %s',
                    [key, timezone.now()],
                )
                row = cursor.fetchone()
        if key is None or row is None:
            self._session_key = None
            return None
        return Session(session_key=key, session_data=row[0], expire_date=row[1])

    def _cache_usable(self) -> bool:
        return _seconds() > 0 and not breaker.skipping(_address())

    def load(self) -> dict[str, Any]:
        key = self.session_key
        if key is not None and self._cache_usable():
            address = _address()
            try:
                if _undone:
                    _drop_undone()
                raw, related = cache_client.get_with_related(_key(key), member_cache.prefetch_keys())
            except Exception:  # noqa: BLE001 - the database answers instead
                _failed(address, "sessions read from the database")
            else:
                breaker.succeeded(address)
                data = _decoded(raw)
                if data is not None:
                    member = _member_of(data)
                    if member is not None and related:
                        member_cache.prefill(member, related)
                    return data
        stored = self._get_session_from_db()
        if stored is None:
            return {}
        data = self.decode(stored.session_data)
        if stored.session_key and self._cache_usable():
            self._keep(stored.session_key, data, self.get_expiry_age(expiry=stored.expire_date))
        return data

    def _keep(self, session_key: str, data: dict[str, Any], expiry_age: int) -> None:
        timeout = min(expiry_age, _seconds())
        address = _address()
        try:
            if timeout > 0:
                cache_client.set_raw(_key(session_key), _encoded(data), timeout=timeout)
            else:
                cache_client.delete_many([_key(session_key)])
        except Exception:  # noqa: BLE001 - an older copy may be left: dropped at the next chance
            _remember_undone(session_key)
            _failed(address, "a session kept in the database only")

    def save(self, must_create: bool = False) -> None:
        super().save(must_create)
        if self.session_key is not None and _seconds() > 0:
            if breaker.skipping(_address()):
                _remember_undone(self.session_key)
            else:
                self._keep(self.session_key, self._get_session(no_load=must_create), self.get_expiry_age())  # type: ignore[attr-defined]

    def delete(self, session_key: str | None = None) -> None:
        super().delete(session_key)
        if session_key is None:
            session_key = self.session_key
        if session_key is None:
            return
        # Whatever KEPT_PARTS_SECONDS says now: a copy kept while it was on must not outlive the row.
        address = _address()
        if breaker.skipping(address):
            _remember_undone(session_key)
            return
        try:
            cache_client.delete_many([_key(session_key)])
        except Exception:  # noqa: BLE001 - dropped at the next chance
            _remember_undone(session_key)
            _failed(address, "a signed-out session dropped later")
