"""The event bus: publish into the outbox inside a transaction, deliver to subscribers through Celery.

Flow: ``publish(event)`` writes an ``OutboxEvent`` row in the caller's transaction and registers an
on-commit callback. After commit the callback sends one Celery message per subscriber, each to the
queue of the subscriber's app, and marks the row dispatched. If the broker is down or the process dies
between commit and send, the row stays pending and the periodic ``forum.sweep_outbox`` task sends it
later. Delivery is therefore at least once; each subscriber records the event id in
``ProcessedEvent`` in the same transaction as its own writes, so it acts at most once.
"""

from __future__ import annotations

import datetime
import functools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from celery import current_app, shared_task
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from forum.events import Event, event_from_payload, event_payload
from forum.models import OutboxEvent, ProcessedEvent
from forum.request_context import current_request_id

__all__ = [
    "OutsideTransactionError",
    "prune_outbox",
    "publish",
    "queue_for",
    "route_task",
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
    if not connection.in_atomic_block:
        raise OutsideTransactionError(
            f"publish({event.name}) needs an open transaction (wrap the change in transaction.atomic())"
        )
    row = OutboxEvent.objects.create(
        name=event.name,
        version=event.version,
        payload=event_payload(event),
        request_id=current_request_id() or "",
    )
    transaction.on_commit(functools.partial(_dispatch_committed, row), robust=True)
    return row.id


def _send(row: OutboxEvent) -> None:
    """Send one message per subscriber of the row's event; raises if the broker refuses."""
    for subscriber in subscribers_of(row.name, row.version):
        current_app.send_task(
            subscriber.task_name,
            args=[str(row.id), row.name, row.version, row.payload],
            headers={"request_id": row.request_id},
            retry=False,
        )


def _dispatch_committed(row: OutboxEvent) -> None:
    """On-commit delivery of the row just written, from memory: send, then mark it dispatched unless
    the sweep did meanwhile (one statement, no lock: this runs on the path of every live update).
    A failure leaves the row pending for the sweep. The sweep takes only rows older than
    OUTBOX_SWEEP_MIN_AGE, so both sending the same row (delivered twice, handled once) takes a
    send slower than that."""
    try:
        _send(row)
    except Exception as error:  # noqa: BLE001 - any broker failure leaves the row for the sweep
        _failed(row, error)
        return
    OutboxEvent.objects.filter(id=row.id, dispatched_at__isnull=True).update(
        dispatched_at=timezone.now(), attempts=F("attempts") + 1
    )


def _failed(row: OutboxEvent, error: Exception) -> None:
    row.attempts += 1
    row.last_error = f"{type(error).__name__}: {error}"[:2000]
    OutboxEvent.objects.filter(id=row.id, dispatched_at__isnull=True).update(
        attempts=F("attempts") + 1, last_error=row.last_error
    )
    logger.warning(
        "event not sent, left for the outbox sweep",
        extra={"event_id": str(row.id), "event": row.name, "error": row.last_error},
    )


def _send_and_mark(row: OutboxEvent) -> bool:
    try:
        _send(row)
    except Exception as error:  # noqa: BLE001 - any broker failure leaves the row for the sweep
        _failed(row, error)
        return False
    row.dispatched_at = timezone.now()
    row.attempts += 1
    row.save(update_fields=["dispatched_at", "attempts"])
    return True


def sweep_outbox(*, min_age_seconds: float | None = None, batch: int = 500) -> int:
    """Send pending rows older than ``min_age_seconds``; returns how many were sent."""
    if min_age_seconds is None:
        min_age_seconds = settings.OUTBOX_SWEEP_MIN_AGE
    cutoff = timezone.now() - datetime.timedelta(seconds=min_age_seconds)
    sent = 0
    with transaction.atomic():
        rows = list(
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(dispatched_at__isnull=True, created_at__lte=cutoff)
            .order_by("created_at")[:batch]
        )
        for row in rows:
            if _send_and_mark(row):
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
