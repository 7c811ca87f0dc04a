"""The shape of an event: a versioned, JSON-serializable frozen dataclass with a registered name.

This module imports only the standard library, so that every app's ``events`` module (which may
import nothing else) can build on it. Publishing and subscribing live in ``forum.bus``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import uuid
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, dataclass_transform

__all__ = [
    "Event",
    "EventSchemaError",
    "event",
    "event_class",
    "event_from_json",
    "event_to_json",
    "registered_events",
]


class EventSchemaError(ValueError):
    """An event that cannot be registered, serialized or read back."""


@dataclasses.dataclass(frozen=True)
class Event:
    """Base of every event. Subclasses are declared with ``@event("app.fact", version=1)``.

    Fields hold ids and plain values only (str, int, float, bool, None, lists and tuples of them,
    dicts with string keys, datetimes and UUIDs), never model instances.
    """

    name: ClassVar[str] = ""
    version: ClassVar[int] = 0


_REGISTRY: dict[tuple[str, int], type[Event]] = {}

E = TypeVar("E", bound=Event)


@dataclass_transform(frozen_default=True)
def event(name: str, *, version: int = 1) -> Callable[[type[E]], type[E]]:
    """Register an event class under ``name`` and ``version`` and make it a frozen dataclass.

    Two versions of one event may live side by side while consumers move from one to the next.
    """
    if "." not in name:
        raise EventSchemaError(f"event name {name!r} must be '<app>.<fact>'")
    if version < 1:
        raise EventSchemaError("event versions start at 1")

    def register(cls: type[E]) -> type[E]:
        if not issubclass(cls, Event):
            raise EventSchemaError(f"{cls.__name__} must derive from forum.events.Event")
        key = (name, version)
        existing = _REGISTRY.get(key)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise EventSchemaError(f"event {name} v{version} is already {existing.__qualname__}")
        cls.name = name
        cls.version = version
        frozen = dataclasses.dataclass(frozen=True)(cls)
        _REGISTRY[key] = frozen
        return frozen

    return register


def registered_events() -> dict[tuple[str, int], type[Event]]:
    """Every registered (name, version) and its class."""
    return dict(_REGISTRY)


def event_class(name: str, version: int) -> type[Event]:
    try:
        return _REGISTRY[(name, version)]
    except KeyError:
        raise EventSchemaError(f"unknown event {name} v{version}") from None


def _encode(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"__date__": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"__uuid__": str(value)}
    if isinstance(value, (list, tuple)):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise EventSchemaError("dict keys in an event must be strings")
        return {key: _encode(item) for key, item in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise EventSchemaError(f"an event cannot carry a {type(value).__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_decode(item) for item in value)
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, item),) = value.items()
            if key == "__datetime__":
                return datetime.datetime.fromisoformat(item)
            if key == "__date__":
                return datetime.date.fromisoformat(item)
            if key == "__uuid__":
                return uuid.UUID(item)
        return {key: _decode(item) for key, item in value.items()}
    return value


def event_payload(instance: Event) -> dict[str, Any]:
    """The event's fields as a JSON-ready dict (raises EventSchemaError for anything else)."""
    if not isinstance(instance, Event) or not instance.name:
        raise EventSchemaError(f"{instance!r} is not a registered event")
    payload = {field.name: getattr(instance, field.name) for field in dataclasses.fields(instance)}
    encoded: dict[str, Any] = _encode(payload)
    return encoded


def event_to_json(instance: Event) -> str:
    return json.dumps(
        {"name": instance.name, "version": instance.version, "payload": event_payload(instance)},
        sort_keys=True,
    )


def event_from_payload(name: str, version: int, payload: dict[str, Any]) -> Event:
    cls = event_class(name, version)
    decoded = _decode(payload)
    known = {field.name for field in dataclasses.fields(cls)}
    unknown = set(decoded) - known
    if unknown:
        raise EventSchemaError(f"{name} v{version} has no field(s) {sorted(unknown)}")
    try:
        return cls(**decoded)
    except TypeError as error:
        raise EventSchemaError(f"{name} v{version}: {error}") from None


def event_from_json(text: str) -> Event:
    data = json.loads(text)
    return event_from_payload(data["name"], int(data["version"]), data["payload"])
