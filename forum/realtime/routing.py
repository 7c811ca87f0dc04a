"""WebSocket routing (placeholder)."""

from typing import Any

from channels.routing import URLRouter


def websocket_application() -> Any:
    return URLRouter([])
