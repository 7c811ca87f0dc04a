"""``python -m forum.launcher`` (what ``make run`` runs): the whole forum on one machine, in one terminal.

With ``DATABASE_URL`` unset it starts the embedded PostgreSQL (data in ``.data/postgres``); with
``REDIS_URL`` unset, the embedded Redis (cache, Channels layer and, unless ``CELERY_BROKER_URL`` says
otherwise, the Celery broker). It writes their addresses to ``.data/embedded.env`` for later
``manage.py`` commands, migrates, collects static files and seeds the demo data, then runs four child
processes: the web server (gunicorn, WSGI), the WebSocket server (uvicorn, ASGI), a Celery worker on
every queue and Celery beat. Their output is shown line by line, prefixed with their name. Once
``/health/ready`` answers it prints the URL. SIGINT (Ctrl-C) or SIGTERM stops the children (SIGTERM,
then SIGKILL after a grace period), then Redis and PostgreSQL, and it exits 0.

Like ``config.settings``, this reads the environment directly: it runs before Django is configured,
and it decides which services exist. Its own variables: ``FORUM_HTTP_PORT`` (8000), ``FORUM_WS_PORT``
(8001), ``FORUM_DATA_DIR`` (``.data``, shared with the settings).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

import django
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connections

from forum.embedded import EmbeddedPostgres, EmbeddedRedis, start_postgres, start_redis, stop_postgres
from forum.embedded import write_env_file as write_embedded_env

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# Queues that belong to no app of ours: the kernel's own tasks (outbox sweep and prune).
KERNEL_QUEUES = ("forum",)
PR_SET_PDEATHSIG = 1
# A second stop signal within this many seconds of the first is the same request, not "hurry".
SIGNAL_ECHO_SECONDS = 1.5


class StopRequested(Exception):
    """SIGINT or SIGTERM arrived: the launcher winds everything down."""


class ChildExited(RuntimeError):
    """One of the four processes exited on its own; the forum is not whole any more."""


@dataclass(frozen=True)
class LaunchConfig:
    """Where things go; read once from the environment."""

    base_dir: Path
    data_dir: Path
    http_port: int
    ws_port: int
    embedded_postgres: bool
    embedded_redis: bool

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], base_dir: Path = BASE_DIR) -> LaunchConfig:
        return cls(
            base_dir=base_dir,
            data_dir=Path(environ.get("FORUM_DATA_DIR") or base_dir / ".data").resolve(),
            http_port=int(environ.get("FORUM_HTTP_PORT") or 8000),
            ws_port=int(environ.get("FORUM_WS_PORT") or 8001),
            embedded_postgres=not environ.get("DATABASE_URL"),
            embedded_redis=not environ.get("REDIS_URL"),
        )

    @property
    def site_url(self) -> str:
        return f"http://{HOST}:{self.http_port}/"

    @property
    def websocket_url(self) -> str:
        return f"ws://{HOST}:{self.ws_port}/ws/"


def celery_queues(prefix: str = "") -> list[str]:
    """Every queue a task can be routed to: one per app (``forum.bus.queue_for`` takes the first part
    of a task name, which is the app's label or its module name) and the kernel's.

    Call after ``django.setup()``.
    """
    names = set(KERNEL_QUEUES)
    for app_config in apps.get_app_configs():
        if app_config.name.startswith("apps."):
            names.add(app_config.label)
            names.add(app_config.name.rsplit(".", 1)[1])
    return sorted(prefix + name for name in names)


def child_commands(config: LaunchConfig, queues: Sequence[str]) -> dict[str, list[str]]:
    """The command line of each child process, by the name that prefixes its output."""
    python = sys.executable
    web = [python, "-m", "gunicorn"]
    gunicorn_config = config.base_dir / "docker" / "servers" / "gunicorn.conf.py"
    if gunicorn_config.exists():
        # The production settings of the web server; --bind on the command line wins over its bind.
        web += ["--config", str(gunicorn_config)]
    else:
        web += ["--workers", "2", "--graceful-timeout", "10"]
    web += ["--bind", f"{HOST}:{config.http_port}", "config.wsgi:application"]
    return {
        "web": web,
        "websocket": [
            python,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            HOST,
            "--port",
            str(config.ws_port),
            "--workers",
            "1",  # explicit: uvicorn would otherwise take WEB_CONCURRENCY, which is meant for gunicorn
            "--lifespan",
            "off",  # Django's ASGI handler does not speak the lifespan protocol
            "--timeout-graceful-shutdown",
            "5",
        ],
        "worker": [
            python,
            "-m",
            "celery",
            "--app",
            "config",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--hostname",
            "forum@%h",
            "--queues",
            ",".join(queues),
        ],
        "beat": [
            python,
            "-m",
            "celery",
            "--app",
            "config",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(config.data_dir / "celerybeat-schedule"),
        ],
    }


def port_is_free(port: int, host: str = HOST) -> bool:
    with socket.socket() as sock:
        # Like the servers themselves: a socket of a previous run in TIME_WAIT does not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _parent_death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has Linux send the child SIGTERM if the launcher dies (say by SIGKILL),
    so that no server outlives it; elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def set_parent_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return set_parent_death_signal


@dataclass
class Child:
    """A child process in its own process group, with a thread copying its output to ours."""

    name: str
    process: subprocess.Popen[bytes]
    reader: threading.Thread | None = None

    def alive(self) -> bool:
        return self.process.poll() is None

    def group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


@dataclass
class Launcher:
    config: LaunchConfig
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    stop_grace: float = 20.0
    ready_timeout: float = 120.0
    children: list[Child] = field(default_factory=list)
    postgres: EmbeddedPostgres | None = None
    redis: EmbeddedRedis | None = None
    stop_signal: int | None = None
    hurry: bool = False
    _first_signal_at: float = 0.0
    _output_lock: threading.Lock = field(default_factory=threading.Lock)

    # --- output ----------------------------------------------------------------------------------
    def say(self, message: str) -> None:
        with self._output_lock:
            print(message, file=self.out, flush=True)

    def _copy_output(self, child: Child, width: int) -> None:
        assert child.process.stdout is not None
        prefix = f"{child.name:<{width}} | "
        for raw in iter(child.process.stdout.readline, b""):
            line = raw.decode(errors="replace").rstrip("\n")
            with self._output_lock:
                self.out.write(prefix + line + "\n")
                self.out.flush()

    # --- signals ---------------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        # Never raise from here: a start or a migration in progress finishes, and the steps check
        # the flag in between (see _check_stop). A second signal cuts the grace period short.
        now = time.monotonic()
        if self.stop_signal is None:
            self.stop_signal = signum
            self._first_signal_at = now
            self.say(f"\nlauncher | {signal.Signals(signum).name}: stopping the forum (again to hurry)...")
        elif now - self._first_signal_at > SIGNAL_ECHO_SECONDS:
            # Not the echo of the first: `make` passes its own SIGTERM on to us right after the one
            # sent to the whole process group.
            self.hurry = True

    def _check_stop(self) -> None:
        if self.stop_signal is not None:
            raise StopRequested

    # --- steps -----------------------------------------------------------------------------------
    def start_services(self) -> dict[str, str]:
        """Start whatever embedded service the environment does not name; return their addresses."""
        config = self.config
        addresses: dict[str, str] = {}
        if config.embedded_postgres:
            self.say(f"launcher | starting the embedded PostgreSQL ({config.data_dir / 'postgres'})")
            self.postgres = start_postgres(config.data_dir / "postgres", database="forum")
            addresses["DATABASE_URL"] = self.postgres.url
            self._check_stop()
        if config.embedded_redis:
            self.say(f"launcher | starting the embedded Redis ({config.data_dir / 'redis'})")
            self.redis = start_redis(config.data_dir / "redis", preexec_fn=_parent_death_signal())
            addresses["REDIS_URL"] = self.redis.url
            self._check_stop()
        write_embedded_env(config.data_dir / "embedded.env", addresses)
        for name, value in addresses.items():
            self.say(f"launcher | {name}={value}")
        return addresses

    def prepare(self) -> list[str]:
        """Migrate, collect static files, seed the demo data; return the Celery queues."""
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
        self.say("launcher | migrating the database")
        call_command("migrate", interactive=False, verbosity=1)
        self._check_stop()
        call_command("collectstatic", interactive=False, verbosity=0)
        call_command("seed_demo")
        call_command("seed_forum", "--demo")  # the thread app's command: by name, the kernel imports no app
        call_command("seed_support")  # the support app's demo tickets and reports, on top of the forum's
        call_command("seed_moderation")  # the admin app's demo warning, on top of the support demo
        call_command("seed_frames")  # the frame app's demo frames, one worn by a demo member
        call_command("seed_status")  # the status app's plans (Agent, paid) and rules (Reader, automatic)
        call_command("seed_payment")  # the payment app's demo invoices (jonas) for seed_status's plans
        call_command("search_reindex", "--if-empty")  # the demo searchable at once (a first start)
        # The launcher keeps no connection open while the servers run.
        connections.close_all()
        self._check_stop()
        return celery_queues(settings.FORUM_QUEUE_PREFIX)

    def start_children(self, commands: Mapping[str, Sequence[str]]) -> None:
        preexec_fn = _parent_death_signal()
        for name, command in commands.items():
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
                list(command),
                cwd=self.config.base_dir,
                env=dict(os.environ),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                # Its own process group: Ctrl-C in the terminal reaches only the launcher, which
                # then stops each child in order instead of all of them at once.
                start_new_session=True,
                preexec_fn=preexec_fn,
            )
            self.children.append(Child(name=name, process=process))
        # The reader threads start only after every fork: preexec_fn runs in the forked child,
        # where a lock held by another thread at fork time would never be released.
        width = max(len(child.name) for child in self.children)
        for child in self.children:
            child.reader = threading.Thread(
                target=self._copy_output, args=(child, width), name=f"output-{child.name}", daemon=True
            )
            child.reader.start()

    def _check_children(self) -> None:
        for child in self.children:
            if not child.alive():
                raise ChildExited(f"{child.name} exited with code {child.process.returncode}")

    def wait_until_ready(self) -> None:
        """Until /health/ready answers 200 on the web server and the WebSocket port accepts."""
        ready_url = f"{self.config.site_url}health/ready"
        deadline = time.monotonic() + self.ready_timeout
        while True:
            self._check_stop()
            self._check_children()
            try:
                with urllib.request.urlopen(ready_url, timeout=3) as response:  # noqa: S310 - http://127.0.0.1
                    web_ready = response.status == 200
                with socket.create_connection((HOST, self.config.ws_port), timeout=1):
                    pass
            except (urllib.error.URLError, OSError):
                web_ready = False
            if web_ready:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{ready_url} did not answer within {self.ready_timeout:.0f}s")
            time.sleep(0.3)

    def banner(self) -> None:
        config = self.config
        site = config.site_url
        lines = [
            "",
            "=" * 72,
            f"  The forum is running: {site}",
            "",
            f"    site        {site}",
            f"    admin       {site}admin/   (user admin)",
            f"    API docs    {site}api/docs/",
            f"    WebSocket   {config.websocket_url}",
            f"    data        {config.data_dir}",
            "",
            "  Press Ctrl-C to stop everything.",
            "=" * 72,
            "",
        ]
        self.say("\n".join(lines))

    def stop_children(self) -> None:
        """SIGTERM to each child's main process (gunicorn and Celery drain their own workers), wait,
        then SIGKILL whole process groups that are still there."""
        for child in reversed(self.children):
            if child.alive():
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        while any(child.alive() for child in self.children):
            if self.hurry or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        for child in self.children:
            if child.alive():
                reason = "on a second signal" if self.hurry else f"after {self.stop_grace:.0f}s"
                self.say(f"launcher | {child.name} is still running {reason}: killing it")
                child.kill_group()
                child.process.wait(5)
        # A worker process left behind by a main process that exited.
        time.sleep(0.2)
        for child in self.children:
            if child.group_alive():
                child.kill_group()
        for child in self.children:
            if child.reader is not None:
                child.reader.join(timeout=2)

    def stop_services(self) -> None:
        if self.redis is not None:
            self.say("launcher | stopping the embedded Redis")
            self.redis.stop()
        if self.config.embedded_postgres:
            self.say("launcher | stopping the embedded PostgreSQL")
            # By data directory: a start interrupted half way may have left a server and no handle.
            stop_postgres(self.config.data_dir / "postgres")

    def shutdown(self) -> None:
        if self.stop_signal is None:
            self.stop_signal = signal.SIGTERM  # a second signal from now on means hurry
        try:
            self.stop_children()
        finally:
            self.stop_services()

    # --- the whole run ---------------------------------------------------------------------------
    def run(self) -> int:
        config = self.config
        for name, port in (("FORUM_HTTP_PORT", config.http_port), ("FORUM_WS_PORT", config.ws_port)):
            if not port_is_free(port):
                self.say(f"launcher | port {port} on {HOST} is in use (another `make run`?); set {name}")
                return 1
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        status = 0
        try:
            addresses = self.start_services()
            os.environ.update(addresses)
            os.environ.setdefault("FORUM_WEBSOCKET_URL", config.websocket_url)
            # Readable lines in a terminal; production keeps the JSON default.
            os.environ.setdefault("LOG_FORMAT", "plain")
            os.environ.setdefault("WEB_CONCURRENCY", "2")
            os.environ.setdefault("GRACEFUL_TIMEOUT", "10")
            os.environ["PYTHONUNBUFFERED"] = "1"
            queues = self.prepare()
            self.start_children(child_commands(config, queues))
            self.wait_until_ready()
            self.banner()
            while True:
                self._check_stop()
                self._check_children()
                time.sleep(0.5)
        except StopRequested:
            status = 0
        except ChildExited as error:
            self.say(f"launcher | {error}: stopping the forum")
            status = 1
        except Exception:  # noqa: BLE001 - whatever failed, what did start is stopped below
            self.say(f"launcher | failed:\n{traceback.format_exc()}")
            status = 1
        finally:
            self.shutdown()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.say("launcher | stopped" if status == 0 else "launcher | stopped after a failure")
        return status


def main() -> int:
    return Launcher(LaunchConfig.from_environment(os.environ)).run()


if __name__ == "__main__":
    sys.exit(main())
