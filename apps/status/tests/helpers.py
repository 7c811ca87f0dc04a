"""Helpers of the status tests: ``Handler`` plays the worker for this app's subscribers."""

from __future__ import annotations

from celery import current_app

from forum import bus
from forum.models import OutboxEvent


class Handler:
    """Runs the status app's subscribers on the events published so far and not yet handled here.

    Tests run in a transaction that never commits, so the bus never sends what is published; this
    takes the outbox rows in order and runs each subscriber of this app on each, as a Celery worker
    would (the same task, the same event id, its dedup).
    """

    def __init__(self) -> None:
        self.done: set[str] = set()

    def __call__(self, *, again: bool = False) -> int:
        handled = 0
        while True:
            rows = [
                row
                for row in OutboxEvent.objects.order_by("created_at", "id")
                if str(row.id) not in self.done
            ]
            if not rows:
                return handled
            for row in rows:
                self.done.add(str(row.id))
                handled += self.run(row)

    def run(self, row: OutboxEvent) -> int:
        handled = 0
        for subscriber in bus.subscribers_of(row.name, row.version):
            if subscriber.task_name.startswith("status."):
                task = current_app.tasks[subscriber.task_name]
                task.run(str(row.id), row.name, row.version, row.payload)
                handled += 1
        return handled

    def redeliver(self, name: str) -> int:
        """Every event of this name delivered once more (a broker's retry): the same event ids."""
        return sum(
            self.run(row) for row in OutboxEvent.objects.filter(name=name).order_by("created_at", "id")
        )
