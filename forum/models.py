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


class IdempotencyKey(models.Model):
    """The first answer to an API write sent with ``Idempotency-Key``, replayed to its retries.

    Written in the same transaction as the write itself (forum/idempotency.py): a committed row always
    holds the answer of a write that committed, and a write that failed or never committed leaves none.
    ``member_id`` is the caller's user id, kept as a plain integer: the kernel knows no app's models.
    """

    member_id = models.BigIntegerField()
    key = models.CharField(max_length=255)
    # SHA-256 of the method, path, query string, content type and body: a retry must be the same request.
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(db_default=Now())
    # Null only inside the transaction that runs the write: a committed row always has its answer.
    status = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=255, blank=True, default="")
    body = models.BinaryField(default=b"")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member_id", "key"], name="idempotency_key_once")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_age_idx")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.key}"
