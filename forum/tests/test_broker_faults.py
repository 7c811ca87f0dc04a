"""Faults of the Celery broker (RabbitMQ) behind a TCP proxy: hung (accepts, never answers) and refusing.

What must hold (docs/architecture.md, "When the broker is down"): a write answers without waiting on
the broker, since its event is safe in the outbox; the send after commit is bounded by
``OUTBOX_SEND_TIMEOUT_SECONDS`` and leaves the row pending with its error; after one failure the
process does not even try the broker for ``OUTBOX_BROKER_SKIP_SECONDS``; reading never touches the
broker; and the sweep delivers every pending row once the broker is back.

Nothing here measures time: the write runs in a thread whose completion the test waits for, and a
write that waits on the broker with no bound never completes (the guard fails after a minute).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from celery import Celery, current_app
from django.conf import settings
from django.db import connection
from django.test import Client

from forum import bus
from forum.models import OutboxEvent
from forum.testing import processes
from forum.testing.tcp_proxy import TcpProxy
from forum.tests.test_faults import api, forum_and_thread, new_member, signed_in_client

__all__ = ["forum_and_thread"]  # a fixture, imported to be found

# Long enough for a guard against a request that never ends, never the measure of a fast one.
NEVER = 60.0


@contextmanager
def broker_through(proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch) -> Iterator[Celery]:
    """A Celery app whose broker is reached through ``proxy``, current in this thread while it lasts."""
    broker = urlsplit(settings.CELERY_BROKER_URL)
    netloc = f"{broker.username}:{broker.password}@{proxy.url_host}"
    # Celery reads CELERY_BROKER_URL from the environment before any configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", urlunsplit(broker._replace(netloc=netloc)))
    app = Celery("forum-publisher", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    previous = current_app._get_current_object()
    app.set_current()
    try:
        yield app
    finally:
        previous.set_current()
        app.close()


@pytest.fixture
def broker_proxy(settings: Any) -> Iterator[TcpProxy]:
    target = urlsplit(settings.CELERY_BROKER_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5672)
    # Queues of this test alone; a send waits a fifth of a second a step (the sweep's, a second), and a
    # failure is remembered for the whole test, so that "the second write does not try" does not
    # depend on the clock.
    settings.FORUM_QUEUE_PREFIX = processes.unique_prefix()
    settings.OUTBOX_SEND_TIMEOUT_SECONDS = 0.2
    settings.OUTBOX_BROKER_SKIP_SECONDS = 3600
    settings.OUTBOX_SWEEP_SEND_TIMEOUT_SECONDS = 1.0
    yield proxy
    proxy.close()
    bus.broker_breaker.reset()


def in_a_request_thread(app: Celery, call: Callable[[], Any]) -> Any:
    """``call()`` in a thread of its own, as a server's worker runs a request; fails if it never ends."""
    result: dict[str, Any] = {}

    def run() -> None:
        app.set_current()  # the current Celery app is per thread
        try:
            result["answer"] = call()
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(NEVER)
    assert not thread.is_alive(), "the request is still waiting on the broker"
    return result["answer"]


def post_event(post_id: int) -> OutboxEvent:
    return OutboxEvent.objects.get(name="thread.post_created", payload__post_id=post_id)


def reply(client: Any, thread_id: int, body: str) -> int:
    answer = api(client, "post", f"/api/v1/threads/{thread_id}/posts", {"body": body})
    assert answer.status_code == 201, answer.content
    return int(answer.json()["id"])


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fault", ["hang", "cut"])
def test_writes_answer_while_the_broker_fails_and_the_sweep_delivers_after(
    fault: str, forum_and_thread: dict[str, int], broker_proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    thread_id = forum_and_thread["thread"]
    author, _name = new_member()
    member = signed_in_client(author)
    with broker_through(broker_proxy, monkeypatch) as app:
        # Through the proxy while the broker answers: sent on commit, with a connection kept open.
        warm = in_a_request_thread(app, lambda: reply(member, thread_id, "Before"))
        assert post_event(warm).dispatched_at is not None
        assert broker_proxy.accepted == 1

        # "hang": the broker keeps the open connection and accepts new ones, and answers nothing.
        # "cut": it drops the connection and refuses new ones.
        getattr(broker_proxy, fault)()
        first = in_a_request_thread(app, lambda: reply(member, thread_id, "While the broker fails"))
        row = post_event(first)
        assert row.dispatched_at is None, "the event stays in the outbox"
        assert row.attempts == 1 and row.last_error, "the send was tried, and its error recorded"

        # The process remembers the failure: the next write does not even try the broker.
        tried = broker_proxy.accepted
        second = in_a_request_thread(app, lambda: reply(member, thread_id, "And again"))
        row = post_event(second)
        assert row.dispatched_at is None and row.attempts == 0 and row.last_error == ""
        assert broker_proxy.accepted == tried, "no connection was attempted"
        # Both posts are there for everyone to read.
        bodies = [
            post["body"] for post in api(member, "get", f"/api/v1/threads/{thread_id}/posts").json()["posts"]
        ]
        assert bodies[-2:] == ["While the broker fails", "And again"]

        # Still failing: the sweep sends nothing and loses nothing.
        assert bus.sweep_outbox(min_age_seconds=0) == 0
        assert not OutboxEvent.objects.filter(id__in=[post_event(first).id, post_event(second).id]).exclude(
            dispatched_at=None
        )

        broker_proxy.restore()
        assert bus.sweep_outbox(min_age_seconds=0) >= 2
        assert post_event(first).dispatched_at is not None and post_event(second).dispatched_at is not None
        # The sweep's success ends the outage in this process: the next write is sent on commit.
        third = in_a_request_thread(app, lambda: reply(member, thread_id, "After"))
        assert post_event(third).dispatched_at is not None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_reading_never_touches_the_broker(
    forum_and_thread: dict[str, int], broker_proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hung broker must not hold a reader: pages and API reads send nothing and connect to nothing."""
    forum_id, thread_id = forum_and_thread["forum"], forum_and_thread["thread"]
    author, _name = new_member()
    member = signed_in_client(author)
    reply(member, thread_id, "Something to read")
    events = OutboxEvent.objects.count()
    broker_proxy.hang()
    with broker_through(broker_proxy, monkeypatch) as app:
        for client in (member, Client()):
            for path in (
                "/api/v1/forums",
                f"/api/v1/forums/{forum_id}/threads",
                f"/api/v1/threads/{thread_id}",
                f"/api/v1/threads/{thread_id}/posts",
                "/",
                f"/forums/{forum_id}/",
                f"/threads/{thread_id}/",
            ):
                answer = in_a_request_thread(app, lambda path=path, client=client: client.get(path))
                assert answer.status_code == 200, path
    assert broker_proxy.accepted == 0
    assert OutboxEvent.objects.count() == events


def test_each_process_remembers_a_broker_failure_for_its_own_interval(settings: Any) -> None:
    settings.OUTBOX_BROKER_SKIP_SECONDS = 3600
    settings.REDIS_OUTAGE_SKIP_SECONDS = 0
    address = f"amqp://guest:**@127.0.0.1:{uuid.uuid4().int % 60000}//"
    try:
        assert bus.broker_breaker.failed(address) is True
        assert bus.broker_breaker.skipping(address)  # the broker's interval, not Redis's
        settings.OUTBOX_BROKER_SKIP_SECONDS = 0
        assert not bus.broker_breaker.skipping(address)
    finally:
        bus.broker_breaker.reset()
