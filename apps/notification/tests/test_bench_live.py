"""manage.py bench_live with tiny numbers, so that the harness cannot rot: its own database, the
servers (two uvicorns, gunicorn, a Celery worker), minted sessions, sockets, and the matching of every
dialog message and reply notification to the socket that should have it. No timing is asserted."""

from __future__ import annotations

import io
import json
import os
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.slow

CLIENTS = 10
MESSAGES = 3
REPLIES = 1


def _url(database: str) -> str:
    return urlunparse(urlparse(os.environ["DATABASE_URL"])._replace(path="/" + database))


def _database_exists(database: str) -> bool:
    maintenance = urlunparse(urlparse(_url("postgres"))._replace(scheme="postgresql"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
    return found is not None


def test_every_dialog_message_and_reply_notification_reaches_its_sockets(tmp_path: Path) -> None:
    database = f"test_live_{uuid.uuid4().hex[:8]}_bench"
    report = tmp_path / "live.json"
    out = io.StringIO()
    try:
        call_command(
            "bench_live",
            "--clients",
            str(CLIENTS),
            "--messages",
            str(MESSAGES),
            "--replies",
            str(REPLIES),
            "--warmup-messages",
            "2",
            "--settle",
            "0",
            "--quiet-timeout",
            "0",
            "--timeout",
            "20",
            "--database-url",
            _url(database),
            "--drop-database",
            "--json",
            str(report),
            stdout=out,
        )
    finally:
        assert not _database_exists(database), "the bench database is dropped, even after a failure"

    result = json.loads(report.read_text())
    rows = {row["operation"]: row for row in result["rows"]}
    sockets = rows["open a socket (handshake to `ready`)"]
    assert (sockets["count"], sockets["delivered"]) == (CLIENTS, CLIENTS)
    # Every message reached the other member of its pair, every watcher got the reply's notification.
    dialog = rows["(a) dialog message: API call to the other member's socket"]
    assert (dialog["count"], dialog["delivered"]) == (MESSAGES, MESSAGES)
    reply = rows["(b) reply 1: API call to every watcher's socket"]
    assert (reply["count"], reply["delivered"]) == (CLIENTS, CLIENTS)
    assert rows[f"(b) all {REPLIES} replies"]["delivered"] == CLIENTS * REPLIES
    assert all(row["p50_ms"] is not None and row["p50_ms"] > 0 for row in (dialog, reply))
    # The worker ran the handlers that deliver them, and the table was printed.
    parts = {part["name"]: part for part in result["parts"]}
    assert "dialog.on_message_created" in parts["(a) dialog messages"]["tasks"]
    assert "notification.on_post_created" in parts["(b) replies"]["tasks"]
    assert "| (a) dialog message: API call to the other member's socket |" in out.getvalue()


def test_a_database_not_named_bench_is_refused() -> None:
    with pytest.raises(CommandError, match="must end in _bench"):
        call_command("bench_live", "--clients", "2", "--database-url", _url("forum"))
