"""Who is on a WebSocket: the member of a connection, and the sign-in (credential) that opened it.

The seam for more ways to sign in: an app registers an authenticator (the authorization app registers
one that reads its JWT access cookie) from its ``AppConfig.ready``; the kernel never imports it.
``MemberMiddleware`` asks the authenticators in order of registration, then falls back to the Django
session that channels' ``AuthMiddlewareStack`` resolved, and puts the answer in the scope: the member
id (or None) in ``scope["forum_member_id"]`` and the whole ``SocketIdentity`` in
``scope["forum_socket_identity"]``.

The credential names the sign-in a socket belongs to (``session:<key>``, or what an authenticator
says, such as ``token-family:<id>``): the consumer joins a group per credential, so that ending that
one sign-in closes exactly its sockets (``forum.realtime.disconnect_credential``), and closes the
socket by itself when the credential expires (an access token's ``exp``). ``identity_still_valid``
asks again once the socket has joined its groups, so that a sign-out that raced the handshake is not
missed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import import_module
from types import SimpleNamespace
from typing import Any

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth import get_user

from forum.realtime.delivery import disconnect_credential

__all__ = [
    "IDENTITY_SCOPE_KEY",
    "MEMBER_ID_SCOPE_KEY",
    "Authenticator",
    "MemberMiddleware",
    "SocketIdentity",
    "identity_still_valid",
    "member_auth_stack",
    "register_authenticator",
    "session_credential",
]

logger = logging.getLogger(__name__)

MEMBER_ID_SCOPE_KEY = "forum_member_id"
IDENTITY_SCOPE_KEY = "forum_socket_identity"


@dataclass(frozen=True)
class SocketIdentity:
    """The member of a connection and the sign-in that put them there.

    ``credential`` names that one sign-in (None: it cannot be ended on its own, only with all of the
    member's sockets); ``expires_at`` (Unix time) is when it stops signing in by itself.
    """

    member_id: int
    credential: str | None = None
    expires_at: float | None = None


Authenticator = Callable[[Mapping[str, Any]], int | SocketIdentity | None]
"""``authenticator(scope) -> SocketIdentity | user id | None``; gets the ASGI scope with ``cookies``
and ``headers``.

It runs in a thread (it may read the database) and must return None for anything it does not
accept, so that the next way of signing in is tried. A bare user id is a sign-in without a credential.
"""


def session_credential(session_key: str) -> str:
    """The credential of the sockets a Django session opened (``disconnect_credential`` ends them)."""
    return f"session:{session_key}"


_AUTHENTICATORS: dict[str, Authenticator] = {}


def register_authenticator(name: str, authenticator: Authenticator) -> None:
    """Add a way to find the member of a connection, asked before the session (``name`` is for logs)."""
    if not callable(authenticator):
        raise TypeError(f"authenticator {name!r} must be callable")
    _AUTHENTICATORS[name] = authenticator


def unregister_authenticator(name: str) -> None:
    _AUTHENTICATORS.pop(name, None)


def _session_identity(scope: Mapping[str, Any]) -> SocketIdentity | None:
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        return None
    member_id = user.pk
    if not isinstance(member_id, int):
        return None
    session_key = getattr(scope.get("session"), "session_key", None)
    return SocketIdentity(member_id, session_credential(session_key) if session_key else None)


def _fresh_session_identity(scope: Mapping[str, Any]) -> SocketIdentity | None:
    """The session's identity read from the store again, not from what the handshake loaded."""
    session_key = getattr(scope.get("session"), "session_key", None)
    if not session_key:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=session_key)
    # Django's own check, as at every request: the session exists, names an active account and
    # carries that account's current password hash.
    user = get_user(SimpleNamespace(session=store))  # type: ignore[arg-type]
    if not user.is_authenticated or not isinstance(user.pk, int):
        return None
    return SocketIdentity(user.pk, session_credential(session_key))


def _ask(name: str, authenticator: Authenticator, scope: Mapping[str, Any]) -> SocketIdentity | None:
    try:
        answer = authenticator(scope)
    except Exception:  # a broken authenticator refuses, it does not take the socket down
        logger.exception("real-time authenticator failed", extra={"authenticator": name})
        return None
    if answer is None:
        return None
    identity = answer if isinstance(answer, SocketIdentity) else SocketIdentity(answer)
    member_id = identity.member_id
    if isinstance(member_id, bool) or not isinstance(member_id, int) or member_id <= 0:
        logger.error("real-time authenticator returned no user id", extra={"authenticator": name})
        return None
    return identity


def _authenticate(scope: Mapping[str, Any]) -> SocketIdentity | None:
    for name, authenticator in list(_AUTHENTICATORS.items()):
        identity = _ask(name, authenticator, scope)
        if identity is not None:
            return identity
    return None


def _identify_again(scope: Mapping[str, Any]) -> SocketIdentity | None:
    return _authenticate(scope) or _fresh_session_identity(scope)


async def identity_still_valid(scope: Mapping[str, Any], identity: SocketIdentity) -> bool:
    """Whether the connection's sign-in still signs the same member in, asked anew (one or two
    queries): a sign-out between the handshake and the socket joining its groups is caught here."""
    again = await database_sync_to_async(_identify_again)(scope)
    return again is not None and (again.member_id, again.credential) == (
        identity.member_id,
        identity.credential,
    )


class MemberMiddleware:
    """ASGI middleware that puts the connection's member id (or None) into the scope."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope)
        identity = await database_sync_to_async(_authenticate)(scope) if _AUTHENTICATORS else None
        if identity is None:
            identity = _session_identity(scope)
        scope[IDENTITY_SCOPE_KEY] = identity
        scope[MEMBER_ID_SCOPE_KEY] = identity.member_id if identity is not None else None
        return await self.inner(scope, receive, send)


def close_sockets_of_signed_out_session(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Receiver of Django's ``user_logged_out`` (connected by ``forum.apps``): whoever signs a session
    out (the site's form, the API's sign-out, the admin's), the sockets that session opened close with
    4401 before that request answers. The session is deleted first, so that a socket opening meanwhile
    is refused when it asks again (``identity_still_valid``); ``logout`` then flushes it as usual."""
    session = getattr(request, "session", None)
    session_key = getattr(session, "session_key", None)
    if session is None or not session_key:
        return
    session.delete(session_key)
    disconnect_credential(session_credential(session_key))


def member_auth_stack(inner: Any) -> Any:
    """Cookies, session, session user (channels), then the member id for ``inner``."""
    return AuthMiddlewareStack(MemberMiddleware(inner))
