"""The ASGI application of the WebSocket protocol: origin check, member auth, then /ws/."""

from __future__ import annotations

from typing import Any

from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path, re_path

from forum.realtime.auth import member_auth_stack
from forum.realtime.consumer import RealtimeConsumer, RefusingConsumer

__all__ = ["websocket_application"]


def websocket_application() -> Any:
    """What config.asgi mounts under ``"websocket"``.

    The origin check comes first: a page on another site must not open a socket with the member's
    cookies (WebSockets are not bound by the same-origin policy).
    """
    routes = URLRouter(
        [
            path("ws/", RealtimeConsumer.as_asgi()),
            re_path(r"", RefusingConsumer.as_asgi()),
        ]
    )
    return AllowedHostsOriginValidator(member_auth_stack(routes))
