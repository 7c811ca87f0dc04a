"""The API's JSON parser: DRF's, with a bound on nesting, so that no body however built is a 500.

Python's JSON decoder recurses once per array or object level, so about 2.4 KB of ``[[[...`` exhausts
the interpreter's stack (``RecursionError``, which DRF's parser does not catch), and a body a little
less deep parses but can still blow the stack later, in a serializer's error message or a log line.
No request of this API nests more than a few levels, so anything deeper than ``MAX_JSON_DEPTH`` is
refused as a parse error (400, the usual error shape) before a view sees it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

__all__ = ["MAX_JSON_DEPTH", "JSONParser", "json_depth_exceeds"]

# Deeper than any body the API takes (a notification preferences document is three levels).
MAX_JSON_DEPTH = 32


def json_depth_exceeds(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``value`` (decoded JSON) nests arrays and objects more than ``limit`` levels deep.

    Iterative, so that it cannot itself run out of stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (Mapping, list)))
    return False


class JSONParser(parsers.JSONParser):
    """``rest_framework.parsers.JSONParser`` that answers a too-deep body with a 400, never a 500."""

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels deep.") from None
        if json_depth_exceeds(data):
            raise ParseError(f"JSON parse error - nested more than {MAX_JSON_DEPTH} levels deep.")
        return data
