"""Events of the bus test app."""

from forum.events import Event, event


@event("testing_bus.sample_recorded", version=1)
class SampleRecorded(Event):
    key: str
    value: str


@event("testing_bus.flaky_requested", version=1)
class FlakyRequested(Event):
    key: str


@event("testing_bus.slow_requested", version=1)
class SlowRequested(Event):
    key: str
    seconds: float


@event("testing_bus.backend_asked", version=1)
class BackendAsked(Event):
    key: str
