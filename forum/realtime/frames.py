"""The JSON frames of the WebSocket protocol (docs/realtime.md) and the limits that bound them."""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = [
    "CLOSE_UNAUTHENTICATED",
    "MAX_INBOUND_FRAME_BYTES",
    "MAX_OUTBOUND_FRAME_BYTES",
    "MAX_SUBSCRIPTIONS",
    "error_frame",
    "event_frame",
    "frame",
    "validate_kind",
    "whisper_frame",
]

# 4401 mirrors HTTP 401: the connection has no member (no session, an expired one, or signed out).
CLOSE_UNAUTHENTICATED = 4401
MAX_INBOUND_FRAME_BYTES = 64 * 1024
# What the server sends is bounded too, so that one careless caller cannot fill the layer's memory.
MAX_OUTBOUND_FRAME_BYTES = 256 * 1024
MAX_SUBSCRIPTIONS = 50

_KIND = re.compile(r"^[a-z][a-z0-9_.\-]{0,63}$")


def validate_kind(kind: object) -> str:
    """``kind`` names what happened (``"notification.created"``, ``"typing"``); raises ValueError."""
    if not isinstance(kind, str) or not _KIND.match(kind):
        raise ValueError(
            f"kind {kind!r} must be 1-64 characters: a lowercase letter, then a-z, 0-9, '.', '_' or '-'"
        )
    return kind


def frame(content: dict[str, Any], *, limit: int = MAX_OUTBOUND_FRAME_BYTES) -> str:
    """Encode a server frame; raises ValueError when it is not JSON or larger than ``limit`` bytes."""
    try:
        text = json.dumps(content, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"a real-time payload must be plain JSON: {error}") from None
    size = len(text.encode("utf-8"))
    if size > limit:
        raise ValueError(f"a real-time frame may have at most {limit} bytes, this one has {size}")
    return text


def _checked_payload(payload: object) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise ValueError(f"a real-time payload must be a JSON object (a dict), not {type(payload).__name__}")
    return payload


def event_frame(kind: str, payload: dict[str, Any], *, topic: str | None = None) -> str:
    content: dict[str, Any] = {"type": "event", "kind": validate_kind(kind)}
    if topic is not None:
        content["topic"] = topic
    content["payload"] = _checked_payload(payload)
    return frame(content)


def whisper_frame(topic: str, kind: str, payload: dict[str, Any], *, sender_id: int) -> str:
    return frame(
        {
            "type": "whisper",
            "topic": topic,
            "kind": validate_kind(kind),
            "sender_id": sender_id,
            "payload": _checked_payload(payload),
        }
    )


def error_frame(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message, **extra}
