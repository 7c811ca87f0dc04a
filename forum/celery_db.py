"""Database connections of Celery tasks, handled as Django handles them around a request.

Celery's Django fixup would close every connection before and after each task; with
``CELERY_DB_REUSE_MAX`` set it does so only every that many tasks (config/settings.py), and these
signal handlers do what Django's ``request_started`` and ``request_finished`` do instead: close a
connection that broke or outlived ``CONN_MAX_AGE``, and let ``CONN_HEALTH_CHECKS`` check a reused
one before its first query. An event handler then costs its queries, not a new PostgreSQL backend.
"""

from __future__ import annotations

from typing import Any

from celery import signals
from django.db import close_old_connections

__all__ = ["connect_celery_signals"]


def _around_task(task: Any = None, **kwargs: Any) -> None:
    if task is not None and getattr(task.request, "is_eager", False):
        return  # run in the caller's process and transaction: its connection is not ours to close
    close_old_connections()


def connect_celery_signals() -> None:
    signals.task_prerun.connect(_around_task, weak=False, dispatch_uid="forum.celery_db.prerun")
    signals.task_postrun.connect(_around_task, weak=False, dispatch_uid="forum.celery_db.postrun")
