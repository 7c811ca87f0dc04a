"""The event bus against the real broker (RabbitMQ) and real Celery worker processes."""

from __future__ import annotations

import datetime
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import pytest
from celery import Celery, current_app
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.test.utils import override_settings
from django.utils import timezone

from forum import bus
from forum.models import OutboxEvent, ProcessedEvent
from forum.testing import processes
from forum.testing.bus_app.events import BackendAsked, FlakyRequested, SampleRecorded, SlowRequested
from forum.testing.bus_app.handlers import attempts_key, on_sample_recorded, redis_client
from forum.testing.bus_app.models import HandlerEffect
from forum.testing.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow


def wait_until(
    condition: Callable[[], bool], *, timeout: float = 30.0, what: str = "condition", db: bool = True
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db:  # each look at the database sees what the worker committed since
            close_old_connections()
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def effects(key: str) -> list[str]:
    return list(HandlerEffect.objects.filter(key=key).order_by("id").values_list("value", flat=True))


def new_key() -> str:
    return uuid.uuid4().hex


@pytest.fixture(scope="module")
def queue_prefix() -> Iterator[str]:
    prefix = processes.unique_prefix()
    with override_settings(FORUM_QUEUE_PREFIX=prefix, REDIS_KEY_PREFIX=prefix):
        yield prefix


@pytest.fixture(scope="module")
def worker(
    queue_prefix: str, django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[processes.Child]:
    """One worker on the bus test queue for the whole module, with short retry backoff."""
    with django_db_blocker.unblock():
        env = processes.child_env(EVENT_HANDLER_RETRY_BACKOFF="1")
    child = processes.start_child(
        "worker",
        processes.celery_worker_command(queues=["testing_bus"], concurrency=1),
        env=env,
        log_dir=tmp_path_factory.mktemp("worker"),
    )
    wait_until(lambda: "ready" in child.log(), what="the worker to be ready", db=False)
    yield child
    child.stop()


def publish_committed(event: Any) -> uuid.UUID:
    with transaction.atomic():
        return bus.publish(event)


@pytest.mark.django_db(transaction=True)
def test_publish_without_a_transaction_is_refused() -> None:
    with pytest.raises(bus.OutsideTransactionError):
        bus.publish(SampleRecorded(key="k", value="v"))
    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db
def test_the_events_of_one_change_are_written_by_one_insert_in_their_order() -> None:
    """publish_many: one round trip for the rows of several events (a new thread's two), which keep
    the order they were given in where the outbox is read oldest first."""
    from django.test.utils import CaptureQueriesContext

    keys = [new_key() for _ in range(3)]
    with CaptureQueriesContext(connection) as captured, transaction.atomic():
        ids = bus.publish_many([SampleRecorded(key=key, value=str(n)) for n, key in enumerate(keys)])
        single = bus.publish(SampleRecorded(key=new_key(), value="alone"))
    inserts = [query["sql"] for query in captured.captured_queries if "INSERT" in query["sql"]]
    assert len(inserts) == 2, inserts
    rows = list(OutboxEvent.objects.filter(id__in=ids).order_by("created_at", "id"))
    assert [row.id for row in rows] == ids
    assert [row.payload for row in rows] == [{"key": key, "value": str(n)} for n, key in enumerate(keys)]
    assert all(row.dispatched_at is None and row.attempts == 0 and row.request_id == "" for row in rows)
    assert OutboxEvent.objects.filter(id=single).exists()


@pytest.mark.django_db(transaction=True)
def test_committed_event_reaches_its_subscriber_once(worker: processes.Child) -> None:
    key = new_key()
    event_id = publish_committed(SampleRecorded(key=key, value="hello"))
    wait_until(lambda: effects(key) == ["hello"], what="the handler's effect")
    row = OutboxEvent.objects.get(id=event_id)
    assert row.dispatched_at is not None
    assert ProcessedEvent.objects.filter(event_id=event_id, handler="testing_bus.on_sample_recorded").exists()


@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_database_connection_from_one_event_to_the_next(worker: processes.Child) -> None:
    """Celery's Django fixup would close it around every task (a new PostgreSQL backend per event,
    milliseconds on the path of every live update); CELERY_DB_REUSE_MAX and forum.celery_db keep it."""
    key = new_key()
    for _ in range(3):
        publish_committed(BackendAsked(key=key))
    wait_until(lambda: len(effects(key)) == 3, what="three handled events")
    assert len(set(effects(key))) == 1, effects(key)


@pytest.mark.django_db(transaction=True)
def test_event_of_a_rolled_back_transaction_is_never_delivered(worker: processes.Child) -> None:
    rolled_back = new_key()
    with pytest.raises(RuntimeError), transaction.atomic():
        bus.publish(SampleRecorded(key=rolled_back, value="ghost"))
        raise RuntimeError("the change fails after publishing")
    assert not OutboxEvent.objects.filter(payload__key=rolled_back).exists()

    # A later event on the same queue is handled: had the first been sent, it would be handled first
    # (one worker, one process, prefetch one: the queue is served in order).
    marker = new_key()
    publish_committed(SampleRecorded(key=marker, value="after"))
    wait_until(lambda: effects(marker) == ["after"], what="the marker event")
    bus.sweep_outbox(min_age_seconds=0)
    assert effects(rolled_back) == []


@pytest.mark.django_db(transaction=True)
def test_failing_handler_is_retried_with_its_writes_rolled_back(worker: processes.Child) -> None:
    key = new_key()
    publish_committed(FlakyRequested(key=key))
    wait_until(lambda: effects(key) != [], what="the third attempt", timeout=60)
    # Attempts 1 and 2 wrote a row and then raised: their rows rolled back with them.
    assert effects(key) == ["attempt 3"]
    assert int(redis_client().get(attempts_key(key)) or 0) == 3


@pytest.mark.django_db(transaction=True)
def test_a_redelivered_event_is_not_handled_twice(worker: processes.Child) -> None:
    key = new_key()
    event_id = publish_committed(SampleRecorded(key=key, value="once"))
    wait_until(lambda: effects(key) == ["once"], what="the first delivery")

    # The broker delivers the same message again, and the sweep sends the row once more.
    row = OutboxEvent.objects.get(id=event_id)
    current_app.send_task(
        "testing_bus.on_sample_recorded", args=[str(row.id), row.name, row.version, row.payload]
    )
    OutboxEvent.objects.filter(id=event_id).update(dispatched_at=None)
    assert bus.sweep_outbox(min_age_seconds=0) >= 1

    marker = new_key()
    publish_committed(SampleRecorded(key=marker, value="after"))
    wait_until(lambda: effects(marker) == ["after"], what="the marker after the duplicates")
    assert effects(key) == ["once"]
    assert ProcessedEvent.objects.filter(event_id=event_id).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_wait_for_each_other_and_act_once(queue_prefix: str) -> None:
    """Two deliveries of one event at the same moment: the second waits on the first, then skips."""
    key = new_key()
    event = SampleRecorded(key=key, value="race")
    event_id = str(uuid.uuid4())
    payload = {"key": key, "value": "race"}
    results: list[str] = []
    started = threading.Barrier(2)

    def deliver() -> None:
        try:
            started.wait()
            results.append(on_sample_recorded.run(event_id, event.name, event.version, payload))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == ["duplicate", "handled"]
    assert effects(key) == ["race"]


@pytest.mark.django_db(transaction=True)
def test_event_published_while_the_broker_is_down_is_delivered_when_it_returns(
    worker: processes.Child, queue_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = urlparse(settings.CELERY_BROKER_URL)
    proxy = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672)
    proxied_url = urlunparse(broker._replace(netloc=f"{broker.username}:{broker.password}@{proxy.url_host}"))
    # Celery reads CELERY_BROKER_URL from the environment before any configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", proxied_url)
    publisher = Celery("forum-publisher", set_as_current=False)
    publisher.config_from_object("django.conf:settings", namespace="CELERY")
    assert publisher.conf.broker_url == proxied_url
    previous = current_app._get_current_object()
    publisher.set_current()
    try:
        warm = new_key()  # the publisher's connection works through the proxy
        publish_committed(SampleRecorded(key=warm, value="before"))
        wait_until(lambda: effects(warm) == ["before"], what="delivery through the proxy")

        proxy.cut()
        key = new_key()
        event_id = publish_committed(SampleRecorded(key=key, value="late"))
        row = OutboxEvent.objects.get(id=event_id)
        assert row.dispatched_at is None, "the event must stay in the outbox while the broker is away"
        assert row.attempts == 1 and row.last_error
        assert bus.sweep_outbox(min_age_seconds=0) == 0  # still down: nothing sent, nothing lost
        assert OutboxEvent.objects.get(id=event_id).dispatched_at is None

        proxy.restore()
        assert bus.sweep_outbox(min_age_seconds=0) == 1
        wait_until(lambda: effects(key) == ["late"], what="delivery after the broker returned")
        assert OutboxEvent.objects.get(id=event_id).dispatched_at is not None
    finally:
        previous.set_current()
        proxy.close()
        publisher.close()


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_task_gets_the_task_again(queue_prefix: str, tmp_path: Path) -> None:
    env = processes.child_env()
    command = processes.celery_worker_command(queues=["testing_slow"], concurrency=1, name="doomed")
    first = processes.start_child("doomed", command, env=env, log_dir=tmp_path)
    try:
        wait_until(lambda: "ready" in first.log(), what="the first worker")
        key = new_key()
        publish_committed(SlowRequested(key=key, seconds=60))
        wait_until(lambda: redis_client().get(attempts_key(key)) is not None, what="the task to start")
        first.signal(signal.SIGKILL)
        first.process.wait(10)
    finally:
        first.stop()
    assert effects(key) == []

    second = processes.start_child(
        "survivor",
        processes.celery_worker_command(queues=["testing_slow"], name="survivor"),
        env=env,
        log_dir=tmp_path,
    )
    try:
        wait_until(lambda: effects(key) == ["attempt 2"], what="redelivery to the second worker", timeout=60)
    finally:
        second.stop()


@pytest.mark.django_db(transaction=True)
def test_a_worker_stopped_with_sigterm_finishes_its_task_first(queue_prefix: str, tmp_path: Path) -> None:
    env = processes.child_env()
    command = processes.celery_worker_command(queues=["testing_slow"], concurrency=1, name="warm")
    child = processes.start_child("warm", command, env=env, log_dir=tmp_path)
    key = new_key()
    try:
        wait_until(lambda: "ready" in child.log(), what="the worker")
        publish_committed(SlowRequested(key=key, seconds=2))
        wait_until(lambda: redis_client().get(attempts_key(key)) is not None, what="the task to start")
        child.process.send_signal(signal.SIGTERM)  # to the main process, as docker stop does
        assert child.process.wait(30) == 0
    finally:
        child.stop()
    # The warm shutdown let the running task finish; it ran once and nothing is left to redeliver.
    assert effects(key) == ["attempt 1"]


@pytest.mark.django_db(transaction=True)
def test_with_more_pending_rows_than_one_sweep_takes_the_oldest_go_first(queue_prefix: str) -> None:
    """A backlog longer than a batch drains oldest first: no event waits behind ever newer ones."""
    now = timezone.now()
    key = new_key()
    # Written newest first, so that the table's own order is the reverse of their age.
    rows = [
        OutboxEvent.objects.create(
            name=SampleRecorded.name, version=SampleRecorded.version, payload={"key": key, "value": str(n)}
        )
        for n in range(5)
    ]
    for age, row in enumerate(rows, start=1):
        OutboxEvent.objects.filter(id=row.id).update(created_at=now - datetime.timedelta(hours=age))
    oldest_first = [row.id for row in reversed(rows)]

    assert bus.sweep_outbox(min_age_seconds=0, batch=2) == 2
    sent = set(
        OutboxEvent.objects.filter(payload__key=key).exclude(dispatched_at=None).values_list("id", flat=True)
    )
    assert sent == set(oldest_first[:2])
    assert bus.sweep_outbox(min_age_seconds=0, batch=2) == 2
    sent = set(
        OutboxEvent.objects.filter(payload__key=key).exclude(dispatched_at=None).values_list("id", flat=True)
    )
    assert sent == set(oldest_first[:4])


@pytest.mark.django_db
def test_delivered_rows_are_pruned_after_the_retention_period() -> None:
    now = timezone.now()
    old = OutboxEvent.objects.create(
        name="testing_bus.sample_recorded",
        version=1,
        payload={},
        dispatched_at=now - datetime.timedelta(days=8),
    )
    recent = OutboxEvent.objects.create(
        name="testing_bus.sample_recorded",
        version=1,
        payload={},
        dispatched_at=now - datetime.timedelta(days=1),
    )
    pending_old = OutboxEvent.objects.create(name="testing_bus.sample_recorded", version=1, payload={})
    OutboxEvent.objects.filter(id=pending_old.id).update(created_at=now - datetime.timedelta(days=30))
    ProcessedEvent.objects.create(event_id=uuid.uuid4(), handler="h")
    ProcessedEvent.objects.filter(handler="h").update(processed_at=now - datetime.timedelta(days=8))

    assert bus.prune_outbox(older_than_days=7) == (1, 1)
    remaining = set(OutboxEvent.objects.values_list("id", flat=True))
    assert old.id not in remaining
    assert {recent.id, pending_old.id} <= remaining  # undelivered rows are never pruned


def test_tasks_are_routed_to_their_apps_queue(settings: Any) -> None:
    settings.FORUM_QUEUE_PREFIX = "p-"
    assert bus.route_task("notification.on_post_created", (), {}, {}) == {"queue": "p-notification"}
    assert bus.queue_for("forum.sweep_outbox") == "p-forum"


def test_the_sweep_and_the_prune_are_scheduled() -> None:
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"forum.sweep_outbox", "forum.prune_outbox"} <= tasks
    assert "forum.sweep_outbox" in current_app.tasks and "forum.prune_outbox" in current_app.tasks
