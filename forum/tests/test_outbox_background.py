"""The background send after commit (``OUTBOX_SEND_MODE=background``) against the real RabbitMQ.

The test profile sends inline; here each test turns the background sender on. What must hold
(docs/architecture.md, "When the broker is down"): committed events reach their subscribers without
the request sending them; what the sender cannot send (the broker down, its queue full) stays pending
in the outbox, and the sweep delivers it once the broker is back. Nothing here measures time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from forum import bus
from forum.models import OutboxEvent
from forum.testing import processes
from forum.testing.bus_app.events import SampleRecorded
from forum.testing.tcp_proxy import TcpProxy
from forum.tests.test_broker_faults import broker_through
from forum.tests.test_bus import effects, new_key, publish_committed, queue_prefix, wait_until, worker

__all__ = ["queue_prefix", "worker"]  # fixtures, imported to be found

pytestmark = pytest.mark.slow


@pytest.fixture
def background(settings: Any) -> Iterator[None]:
    settings.OUTBOX_SEND_MODE = "background"
    yield
    bus.stop_background_sender(timeout=30.0)
    bus.broker_breaker.reset()


@pytest.fixture
def broker_proxy(settings: Any) -> Iterator[TcpProxy]:
    target = urlsplit(settings.CELERY_BROKER_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5672)
    settings.OUTBOX_BROKER_SKIP_SECONDS = 3600  # a failure is remembered for the whole test
    yield proxy
    proxy.close()


def row(event_id: Any) -> OutboxEvent:
    return OutboxEvent.objects.get(id=event_id)


@pytest.mark.django_db(transaction=True)
def test_committed_events_reach_their_subscribers_from_the_background_sender(
    worker: processes.Child, background: None
) -> None:
    keys = [new_key() for _ in range(3)]
    ids = [publish_committed(SampleRecorded(key=key, value=f"value {n}")) for n, key in enumerate(keys)]
    for n, key in enumerate(keys):
        wait_until(lambda key=key, n=n: effects(key) == [f"value {n}"], what="the handler's effect")
    wait_until(lambda: all(row(event_id).dispatched_at is not None for event_id in ids), what="rows marked")
    assert [row(event_id).attempts for event_id in ids] == [1, 1, 1]
    assert bus.sweep_outbox(min_age_seconds=0) == 0, "nothing was left for the sweep"


@pytest.mark.django_db(transaction=True)
def test_a_broker_outage_leaves_the_background_senders_events_to_the_sweep(
    worker: processes.Child, background: None, broker_proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    with broker_through(broker_proxy, monkeypatch):
        warm = new_key()  # the sender sends with the requester's Celery app: through the proxy
        publish_committed(SampleRecorded(key=warm, value="before"))
        wait_until(lambda: effects(warm) == ["before"], what="delivery through the proxy")
        assert broker_proxy.accepted >= 1

        broker_proxy.cut()
        key = new_key()
        event_id = publish_committed(SampleRecorded(key=key, value="late"))
        wait_until(lambda: row(event_id).attempts == 1, what="the sender's failed attempt")
        assert row(event_id).dispatched_at is None and row(event_id).last_error
        # The process remembers the failure: the next event is not even tried.
        tried = broker_proxy.accepted
        second = publish_committed(SampleRecorded(key=key, value="later"))
        bus.stop_background_sender(timeout=30.0)  # what was queued has been handled
        assert row(second).dispatched_at is None and row(second).attempts == 0
        assert broker_proxy.accepted == tried
        assert bus.sweep_outbox(min_age_seconds=0) == 0  # still down: nothing sent, nothing lost

        broker_proxy.restore()
        assert bus.sweep_outbox(min_age_seconds=0) == 2
    wait_until(lambda: sorted(effects(key)) == ["late", "later"], what="delivery after the broker returned")
    assert row(event_id).dispatched_at is not None and row(second).dispatched_at is not None


@pytest.mark.django_db(transaction=True)
def test_events_beyond_a_full_send_queue_are_left_to_the_sweep(
    worker: processes.Child,
    background: None,
    broker_proxy: TcpProxy,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
) -> None:
    settings.OUTBOX_SEND_QUEUE_SIZE = 1
    settings.OUTBOX_SEND_TIMEOUT_SECONDS = 60.0  # the hung send lasts until the test cuts the broker
    with broker_through(broker_proxy, monkeypatch):
        broker_proxy.hang()
        keys = [new_key() for _ in range(3)]
        # The first holds the sender on the hung broker; at most one more fits in its queue.
        ids = [publish_committed(SampleRecorded(key=key, value="queued")) for key in keys]
        last = row(ids[-1])
        assert last.dispatched_at is None and last.attempts == 0 and last.last_error == ""

        broker_proxy.cut()  # the hung send fails; the process then skips the broker
        bus.stop_background_sender(timeout=30.0)
        assert not OutboxEvent.objects.filter(id__in=ids).exclude(dispatched_at=None)
    # The sweep, as a worker runs it, on the broker itself (Celery reads its address from the
    # environment, which pointed at the proxy).
    monkeypatch.undo()
    assert bus.sweep_outbox(min_age_seconds=0) == 3
    for key in keys:
        wait_until(lambda key=key: effects(key) == ["queued"], what="delivery by the sweep")
