"""Shared test helpers that run real server and worker processes against the test database.

Tests that use these must commit their data (``@pytest.mark.django_db(transaction=True)``), since the
child processes read the test database through their own connections.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)
PYTHON = sys.executable
BIN_DIR = Path(PYTHON).parent


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports. Each socket stays bound until all are chosen: the kernel may hand
    out a port again as soon as its socket closes (CI once saw SeaweedFS's filer given its master's)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def wait_for_port(port: int, *, host: str = "127.0.0.1", timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def unique_prefix() -> str:
    """A prefix for queues and Redis keys that no other test run shares."""
    return f"t{uuid.uuid4().hex[:10]}-"


def test_database_url() -> str:
    """DATABASE_URL of the test database this test process uses (test_forum, test_forum_gw0, ...)."""
    url = urlparse(os.environ["DATABASE_URL"])
    return urlunparse(url._replace(path="/" + str(connection.settings_dict["NAME"])))


def child_env(**overrides: str) -> dict[str, str]:
    """Environment for a child process: the test profile, the test database, the same services."""
    env = dict(os.environ)
    env.pop("PYTEST_XDIST_WORKER", None)
    env.update(
        {
            "FORUM_ENV": "test",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": test_database_url(),
            "PYTHONPATH": str(BASE_DIR),
            "PYTHONUNBUFFERED": "1",
            "FORUM_QUEUE_PREFIX": settings.FORUM_QUEUE_PREFIX,
            "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
            "LOG_FORMAT": "json",
        }
    )
    env.update(overrides)
    return env


@dataclass
class Child:
    """A child process whose output goes to a log file the test can read."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    port: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signum)

    def stop(self, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.process.wait(5)
        return self.process.returncode


def start_child(
    name: str,
    command: Sequence[str],
    *,
    env: dict[str, str],
    log_dir: Path,
    port: int | None = None,
    ready_timeout: float = 30.0,
) -> Child:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            list(command),
            cwd=BASE_DIR,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: signals reach the server and its workers
        )
    child = Child(name=name, process=process, log_path=log_path, port=port)
    if port is not None:
        try:
            wait_for_port(port, timeout=ready_timeout)
        except TimeoutError:
            child.stop()
            raise RuntimeError(f"{name} did not start:\n{child.log()[-4000:]}") from None
    return child


def celery_worker_command(*, queues: Sequence[str], concurrency: int = 1, name: str = "w") -> list[str]:
    prefix = settings.FORUM_QUEUE_PREFIX
    return [
        str(BIN_DIR / "celery"),
        "-A",
        "config",
        "worker",
        "--loglevel=INFO",
        "--pool=prefork",
        f"--concurrency={concurrency}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        f"--hostname={name}-{uuid.uuid4().hex[:6]}@%h",
        "-Q",
        ",".join(prefix + queue for queue in queues),
    ]


@contextmanager
def running(child: Child) -> Iterator[Child]:
    try:
        yield child
    finally:
        child.stop()
