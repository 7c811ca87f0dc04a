"""Checks of the WebSocket protocol's AsyncAPI document (forum/asyncapi.yaml) for the tests.

``frame_errors`` tells which documented message a frame is (by its ``type``, and for events by its
``kind``) and what in the frame its payload schema refuses; a frame that matches no message of its
direction is an error too, so that an undocumented frame or event kind fails the test that saw it.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any, Literal

import jsonschema  # type: ignore[import-untyped]  # no stubs; only the tests use it

__all__ = [
    "OFFICIAL_SCHEMA_PATH",
    "Direction",
    "assert_documented",
    "frame_errors",
    "message_name",
    "resolve",
]

# The AsyncAPI Initiative's JSON Schema of AsyncAPI 3.0.0 (vendor/README.md says where it comes from).
OFFICIAL_SCHEMA_PATH = Path(__file__).with_name("vendor") / "asyncapi-specs" / "asyncapi-3.0.0.schema.json"

# "send": frames the server sends (client's view: received); "receive": frames the server receives.
Direction = Literal["send", "receive"]


def official_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(OFFICIAL_SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def resolve(document: dict[str, Any], node: Any) -> Any:
    """``node`` with its ``$ref`` chain (local JSON pointers) followed to the end."""
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        pointer = node["$ref"]
        if not pointer.startswith("#/") or pointer in seen:
            raise ValueError(f"not a local reference, or a loop: {pointer}")
        seen.add(pointer)
        node = document
        for part in pointer[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _message_pointers(document: dict[str, Any], direction: Direction) -> dict[str, str]:
    """Pointer to each component message sent in ``direction``, by its key in the channel: the
    messages of the operations of that action, and the replies to those of the other."""
    references = []
    for operation in document["operations"].values():
        if operation["action"] == direction:
            references.extend(operation.get("messages", []))
        else:
            references.extend(operation.get("reply", {}).get("messages", []))
    found: dict[str, str] = {}
    for reference in references:
        # #/channels/<channel>/messages/<key> -> #/components/messages/<name>
        channel_messages, key = reference["$ref"].rsplit("/", 1)
        found[key] = resolve(document, {"$ref": channel_messages})[key]["$ref"]
    return found


def _is_date_time(value: object) -> bool:
    # RFC 3339 as Python writes it (isoformat of an aware datetime): a time zone is required.
    return not isinstance(value, str) or datetime.datetime.fromisoformat(value).tzinfo is not None


# jsonschema checks date-time only with an extra package installed; this check needs none.
_FORMATS = jsonschema.FormatChecker()
_FORMATS.checks("date-time", raises=ValueError)(_is_date_time)


def message_name(
    document: dict[str, Any], frame: dict[str, Any], direction: Direction = "send"
) -> str | None:
    """The key of the documented message ``frame`` is: same ``type`` and, where the message fixes
    one, same ``kind``; None when no message of ``direction`` fits."""
    for key, pointer in _message_pointers(document, direction).items():
        properties = resolve(document, {"$ref": pointer})["payload"].get("properties", {})
        if properties.get("type", {}).get("const") != frame.get("type"):
            continue
        kind = properties.get("kind", {}).get("const")
        if kind is None or kind == frame.get("kind"):
            return key
    return None


def frame_errors(document: dict[str, Any], frame: dict[str, Any], direction: Direction = "send") -> list[str]:
    """What is wrong with ``frame`` against the document; empty when it is a documented message."""
    key = message_name(document, frame, direction)
    if key is None:
        return [
            f"no documented {direction} message has type {frame.get('type')!r} and kind {frame.get('kind')!r}"
        ]
    pointer = _message_pointers(document, direction)[key]
    validator = jsonschema.Draft7Validator(
        {"$ref": f"{pointer}/payload", "components": document["components"]},
        format_checker=_FORMATS,
    )
    return [
        f"{key}: {'/'.join(map(str, error.path))}: {error.message}" for error in validator.iter_errors(frame)
    ]


def assert_documented(document: dict[str, Any], frame: dict[str, Any], direction: Direction = "send") -> str:
    """The message key of ``frame``; fails the test when the document does not describe it."""
    errors = frame_errors(document, frame, direction)
    assert errors == [], (frame, errors)
    key = message_name(document, frame, direction)
    assert key is not None
    return key
