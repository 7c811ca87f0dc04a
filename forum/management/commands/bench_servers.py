"""manage.py bench_servers: requests/s, latency and CPU per request of each HTTP server configuration.

Each configuration is started as a child process on a free port, in the production profile, against
a dedicated database (``forum_bench`` next to the configured one: created, migrated and seeded here),
serving the benchmark URL map ``forum.bench.urls``. wrk then loads the pages: ``bare`` (a small
template from one 20-row query), ``page`` (a forum page: four queries, a template with inheritance,
an include per row and translations) and, on request, ``mixed`` (the forum page with one request in
a hundred waiting 200 ms on "another service"). While wrk runs, the connections to the bench
database are counted, and a configuration that opens more than ``--max-db-connections`` is stopped
at once, so that the benchmark cannot exhaust a PostgreSQL shared with other work. The CPU time of
the server and of its PostgreSQL backends is read from /proc, which compares servers even on a
machine that other work shares. The method and the figures are in docs/server-choice.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import psycopg
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from psycopg import sql

from forum.bench.schema import MIXED_WAIT_EVERY, SETUP_SQL
from forum.benchmarking import (
    WrkResult,
    machine_busy_seconds,
    parse_wrk,
    session_cpu_seconds,
    wait_for_quiet,
)

BASE_DIR = Path(settings.BASE_DIR)
BIN_DIR = Path(sys.executable).parent
GUNICORN_CONF = BASE_DIR / "docker" / "servers" / "gunicorn.conf.py"

PAGES = {"bare": "/bench/bare", "page": "/bench/forum/3", "mixed": "/bench/forum/3"}
DEFAULT_PAGES = "bare,page"
# The "mixed" load: the forum page, and every MIXED_WAIT_EVERY-th request of a wrk thread one that
# waits WAIT_SECONDS on "another service". A server that binds connections to a busy worker makes
# the requests behind a slow one wait; one whose free workers take the next request does not.
MIXED_SCRIPT = f"""
local count = 0
request = function()
  count = count + 1
  if count % {MIXED_WAIT_EVERY} == 0 then
    return wrk.format("GET", "/bench/wait")
  end
  return wrk.format("GET", "{PAGES["mixed"]}")
end
"""


@dataclass(frozen=True)
class ServerConfig:
    """One way to serve the forum: the command line (given port and workers) and extra environment."""

    name: str
    summary: str
    command: Callable[[int, int], list[str]]
    env: dict[str, str] = field(default_factory=dict)
    default: bool = True


def _gunicorn(*extra: str, target: str = "config.wsgi:application") -> Callable[[int, int], list[str]]:
    def command(port: int, workers: int) -> list[str]:
        return [
            str(BIN_DIR / "gunicorn"),
            "--config",
            str(GUNICORN_CONF),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            *extra,
            target,
        ]

    return command


def _granian(interface: str, *extra: str) -> Callable[[int, int], list[str]]:
    target = "config.wsgi:application" if interface == "wsgi" else "config.asgi:application"

    def command(port: int, workers: int) -> list[str]:
        return [
            str(BIN_DIR / "granian"),
            "--interface",
            interface,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--no-access-log",
            *extra,
            target,
        ]

    return command


def _uvicorn(port: int, workers: int) -> list[str]:
    return [
        str(BIN_DIR / "uvicorn"),
        "config.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--lifespan",
        "off",
    ]


# Under ASGI every request runs its sync code in a thread of its own, and a persistent connection
# belongs to a thread: without a pool each request opens a connection and leaves it for the garbage
# collector. Hence DATABASE_POOL=1 for the ASGI servers; uvicorn-nopool shows what happens without,
# and uvicorn-noreuse what closing the connection after each request costs instead.
POOLED = {"DATABASE_POOL": "1"}

CONFIGS = [
    ServerConfig(
        "gunicorn-sync",
        "gunicorn, sync workers (WSGI)",
        _gunicorn("--worker-class", "sync", "--threads", "1"),
    ),
    ServerConfig(
        "gunicorn-gthread",
        "gunicorn, gthread workers with 4 threads (WSGI)",
        _gunicorn("--worker-class", "gthread", "--threads", "4"),
    ),
    ServerConfig(
        "granian-wsgi",
        "granian --interface wsgi, 1 blocking thread",
        _granian("wsgi", "--blocking-threads", "1"),
    ),
    ServerConfig("granian-asgi", "granian --interface asgi, psycopg pool", _granian("asgi"), POOLED),
    ServerConfig("uvicorn", "uvicorn (ASGI), psycopg pool", _uvicorn, POOLED),
    ServerConfig(
        "gunicorn-asgi",
        "gunicorn's asgi worker, psycopg pool",
        _gunicorn("--worker-class", "asgi", target="config.asgi:application"),
        POOLED,
    ),
    ServerConfig(
        "uvicorn-nopool",
        "uvicorn (ASGI), persistent connections, no pool",
        _uvicorn,
        {"DATABASE_POOL": "0", "DATABASE_CONN_MAX_AGE": "60"},
        default=False,
    ),
    ServerConfig(
        "uvicorn-noreuse",
        "uvicorn (ASGI), a new connection per request, no pool",
        _uvicorn,
        {"DATABASE_POOL": "0", "DATABASE_CONN_MAX_AGE": "0"},
        default=False,
    ),
]
CONFIGS_BY_NAME = {config.name: config for config in CONFIGS}


@dataclass
class Measurement:
    config: str
    page: str
    run: int
    # Cores busy on the whole machine in the second before the run, while the server idled: the
    # benchmark waits for this to fall below --quiet-below, and records what it got.
    busy_cores_before: float
    peak_db_connections: int
    result: WrkResult | None = None
    # CPU time the server's processes spent per request: unlike requests/s, it hardly depends on what
    # else the machine runs at the time, so it compares servers on a shared machine.
    cpu_ms_per_request: float | None = None
    # The same for PostgreSQL's backends serving the bench database.
    db_cpu_ms_per_request: float | None = None
    # Cores used during the run by everything but the server, its PostgreSQL backends and wrk.
    other_cores: float | None = None
    error: str = ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _with_database(url: str, name: str) -> str:
    return urlunparse(urlparse(url)._replace(path="/" + name))


def _libpq_url(url: str) -> str:
    # Django's URLs may use postgres:// or the prometheus wrapper's scheme; libpq knows postgresql://.
    return urlunparse(urlparse(url)._replace(scheme="postgresql"))


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid: int) -> float | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


class DatabaseSampler(threading.Thread):
    """Every quarter second: the connections to the bench database, and the CPU their backends used.

    Calls ``on_excess`` when the count passes ``limit``. The backends run on this machine (the
    benchmark's PostgreSQL is local), so their CPU time is read from /proc; a backend that ends keeps
    the last time seen.
    """

    def __init__(self, maintenance_url: str, database: str, limit: int, on_excess: Callable[[int], None]):
        super().__init__(daemon=True)
        self.maintenance_url = maintenance_url
        self.database = database
        self.limit = limit
        self.on_excess = on_excess
        self.peak = 0
        self.backend_cpu: dict[int, float] = {}
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def reset(self) -> None:
        self.peak = 0

    def cpu_snapshot(self) -> dict[int, float]:
        self._sample_cpu()
        with self._lock:
            return dict(self.backend_cpu)

    def run(self) -> None:
        with psycopg.connect(self.maintenance_url, autocommit=True) as connection:
            while not self._stopped.wait(0.25):
                pids = [
                    int(row[0])
                    for row in connection.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database]
                    ).fetchall()
                ]
                with self._lock:
                    for pid in pids:
                        self.backend_cpu.setdefault(pid, 0.0)
                self._sample_cpu()
                self.peak = max(self.peak, len(pids))
                if len(pids) > self.limit:
                    self.on_excess(len(pids))

    def _sample_cpu(self) -> None:
        with self._lock:
            for pid in self.backend_cpu:
                seconds = process_cpu_seconds(pid)
                if seconds is not None:
                    self.backend_cpu[pid] = seconds

    def stop(self) -> None:
        self._stopped.set()
        self.join(5)


def backend_cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


class Server:
    """A server configuration running as a child process group, its output in a log file."""

    def __init__(self, config: ServerConfig, *, port: int, workers: int, env: dict[str, str], log_path: Path):
        self.config = config
        self.port = port
        self.log_path = log_path
        self.excess: int | None = None
        with open(log_path, "wb") as log_file:
            self.process = subprocess.Popen(  # noqa: S603
                config.command(port, workers),
                cwd=BASE_DIR,
                env=env | config.env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log_tail(self, size: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-size:] if self.log_path.exists() else ""

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        """Until the page answers 200: the port opens before the application has been imported."""
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.port}{path}"
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.config.name} did not serve {path}:\n{self.log_tail()}")

    def kill(self, connections: int) -> None:
        self.excess = connections
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait(5)

    def _signal(self, signum: int) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)


class Command(BaseCommand):
    help = "Compare HTTP servers (WSGI and ASGI) on the bench pages with wrk; see docs/server-choice.md."

    def add_arguments(self, parser: CommandParser) -> None:
        names = "; ".join(
            f"{config.name}: {config.summary}" + ("" if config.default else " (opt-in)") for config in CONFIGS
        )
        parser.add_argument("--duration", type=int, default=10, help="Seconds of measurement per page.")
        parser.add_argument("--warmup", type=int, default=3, help="Seconds of unmeasured load first.")
        parser.add_argument("--connections", type=int, default=16, help="wrk connections.")
        parser.add_argument("--threads", type=int, default=2, help="wrk threads.")
        parser.add_argument("--workers", type=int, default=2, help="Server worker processes.")
        parser.add_argument("--runs", type=int, default=1, help="Rounds over all configurations.")
        parser.add_argument(
            "--configs", default="", help=f"Comma-separated, default all but opt-in: {names}."
        )
        parser.add_argument(
            "--pages",
            default=DEFAULT_PAGES,
            help=f"Comma-separated, from {', '.join(PAGES)} (default {DEFAULT_PAGES}).",
        )
        parser.add_argument(
            "--database-url", default="", help="Bench database (default: forum_bench beside DATABASE_URL)."
        )
        parser.add_argument(
            "--max-db-connections",
            type=int,
            default=40,
            help="Stop a configuration that opens more connections than this to the bench database.",
        )
        parser.add_argument(
            "--quiet-below",
            type=float,
            default=0.3,
            help="Before each run, wait until the machine uses fewer cores than this (shared machines).",
        )
        parser.add_argument(
            "--quiet-timeout",
            type=float,
            default=120.0,
            help="Seconds to wait for quiet before running anyway.",
        )
        parser.add_argument(
            "--max-other-cores",
            type=float,
            default=0.25,
            help="Measure again when other work used more cores than this during the run.",
        )
        parser.add_argument("--retries", type=int, default=2, help="At most this many measurements again.")
        parser.add_argument(
            "--env",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="Extra environment for the servers (repeatable).",
        )
        parser.add_argument("--no-migrate", action="store_true", help="Skip migrate on the bench database.")
        parser.add_argument("--json", default="", help="Also write every measurement to this file.")
        parser.add_argument("--keep-logs", action="store_true", help="Keep the servers' output.")

    def handle(self, *args: Any, **options: Any) -> None:
        wrk = shutil.which("wrk")
        if wrk is None:
            raise CommandError("wrk is not installed (Debian: apt-get install -y wrk).")
        configs = self._configs(options["configs"])
        pages = [page.strip() for page in options["pages"].split(",") if page.strip()]
        if unknown := [page for page in pages if page not in PAGES]:
            raise CommandError(f"unknown pages {unknown}; choose from {list(PAGES)}")

        bench_url = options["database_url"] or _with_database(settings.DATABASE_URL, "forum_bench")
        database = urlparse(bench_url).path.lstrip("/")
        maintenance_url = _libpq_url(_with_database(bench_url, "postgres"))
        self._ensure_database(maintenance_url, database)
        env = self._server_env(bench_url)
        for assignment in options["env"]:
            name, equals, value = assignment.partition("=")
            if not name or not equals:
                raise CommandError(f"--env takes NAME=VALUE, not {assignment!r}")
            env[name] = value
        if not options["no_migrate"]:
            self._migrate(env)
        self._seed(_libpq_url(bench_url))

        log_dir = Path(tempfile.mkdtemp(prefix="bench-servers-"))
        measurements: list[Measurement] = []
        self.stdout.write(
            f"wrk -t{options['threads']} -c{options['connections']} -d{options['duration']}s after "
            f"{options['warmup']}s warm-up; {options['workers']} workers; {os.cpu_count()} CPUs; "
            f"database {database}"
        )
        try:
            # Round-robin over configurations, so that a change of load on the machine during the
            # benchmark spreads over all of them instead of falling on one.
            for run in range(1, options["runs"] + 1):
                for config in configs:
                    measurements += self._bench_config(
                        config,
                        run=run,
                        pages=pages,
                        env=env,
                        wrk=wrk,
                        options=options,
                        maintenance_url=maintenance_url,
                        database=database,
                        log_dir=log_dir,
                    )
        finally:
            if options["keep_logs"]:
                self.stdout.write(f"server logs in {log_dir}")
            else:
                shutil.rmtree(log_dir, ignore_errors=True)

        self.stdout.write("")
        self.stdout.write(self._summary(measurements))
        if options["json"]:
            Path(options["json"]).write_text(
                json.dumps([asdict(measurement) for measurement in measurements], indent=2) + "\n"
            )

    def _configs(self, names: str) -> list[ServerConfig]:
        if not names:
            return [config for config in CONFIGS if config.default]
        chosen = [name.strip() for name in names.split(",") if name.strip()]
        if unknown := [name for name in chosen if name not in CONFIGS_BY_NAME]:
            raise CommandError(f"unknown configurations {unknown}; choose from {list(CONFIGS_BY_NAME)}")
        return [CONFIGS_BY_NAME[name] for name in chosen]

    def _ensure_database(self, maintenance_url: str, database: str) -> None:
        with psycopg.connect(maintenance_url, autocommit=True) as connection:
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
            if not exists:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
                self.stdout.write(f"created database {database}")

    def _server_env(self, bench_url: str) -> dict[str, str]:
        """The production profile (DEBUG off, JSON logs) on the bench database and URL map."""
        env = dict(os.environ)
        env.update(
            {
                "FORUM_ENV": "production",
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "DEBUG": "false",
                # Throwaway secrets: the production profile refuses to start without real ones (a
                # secret it comes to require later can be given with --env NAME=VALUE).
                "SECRET_KEY": secrets.token_urlsafe(64),
                "PASSWORD_PEPPER": secrets.token_urlsafe(48),
                "INTERNAL_API_SECRETS": f"bench:{secrets.token_urlsafe(48)}",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                # wrk speaks plain HTTP to the server, as nginx does behind TLS.
                "SECURE_SSL_REDIRECT": "false",
                "DATABASE_URL": bench_url,
                # The settings' defaults, whatever this shell has: the configurations set their own.
                "DATABASE_POOL": "0",
                "DATABASE_CONN_MAX_AGE": "60",
                "FORUM_ROOT_URLCONF": "forum.bench.urls",
                "PYTHONPATH": str(BASE_DIR),
                "LOG_FORMAT": "json",
                "LOG_LEVEL": "INFO",
            }
        )
        return env

    def _migrate(self, env: dict[str, str]) -> None:
        completed = subprocess.run(  # noqa: S603
            [sys.executable, str(BASE_DIR / "manage.py"), "migrate", "--noinput"],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise CommandError(f"migrate failed on the bench database:\n{completed.stdout}{completed.stderr}")

    def _seed(self, bench_url: str) -> None:
        with psycopg.connect(bench_url, autocommit=True) as connection:
            for statement in SETUP_SQL:
                connection.execute(statement.encode())

    def _bench_config(
        self,
        config: ServerConfig,
        *,
        run: int,
        pages: Sequence[str],
        env: dict[str, str],
        wrk: str,
        options: dict[str, Any],
        maintenance_url: str,
        database: str,
        log_dir: Path,
    ) -> list[Measurement]:
        port = free_port()
        server = Server(
            config,
            port=port,
            workers=options["workers"],
            env=env | {"WEB_CONCURRENCY": str(options["workers"])},
            log_path=log_dir / f"{config.name}-{run}.log",
        )
        sampler = DatabaseSampler(maintenance_url, database, options["max_db_connections"], server.kill)
        sampler.start()
        measurements = []
        try:
            server.wait_ready(PAGES[pages[0]])
            for page in pages:
                url = f"http://127.0.0.1:{port}{PAGES[page]}"
                base = ["-t", str(options["threads"]), "-c", str(options["connections"])]
                if page == "mixed":
                    script = log_dir / "mixed.lua"
                    script.write_text(MIXED_SCRIPT)
                    base += ["--script", str(script)]
                if options["warmup"]:
                    self._wrk(wrk, [*base, "-d", f"{options['warmup']}s", url], options["warmup"])
                # Other work on a shared machine takes CPU from the server: measure again, up to
                # --retries times, and keep the run that others disturbed least.
                best: Measurement | None = None
                for attempt in range(1 + options["retries"]):
                    measurement = self._measure(
                        server,
                        sampler,
                        Measurement(config.name, page, run, 0.0, 0),
                        wrk,
                        [*base, url],
                        options,
                    )
                    if best is None or (measurement.other_cores or 0) < (best.other_cores or 0):
                        best = measurement
                    if (
                        server.excess is not None
                        or (measurement.other_cores or 0) <= options["max_other_cores"]
                        or attempt == options["retries"]
                    ):
                        break
                    self.stdout.write(
                        f"  {config.name} {page}: others used {measurement.other_cores} cores, again"
                    )
                assert best is not None
                if server.excess is not None:
                    best.result = None
                    best.peak_db_connections = max(best.peak_db_connections, server.excess)
                    limit = options["max_db_connections"]
                    best.error = f"stopped: {server.excess} connections to {database} (limit {limit})"
                measurements.append(best)
                self.stdout.write(self._line(best))
                if server.excess is not None:
                    break
        except RuntimeError as error:
            measurements.append(Measurement(config.name, "-", run, 0.0, sampler.peak, error=str(error)))
            self.stderr.write(str(error))
        finally:
            server.stop()
            sampler.stop()
        return measurements

    def _measure(
        self,
        server: Server,
        sampler: DatabaseSampler,
        measurement: Measurement,
        wrk: str,
        arguments: list[str],
        options: dict[str, Any],
    ) -> Measurement:
        """One wrk run, with the CPU time of the server, of PostgreSQL's backends and of the rest."""
        measurement.busy_cores_before = wait_for_quiet(options["quiet_below"], options["quiet_timeout"])
        sampler.reset()
        server_before = session_cpu_seconds(server.process.pid)
        backends_before = sampler.cpu_snapshot()
        machine_before = machine_busy_seconds()
        wrk_before = children_cpu_seconds()
        started = time.monotonic()
        output = self._wrk(
            wrk,
            ["-d", f"{options['duration']}s", "--latency", "--timeout", "10s", *arguments],
            options["duration"],
        )
        elapsed = time.monotonic() - started
        machine = machine_busy_seconds() - machine_before
        server_cpu = session_cpu_seconds(server.process.pid) - server_before
        backends_cpu = backend_cpu_between(backends_before, sampler.cpu_snapshot())
        wrk_cpu = children_cpu_seconds() - wrk_before
        measurement.other_cores = round(max(machine - server_cpu - backends_cpu - wrk_cpu, 0.0) / elapsed, 2)
        measurement.peak_db_connections = sampler.peak
        try:
            measurement.result = parse_wrk(output)
        except ValueError as error:
            measurement.error = str(error).splitlines()[0]
            return measurement
        if measurement.result.requests:
            measurement.cpu_ms_per_request = round(server_cpu * 1000 / measurement.result.requests, 3)
            measurement.db_cpu_ms_per_request = round(backends_cpu * 1000 / measurement.result.requests, 3)
        return measurement

    def _wrk(self, wrk: str, arguments: list[str], duration: int) -> str:
        completed = subprocess.run(  # noqa: S603
            [wrk, *arguments], capture_output=True, text=True, timeout=duration + 60, check=False
        )
        return completed.stdout + completed.stderr

    @staticmethod
    def _line(measurement: Measurement) -> str:
        head = f"run {measurement.run} {measurement.config:<16} {measurement.page:<5}"
        if measurement.result is None:
            return f"{head} {measurement.error}"
        result = measurement.result
        errors = f" non-2xx {result.non_2xx}" if result.non_2xx else ""
        errors += f" socket errors {result.socket_errors}" if result.socket_errors else ""
        return (
            f"{head} {result.requests_per_second:8.1f} req/s  p50 {result.p50_ms:7.2f} ms  "
            f"p99 {result.p99_ms:7.2f} ms  cpu {measurement.cpu_ms_per_request or 0:5.2f} ms/req  "
            f"pg cpu {measurement.db_cpu_ms_per_request or 0:5.2f} ms/req  "
            f"pg {measurement.peak_db_connections:3d} conns  busy before {measurement.busy_cores_before:.2f} "
            f"others {measurement.other_cores or 0:.2f} cores{errors}"
        )

    @staticmethod
    def _summary(measurements: Sequence[Measurement]) -> str:
        """Median over the runs, with the lowest and highest requests/s to show the spread."""
        rows = [
            "| configuration | page | req/s median | req/s min-max | p50 ms | p99 ms | server CPU ms/req "
            "| PG CPU ms/req | peak PG conns | other cores | errors |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        keys = list(dict.fromkeys((m.config, m.page) for m in measurements if m.page != "-"))
        for config, page in keys:
            group = [m for m in measurements if (m.config, m.page) == (config, page)]
            results = [m.result for m in group if m.result is not None]
            peak = max(m.peak_db_connections for m in group)
            problems = "; ".join(sorted({m.error for m in group if m.error}))
            bad = sum(r.non_2xx + r.socket_errors for r in results)
            if bad:
                problems = "; ".join(filter(None, [problems, f"{bad} failed requests"]))
            if not results:
                rows.append(f"| {config} | {page} | - | - | - | - | - | - | {peak} | - | {problems} |")
                continue
            rates = [r.requests_per_second for r in results]
            cpu = [m.cpu_ms_per_request for m in group if m.cpu_ms_per_request is not None]
            db_cpu = [m.db_cpu_ms_per_request for m in group if m.db_cpu_ms_per_request is not None]
            others = [m.other_cores for m in group if m.other_cores is not None]
            rows.append(
                f"| {config} | {page} | {statistics.median(rates):.0f} | {min(rates):.0f}-{max(rates):.0f} "
                f"| {statistics.median(r.p50_ms for r in results):.1f} "
                f"| {statistics.median(r.p99_ms for r in results):.1f} "
                f"| {statistics.median(cpu) if cpu else 0:.2f} "
                f"| {statistics.median(db_cpu) if db_cpu else 0:.2f} "
                f"| {peak} | {statistics.median(others) if others else 0:.2f} | {problems} |"
            )
        return "\n".join(rows)
