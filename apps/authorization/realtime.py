"""The WebSocket's way in for the single-page app: the access-token cookie (see docs/realtime.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import parse_cookie

from apps.authorization.services import access_token_member

AUTHENTICATOR_NAME = "jwt-cookie"


def member_from_access_cookie(scope: Mapping[str, Any]) -> int | None:
    """The member of a valid access-token cookie whose family is on; None otherwise (then the session
    is tried). Registered with ``forum.realtime.register_authenticator``; runs in a thread."""
    cookies = scope.get("cookies")
    if cookies is None:  # outside channels' cookie middleware: read the handshake's header
        headers = dict(scope.get("headers") or [])
        cookies = parse_cookie(bytes(headers.get(b"cookie", b"")).decode("latin-1"))
    raw = cookies.get(settings.JWT_ACCESS_COOKIE_NAME)
    return access_token_member(token=raw) if raw else None
