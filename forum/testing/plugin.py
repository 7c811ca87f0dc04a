"""pytest plugin of the forum: test profile, a fast check that the real services are up.

Loaded with ``-p forum.testing.plugin`` (see pyproject.toml) before Django is configured, so that the
test profile and the default local addresses apply to every test process.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest

os.environ.setdefault("FORUM_ENV", "test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/forum")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
# A test database of this run's own: concurrent runs on one server (developers, CI) never collide.
# pytest-xdist workers add their own suffix (_gw0, _gw1) to it.
os.environ.setdefault("TEST_DATABASE_NAME", f"test_forum_{os.getpid()}")
# Test-only apps: real subscribers, topics and tasks that the kernel's tests drive.
os.environ.setdefault("FORUM_EXTRA_APPS", "forum.testing.bus_app")
# Queues that test runs declare on the shared broker vanish ten minutes after their last use.
os.environ.setdefault("CELERY_QUEUE_EXPIRES", "600")

DEFAULT_PORTS = {"postgres": 5432, "postgresql": 5432, "redis": 6379, "amqp": 5672}


def _unreachable_services() -> list[str]:
    """Name every service whose TCP port does not answer within two seconds."""
    down = []
    for label, variable in (
        ("PostgreSQL", "DATABASE_URL"),
        ("Redis", "REDIS_URL"),
        ("RabbitMQ (Celery broker)", "CELERY_BROKER_URL"),
    ):
        url = urlparse(os.environ[variable])
        host = url.hostname or "127.0.0.1"
        port = url.port or DEFAULT_PORTS.get(url.scheme, 0)
        try:
            with socket.create_connection((host, port), timeout=2):
                pass
        except OSError as error:
            down.append(f"{label} at {host}:{port} ({variable}): {error}")
    return down


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controller already checked
    down = _unreachable_services()
    if down:
        pytest.exit(
            "The test suite runs against real services, and these are down:\n  "
            + "\n  ".join(down)
            + "\nStart them (see README, 'Services') or point the variables elsewhere.",
            returncode=3,
        )


# Shared fixtures (english, redis_namespace, make_member, web_as, api_as, browser_page, clock, outbox,
# committed, kept_parts, no_open_connection), available to every test.
from forum.testing.fixtures import (  # noqa: E402, F401
    api_as,
    browser_page,
    clock,
    committed,
    english,
    kept_parts,
    make_member,
    no_open_connection,
    outbox,
    redis_namespace,
    web_as,
)

# A real S3 (SeaweedFS) for the tests of uploads: seaweed_s3, s3_storage, s3_private_storage.
from forum.testing.seaweed import s3_private_storage, s3_storage, seaweed_s3  # noqa: E402, F401
