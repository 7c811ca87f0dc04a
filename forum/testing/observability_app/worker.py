"""Helpers for tests that run the observability test app's tasks in a real Celery worker."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.db import close_old_connections
from django.test.utils import override_settings

from forum.metrics import task_counts_key
from forum.testing import processes

APP = "forum.testing.observability_app"
QUEUE = "testing_observability"


@contextmanager
def running_worker(log_dir: Path) -> Iterator[processes.Child]:
    """A worker with queue and Redis prefixes of its own, for a module of tests; cleans up after."""
    prefix = processes.unique_prefix()
    with override_settings(FORUM_QUEUE_PREFIX=prefix, REDIS_KEY_PREFIX=prefix):
        child = start_worker(log_dir)
        try:
            yield child
        finally:
            child.stop()
            redis.Redis.from_url(settings.REDIS_URL).delete(task_counts_key())


def start_worker(log_dir: Path) -> processes.Child:
    """A worker on the test app's queue, with the test app installed; waits until it is ready."""
    extra_apps = [app for app in os.environ.get("FORUM_EXTRA_APPS", "").split(",") if app]
    env = processes.child_env(FORUM_EXTRA_APPS=",".join([*extra_apps, APP]))
    child = processes.start_child(
        "observability-worker",
        processes.celery_worker_command(queues=[QUEUE], concurrency=1, name="observability"),
        env=env,
        log_dir=log_dir,
    )
    try:
        wait_until(lambda: " ready" in child.log(), what="the worker to be ready", child=child)
    except BaseException:
        child.stop()
        raise
    return child


def wait_until(
    condition: Callable[[], Any], *, what: str, timeout: float = 30.0, child: processes.Child | None = None
) -> Any:
    """The first true value of ``condition``; fails the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        close_old_connections()
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    log = child.log()[-4000:] if child is not None else ""
    raise AssertionError(f"timed out waiting for {what}\n{log}")


def json_lines(child: processes.Child) -> list[dict[str, Any]]:
    """The JSON log lines of a child process (its banner and other plain output are skipped)."""
    lines = []
    for text in child.log().splitlines():
        if text.startswith("{"):
            try:
                line = json.loads(text)
            except ValueError:
                continue
            if isinstance(line, dict):
                lines.append(line)
    return lines


def wait_for_line(child: processes.Child, *, what: str, **fields: Any) -> dict[str, Any]:
    """The first JSON log line of ``child`` whose fields have the given values."""

    def find() -> dict[str, Any] | None:
        for line in json_lines(child):
            if all(line.get(name) == value for name, value in fields.items()):
                return line
        return None

    found: dict[str, Any] = wait_until(find, what=what, child=child)
    return found
