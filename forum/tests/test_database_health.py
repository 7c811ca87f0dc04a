"""The database engine's health check (forum.database): a live idle connection is judged usable
without a query, one the server ended is found, closed, and replaced by the next query."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection, transaction


def _last_query(pid: int) -> str:
    with _other() as other:
        row = other.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
    assert row is not None
    return str(row[0])


def _other() -> psycopg.Connection:
    params = connection.get_connection_params()
    keys = ("dbname", "user", "host", "port", "password")
    return psycopg.connect(**{key: params[key] for key in keys if params.get(key)}, autocommit=True)


@pytest.fixture
def live() -> Iterator[int]:
    """The test connection, open and idle (outside any transaction); its server process id."""
    connection.ensure_connection()
    yield connection.connection.info.backend_pid
    connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_live_idle_connection_is_usable_without_a_query(live: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'health-check-marker'")
    assert connection.is_usable()
    # The server saw no query since (Django's own check sent SELECT 1).
    assert _last_query(live) == "SELECT 'health-check-marker'"


@pytest.mark.django_db(transaction=True)
def test_a_connection_in_a_transaction_is_still_asked() -> None:
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 'inside'")
        assert connection.is_usable()
        assert _last_query(connection.connection.info.backend_pid) == "SELECT 1"


@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_ended_is_replaced_before_the_next_query(live: int) -> None:
    with _other() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [live])
    deadline = time.monotonic() + 10
    while connection.is_usable() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not connection.is_usable()
    # What Django does before a request's first query.
    connection.health_check_done = False
    connection.close_if_health_check_failed()
    assert connection.connection is None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != live


@pytest.mark.django_db(transaction=True)
def test_a_closed_connection_is_not_usable(live: int) -> None:
    connection.connection.close()
    assert not connection.is_usable()


@pytest.mark.django_db(transaction=True)
def test_a_connection_past_descriptor_1023_is_judged_too() -> None:
    """A process holding many sockets (a WebSocket server) opens its connection on a high descriptor,
    which select() refuses: judged as any other, not reopened on every request."""
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        connection.close()
        connection.ensure_connection()
        assert connection.connection.fileno() > 1023
        assert connection.is_usable()
    finally:
        connection.close()
        for descriptor in held:
            os.close(descriptor)
