"""Test subscribers: one that records, one that fails twice first, one that is slow the first time.

Attempts are counted in Redis, outside the handler's transaction, because the handler's own writes
roll back when it fails.
"""

import time

import redis
from django.conf import settings
from django.db import connection

from forum.bus import subscribe
from forum.testing.bus_app.events import BackendAsked, FlakyRequested, SampleRecorded, SlowRequested
from forum.testing.bus_app.models import HandlerEffect


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def attempts_key(key: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}:bus-test:attempts:{key}"


@subscribe(SampleRecorded, name="testing_bus.on_sample_recorded")
def on_sample_recorded(event: SampleRecorded) -> None:
    HandlerEffect.objects.create(key=event.key, handler="record", value=event.value)


@subscribe(FlakyRequested, name="testing_bus.on_flaky_requested")
def on_flaky_requested(event: FlakyRequested) -> None:
    attempt = redis_client().incr(attempts_key(event.key))
    # The write happens before the failure, so a failed attempt proves its writes roll back.
    HandlerEffect.objects.create(key=event.key, handler="flaky", value=f"attempt {attempt}")
    if attempt <= 2:
        raise RuntimeError(f"failing on purpose, attempt {attempt}")


@subscribe(SlowRequested, name="testing_slow.on_slow_requested")
def on_slow_requested(event: SlowRequested) -> None:
    attempt = redis_client().incr(attempts_key(event.key))
    if attempt == 1:
        time.sleep(event.seconds)
    HandlerEffect.objects.create(key=event.key, handler="slow", value=f"attempt {attempt}")


@subscribe(BackendAsked, name="testing_bus.on_backend_asked")
def on_backend_asked(event: BackendAsked) -> None:
    """Records the PostgreSQL backend (server process) the worker's connection is served by."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    HandlerEffect.objects.create(key=event.key, handler="backend", value=str(pid))
