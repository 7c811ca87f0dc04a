"""Who is on a WebSocket: the member id of a connection, from a registered credential or the session.

The seam for more ways to sign in: an app registers an authenticator (the authorization app will
register one that reads its JWT access cookie) from its ``AppConfig.ready``; the kernel never imports
it. ``MemberMiddleware`` asks the authenticators in order of registration, then falls back to the
Django session that channels' ``AuthMiddlewareStack`` resolved, and puts the answer (a user id or
None) in ``scope["forum_member_id"]``. The consumer reads only that key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async

__all__ = [
    "MEMBER_ID_SCOPE_KEY",
    "Authenticator",
    "MemberMiddleware",
    "member_auth_stack",
    "register_authenticator",
]

logger = logging.getLogger(__name__)

MEMBER_ID_SCOPE_KEY = "forum_member_id"

Authenticator = Callable[[Mapping[str, Any]], int | None]
"""``authenticator(scope) -> user id | None``; gets the ASGI scope with ``cookies`` and ``headers``.

It runs in a thread (it may read the database) and must return None for anything it does not
accept, so that the next way of signing in is tried.
"""

_AUTHENTICATORS: dict[str, Authenticator] = {}


def register_authenticator(name: str, authenticator: Authenticator) -> None:
    """Add a way to find the member of a connection, asked before the session (``name`` is for logs)."""
    if not callable(authenticator):
        raise TypeError(f"authenticator {name!r} must be callable")
    _AUTHENTICATORS[name] = authenticator


def unregister_authenticator(name: str) -> None:
    _AUTHENTICATORS.pop(name, None)


def _session_member_id(scope: Mapping[str, Any]) -> int | None:
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        return None
    member_id = user.pk
    return member_id if isinstance(member_id, int) else None


def _ask(name: str, authenticator: Authenticator, scope: Mapping[str, Any]) -> int | None:
    try:
        member_id = authenticator(scope)
    except Exception:  # a broken authenticator refuses, it does not take the socket down
        logger.exception("real-time authenticator failed", extra={"authenticator": name})
        return None
    if member_id is None:
        return None
    if isinstance(member_id, bool) or not isinstance(member_id, int) or member_id <= 0:
        logger.error("real-time authenticator returned no user id", extra={"authenticator": name})
        return None
    return member_id


def _authenticate(scope: Mapping[str, Any]) -> int | None:
    for name, authenticator in list(_AUTHENTICATORS.items()):
        member_id = _ask(name, authenticator, scope)
        if member_id is not None:
            return member_id
    return None


class MemberMiddleware:
    """ASGI middleware that puts the connection's member id (or None) into the scope."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope)
        member_id = await database_sync_to_async(_authenticate)(scope) if _AUTHENTICATORS else None
        if member_id is None:
            member_id = _session_member_id(scope)
        scope[MEMBER_ID_SCOPE_KEY] = member_id
        return await self.inner(scope, receive, send)


def member_auth_stack(inner: Any) -> Any:
    """Cookies, session, session user (channels), then the member id for ``inner``."""
    return AuthMiddlewareStack(MemberMiddleware(inner))
