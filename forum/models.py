"""Tables of the kernel: the transactional outbox and the record of events each handler has handled."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models.functions import Now


class OutboxEvent(models.Model):
    """An event written in the same transaction as the change it reports; delivered after commit."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    version = models.PositiveSmallIntegerField()
    payload = models.JSONField()
    request_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(db_default=Now())
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                name="outbox_pending_idx",
                condition=models.Q(dispatched_at__isnull=True),
            ),
            models.Index(fields=["dispatched_at"], name="outbox_dispatched_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} {self.id}"


class ProcessedEvent(models.Model):
    """One row per (event, handler) that ran to completion: the handler's idempotency record.

    It is written in the same transaction as the handler's own writes, so a handler that fails
    leaves no row and runs again, and one that succeeded never acts twice on the same event.
    """

    event_id = models.UUIDField()
    handler = models.CharField(max_length=150)
    processed_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event_id", "handler"], name="processed_event_once")]
        indexes = [models.Index(fields=["processed_at"], name="processed_event_age_idx")]

    def __str__(self) -> str:
        return f"{self.handler} {self.event_id}"
