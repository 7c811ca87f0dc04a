"""Graceful shutdown of the HTTP server: SIGTERM lets the request in flight finish, then the server exits 0.

The server is started as the image's ``web`` role starts it (``gunicorn --config
docker/servers/gunicorn.conf.py``), serving the test URL map forum.testing.slow_urls, whose slow
endpoint logs a line when it starts.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from forum.testing.processes import BASE_DIR, BIN_DIR, Child, child_env, free_port, running, start_child
from forum.testing.slow_urls import BODY_SIZE, SLOW_FINISHED, SLOW_STARTED

GRACEFUL_TIMEOUT = 20
SLOW_SECONDS = 3


def _wait_for_log(child: Child, text: str, *, count: int = 1, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.log().count(text) >= count:
            return
        if child.process.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} in the server log:\n{child.log()[-4000:]}")


def _get(port: int, path: str, *, timeout: float = 30.0) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sigterm_finishes_the_request_in_flight_and_refuses_new_ones(tmp_path: Path) -> None:
    port = free_port()
    env = child_env(
        FORUM_ROOT_URLCONF="forum.testing.slow_urls",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
        GRACEFUL_TIMEOUT=str(GRACEFUL_TIMEOUT),
    )
    command = [
        str(BIN_DIR / "gunicorn"),
        "--config",
        str(BASE_DIR / "docker" / "servers" / "gunicorn.conf.py"),
    ]
    server = start_child("gunicorn", command, env=env, log_dir=tmp_path, port=port)
    with running(server):
        in_flight: dict[str, Any] = {}

        def slow_request() -> None:
            try:
                in_flight["status"], in_flight["body"] = _get(port, f"/_test/slow?seconds={SLOW_SECONDS}")
            except Exception as error:  # noqa: BLE001  # the main thread asserts on it
                in_flight["error"] = error

        request = threading.Thread(target=slow_request)
        request.start()
        _wait_for_log(server, SLOW_STARTED)

        # As `docker stop` does (tini forwards it): SIGTERM to gunicorn's master process only.
        os.kill(server.process.pid, signal.SIGTERM)
        _wait_for_log(server, "Handling signal: term")
        # The idle worker leaves at once; the busy one stays until its response is written.
        _wait_for_log(server, "Worker exiting")
        assert SLOW_FINISHED not in server.log(), "the slow request ended before the test could probe"

        # A request that arrives during the drain is never served: nothing accepts it any more.
        with pytest.raises((OSError, http.client.HTTPException)):
            _get(port, "/health/live")

        request.join(timeout=GRACEFUL_TIMEOUT)
        assert "error" not in in_flight, in_flight.get("error")
        assert in_flight["status"] == 200
        assert in_flight["body"] == b"x" * BODY_SIZE + b"\nend\n"

        assert server.process.wait(timeout=GRACEFUL_TIMEOUT + 5) == 0, server.log()[-4000:]
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
