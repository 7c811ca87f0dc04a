"""The WebSocket's way in for the single-page app: the access-token cookie (see docs/realtime.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import parse_cookie

from apps.authorization.services import access_token_grant, token_credential
from forum.realtime import SocketIdentity

AUTHENTICATOR_NAME = "jwt-cookie"


def member_from_access_cookie(scope: Mapping[str, Any]) -> SocketIdentity | None:
    """The member of a valid access-token cookie whose family is on, with the family as the socket's
    credential (revoking it closes the socket) and the token's expiry as the socket's (it closes then
    too); None otherwise (then the session is tried). Registered with
    ``forum.realtime.register_authenticator``; runs in a thread."""
    cookies = scope.get("cookies")
    if cookies is None:  # outside channels' cookie middleware: read the handshake's header
        headers = dict(scope.get("headers") or [])
        cookies = parse_cookie(bytes(headers.get(b"cookie", b"")).decode("latin-1"))
    raw = cookies.get(settings.JWT_ACCESS_COOKIE_NAME)
    grant = access_token_grant(token=raw) if raw else None
    if grant is None:
        return None
    expires_at = grant.expires_at.timestamp() if grant.expires_at is not None else None
    return SocketIdentity(grant.user_id, token_credential(family_id=grant.family_id), expires_at)
