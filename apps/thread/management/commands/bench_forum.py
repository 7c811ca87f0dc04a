"""manage.py bench_forum: requests/s and p50/p99 latency of the forum's pages under wrk, against the
production server configuration, with a bare Django view served the same way as the ceiling.

Steps: create the ``forum_bench`` database if missing, migrate it, seed it unless the dataset of that
scale is there (``seed_forum --bench --scale N``: at scale 1, 20 forums, 10,000 threads, 200,000 posts,
2,000 members, one thread of 5,000 posts; N times each but the forums at scale N), start gunicorn with
``docker/servers/gunicorn.conf.py`` in the production profile (throwaway secrets made for the run) twice:
once with the site's URL map and once with ``forum.bench.urls``, whose ``/bench/bare`` renders a small
template from one 20-row query (the ceiling). Then sign a member in through the sign-in form, and load
with wrk, one target at a time: the forum index, a forum's thread list, the first and the last page of
the long thread (5,000 posts times the scale) and a profile, as that member and as a guest, then replies
posted through the reply form. It prints the dataset's scale and a table: requests/s, p50, p99, each as
a share of the ceiling, the goal, met or not. The ceiling is measured first and last, and the higher of
the two counts. ``--rounds N`` goes over the targets N times in turn (the ceiling at the start of each
round and at the end): each target's row is then the median of its runs, judged so, with the range of
its requests/s and p99 beside it (this machine's speed moves by up to half within minutes, and one
10-second run of each target can land on a slow minute).

``--profile TARGET`` (a target's key, such as ``member-thread-last``) measures nothing under load: after
the same setup it runs ``bench_forum --profile TARGET --in-process`` in the servers' environment, which
sends one request of that target through the whole stack in its own process (Django's test client, the
member signed in), once to warm up, once plain and once under cProfile, and prints the query count, the
times and the top functions by cumulative and by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import itertools
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse, urlunparse

import psycopg
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections
from django.http import HttpResponseBase
from django.http.request import validate_host
from django.test import Client
from psycopg import sql

from apps.authorization.services import quota_remaining
from apps.thread.management.bench_seed import (
    BENCH_USERNAME,
    bench_posters,
    bench_sizes,
    bench_targets,
    dataset_marker,
    positive_int,
)
from forum.bench.schema import SETUP_SQL
from forum.benchmarking import (
    ServerProcess,
    WrkResult,
    manage,
    markdown_table,
    parse_wrk,
    profile_summary,
    run_wrk,
    wait_for_quiet,
)
from forum.testing.processes import free_port

BASE_DIR = Path(settings.BASE_DIR)
GUNICORN_CONF = BASE_DIR / "docker" / "servers" / "gunicorn.conf.py"
QUEUE_PREFIX = "bench-"

# Goals of the brief on a 2-core machine with 16 connections.
MEMBER_SHARE = 0.35
GUEST_SHARE = 0.70
P99_MS = 100.0
POSTS_PER_SECOND = 100.0

REPLY_SCRIPT = """
-- Replies through the reply form, round the threads below, each with its own text, each request as
-- the next of the posters (their session cookie and the CSRF token of their form).
local threads = {%(threads)s}
local posters = {%(posters)s}
local count = 0
-- wrk.format replaces wrk.headers (the -H options) when given headers of its own.
local headers = {}

-- A global of each thread's own Lua state, so that two threads' replies differ.
setup = function(thread)
  thread:set("prefix", tostring(math.random(1, 1000000)))
end

init = function(args)
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["Content-Type"] = "application/x-www-form-urlencoded"
end

request = function()
  count = count + 1
  local thread = threads[(count %% #threads) + 1]
  local poster = posters[((count + (tonumber(prefix) or 0)) %% #posters) + 1]
  headers["Cookie"] = poster[1]
  local body = "csrfmiddlewaretoken=" .. poster[2] .. "&body=Benchmark+reply+" .. (prefix or "")
    .. "-" .. count .. "%%3A+the+**second**+option%%2C+as+said+above."
  return wrk.format("POST", "/threads/" .. thread .. "/reply/", headers, body)
end
"""
# Members the replies are posted as, each under a plain member's allowance (100 a day): enough that a
# run's replies (POSTS_PER_SECOND and more, for the warm-up and the run) fit in what they have left.
POSTERS = 60


@dataclass(frozen=True)
class Target:
    name: str
    role: str  # "member" or "guest"
    path: str
    min_share: float | None = None
    min_rate: float | None = None
    max_p99_ms: float | None = None
    note: str = ""
    # What --only and --profile take: the role and the page, "member-thread-last".
    slug: str = ""
    # Which server answers: "site", or "fresh" (the site with SEARCH_KEEP_RESULTS=0: every search runs).
    server: str = "site"

    @property
    def key(self) -> str:
        return f"{self.role}-{self.slug}"


PROFILE_HIDE = (
    "django/test/client.py",
    "django/test/utils.py",
    "apps/thread/management/commands/bench_forum.py",
)

# The targets' keys are the role and one of these (see Command._targets).
TARGET_SLUGS = ("index", "thread-list", "thread-first", "thread-last", "profile")
# Search (docs/search.md), as the benchmark's member, who may not read the Agents-only forum.
SEARCH_SLUGS = ("search-common", "search-rare", "search-phrase", "search-member")
SEARCH_P99_MS = 50.0
TARGET_KEYS = (
    *(f"{role}-{slug}" for slug in TARGET_SLUGS for role in ("member", "guest")),
    "member-create-post",
    *(f"member-{slug}" for slug in SEARCH_SLUGS),
    *(f"member-{slug}-repeated" for slug in SEARCH_SLUGS[:3]),
    "member-search-form",
)


@dataclass
class Row:
    target: Target
    result: WrkResult | None
    cpu_ms: float | None = None
    load_before: float = 0.0
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def attach_round_ceilings(runs: list[Row], ceilings: list[Row]) -> None:
    """With ``--rounds``: each of one target's runs (one a round) is a share of its own round's
    ceiling, the higher of the one measured before the round and the one after it (``ceilings`` holds
    one more than ``runs``), as a single run is of the run's; a round whose two ceilings both failed
    gives its run none."""
    for run, (before, after) in zip(runs, itertools.pairwise(ceilings), strict=True):
        rates = [row.result.requests_per_second for row in (before, after) if row.result]
        if rates:
            run.extra["ceiling"] = max(rates)


def median_row(runs: list[Row]) -> Row:
    """One target's row from its runs (``--rounds``): each figure the median of the runs that
    measured (of an even count, the worse of the two middle ones: a goal is never judged on a figure
    no run reached), its share of the ceiling the median of each run's share of its own round's
    ceiling (``extra["ceiling"]``), the range of requests/s and p99 in the notes; a failed run fails
    the row."""
    measured = [run for run in runs if run.result is not None]
    if len(runs) == 1 or not measured:
        return runs[0]
    failed = [run for run in runs if run.result is None]
    results = [run.result for run in measured if run.result is not None]

    def middle(values: list[float], *, higher_is_worse: bool = True) -> float:
        ordered = sorted(values)
        return ordered[len(ordered) // 2] if higher_is_worse else ordered[(len(ordered) - 1) // 2]

    rates = [result.requests_per_second for result in results]
    p99s = [result.p99_ms for result in results]
    result = WrkResult(
        requests_per_second=middle(rates, higher_is_worse=False),
        p50_ms=middle([result.p50_ms for result in results]),
        p99_ms=middle(p99s),
        requests=sum(result.requests for result in results),
        non_2xx=sum(result.non_2xx for result in results),
        socket_errors=sum(result.socket_errors for result in results),
    )
    cpus = [run.cpu_ms for run in measured if run.cpu_ms is not None]
    # Each run's share of its own round's ceiling, when the rounds gave one.
    of_ceiling = [
        run.result.requests_per_second / run.extra["ceiling"]
        if run.result and run.extra.get("ceiling")
        else None
        for run in measured
    ]
    shares = [share for share in of_ceiling if share is not None]
    spread = (
        f"median of {len(measured)} runs: req/s {min(rates):.0f}-{max(rates):.0f}, "
        f"p99 {min(p99s):.1f}-{max(p99s):.1f} ms"
    )
    notes = [spread, *(run.note for run in measured if run.note)]
    notes += [f"a run failed: {run.note}" for run in failed]
    row = Row(
        runs[0].target,
        result,
        cpu_ms=middle(cpus) if cpus else None,
        load_before=max(run.load_before for run in runs),
        note="; ".join(notes),
    )
    for run in runs:
        row.extra.update(run.extra)
    row.extra.pop("ceiling", None)
    if shares:
        row.extra["share"] = middle(shares, higher_is_worse=False)
    if "posts_created" in row.extra:
        row.extra["posts_created"] = sum(run.extra.get("posts_created", 0) for run in runs)
    row.extra["runs"] = [
        {
            "requests_per_second": result.requests_per_second,
            "p50_ms": result.p50_ms,
            "p99_ms": result.p99_ms,
            "of_ceiling": share,
        }
        for result, share in zip(results, of_ceiling, strict=True)
    ]
    if failed:
        row.extra["failed_runs"] = len(failed)
    return row


def _with_database(url: str, name: str) -> str:
    return urlunparse(urlparse(url)._replace(path="/" + name))


def _redis_prefix(url: str) -> str:
    """The Redis key prefix of the bench database at ``url``: its name, dashed."""
    return urlparse(url).path.lstrip("/").replace("_", "-")


def _libpq_url(url: str) -> str:
    # Django's URLs may say postgres://; libpq knows postgresql://.
    return urlunparse(urlparse(url)._replace(scheme="postgresql"))


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def _request(
    port: int, method: str, path: str, *, cookies: dict[str, str], body: str | None = None
) -> tuple[int, dict[str, str], str]:
    """One request on its own connection (sync workers close it after each response)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode(errors="replace")
        return response.status, _cookies(response), text
    finally:
        connection.close()


@contextmanager
def _counting_queries(statements: list[str] | None = None) -> Iterator[list[float]]:
    """Every query of every database connection while the block runs: the list gets each one's
    seconds (and ``statements``, when given, each one's SQL)."""
    seconds: list[float] = []

    def count(execute: Callable[..., Any], query: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(query, params, many, context)
        finally:
            seconds.append(time.perf_counter() - started)
            if statements is not None:
                statements.append(query)

    with ExitStack() as stack:
        for alias in connections:
            stack.enter_context(connections[alias].execute_wrapper(count))
        yield seconds


def _timed(
    send: Callable[[], HttpResponseBase],
    profiler: cProfile.Profile | None = None,
    statements: list[str] | None = None,
    cpu: list[float] | None = None,
) -> tuple[float, HttpResponseBase, tuple[int, float]]:
    """One request: its wall time in ms, the response, and its SQL queries' count and time in ms
    (and their SQL into ``statements`` when given)."""
    with _counting_queries(statements) as seconds:
        started = time.perf_counter()
        started_cpu = time.thread_time()
        if profiler is not None:
            profiler.enable()
        try:
            response = send()
        finally:
            if profiler is not None:
                profiler.disable()
        elapsed = (time.perf_counter() - started) * 1000
        if cpu is not None:
            cpu.append((time.thread_time() - started_cpu) * 1000)
    return elapsed, response, (len(seconds), sum(seconds) * 1000)


def _status(response: HttpResponseBase) -> str:
    cached = response.get("X-Page-Cache")
    return f"{response.status_code}" + (f" (page cache: {cached})" if cached else "")


def sign_in(port: int, login: str, password: str) -> dict[str, str]:
    """Sign in through the form, as a browser would; the session and CSRF cookies."""
    status, cookies, page = _request(port, "GET", "/accounts/signin/", cookies={})
    if "csrftoken" not in cookies:
        raise CommandError(f"the sign-in page ({status}) set no csrftoken cookie:\n{page[:2000]}")
    form = urlencode({"login": login, "password": password, "csrfmiddlewaretoken": cookies["csrftoken"]})
    status, more, page = _request(port, "POST", "/accounts/signin/", cookies=cookies, body=form)
    cookies.update(more)
    if status != 302 or "sessionid" not in cookies:
        raise CommandError(f"signing in as {login} failed ({status}):\n{page[:2000]}")
    return cookies


class Command(BaseCommand):
    help = (
        "Benchmark the forum's pages under wrk against the production server configuration, on the "
        "bench dataset at --scale N; or, with --profile TARGET, show where one request of that target "
        "spends its time (cProfile). Targets: " + ", ".join(TARGET_KEYS) + "."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--scale",
            type=positive_int,
            default=1,
            help="The dataset's size: 1 is 200,000 posts, 10,000 threads, 2,000 members and a thread of "
            "5,000 posts; N is N times each (10: 2,000,000 posts and a thread of 50,000). Seeded when the "
            "bench database holds another scale, reused when it holds this one.",
        )
        # Tests and smoke runs: a fraction of the scale's sizes (0.01: 2,000 posts), the same code.
        parser.add_argument("--scale-fraction", type=float, default=1.0, help=argparse.SUPPRESS)
        parser.add_argument(
            "--reseed", action="store_true", help="Seed the dataset again even when that scale is there."
        )
        parser.add_argument(
            "--profile",
            default="",
            metavar="TARGET",
            help="Instead of the load: one request of TARGET (" + ", ".join(TARGET_KEYS) + ") under "
            "cProfile, after one to warm up, in a process of the servers' environment; prints the SQL "
            "query count, the times and the top functions by cumulative and by own time.",
        )
        parser.add_argument(
            "--profile-lines", type=int, default=25, help="--profile: functions listed in each ranking."
        )
        parser.add_argument(
            "--profile-repeat",
            type=int,
            default=20,
            help="--profile: plain requests sent; the fastest is shown (steady on a busy machine too).",
        )
        parser.add_argument(
            "--profile-out", default="", help="--profile: also write the raw cProfile data to this file."
        )
        parser.add_argument(
            "--in-process",
            action="store_true",
            help="--profile: profile in this process against the configured database (which holds the "
            "bench dataset); what --profile runs in the servers' environment.",
        )
        parser.add_argument("--duration", type=int, default=10, help="Seconds of measurement per target.")
        parser.add_argument("--warmup", type=int, default=2, help="Seconds of unmeasured load first.")
        parser.add_argument("--connections", type=int, default=16, help="wrk connections.")
        parser.add_argument("--threads", type=int, default=2, help="wrk threads.")
        parser.add_argument(
            "--workers",
            type=int,
            default=0,
            help="Server workers (default: WEB_CONCURRENCY, else gunicorn.conf.py's two per core).",
        )
        # Formerly "reuse the dataset": that is now what every run does when the scale matches.
        parser.add_argument("--skip-seed", action="store_true", help=argparse.SUPPRESS)
        parser.add_argument(
            "--database-url", default="", help="Bench database (default: forum_bench beside DATABASE_URL)."
        )
        parser.add_argument(
            "--quiet-below",
            type=float,
            default=0.5,
            help="Before each run, wait until the machine uses fewer cores than this...",
        )
        parser.add_argument("--quiet-timeout", type=float, default=10.0, help="...or this many seconds.")
        parser.add_argument(
            "--only",
            default="",
            help="Comma-separated targets, by key (member-index) or name (index: both roles); the ceiling "
            "always runs.",
        )
        parser.add_argument(
            "--rounds",
            type=positive_int,
            default=1,
            help="Go over the targets this many times in turn; each row is the median of its runs (its "
            "requests/s, p50, p99 and CPU each), judged so, with the range beside it.",
        )
        parser.add_argument("--json", default="", help="Also write the rows to this file.")
        parser.add_argument("--keep-logs", action="store_true", help="Keep the servers' output.")

    def handle(self, *args: Any, **options: Any) -> None:
        profile = options["profile"]
        if profile and profile not in TARGET_KEYS:
            raise CommandError(f"--profile takes one of {', '.join(TARGET_KEYS)}, not {profile!r}")
        if profile and options["in_process"]:
            self._profile_in_process(profile, options)
            return
        try:
            bench_sizes(options["scale"], options["scale_fraction"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        wrk = shutil.which("wrk") or ""
        if not wrk and not profile:
            raise CommandError("wrk is not installed (Debian: apt-get install -y wrk).")
        bench_url = options["database_url"] or _with_database(settings.DATABASE_URL, "forum_bench")
        database = urlparse(bench_url).path.lstrip("/")
        if not database.endswith("_bench"):
            raise CommandError(f"the bench database's name must end in _bench, not {database!r}")
        self._ensure_database(_libpq_url(_with_database(bench_url, "postgres")), database)
        env = self._server_env(bench_url, options["workers"])

        self._manage(env, "migrate", "--noinput")
        # The production profile serves hashed static files from the manifest (whitenoise).
        self._manage(env, "collectstatic", "--noinput", "--verbosity", "0")
        seed = ["seed_forum", "--bench", "--scale", str(options["scale"])]
        if options["scale_fraction"] != 1:
            seed += ["--scale-fraction", repr(options["scale_fraction"])]
        targets_line = self._manage(env, *seed, *(["--fresh"] if options["reseed"] else []), echo=True)
        found = [line for line in targets_line.splitlines() if line.startswith("BENCH ")]
        if not found:
            raise CommandError("seed_forum printed no BENCH line")
        ids = json.loads(found[-1][len("BENCH ") :])
        # The search index of the bench dataset, built once (its time is the index build's figure); not
        # for a run whose --only or --profile names no search (20 minutes at scale 10).
        only = f"{options['only']},{profile or ''}"
        if (not options["only"] and not profile) or "search" in only:
            started = time.monotonic()
            built = self._manage(env, "search_reindex", "--if-empty", echo=True)
            if "nothing to do" not in built:
                self.stdout.write(f"search index built in {time.monotonic() - started:.1f} s")
        else:
            self.stdout.write("search index: not built (no search target in this run)")
        if profile:
            arguments = ["bench_forum", "--profile", profile, "--in-process"]
            arguments += ["--profile-lines", str(options["profile_lines"])]
            arguments += ["--profile-repeat", str(options["profile_repeat"])]
            if options["profile_out"]:
                arguments += ["--profile-out", str(Path(options["profile_out"]).resolve())]
            try:
                self._manage(env, *arguments, echo=True)
            finally:
                self._purge_queues(env)
            return
        with psycopg.connect(_libpq_url(bench_url), autocommit=True) as bench:
            for statement in SETUP_SQL:
                bench.execute(statement.encode())

        log_dir = Path(tempfile.mkdtemp(prefix="bench-forum-"))
        servers: list[ServerProcess] = []
        try:
            site = self._start(servers, "site", env, log_dir)
            fresh = self._start(servers, "fresh", env | {"SEARCH_KEEP_RESULTS": "0"}, log_dir)
            ceiling = self._start(
                servers, "ceiling", env | {"FORUM_ROOT_URLCONF": "forum.bench.urls"}, log_dir
            )
            for server in servers:
                server.wait_ready("/health/live")
            rows = self._run(site, ceiling, ids, bench_url, wrk, options, log_dir, fresh=fresh)
        finally:
            for server in servers:
                server.stop()
            self._purge_queues(env)
            if options["keep_logs"]:
                self.stdout.write(f"server logs in {log_dir}")
            else:
                shutil.rmtree(log_dir, ignore_errors=True)
        if options["json"]:
            Path(options["json"]).write_text(
                json.dumps([self._as_dict(row) for row in rows], indent=2) + "\n"
            )

    # --- One request under the profiler ----------------------------------------------------------------

    def _profile_in_process(self, key: str, options: dict[str, Any]) -> None:
        """One request of the target ``key`` in this process, on the dataset of the configured database:
        once to warm up (imports, caches, the page cache's entry), once plain, once under cProfile."""
        marker = dataset_marker()
        user_model = get_user_model()
        member = user_model.objects.filter(username=BENCH_USERNAME.format(number=1)).first()
        if marker is None or member is None:
            raise CommandError(
                "no bench dataset in this database: run `manage.py bench_forum --profile TARGET` (it "
                "seeds the bench database), or `seed_forum --bench` against a *_bench database first"
            )
        sizes = bench_sizes(int(marker["scale"]), float(marker["fraction"]))
        try:
            found = bench_targets(
                member_id=int(member.pk),
                member_username=str(member.get_username()),
                scale=int(marker["scale"]),
                fraction=float(marker["fraction"]),
                sizes=sizes,
            )
        except ObjectDoesNotExist as error:
            raise CommandError(f"the bench dataset here is incomplete ({error}): seed it again") from error
        ids = asdict(found)
        target = next(t for t in self._targets(ids, profile_ok=True) if t.key == key)
        if target.server == "fresh":  # as the load run's server for it: every search runs
            settings.SEARCH_KEEP_RESULTS = False
        host = "localhost" if validate_host("localhost", settings.ALLOWED_HOSTS) else "testserver"
        client = Client(HTTP_HOST=host)
        posting = target.slug == "create-post"
        signed_in = f"{ids['member_username']} (signed in)"
        if posting:
            # A member under a real allowance, the one with the most of it left (bench_seed.POSTERS_SQL).
            with connections["default"].cursor() as cursor:
                posters = bench_posters(cursor, 1)
            if not posters:
                raise CommandError("no bench member to post as: seed the bench dataset again")
            member = user_model.objects.get(pk=posters[0][0])
            allowance = quota_remaining(user_id=int(member.pk), permission="post.create_per_day")
            signed_in = (
                f"{member.get_username()} (signed in; {allowance.used} of the {allowance.limit} replies of "
                "their rolling day used)"
            )
        if target.role == "member":
            client.force_login(member)
        replies = iter(range(1, 1_000_000))
        resent = 0

        def send_once() -> HttpResponseBase:
            if posting:
                body = (
                    f"Profiled reply {time.time_ns()}-{next(replies)}: the **second** option, as said above."
                )
                return client.post(target.path, {"body": body})
            return client.get(target.path)

        def send() -> HttpResponseBase:
            """One request, as the member it is meant for: a request that found the session gone (another
            bench run sets the bench members' passwords again, which ends their sessions) is not what
            this measures (a sign-in redirect, a guest's page): signed in again, it is sent again."""
            nonlocal resent
            for _attempt in range(3):
                response = send_once()
                request = getattr(response, "wsgi_request", None)
                if target.role == "member" and not (request is not None and request.user.is_authenticated):
                    resent += 1
                    client.force_login(member)
                    continue
                location = response.get("Location", "")
                if posting and (response.status_code != 302 or not location.startswith("/threads/")):
                    raise CommandError(
                        f"the reply was not written ({response.status_code} {location}): "
                        + bytes(getattr(response, "content", b"")).decode(errors="replace")[:500]
                    )
                return response
            raise CommandError(f"{key}: the member's session ended three times in a row")

        lines = [
            f"profile of {key}: {'POST' if posting else 'GET'} {target.path} as "
            + (signed_in if target.role == "member" else "a guest"),
            self._dataset(ids),
        ]
        warm_ms, response, _warm_sql = _timed(send)
        lines.append(f"warm-up:        {_status(response)} in {warm_ms:7.1f} ms")
        statements: list[str] = []
        resent_before = resent
        plain_ms, response, (queries, sql_ms) = _timed(send, statements=statements)
        if resent != resent_before:  # the statements of the signed-out request are not this request's
            statements.clear()
            plain_ms, response, (queries, sql_ms) = _timed(send, statements=statements)
        # This process's CPU time per request too: on a busy machine it moves far less than wall time.
        cpu: list[float] = []
        times = [plain_ms] + [_timed(send, cpu=cpu)[0] for _ in range(max(0, options["profile_repeat"] - 1))]
        times.sort()
        cpu.sort()
        lines.append(
            f"plain:          {_status(response)} in {times[0]:7.1f} ms (fastest of {len(times)}; "
            f"median {times[len(times) // 2]:.1f} ms), {queries} SQL queries "
            f"({sql_ms:.1f} ms in the database)"
            + (
                f"; CPU of this process {cpu[0]:.1f} ms (fastest), {cpu[len(cpu) // 2]:.1f} ms (median)"
                if cpu
                else ""
            )
        )
        # Each query of the plain request, shortened: what the page asks of the database, in order.
        lines += [f"  {n:2}. {' '.join(text.split())[:150]}" for n, text in enumerate(statements, 1)]
        profiler = cProfile.Profile()
        profiled_ms, response, (profiled_queries, _sql) = _timed(send, profiler)
        lines.append(
            f"under cProfile: {_status(response)} in {profiled_ms:7.1f} ms, {profiled_queries} SQL queries"
        )
        if posting:
            lines.append(f"each reply answered 302 {response.get('Location', '')} (the next one's address)")
        if resent:
            lines.append(
                f"note: {resent} request(s) found the session ended (another bench run reset the bench "
                "members' passwords) and were sent again signed in: only requests as the member are timed"
            )
        if options["profile_out"]:
            profiler.dump_stats(options["profile_out"])
            lines.append(f"raw profile written to {options['profile_out']} (python -m pstats, snakeviz)")
        # The harness (the test client, this command's wrappers) is left out of the rankings.
        summary = profile_summary(profiler, root=BASE_DIR, lines=options["profile_lines"], hide=PROFILE_HIDE)
        lines += ["", summary]
        self.stdout.write("\n".join(lines))

    # --- Setting up -------------------------------------------------------------------------------------

    def _ensure_database(self, maintenance_url: str, database: str) -> None:
        with psycopg.connect(maintenance_url, autocommit=True) as connection:
            exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
            if not exists:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
                self.stdout.write(f"created database {database}")

    def _server_env(self, bench_url: str, workers: int) -> dict[str, str]:
        """The production profile on the bench database, with throwaway secrets made for this run."""
        env = dict(os.environ)
        env.update(
            {
                "FORUM_ENV": "production",
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "DEBUG": "false",
                "SECRET_KEY": secrets.token_urlsafe(64),
                "PASSWORD_PEPPER": secrets.token_urlsafe(48),
                "INTERNAL_API_SECRETS": f"bench:{secrets.token_urlsafe(48)}",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                # wrk speaks plain HTTP to the server, as nginx does behind TLS.
                "SECURE_SSL_REDIRECT": "false",
                "DATABASE_URL": bench_url,
                # Quotas, caches and queued tasks apart from the development forum's: nothing consumes
                # the bench queues (their tasks would be about another database), they are purged after.
                # The caches of each bench database apart too (forum_bench: forum-bench; forum10_bench:
                # forum10-bench): the same thread ids at two scales must not share kept parts.
                "REDIS_KEY_PREFIX": _redis_prefix(bench_url),
                "FORUM_QUEUE_PREFIX": QUEUE_PREFIX,
                "PYTHONPATH": str(BASE_DIR),
                "LOG_FORMAT": "json",
            }
        )
        if workers:
            env["WEB_CONCURRENCY"] = str(workers)
        return env

    def _manage(self, env: dict[str, str], *arguments: str, echo: bool = False) -> str:
        output = manage(env, *arguments)
        if echo:
            for line in output.splitlines():
                if not line.startswith("BENCH "):
                    self.stdout.write(line)
        return output

    def _start(
        self, servers: list[ServerProcess], name: str, env: dict[str, str], log_dir: Path
    ) -> ServerProcess:
        port = free_port()
        command = [str(Path(sys.executable).parent / "gunicorn"), "--config", str(GUNICORN_CONF)]
        command += ["--bind", f"127.0.0.1:{port}", "config.wsgi:application"]
        server = ServerProcess(name, command, port=port, env=env, cwd=BASE_DIR, log=log_dir / f"{name}.log")
        servers.append(server)
        return server

    def _purge_queues(self, env: dict[str, str]) -> None:
        """Drop the tasks the run queued (one per event subscriber); nothing is meant to run them."""
        broker = settings.CELERY_BROKER_URL
        if not broker.startswith(("redis://", "rediss://")):
            self.stdout.write(f"note: the tasks queued under {QUEUE_PREFIX}* on the broker are left there")
            return
        client = redis.Redis.from_url(broker)
        try:
            keys = list(client.scan_iter(match=f"{QUEUE_PREFIX}*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()

    # --- Measuring -----------------------------------------------------------------------------------

    @staticmethod
    def _targets(ids: dict[str, Any], profile_ok: bool) -> list[Target]:
        thread = ids["thread_id"]
        pages = [
            ("index", "index", "/"),
            ("thread list", "thread-list", f"/forums/{ids['forum_id']}/"),
            ("thread first page", "thread-first", f"/threads/{thread}/"),
            (
                # The long thread's last page: its posts at the far end of the thread's 5,000 x scale.
                f"thread last page ({ids['thread_last_page']})",
                "thread-last",
                f"/threads/{thread}/?page={ids['thread_last_page']}",
            ),
        ]
        targets = []
        for name, slug, path in pages:
            targets.append(Target(name, "member", path, MEMBER_SHARE, None, P99_MS, slug=slug))
            targets.append(Target(name, "guest", path, GUEST_SHARE, None, P99_MS, slug=slug))
        profile = f"/members/{ids['member_id']}/"
        if profile_ok:
            # The goals hold for the profile too: a third of the ceiling for members, 70% for guests.
            targets += [
                Target("profile", "member", profile, MEMBER_SHARE, None, P99_MS, slug="profile"),
                Target("profile", "guest", profile, GUEST_SHARE, None, P99_MS, slug="profile"),
            ]
        reply = f"/threads/{ids['reply_thread_ids'][0]}/reply/" if ids["reply_thread_ids"] else "/"
        targets.append(Target("create a post", "member", reply, None, POSTS_PER_SECOND, slug="create-post"))
        # Words of the bench's posts (apps/thread/management/bench_seed.py): "option" is in one post in
        # five, a thread's number in one title only, and every member's name starts "bench-".
        sizes = ids["sizes"]  # a dict from the seed's JSON line, BenchSizes in the tests
        # The middle thread's number, past it by one: the seed holds every 250th thread for moderation
        # (ids 251, 501, ...; "Thread 5000" is id 5001), and a rare word must find the one it names.
        rare = str((sizes["threads"] if isinstance(sizes, dict) else sizes.threads) // 2 + 1)
        searches = [
            ("search (common word)", "search-common", "/search/?q=option", MEMBER_SHARE, SEARCH_P99_MS),
            (
                "search (rare word)",
                "search-rare",
                f"/search/?q={rare}&kind=thread",
                MEMBER_SHARE,
                SEARCH_P99_MS,
            ),
            ("search (phrase)", "search-phrase", "/search/?q=%22second+option%22", MEMBER_SHARE, None),
            ("search (member prefix)", "search-member", "/api/v1/members/lookup?q=bench-00", None, None),
        ]
        # Judged where every search runs (a server with SEARCH_KEEP_RESULTS=0); the same search asked
        # again, answered from the kept results, is shown beside it without a goal.
        for name, slug, path, share, p99 in searches:
            targets.append(
                Target(name, "member", path, share, None, p99 or P99_MS, slug=slug, server="fresh")
            )
        for name, slug, path, _share, _p99 in searches[:3]:
            repeated = name.replace(")", ", repeated)")
            targets.append(Target(repeated, "member", path, None, None, None, slug=f"{slug}-repeated"))
        # The floor under the searches' goals: the same page as the member before any search (the
        # form, the header, the session; no statement), measured without a goal. No fresh search can
        # answer faster than this page does, so its p99 says what the p99 goal asks of the machine.
        targets.append(
            Target(
                "search (no words)",
                "member",
                "/search/",
                None,
                None,
                None,
                slug="search-form",
                server="fresh",
            )
        )
        return targets

    def _run(
        self,
        site: ServerProcess,
        ceiling: ServerProcess,
        ids: dict[str, Any],
        bench_url: str,
        wrk: str,
        options: dict[str, Any],
        log_dir: Path,
        fresh: ServerProcess | None = None,
    ) -> list[Row]:
        cookies = sign_in(site.port, ids["member_username"], ids["password"])
        member_headers = [f"Cookie: sessionid={cookies['sessionid']}; csrftoken={cookies['csrftoken']}"]
        status, _set, _page = _request(site.port, "GET", f"/members/{ids['member_id']}/", cookies={})
        profile_ok = status == 200
        self.stdout.write(
            f"wrk -t{options['threads']} -c{options['connections']} -d{options['duration']}s --latency after "
            f"{options['warmup']}s of warm-up; {os.cpu_count()} CPUs; gunicorn {GUNICORN_CONF.name}"
        )
        if not profile_ok:
            self.stdout.write(f"note: no profile page (GET /members/<id>/ answered {status}); skipped")

        only = {name.strip() for name in options["only"].split(",") if name.strip()}
        targets = [
            t
            for t in self._targets(ids, profile_ok)
            if not only or t.name.split(" (")[0] in only or t.key in only
        ]
        ceiling_target = Target("ceiling (bare view)", "guest", "/bench/bare", slug="ceiling")
        runs: dict[Target, list[Row]] = {target: [] for target in targets}
        ceilings: list[Row] = []
        for round_number in range(1, options["rounds"] + 1):
            if options["rounds"] > 1:
                self.stdout.write(f"round {round_number} of {options['rounds']}")
            ceilings.append(self._measure(ceiling, ceiling_target, [], None, wrk, options))
            for target in targets:
                if target.name == "create a post":
                    row = self._measure_posting(site, target, ids, bench_url, wrk, options, log_dir)
                else:
                    headers = member_headers if target.role == "member" else []
                    server = fresh if target.server == "fresh" and fresh is not None else site
                    row = self._measure(server, target, headers, None, wrk, options)
                runs[target].append(row)
        ceilings.append(self._measure(ceiling, ceiling_target, [], None, wrk, options))
        if options["rounds"] > 1:
            for target in targets:
                attach_round_ceilings(runs[target], ceilings)
        rows = [ceilings[0], *(median_row(runs[target]) for target in targets), *ceilings[1:]]
        for row in rows:
            row.extra["scale"] = ids["scale"]
        self.stdout.write("")
        self.stdout.write(self._table(rows, ids))
        return rows

    def _measure(
        self,
        server: ServerProcess,
        target: Target,
        headers: list[str],
        script: Path | None,
        wrk: str,
        options: dict[str, Any],
    ) -> Row:
        url = server.base_url + target.path
        common = {"connections": options["connections"], "threads": options["threads"], "wrk": wrk}
        if options["warmup"]:
            run_wrk(url, duration=options["warmup"], headers=headers, script=script, **common)
        load = wait_for_quiet(options["quiet_below"], options["quiet_timeout"])
        cpu_before = server.cpu_seconds()
        output = run_wrk(url, duration=options["duration"], headers=headers, script=script, **common)
        cpu = server.cpu_seconds() - cpu_before
        try:
            result = parse_wrk(output)
        except ValueError as error:
            row = Row(target, None, load_before=load, note=str(error).splitlines()[0])
        else:
            per_request = cpu * 1000 / result.requests if result.requests else None
            row = Row(target, result, cpu_ms=per_request, load_before=load)
            if result.non_2xx or result.socket_errors:
                row.note = f"{result.non_2xx} non-2xx/3xx, {result.socket_errors} socket errors"
        self.stdout.write(self._line(row))
        return row

    def _measure_posting(
        self,
        site: ServerProcess,
        target: Target,
        ids: dict[str, Any],
        bench_url: str,
        wrk: str,
        options: dict[str, Any],
        log_dir: Path,
    ) -> Row:
        # The form's POST with the session and the CSRF token, as the reply form sends it, by members
        # under a real allowance (bench_seed.POSTERS_SQL), each signed in through the form.
        with (
            psycopg.connect(_libpq_url(bench_url), autocommit=True) as connection,
            connection.cursor() as cursor,
        ):
            posters = bench_posters(cursor, POSTERS)
        room = sum(max(0, 100 - used) for _id, _name, used in posters)
        self.stdout.write(
            f"posting as {len(posters)} members under the plain member's allowance (100 replies a day), "
            f"{room} replies left among them"
        )
        # Four at a time: each sign-in is a bcrypt check, and the server has a worker per half core.
        with ThreadPoolExecutor(max_workers=4) as pool:
            sessions = list(pool.map(lambda poster: sign_in(site.port, poster[1], ids["password"]), posters))
        script = log_dir / "reply.lua"
        script.write_text(
            REPLY_SCRIPT
            % {
                "threads": ", ".join(str(thread_id) for thread_id in ids["reply_thread_ids"]),
                "posters": ", ".join(
                    f'{{"sessionid={session["sessionid"]}; csrftoken={session["csrftoken"]}", '
                    f'"{session["csrftoken"]}"}}'
                    for session in sessions
                ),
            }
        )
        with psycopg.connect(_libpq_url(bench_url), autocommit=True) as connection:
            before = self._post_count(connection)
            # The script names each request's thread; wrk wants a URL to start from.
            target = replace(target, path="/")
            row = self._measure(site, target, [], script, wrk, options)
            created = self._post_count(connection) - before
        row.extra["posts_created"] = created
        row.extra["posters"] = len(posters)
        if row.result is not None:
            # wrk counts the requests answered within the run; the warm-up's posts are counted too.
            written = f"{created} posts written" + (" (warm-up included)" if options["warmup"] else "")
            if created < row.result.requests:
                written += f", fewer than the {row.result.requests} requests: not every request posted"
            row.note = f"{row.note}; {written}" if row.note else written
        return row

    @staticmethod
    def _post_count(connection: psycopg.Connection[Any]) -> int:
        found = connection.execute("SELECT count(*) FROM thread_post").fetchone()
        return int(found[0]) if found else 0

    def _line(self, row: Row) -> str:
        head = f"{row.target.name:<28} {row.target.role:<7}"
        if row.result is None:
            return f"{head} failed: {row.note}"
        result = row.result
        return (
            f"{head} {result.requests_per_second:8.1f} req/s  p50 {result.p50_ms:7.2f} ms  "
            f"p99 {result.p99_ms:7.2f} ms  cpu {row.cpu_ms or 0:6.2f} ms/req  "
            f"load before {row.load_before:.2f}" + (f"  ({row.note})" if row.note else "")
        )

    @staticmethod
    def _goal(target: Target) -> str:
        parts = []
        if target.min_share is not None:
            parts.append(f">= {target.min_share:.0%} of ceiling")
        if target.min_rate is not None:
            parts.append(f">= {target.min_rate:.0f} req/s")
        if target.max_p99_ms is not None:
            parts.append(f"p99 < {target.max_p99_ms:.0f} ms")
        return ", ".join(parts) or "-"

    @staticmethod
    def _dataset(ids: dict[str, Any]) -> str:
        sizes = ids["sizes"]
        fraction = "" if ids["fraction"] == 1 else f" x {ids['fraction']} (a smoke run's fraction)"
        return (
            f"dataset: scale {ids['scale']}{fraction}: {sizes['posts']:,} posts, {sizes['threads']:,} "
            f"threads, {sizes['members']:,} members, {sizes['forums']} forums; the long thread has "
            f"{ids['thread_posts']:,} posts, its last page is page {ids['thread_last_page']}."
        )

    def _table(self, rows: list[Row], ids: dict[str, Any]) -> str:
        bare = [row for row in rows if row.target.path == "/bench/bare" and row.result is not None]
        ceiling = max((row.result.requests_per_second for row in bare if row.result), default=0.0)
        ceiling_cpu = min((row.cpu_ms for row in bare if row.cpu_ms), default=0.0)
        table = []
        for row in rows:
            target, result = row.target, row.result
            if result is None:
                table.append([target.name, target.role, *["-"] * 6, self._goal(target), "no", row.note])
                continue
            # With --rounds, the median of the runs' shares of their own rounds' ceilings.
            share = row.extra.get("share", result.requests_per_second / ceiling if ceiling else 0.0)
            cpu_share = ceiling_cpu / row.cpu_ms if row.cpu_ms and ceiling_cpu else 0.0
            checks = []
            if target.min_share is not None:
                checks.append(share >= target.min_share)
            if target.min_rate is not None:
                checks.append(result.requests_per_second >= target.min_rate)
            if target.max_p99_ms is not None:
                checks.append(result.p99_ms < target.max_p99_ms)
            if result.non_2xx or result.socket_errors or row.extra.get("failed_runs"):
                checks.append(False)
            if "posts_created" in row.extra:  # a 302 counts only when it is a reply written
                checks.append(row.extra["posts_created"] >= result.requests)
            met = "-" if not checks else ("yes" if all(checks) else "NO")
            table.append(
                [
                    target.name,
                    target.role,
                    f"{result.requests_per_second:.0f}",
                    f"{result.p50_ms:.1f}",
                    f"{result.p99_ms:.1f}",
                    f"{share:.0%}",
                    f"{row.cpu_ms or 0:.1f}",
                    f"{cpu_share:.0%}",
                    self._goal(target),
                    met,
                    f"load {row.load_before:.2f}" + (f"; {row.note}" if row.note else ""),
                ]
            )
        header = [
            "target",
            "as",
            "req/s",
            "p50 ms",
            "p99 ms",
            "of ceiling",
            "cpu ms/req",
            "of ceiling by cpu",
            "goal",
            "met",
            "notes",
        ]
        summary = (
            f"ceiling: {ceiling:.0f} req/s, {ceiling_cpu:.1f} ms of server CPU a request (best of "
            f"{len(bare)} runs of /bench/bare). cpu ms/req: the server's processes only; 'of ceiling by cpu' "
            "is the ceiling's CPU per request over the target's, a share that another load on the machine "
            "hardly moves; load: cores busy on the machine in the second before the run."
        )
        return "\n".join(
            [self._dataset(ids), "", markdown_table(header, table, right=(2, 3, 4, 5, 6, 7)), summary]
        )

    @staticmethod
    def _as_dict(row: Row) -> dict[str, Any]:
        result = row.result
        return {
            "target": row.target.name,
            "key": row.target.key,
            "role": row.target.role,
            "path": row.target.path,
            "requests_per_second": result.requests_per_second if result else None,
            "p50_ms": result.p50_ms if result else None,
            "p99_ms": result.p99_ms if result else None,
            "requests": result.requests if result else None,
            "cpu_ms_per_request": row.cpu_ms,
            "load_before": row.load_before,
            "note": row.note,
            **row.extra,
        }
