"""Shared tools of the benchmark commands: run wrk and read its figures, watch the machine's load,
run a server as a child process group, print a table, and summarise a cProfile of one request.

Kernel code: it knows no app, so any benchmark command (``bench_servers``, ``bench_forum``) can use it.
"""

from __future__ import annotations

import contextlib
import cProfile
import os
import pstats
import re
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int


def _milliseconds(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]


def parse_wrk(output: str) -> WrkResult:
    """Requests/s, median and 99th percentile latency and error counts from ``wrk --latency``."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    total = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    percentiles = {
        match["pct"]: _milliseconds(match["value"], match["unit"])
        for match in re.finditer(
            r"^\s+(?P<pct>50|99)(?:\.000)?%\s+(?P<value>[\d.]+)(?P<unit>us|ms|s|m)\s*$", output, re.MULTILINE
        )
    }
    if rate is None or total is None or set(percentiles) != {"50", "99"}:
        raise ValueError(f"unexpected wrk output:\n{output}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return WrkResult(
        requests_per_second=float(rate[1]),
        p50_ms=percentiles["50"],
        p99_ms=percentiles["99"],
        requests=int(total[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(count) for count in socket.groups()) if socket else 0,
    )


def run_wrk(
    url: str,
    *,
    duration: int,
    connections: int = 16,
    threads: int = 2,
    headers: Sequence[str] = (),
    script: Path | None = None,
    wrk: str = "wrk",
) -> str:
    """One wrk run with ``--latency``; its whole output (parse it with ``parse_wrk``)."""
    arguments = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency"]
    arguments += ["--timeout", "10s"]
    for header in headers:
        arguments += ["-H", header]
    if script is not None:
        arguments += ["--script", str(script)]
    completed = subprocess.run(  # noqa: S603 - wrk and arguments of our own
        [*arguments, url], capture_output=True, text=True, timeout=duration + 60, check=False
    )
    return completed.stdout + completed.stderr


# --- The machine's load -------------------------------------------------------------------------------


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent not idle since boot (all cores), from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


def wait_for_quiet(below: float, timeout: float) -> float:
    """Cores busy over the last second, once that falls below ``below`` or ``timeout`` runs out."""
    deadline = time.monotonic() + timeout
    while True:
        start = machine_busy_seconds()
        time.sleep(1.0)
        busy = machine_busy_seconds() - start
        if busy < below or time.monotonic() >= deadline:
            return round(busy, 2)


def session_cpu_seconds(session_id: int) -> float:
    """User and system CPU time of every live process in a session (a server and its workers)."""
    total = 0
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            stat = stat_path.read_text()
        except OSError:
            continue  # the process ended meanwhile
        # The command name, in parentheses, may hold spaces; the fields after it are plain.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == session_id:
            total += int(fields[11]) + int(fields[12])
    return total / _CLOCK_TICKS


# --- A server under test ------------------------------------------------------------------------------


class ServerProcess:
    """A server started as a child process group (its own session), its output in a log file."""

    def __init__(
        self, name: str, command: Sequence[str], *, port: int, env: Mapping[str, str], cwd: Path, log: Path
    ):
        self.name = name
        self.port = port
        self.log_path = log
        with open(log, "wb") as log_file:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
                list(command),
                cwd=cwd,
                env=dict(env),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, size: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-size:] if self.log_path.exists() else ""

    def wait_ready(self, path: str, timeout: float = 90.0) -> None:
        """Until ``path`` answers 200: the port opens before the application has been imported."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(self.base_url + path, timeout=10) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} did not serve {path}:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        return session_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        """SIGTERM to the whole group, SIGKILL after 30 seconds."""
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


# --- Output -------------------------------------------------------------------------------------------


def markdown_table(
    header: Sequence[str], rows: Sequence[Sequence[object]], *, right: Sequence[int] = ()
) -> str:
    """A Markdown table with padded columns (readable in a terminal, pasteable into the docs);
    the columns numbered in ``right`` are right-aligned."""
    cells = [[str(cell) for cell in header], *[[str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]

    def line(row: Sequence[str]) -> str:
        padded = [
            cell.rjust(width) if column in right else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            "-" * (width + 1) + ":" if column in right else "-" * (width + 2)
            for column, width in enumerate(widths)
        )
        + "|"
    )
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def manage(env: Mapping[str, str], *arguments: str) -> str:
    """``manage.py`` with ``arguments`` in the servers' environment (the bench database, their
    secrets), as the bench commands prepare it; its output, or CommandError with what it printed."""
    from django.conf import settings
    from django.core.management.base import CommandError

    base = Path(settings.BASE_DIR)
    completed = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, str(base / "manage.py"), *arguments],
        cwd=base,
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise CommandError(f"manage.py {' '.join(arguments)} failed:\n{completed.stdout}{completed.stderr}")
    return completed.stdout


# --- Where one request's time goes -------------------------------------------------------------------


def _short_path(filename: str, root: Path) -> str:
    """A profiled function's file, shortened: relative to the project, to site-packages or to the
    standard library."""
    path = Path(filename)
    parts = path.parts
    if "site-packages" in parts:
        return str(Path(*parts[parts.index("site-packages") + 1 :]))
    with contextlib.suppress(ValueError):
        return str(path.relative_to(root))
    with contextlib.suppress(ValueError):
        return "stdlib/" + str(path.relative_to(sysconfig.get_paths()["stdlib"]))
    return filename


def profile_summary(
    profile: cProfile.Profile, *, root: Path, lines: int = 25, hide: Sequence[str] = ()
) -> str:
    """The functions that took the most time in ``profile``: the top ``lines`` by cumulative time (what
    they called included), by own time, and by cumulative time among the project's own files (under
    ``root``, outside site-packages), as aligned text: calls, own and cumulative milliseconds, the
    function and where it is (``apps/thread/views.py:210``). Functions of files ending in one of
    ``hide`` (the harness that sent the request) are left out of the rankings, not of the times."""
    stats = pstats.Stats(profile)
    entries: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    calls = sum(entry[1] for entry in entries.values())
    rows: list[tuple[str, float, float, str, str]] = []
    ours: list[tuple[str, float, float, str, str]] = []
    for (filename, line, name), (primitive, total, own, cumulative, _callers) in entries.items():
        if filename != "~" and any(filename.endswith(suffix) for suffix in hide):
            continue
        short = "" if filename == "~" else _short_path(filename, root)
        count = str(total) if total == primitive else f"{total}/{primitive}"
        row = (count, own * 1000, cumulative * 1000, name, f"{short}:{line}" if short else "")
        rows.append(row)
        if (
            filename != "~"
            and "site-packages" not in Path(filename).parts
            and Path(filename).is_relative_to(root)
        ):
            ours.append(row)
    out = [f"{calls} function calls, {stats.total_tt * 1000:.1f} ms under the profiler"]  # type: ignore[attr-defined]
    rankings = (
        ("cumulative time", rows, 2),
        ("own time", rows, 1),
        ("cumulative time, the project's own code", ours, 2),
    )
    for title, ranked, column in rankings:
        out += ["", f"top {lines} by {title}:", f"{'calls':>10} {'own ms':>9} {'cum ms':>9}  function"]
        for count, own_ms, cumulative_ms, name, where in sorted(ranked, key=lambda row: -float(row[column]))[
            :lines
        ]:
            out.append(
                f"{count:>10} {own_ms:9.2f} {cumulative_ms:9.2f}  {name}" + (f"  {where}" if where else "")
            )
    return "\n".join(out)
