"""/health/live and /health/ready against the real database, Redis and broker, and dead stand-ins."""

from __future__ import annotations

import copy
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections
from django.test import Client
from pytest_django.fixtures import Settings

from forum.testing.processes import free_port

pytestmark = pytest.mark.django_db


def ready(client: Client) -> tuple[int, dict[str, Any]]:
    response = client.get("/health/ready")
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    return response.status_code, response.json()


def test_live_answers_while_the_process_runs(client: Client) -> None:
    response = client.get("/health/live")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_ready_when_every_dependency_answers(client: Client) -> None:
    status, body = ready(client)

    assert status == 200, body
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "broker"}
    assert all(check["status"] == "ok" for check in body["checks"].values())


def test_redis_down_is_named(client: Client, settings: Settings) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"

    status, body = ready(client)

    assert status == 503
    assert body["status"] == "unavailable"
    assert body["failing"] == ["redis"]
    assert "ConnectionError" in body["checks"]["redis"]["error"]
    assert body["checks"]["database"]["status"] == body["checks"]["broker"]["status"] == "ok"


def test_broker_down_is_named(client: Client, settings: Settings) -> None:
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{free_port()}//"

    status, body = ready(client)

    assert status == 503
    assert body["failing"] == ["broker"]
    assert body["checks"]["broker"]["error"]


def test_database_down_is_named(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    # The check builds its connection from connections.settings; the test's own connection keeps
    # its settings dict and stays connected to the test database.
    dead = copy.deepcopy(connections.settings)
    dead["default"]["PORT"] = str(free_port())
    monkeypatch.setattr(connections, "settings", dead)

    status, body = ready(client)

    assert status == 503
    assert body["failing"] == ["database"]
    assert "OperationalError" in body["checks"]["database"]["error"]
    with connections["default"].cursor() as cursor:  # the test's own connection still works
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers a byte."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_a_dependency_that_hangs_fails_the_check_instead_of_the_probe(
    client: Client, settings: Settings, silent_port: int
) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{silent_port}/0"

    status, body = ready(client)

    assert status == 503
    assert body["failing"] == ["redis"]
    assert "Timeout" in body["checks"]["redis"]["error"]


def test_probes_answer_only_safe_methods(client: Client) -> None:
    assert client.post("/health/live").status_code == 405
    assert client.post("/health/ready").status_code == 405
