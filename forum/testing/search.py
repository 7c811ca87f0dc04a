"""Test helper of the search: the search handlers run on the outbox's events, as a worker would."""

from __future__ import annotations

from celery import current_app

from forum import bus
from forum.models import OutboxEvent


def deliver_search_events(*, every_handler: bool = False) -> list[str]:
    """Hand every event in the outbox to its search subscribers (``<app>.search_*``), through their
    Celery tasks (transaction and dedup record included); the names of the handlers that ran.
    ``every_handler``: to every subscriber (a flow that needs another app's handler, a sign-up's mail).

    The test transaction never commits, so the on-commit send never happens; running a handler twice
    is a no-op (its dedup record), which is how this helper may be called after every step.
    """
    ran = []
    for row in OutboxEvent.objects.order_by("created_at", "id"):
        for subscriber in bus.subscribers_of(row.name, row.version):
            search = subscriber.task_name.split(".", 1)[-1].startswith("search_")
            if not (search or every_handler):
                continue
            task = current_app.tasks[subscriber.task_name]
            result = task.apply(args=(str(row.id), row.name, row.version, row.payload), throw=True)
            if result.get() == "handled":
                ran.append(subscriber.task_name)
    return ran
