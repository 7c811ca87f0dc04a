"""Tables of the kernel: the transactional outbox, the record of events each handler has handled, the
API's idempotency keys and the documents of the PostgreSQL search backend."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import F
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


class SearchDocument(models.Model):
    """One searchable document of the PostgreSQL search backend (forum/search/postgres.py).

    The owning apps describe their documents (forum.search.base.Document) and this table keeps them
    with what the permission filter needs (forum_id, visible, participant_ids), so that permissions
    are part of the SQL that searches. ``search_vector`` is written by the backend's upsert, never by
    the ORM: titles with weight A, bodies with weight B, both with the ``russian`` configuration
    (Cyrillic words through the Russian stemmer, Latin ones through the English one: docs/search.md).
    ``object_id`` is the owning app's id, a plain integer: the kernel knows no app's models.
    """

    kind = models.CharField(max_length=10)
    object_id = models.BigIntegerField()
    app = models.CharField(max_length=50)
    title = models.TextField(blank=True, default="")
    body = models.TextField(blank=True, default="")
    search_vector = SearchVectorField(null=True, editable=False)
    author_id = models.BigIntegerField(null=True, blank=True)
    forum_id = models.BigIntegerField(null=True, blank=True)
    thread_id = models.BigIntegerField(null=True, blank=True)
    dialog_id = models.BigIntegerField(null=True, blank=True)
    participant_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)
    has_attachments = models.BooleanField(default=False)
    language = models.CharField(max_length=2, blank=True, default="")
    url = models.CharField(max_length=500, blank=True, default="")
    visible = models.BooleanField(default=True)
    indexed_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name = "search document"
        verbose_name_plural = "search documents"
        constraints = [models.UniqueConstraint(fields=["kind", "object_id"], name="search_document_once")]
        indexes = [
            # One full-text index per kind (every search is of one kind at a time): a common word's
            # posts are not scanned to count its threads, and no bitmap of the kind is needed.
            # A small pending list (64 kB, not the default 4 MB): every search of the kind reads the
            # whole list of entries not yet merged, and on a forum that posts all day it is never empty.
            *(
                GinIndex(
                    fields=["search_vector"],
                    name=f"search_vector_{kind}",
                    condition=models.Q(kind=kind),
                    gin_pending_list_limit=64,
                )
                for kind in ("post", "thread", "message")
            ),
            # Members by name (lower(title), lower(body)) with gin_trgm_ops: written in SQL by the
            # migration 0003, as Django wraps an expression with its operator class in parentheses
            # PostgreSQL refuses; without a pending list (0004: members are rarely written, and a
            # trigram search read the whole list every time).
            GinIndex(fields=["participant_ids"], name="search_document_participants"),
            # Newest first within a kind, in the order searches sort by (nulls last, then the id), with
            # what a search's walk of the newest documents reads of each (its id, the scope's columns,
            # the vector): the walk reads this index alone, not the table (migration 0005).
            models.Index(
                F("kind"),
                F("created_at").desc(nulls_last=True),
                F("object_id").desc(),
                name="search_document_newest",
                include=["id", "visible", "forum_id", "search_vector"],
            ),
            models.Index(fields=["indexed_at"], name="search_document_indexed"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_id}"
