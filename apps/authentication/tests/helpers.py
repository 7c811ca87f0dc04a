"""Helpers of the authentication tests: mail delivered as a worker would, links read from mail."""

from __future__ import annotations

import re

from celery import current_app
from django.core import mail
from django.test import Client
from django.utils import timezone

from forum import bus
from forum.models import OutboxEvent

# Strong enough for every validator, and not similar to any username used here.
PASSWORD = "Quiet-Harbour-Lantern-71"
OTHER_PASSWORD = "Velvet-Orchard-Compass-38"


def deliver_events() -> list[str]:
    """Hand every event still in the outbox to its subscribers, as a worker would; their names.

    The test transaction never commits, so the on-commit send never happens; this plays the worker's
    part eagerly, through the same Celery tasks (with their transaction and their dedup record).
    """
    delivered = []
    for row in OutboxEvent.objects.filter(dispatched_at__isnull=True).order_by("created_at"):
        for subscriber in bus.subscribers_of(row.name, row.version):
            task = current_app.tasks[subscriber.task_name]
            task.apply(args=[str(row.id), row.name, row.version, row.payload], throw=True)
        row.dispatched_at = timezone.now()
        row.save(update_fields=["dispatched_at"])
        delivered.append(row.name)
    return delivered


def link_in(message: mail.EmailMessage, path_prefix: str) -> str:
    """The path of the one link in a mail that starts with ``path_prefix`` (the origin checked too)."""
    body = str(message.body)
    found = re.findall(r"http://testserver(" + re.escape(path_prefix) + r"[^\s]+)", body)
    assert len(found) == 1, body
    return found[0]


def token_of(path: str) -> str:
    """The token of a link's path (/accounts/verify/<token>/)."""
    return path.rstrip("/").rsplit("/", 1)[-1]


def signed_in_id(client: Client) -> int | None:
    """Who the session of ``client`` belongs to, asked of the site itself."""
    response = client.get("/api/v1/me")
    return int(response.json()["id"]) if response.status_code == 200 else None
