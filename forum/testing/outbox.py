"""A worker's part in tests whose transaction never commits: runs subscribers on the outbox's rows.

Tests run in a transaction that never commits, so the bus never sends what is published. An
``OutboxWorker`` takes the outbox rows in order and runs each subscriber whose task name starts with
one of its prefixes (``"status."``: one app's handlers), as a Celery worker would: the same named
task, the same event id, so the bus's once-per-event record applies as in production.
"""

from __future__ import annotations

from celery import current_app

from forum import bus
from forum.models import OutboxEvent


class OutboxWorker:
    """Runs the subscribers of ``prefixes`` on the events published so far and not yet handled here.

    A subclass may name its prefixes in ``PREFIXES`` instead of passing them.
    """

    PREFIXES: tuple[str, ...] = ()

    def __init__(self, *prefixes: str) -> None:
        self.prefixes = prefixes or self.PREFIXES
        if not self.prefixes:
            raise ValueError("an outbox worker needs the task-name prefixes of the subscribers it runs")
        self.done: set[str] = set()

    def __call__(self, *, only: str | None = None) -> int:
        """Handle every event not handled yet (of one name when ``only`` is given), and those the
        handlers publish in turn, until nothing new is left; returns how many handler runs there were."""
        handled = 0
        while True:
            rows = [
                row
                for row in OutboxEvent.objects.order_by("created_at", "id")
                if str(row.id) not in self.done and (only is None or row.name == only)
            ]
            if not rows:
                return handled
            for row in rows:
                self.done.add(str(row.id))
                handled += self.run(row)

    def run(self, row: OutboxEvent) -> int:
        """Run this worker's subscribers of one outbox row; returns how many ran."""
        handled = 0
        for subscriber in bus.subscribers_of(row.name, row.version):
            if subscriber.task_name.startswith(self.prefixes):
                task = current_app.tasks[subscriber.task_name]
                task.run(str(row.id), row.name, row.version, row.payload)
                handled += 1
        return handled

    def skip(self, name: str | None = None) -> None:
        """Pass over what was published so far (of one name when given): set-up a test is not about."""
        rows = OutboxEvent.objects.all() if name is None else OutboxEvent.objects.filter(name=name)
        self.done.update(str(pk) for pk in rows.values_list("id", flat=True))

    def again(self) -> int:
        """Deliver everything once more (a redelivery after a crash, say)."""
        self.done.clear()
        return self()

    def redeliver(self, name: str) -> int:
        """Every event of this name delivered once more (a broker's retry): the same event ids."""
        return sum(
            self.run(row) for row in OutboxEvent.objects.filter(name=name).order_by("created_at", "id")
        )
