"""Event schema: registration, versioning and the JSON round trip."""

import dataclasses
import datetime
import uuid

import pytest

from forum.events import (
    Event,
    EventSchemaError,
    event,
    event_from_json,
    event_to_json,
)


@event("testing.sample_happened", version=1)
class SampleHappened(Event):
    sample_id: int
    tags: tuple[str, ...] = ()
    at: datetime.datetime | None = None
    ref: uuid.UUID | None = None


@event("testing.sample_happened", version=2)
class SampleHappenedV2(Event):
    sample_id: int
    reason: str


def test_event_round_trips_through_json() -> None:
    original = SampleHappened(
        sample_id=7,
        tags=("a", "b"),
        at=datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        ref=uuid.UUID(int=5),
    )
    assert event_from_json(event_to_json(original)) == original


def test_versions_live_side_by_side() -> None:
    second = SampleHappenedV2(sample_id=1, reason="moved")
    restored = event_from_json(event_to_json(second))
    assert type(restored) is SampleHappenedV2
    assert (restored.name, restored.version) == ("testing.sample_happened", 2)


def test_events_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SampleHappened(sample_id=1).sample_id = 2  # type: ignore[misc]


def test_non_json_values_are_refused() -> None:
    with pytest.raises(EventSchemaError):
        event_to_json(SampleHappened(sample_id=object()))  # type: ignore[arg-type]


def test_unknown_event_or_field_is_refused() -> None:
    with pytest.raises(EventSchemaError):
        event_from_json('{"name": "testing.nothing", "version": 1, "payload": {}}')
    with pytest.raises(EventSchemaError):
        event_from_json('{"name": "testing.sample_happened", "version": 2, "payload": {"x": 1}}')


def test_a_name_needs_an_app_prefix() -> None:
    with pytest.raises(EventSchemaError):
        event("nodot")
