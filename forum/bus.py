"""The event bus: publish into the outbox inside a transaction, deliver to subscribers through Celery.

Flow: ``publish(event)`` writes an ``OutboxEvent`` row in the caller's transaction (``publish_many``:
the rows of several events of one change in one INSERT) and registers an on-commit callback. After
commit the callback sends one Celery message per subscriber, each to the queue of the subscriber's
app, and marks the row dispatched. If the broker is down or the process dies
between commit and send, the row stays pending and the periodic ``forum.sweep_outbox`` task sends it
later. Delivery is therefore at least once; each subscriber records the event id in
``ProcessedEvent`` in the same transaction as its own writes, so it acts at most once.

The on-commit send runs in a background thread of the process by default (``OUTBOX_SEND_MODE``
background, ``_BackgroundSender``): the request hands it the committed row and answers without waiting
for the broker; what that thread cannot take or send stays pending for the sweep. With ``inline`` (the
test profile) it runs on the path of the request that made the change. Either way it must never wait
long on the broker: every blocking step of it (connect, handshake, declare, publish, publisher confirm)
waits at most ``OUTBOX_SEND_TIMEOUT_SECONDS``, it never retries, and after a failure the process skips
on-commit sends for ``OUTBOX_BROKER_SKIP_SECONDS`` (``broker_breaker``), leaving the rows to the sweep.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import functools
import json
import logging
import os
import queue
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from celery import Celery, shared_task
from celery.app import app_or_default
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone
from kombu import Connection, Producer

from forum import versioned_cache
from forum.events import Event, event_from_payload, event_payload
from forum.models import OutboxEvent, ProcessedEvent
from forum.outage import Breaker
from forum.request_context import current_request_id

__all__ = [
    "OutsideTransactionError",
    "broker_breaker",
    "prune_outbox",
    "publish",
    "publish_many",
    "queue_for",
    "route_task",
    "stop_background_sender",
    "subscribe",
    "subscribers_of",
    "sweep_outbox",
]

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)


class OutsideTransactionError(RuntimeError):
    """``publish`` was called with no transaction open, so the event could outlive a rollback."""


@dataclass(frozen=True)
class Subscriber:
    task_name: str
    event_name: str
    event_version: int


_SUBSCRIBERS: dict[tuple[str, int], list[Subscriber]] = {}


def queue_for(task_name: str) -> str:
    """The queue of a task: its app's name (``notification.on_post_created`` -> ``notification``)."""
    app = task_name.split(".", 1)[0]
    return f"{settings.FORUM_QUEUE_PREFIX}{app}"


def route_task(
    name: str, args: Any, kwargs: Any, options: Any, task: Any = None, **kw: Any
) -> dict[str, str]:
    """Celery router (``task_routes``): every task goes to the queue of the app that owns it."""
    return {"queue": queue_for(name)}


def subscribers_of(event_name: str, version: int) -> list[Subscriber]:
    return list(_SUBSCRIBERS.get((event_name, version), ()))


def publish(event: Event) -> uuid.UUID:
    """Write ``event`` to the outbox in the current transaction; it is delivered after commit.

    Raises ``OutsideTransactionError`` when no transaction is open: an event must never be sent for
    a change that may still roll back, nor be lost for one that committed.
    """
    return publish_many([event])[0]


def publish_many(events: Sequence[Event]) -> list[uuid.UUID]:
    """``publish`` for several events of one change at once: their rows are written by one INSERT
    (one round trip to the database, not one per event), in the order given. Their ids, in order."""
    if not connection.in_atomic_block:
        names = ", ".join(event.name for event in events)
        raise OutsideTransactionError(
            f"publish({names}) needs an open transaction (wrap the change in transaction.atomic())"
        )
    if not events:
        return []
    request_id = current_request_id() or ""
    rows = [
        OutboxEvent(
            id=uuid.uuid4(),
            name=event.name,
            version=event.version,
            payload=event_payload(event),
            request_id=request_id,
        )
        for event in events
    ]
    _write(rows)
    for row in rows:
        transaction.on_commit(functools.partial(_after_commit, row), robust=True)
    # What the pages keep of the publishing apps goes stale once this commits (forum.versioned_cache).
    versioned_cache.changed(*dict.fromkeys(event.name.split(".", 1)[0] for event in events))
    return [row.id for row in rows]


@functools.cache
def _insert_sql(count: int) -> str:
    # created_at as the ORM's default writes it (the statement's time), plus a microsecond per row
    # after the first: the rows of one change keep their order where they are read oldest first.
    one = "(%s, %s, %s, %s::jsonb, %s, STATEMENT_TIMESTAMP() + %s * INTERVAL '1 microsecond', NULL, 0, '')"
    return (
        f"INSERT INTO {OutboxEvent._meta.db_table} "
        "(id, name, version, payload, request_id, created_at, dispatched_at, attempts, last_error) "
        f"VALUES {', '.join([one] * count)}"
    )


def _write(rows: Sequence[OutboxEvent]) -> None:
    """The outbox rows in one statement, in SQL: the ORM's insert cost more than the round trip."""
    params: list[Any] = []
    for order, row in enumerate(rows):
        params += [row.id, row.name, row.version, json.dumps(row.payload), row.request_id, order]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(len(rows)), params)


# A failed on-commit send makes this process skip the next ones for OUTBOX_BROKER_SKIP_SECONDS: with
# the broker hung, one request per interval and process waits for the send timeout, not every one.
broker_breaker = Breaker("broker", skip_setting="OUTBOX_BROKER_SKIP_SECONDS")


class _Publisher:
    """Connections to the broker of one Celery app on which every blocking step waits ``timeout`` at most.

    The Celery app's own producer pool waits on the broker as long as it takes: its connection
    retries for the connect timeout, and py-amqp waits for the handshake, a queue declaration and a
    publisher confirm with no limit, which with a broker that accepts connections and never answers
    held requests until the server killed them. These connections have ``timeout`` as their connect
    timeout and their sockets' read and write timeouts (py-amqp's ``read_timeout``/``write_timeout``,
    Redis's ``socket_timeout``), make one connection attempt (``max_retries`` 0), and each send also
    bounds its write and its confirm. A connection on which a send failed is dropped unclosed (closing
    talks to the broker), and so are the idle ones: they lead to the same broker.
    """

    def __init__(self, app: Celery, timeout: float) -> None:
        # Weakly: publishers are kept per app in a WeakKeyDictionary, which a strong reference from
        # the value would keep alive forever (tests make an app per test).
        self._app = weakref.ref(app)
        self.timeout = timeout
        self.address = self._connect().as_uri()  # no password; a Connection does no I/O until used
        self._lock = threading.Lock()
        self._idle: list[tuple[Connection, Producer]] = []
        self._pid = os.getpid()

    @property
    def app(self) -> Celery:
        app = self._app()
        if app is None:  # pragma: no cover - the app is looked up by the caller, so it is alive
            raise RuntimeError("the Celery app of this publisher is gone")
        return app

    def _connect(self) -> Connection:
        timeout = self.timeout
        options = {
            "max_retries": 0,
            "read_timeout": timeout,
            "write_timeout": timeout,
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
        }
        connection: Connection = self.app.connection_for_write(
            connect_timeout=timeout, transport_options=options
        )
        return connection

    def _acquire(self) -> tuple[Connection, Producer]:
        with self._lock:
            if self._pid != os.getpid():  # a forked child: the parent's sockets are not ours to use
                self._idle, self._pid = [], os.getpid()
            if self._idle:
                return self._idle.pop()
        connection = self._connect()
        producer: Producer = self.app.amqp.Producer(connection, auto_declare=False)
        return connection, producer

    def _drop(self, connection: Connection) -> None:
        with self._lock:
            dropped, self._idle = [connection, *(idle for idle, _producer in self._idle)], []
        for each in dropped:
            # A dead connection may fail to close; it is gone anyway.
            with contextlib.suppress(Exception):
                each.collect()

    def send(self, row: OutboxEvent, subscribers: list[Subscriber]) -> None:
        """One message per subscriber; raises when the broker refuses, fails or does not answer in time."""
        connection, producer = self._acquire()
        try:
            for subscriber in subscribers:
                self.app.send_task(
                    subscriber.task_name,
                    args=[str(row.id), row.name, row.version, row.payload],
                    headers={"request_id": row.request_id},
                    producer=producer,
                    retry=False,
                    timeout=self.timeout,
                    confirm_timeout=self.timeout,
                )
        except BaseException:
            self._drop(connection)
            raise
        with self._lock:
            self._idle.append((connection, producer))


_publishers: weakref.WeakKeyDictionary[Celery, dict[float, _Publisher]] = weakref.WeakKeyDictionary()
_publishers_lock = threading.Lock()


def _publisher(timeout: float) -> _Publisher:
    """The publisher of the current Celery app (tests make another one current) with this timeout."""
    app = app_or_default()
    with _publishers_lock:
        per_app = _publishers.setdefault(app, {})
        publisher = per_app.get(timeout)
        if publisher is None:
            publisher = per_app[timeout] = _Publisher(app, timeout)
        return publisher


def _after_commit(row: OutboxEvent) -> None:
    """Send the row just committed: in the request (``OUTBOX_SEND_MODE`` inline) or by this process's
    background sender (background), which the request hands it to without waiting for the broker."""
    if settings.OUTBOX_SEND_MODE == "inline":
        _dispatch_committed(row)
    else:
        _background_sender().submit(row, app_or_default())


class _BackgroundSender:
    """A daemon thread of one process that sends committed rows off the requests' path.

    Started on the first row a process commits (so never in a parent that forks its workers later; a
    forked child that finds one of its parent's makes its own). Its queue is bounded
    (``OUTBOX_SEND_QUEUE_SIZE``): a row that does not fit, one that waited in it longer than half of
    ``OUTBOX_SWEEP_MIN_AGE`` (the sweep may take it by then), and the rows still queued when the
    process is killed stay pending for the sweep, as after a failed send. At a normal exit (``atexit``)
    it sends what is queued for at most ``OUTBOX_SEND_TIMEOUT_SECONDS`` more.
    """

    _STOP = object()
    # An idle sender gives its database connection back after this long.
    IDLE_SECONDS = 10.0

    def __init__(self, size: int) -> None:
        self.pid = os.getpid()
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, size))
        self.full = False
        self.thread = threading.Thread(target=self._run, name="forum-outbox-sender", daemon=True)
        self.thread.start()

    def submit(self, row: OutboxEvent, app: Celery) -> bool:
        """Queue ``row`` for sending; False (the row left to the sweep) when the queue is full."""
        try:
            self.queue.put_nowait((row, app, time.monotonic()))
        except queue.Full:
            if not self.full:  # logged when the queue fills, not for every event that finds it full
                self.full = True
                logger.warning(
                    "outbox send queue full, events left for the outbox sweep until it has room",
                    extra={"event_id": str(row.id), "event": row.name, "size": self.queue.maxsize},
                )
            return False
        self.full = False
        return True

    def _run(self) -> None:
        while True:
            try:
                item = self.queue.get(timeout=self.IDLE_SECONDS)
            except queue.Empty:
                connection.close()
                continue
            try:
                if item is self._STOP:
                    connection.close()
                    return
                row, app, queued_at = item
                if time.monotonic() - queued_at > float(settings.OUTBOX_SWEEP_MIN_AGE) / 2:
                    continue  # the sweep may be sending it already: leave it to the sweep
                close_old_connections()  # one broken or past CONN_MAX_AGE, as Django does per request
                with _current_app_as(app):
                    _dispatch_committed(row)
            except Exception:  # the row stays pending for the sweep; the thread lives on
                logger.exception("outbox background send failed, event left for the outbox sweep")
            finally:
                self.queue.task_done()

    def stop(self, timeout: float) -> None:
        """Send what is queued for at most ``timeout`` seconds, then end the thread (what is left is
        pending for the sweep)."""
        with contextlib.suppress(queue.Full):
            self.queue.put(self._STOP, timeout=timeout)
        self.thread.join(timeout)


_sender: _BackgroundSender | None = None
_sender_lock = threading.Lock()


def _background_sender() -> _BackgroundSender:
    global _sender
    sender = _sender
    if sender is not None and sender.pid == os.getpid() and sender.thread.is_alive():
        return sender
    with _sender_lock:
        if _sender is None or _sender.pid != os.getpid() or not _sender.thread.is_alive():
            _sender = _BackgroundSender(int(settings.OUTBOX_SEND_QUEUE_SIZE))
        return _sender


def stop_background_sender(timeout: float | None = None) -> None:
    """Flush and end this process's background sender, if it has one (at exit; tests)."""
    global _sender
    with _sender_lock:
        sender, _sender = _sender, None
    if sender is not None and sender.pid == os.getpid():
        if timeout is None:
            timeout = float(settings.OUTBOX_SEND_TIMEOUT_SECONDS)
        sender.stop(timeout)


atexit.register(stop_background_sender)


@contextlib.contextmanager
def _current_app_as(app: Celery) -> Iterator[None]:
    """``app`` as the current Celery app of this thread while it lasts (the requester's, in a test)."""
    previous = app_or_default()
    if previous is app:
        yield
        return
    app.set_current()
    try:
        yield
    finally:
        previous.set_current()


def _dispatch_committed(row: OutboxEvent) -> None:
    """On-commit delivery of the row just written, from memory: send, then mark it dispatched unless
    the sweep did meanwhile (one statement, no lock: this runs on the path of every live update).
    A failure, or a broker that failed in this process moments ago, leaves the row pending for the
    sweep. The sweep takes only rows older than OUTBOX_SWEEP_MIN_AGE, so both sending the same row
    (delivered twice, handled once) takes a send slower than that, which the send timeout rules out."""
    subscribers = subscribers_of(row.name, row.version)
    if subscribers:
        publisher = _publisher(float(settings.OUTBOX_SEND_TIMEOUT_SECONDS))
        if broker_breaker.skipping(publisher.address):
            return  # no attempt and no write: the row is pending, as the sweep wants it
        try:
            publisher.send(row, subscribers)
        except Exception as error:  # noqa: BLE001 - any broker failure leaves the row for the sweep
            _failed(row, error, publisher)
            return
        _reached(publisher)
    OutboxEvent.objects.filter(id=row.id, dispatched_at__isnull=True).update(
        dispatched_at=timezone.now(), attempts=F("attempts") + 1
    )


def _reached(publisher: _Publisher) -> None:
    if broker_breaker.succeeded(publisher.address):
        logger.info("broker reachable again, events are sent on commit", extra={"broker": publisher.address})


def _failed(row: OutboxEvent, error: Exception, publisher: _Publisher) -> None:
    row.attempts += 1
    row.last_error = f"{type(error).__name__}: {error}"[:2000]
    OutboxEvent.objects.filter(id=row.id, dispatched_at__isnull=True).update(
        attempts=F("attempts") + 1, last_error=row.last_error
    )
    logger.warning(
        "event not sent, left for the outbox sweep",
        extra={"event_id": str(row.id), "event": row.name, "error": row.last_error},
    )
    if broker_breaker.failed(publisher.address):
        logger.warning(
            "broker unreachable: this process leaves events to the outbox sweep for a while",
            extra={"broker": publisher.address, "skip_seconds": settings.OUTBOX_BROKER_SKIP_SECONDS},
        )


def _send_and_mark(row: OutboxEvent, publisher: _Publisher) -> bool:
    subscribers = subscribers_of(row.name, row.version)
    if subscribers:
        try:
            publisher.send(row, subscribers)
        except Exception as error:  # noqa: BLE001 - any broker failure leaves the row for the sweep
            _failed(row, error, publisher)
            return False
        _reached(publisher)
    row.dispatched_at = timezone.now()
    row.attempts += 1
    row.save(update_fields=["dispatched_at", "attempts"])
    return True


def sweep_outbox(*, min_age_seconds: float | None = None, batch: int = 500) -> int:
    """Send pending rows older than ``min_age_seconds``, oldest first; returns how many were sent.

    The sweep runs in a worker, off any request's path, so each of its sends may wait longer
    (``OUTBOX_SWEEP_SEND_TIMEOUT_SECONDS`` a step) and does not skip a broker that failed lately.
    """
    if min_age_seconds is None:
        min_age_seconds = settings.OUTBOX_SWEEP_MIN_AGE
    cutoff = timezone.now() - datetime.timedelta(seconds=min_age_seconds)
    publisher = _publisher(float(settings.OUTBOX_SWEEP_SEND_TIMEOUT_SECONDS))
    sent = 0
    with transaction.atomic():
        rows = list(
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(dispatched_at__isnull=True, created_at__lte=cutoff)
            .order_by("created_at")[:batch]
        )
        for row in rows:
            if _send_and_mark(row, publisher):
                sent += 1
            else:
                break  # the broker is down: the rest would fail the same way
    if sent:
        logger.info("outbox sweep sent events", extra={"sent": sent})
    return sent


def prune_outbox(*, older_than_days: float | None = None) -> tuple[int, int]:
    """Delete delivered outbox rows and handler records past the retention period."""
    if older_than_days is None:
        older_than_days = settings.OUTBOX_RETENTION_DAYS
    cutoff = timezone.now() - datetime.timedelta(days=older_than_days)
    outbox, _ = OutboxEvent.objects.filter(dispatched_at__lt=cutoff).delete()
    processed, _ = ProcessedEvent.objects.filter(processed_at__lt=cutoff).delete()
    return outbox, processed


def _claim(event_id: str, handler: str) -> bool:
    """Record that ``handler`` handles ``event_id``; False when it already did (or is doing so now).

    Runs inside the handler's transaction: a concurrent duplicate waits on the unique index until
    the first commits (then skips) or rolls back (then takes over).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ProcessedEvent._meta.db_table} (event_id, handler, processed_at) "
            "VALUES (%s, %s, now()) ON CONFLICT (event_id, handler) DO NOTHING RETURNING 1",
            [event_id, handler],
        )
        return cursor.fetchone() is not None


def subscribe(
    event_class: type[E],
    *,
    name: str,
    max_retries: int | None = None,
) -> Callable[[Callable[[E], None]], Any]:
    """Declare ``name`` (``"<app>.on_<fact>"``) as a subscriber of ``event_class``.

    The decorated function receives the event and runs inside a transaction that also records the
    event as handled, so it runs at most once per event id; it is retried with exponential backoff
    when it raises. It should call only its own app's services.
    """
    if "." not in name:
        raise ValueError(f"subscriber name {name!r} must be '<app>.<handler>'")
    if max_retries is None:
        max_retries = settings.EVENT_HANDLER_MAX_RETRIES

    def register(handler: Callable[[E], None]) -> Any:
        @shared_task(
            name=name,
            bind=True,
            acks_late=True,
            reject_on_worker_lost=True,
            autoretry_for=(Exception,),
            retry_backoff=settings.EVENT_HANDLER_RETRY_BACKOFF,
            retry_backoff_max=600,
            retry_jitter=False,
            max_retries=max_retries,
        )
        def run(task: Any, event_id: str, event_name: str, version: int, payload: dict[str, Any]) -> str:
            event = event_from_payload(event_name, version, payload)
            with transaction.atomic():
                if not _claim(event_id, name):
                    logger.info("event already handled", extra={"event_id": event_id, "handler": name})
                    return "duplicate"
                handler(event)  # type: ignore[arg-type]
            return "handled"

        key = (event_class.name, event_class.version)
        subscribers = _SUBSCRIBERS.setdefault(key, [])
        if all(existing.task_name != name for existing in subscribers):
            subscribers.append(Subscriber(name, event_class.name, event_class.version))
        return run

    return register
