"""manage.py bench_live: how fast live events reach members' WebSockets, with 1,000 sockets held open
over two WebSocket server processes, on the production configuration.

Steps: create the ``forum_live_bench`` database beside ``DATABASE_URL`` if missing, migrate it and seed
it (this command again, with ``--seed-into``, in the servers' environment): 1,000 members and a thread
author, one thread that all of them watch, a one-to-one dialog between each pair of members, and a
fresh database session for every member (minted in bulk, signed with the run's throwaway secret key,
instead of 1,000 sign-ins through the rate-limited form). Then start, in the production profile with
secrets made for the run: two uvicorn processes serving ``config.asgi`` (the image's ``ws`` role), one
gunicorn (``docker/servers/gunicorn.conf.py``, the ``web`` role) for the API calls and one Celery
worker on every queue. Queues and Redis keys get a prefix of the run's own, dropped afterwards.

One asyncio process opens the 1,000 sockets, half on each uvicorn, each with its member's session
cookie, and measures two things from just before the API call until the frame is in the socket:

(a) dialog messages (``POST /api/v1/dialogs/<id>/messages``, paced), until the other participant's
    socket has the ``dialog.message_created`` frame of that message id: the outbox, the broker, the
    dialog app's handler in the worker, the Channels layer on Redis, the other uvicorn;
(b) replies in the watched thread (``POST /api/v1/threads/<id>/posts``) one after another, until every
    watcher's socket has its ``notification.new`` frame (matched to the reply through the notification
    ids the frames carry): the notification app's handler fans out to 1,000 members.

It prints the machine's load before each part, a table (operation, count, delivered, p50, p99,
max/last, goal, met), the CPU each process used in each part and how long the worker's handlers ran,
and writes them with ``--json FILE``. The goals on 2 cores: (a) p99 under 50 ms; (b) every watcher
within 2 s, p99 under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import http.client
import json
import math
import os
import re
import resource
import secrets
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import psycopg
import redis
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone
from kombu import Connection
from psycopg import sql
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from apps.authorization.services import Role, role_assign
from apps.dialog.services import dialog_start
from apps.notification import selectors
from apps.notification.kinds import REPLY
from apps.notification.models import Notification, WatchTarget
from apps.notification.services import NEW_FRAME, watch_list, watch_set
from apps.thread.services import forum_create, thread_approve, thread_create
from forum.benchmarking import ServerProcess, manage, markdown_table, wait_for_quiet
from forum.launcher import celery_queues
from forum.testing.processes import free_port

BASE_DIR = Path(settings.BASE_DIR)
GUNICORN_CONF = BASE_DIR / "docker" / "servers" / "gunicorn.conf.py"
DATABASE = "forum_live_bench"

MEMBER_USERNAME = "live-{number:04d}"
AUTHOR_USERNAME = "live-author"
FORUM_NAME = "Live delivery bench"
THREAD_TITLE = "Watched by {count} members"
# The frames matched (apps/dialog/handlers.py pushes the first, apps/notification/services/delivery.py
# the second, whose payload carries the notification's id and kind).
DIALOG_FRAME = "dialog.message_created"
NOTIFICATION_FRAME = NEW_FRAME
REPLY_KIND = REPLY.code
SESSION_HOURS = 12

# The goals of the brief on a 2-core machine.
DIALOG_P99_MS = 50.0
REPLY_P99_MS = 1000.0
REPLY_LAST_MS = 2000.0

# A Celery worker logs "Task <name>[<id>] succeeded in <seconds>s: ..." for every task it ran.
TASK_DONE = re.compile(r"Task (?P<name>[\w.:-]+)\[[0-9a-f-]+\] succeeded in (?P<seconds>[\d.e-]+)s")


# --- Plain data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    dialog_id: int
    first_id: int
    second_id: int


@dataclass(frozen=True)
class Seeded:
    """What the seed step hands the benchmark (as JSON in a file)."""

    thread_id: int
    author_id: int
    member_ids: list[int]
    pairs: list[Pair]
    sessions: dict[int, str]  # member id -> session key

    @classmethod
    def load(cls, path: Path) -> Seeded:
        data = json.loads(path.read_text())
        return cls(
            thread_id=data["thread_id"],
            author_id=data["author_id"],
            member_ids=data["member_ids"],
            pairs=[Pair(**pair) for pair in data["pairs"]],
            sessions={int(member_id): key for member_id, key in data["sessions"].items()},
        )


@dataclass
class Client:
    """One member's socket and what it received (times from ``time.perf_counter``)."""

    member_id: int
    server: int
    connection: ClientConnection | None = None
    ready_ms: float | None = None
    error: str = ""
    dialog_frames: dict[int, float] = field(default_factory=dict)  # message id -> received
    notices: list[tuple[float, int, str]] = field(default_factory=list)  # (received, id, kind)


@dataclass(frozen=True)
class ApiCall:
    started: float
    answered: float
    status: int
    body: dict[str, Any]

    @property
    def ms(self) -> float:
        return (self.answered - self.started) * 1000


@dataclass
class Row:
    operation: str
    count: int
    delivered: int
    latencies_ms: list[float]
    goal: str = "-"
    met: str = "-"
    note: str = ""

    def summary(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "count": self.count,
            "delivered": self.delivered,
            "p50_ms": _rounded(percentile(self.latencies_ms, 0.50)),
            "p99_ms": _rounded(percentile(self.latencies_ms, 0.99)),
            "max_ms": _rounded(max(self.latencies_ms, default=math.nan)),
            "goal": self.goal,
            "met": self.met,
            "note": self.note,
        }


@dataclass
class Part:
    """One part of the run: the machine before it, the CPU each process used, the handlers' times."""

    name: str
    load_before: float = 0.0
    seconds: float = 0.0
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    tasks: dict[str, dict[str, float]] = field(default_factory=dict)
    # Frames the sockets received during the part (every kind), and the WebSocket servers' CPU for each.
    frames: int = 0
    ws_cpu_ms_per_frame: float | None = None


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (p99 of 200 values is the second largest); NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(share * len(ordered))) - 1]


def _rounded(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 2)


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1f}"


def _with_database(url: str, name: str) -> str:
    return urlunparse(urlparse(url)._replace(path="/" + name))


def _libpq_url(url: str) -> str:
    return urlunparse(urlparse(url)._replace(scheme="postgresql"))


# --- Seeding (runs in the servers' environment, against the bench database) ----------------------------


def seed(*, clients: int) -> Seeded:
    """Members, the author, the thread all members watch, a dialog per pair and a session each.

    Idempotent except for the sessions, which are made again on every run: they are signed with the
    run's throwaway SECRET_KEY. A thread of its own per number of clients, so that its watchers are
    exactly the members who connect."""
    user_model = get_user_model()
    usernames = [MEMBER_USERNAME.format(number=number) for number in range(1, clients + 1)]
    existing = set(user_model.objects.filter(username__in=usernames).values_list("username", flat=True))
    # Nobody signs in with a password: the sessions are made below.
    unusable = make_password(None)
    joined = timezone.now() - datetime.timedelta(days=400)
    # The shared user model, as seed_forum --bench fills it: in bulk, 1,000 sign-ups would take minutes.
    user_model.objects.bulk_create(
        [
            user_model(
                username=name,
                email=f"{name}@bench.invalid",
                password=unusable,
                date_joined=joined,
                email_verified=True,
            )
            for name in usernames
            if name not in existing
        ],
        batch_size=1000,
    )
    ids = dict(user_model.objects.filter(username__in=usernames).values_list("username", "pk"))
    member_ids = [int(ids[name]) for name in usernames]

    author = user_model.objects.filter(username=AUTHOR_USERNAME).first()
    if author is None:
        author = user_model.objects.create_user(
            username=AUTHOR_USERNAME,
            email=f"{AUTHOR_USERNAME}@bench.invalid",
            password=None,
            date_joined=joined,
            email_verified=True,
        )
        # Support: no premoderation and no daily reply quota for the replies of every run.
        role_assign(user_id=author.pk, role=Role.SUPPORT)
    author_id = int(author.pk)

    thread_id = _thread(author_id, clients)
    watching = set(selectors.watchers_of(target=WatchTarget.THREAD, target_id=thread_id))
    for member_id in member_ids:
        if member_id not in watching:
            watch_set(user_id=member_id, target=WatchTarget.THREAD, target_id=thread_id)

    pairs = []
    for first_id, second_id in zip(member_ids[0::2], member_ids[1::2], strict=False):
        dialog = dialog_start(starter_id=first_id, recipient_id=second_id)
        pairs.append(Pair(dialog_id=dialog.id, first_id=first_id, second_id=second_id))

    return Seeded(
        thread_id=thread_id,
        author_id=author_id,
        member_ids=member_ids,
        pairs=pairs,
        sessions=_sessions([*member_ids, author_id]),
    )


def _thread(author_id: int, clients: int) -> int:
    """The bench forum's thread for this number of members, found among what its author watches (the
    author watches the forum and the threads made here), or made by the author when missing."""
    title = THREAD_TITLE.format(count=clients)
    watched = watch_list(user_id=author_id)
    for item in watched.threads:
        if item.title == title:
            return item.target_id
    forum_id = next((item.target_id for item in watched.forums if item.title == FORUM_NAME), None)
    if forum_id is None:
        forum_id = forum_create(name=FORUM_NAME, description="Made by manage.py bench_live.").id
        watch_set(user_id=author_id, target=WatchTarget.FORUM, target_id=forum_id)
    thread = thread_create(
        author_id=author_id,
        forum_id=forum_id,
        title=title,
        body="Every bench member watches this thread; `manage.py bench_live` replies in it.",
    )
    if thread.state != "approved":
        thread_approve(moderator_id=author_id, thread_id=thread.id)
    watch_set(user_id=author_id, target=WatchTarget.THREAD, target_id=thread.id)
    return thread.id


def _sessions(user_ids: Sequence[int]) -> dict[int, str]:
    """A database session for each member, as a sign-in would make it; earlier runs' go first."""
    Session.objects.all().delete()
    user_model = get_user_model()
    expire = timezone.now() + datetime.timedelta(hours=SESSION_HOURS)
    rows = []
    keys: dict[int, str] = {}
    store = SessionStore()
    for user in user_model.objects.filter(pk__in=user_ids):
        key = secrets.token_hex(16)
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: settings.AUTHENTICATION_BACKENDS[0],
            HASH_SESSION_KEY: user.get_session_auth_hash(),
        }
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
        keys[int(user.pk)] = key
    Session.objects.bulk_create(rows, batch_size=1000)
    return keys


# --- The live part: 1,000 sockets in one asyncio process ---------------------------------------------


def _api_post(port: int, path: str, body: dict[str, Any], *, session_key: str, csrf: str) -> ApiCall:
    """One JSON POST as a signed-in member (session and CSRF cookies, the CSRF header), timed from
    just before the request is sent until the answer is read."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {
        "Cookie": f"{settings.SESSION_COOKIE_NAME}={session_key}; {settings.CSRF_COOKIE_NAME}={csrf}",
        "X-CSRFToken": csrf,
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    payload = json.dumps(body)
    try:
        started = time.perf_counter()
        connection.request("POST", path, body=payload, headers=headers)
        response = connection.getresponse()
        text = response.read()
        answered = time.perf_counter()
    finally:
        connection.close()
    try:
        answer = json.loads(text) if text else {}
    except ValueError:
        answer = {"raw": text[:500].decode(errors="replace")}
    return ApiCall(started, answered, response.status, answer if isinstance(answer, dict) else {})


class LiveRun:
    """Opens the sockets, drives the two parts, and keeps every frame that matters with its time."""

    def __init__(
        self,
        *,
        seeded: Seeded,
        ws_ports: Sequence[int],
        web_port: int,
        servers: dict[str, ServerProcess],
        worker_log: Path,
        options: dict[str, Any],
        out: Any,
    ) -> None:
        self.seeded = seeded
        self.ws_ports = list(ws_ports)
        self.web_port = web_port
        self.servers = servers
        self.worker_log = worker_log
        self.options = options
        self.out = out
        self.clients = {
            member_id: Client(member_id=member_id, server=index % len(ws_ports))
            for index, member_id in enumerate(seeded.member_ids)
        }
        self.csrf = secrets.token_hex(16)
        self.http = ThreadPoolExecutor(max_workers=16, thread_name_prefix="bench-http")
        self.readers: list[asyncio.Task[None]] = []
        self.reply_frames = 0
        self.frames = 0
        self.rows: list[Row] = []
        self.parts: list[Part] = []
        self.run_id = secrets.token_hex(3)

    def say(self, message: str) -> None:
        self.out.write(message)
        self.out.flush()

    async def run(self) -> None:
        try:
            await self.connect_all()
            await self.drain("before the warm-up")
            await self.warm_up()
            await self.dialog_part()
            settle = self.options["settle"]
            if settle:
                self.say(f"waiting {settle:.0f}s: the dialog messages' delayed notices run meanwhile")
                await asyncio.sleep(settle)
            await self.reply_part()
        finally:
            await self.close_all()
            self.http.shutdown(wait=False)

    # --- sockets ---------------------------------------------------------------------------------------

    async def _open(self, client: Client, gate: asyncio.Semaphore) -> None:
        port = self.ws_ports[client.server]
        key = self.seeded.sessions[client.member_id]
        async with gate:
            started = time.perf_counter()
            try:
                client.connection = await connect(
                    f"ws://127.0.0.1:{port}/ws/",
                    additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={key}"},
                    origin=Origin(f"http://127.0.0.1:{port}"),
                    open_timeout=60,
                    close_timeout=2,
                    # uvicorn pings every 20 s and the client answers; no pings of our own on top.
                    ping_interval=None,
                )
                first = json.loads(await asyncio.wait_for(client.connection.recv(), 60))
            except (OSError, TimeoutError, ConnectionClosed, ValueError) as error:
                client.error = f"{type(error).__name__}: {error}"
                return
            if first.get("type") != "ready" or first.get("user_id") != client.member_id:
                client.error = f"first frame {first!r}"
                return
            client.ready_ms = (time.perf_counter() - started) * 1000
        self.readers.append(asyncio.create_task(self._read(client)))

    async def _read(self, client: Client) -> None:
        assert client.connection is not None
        try:
            async for raw in client.connection:
                received = time.perf_counter()
                self.frames += 1
                frame = json.loads(raw)
                if frame.get("type") != "event":
                    continue
                kind, payload = frame.get("kind"), frame.get("payload") or {}
                if kind == DIALOG_FRAME and isinstance(payload.get("message_id"), int):
                    client.dialog_frames.setdefault(payload["message_id"], received)
                elif kind == NOTIFICATION_FRAME and isinstance(payload.get("id"), int):
                    client.notices.append((received, payload["id"], str(payload.get("kind"))))
                    if payload.get("kind") == REPLY_KIND:
                        self.reply_frames += 1
        except ConnectionClosed as error:
            client.error = client.error or f"closed: {error}"

    async def connect_all(self) -> None:
        count = len(self.clients)
        self.say(
            f"opening {count} sockets, {count // len(self.ws_ports)} on each of {len(self.ws_ports)} uvicorns"
        )
        gate = asyncio.Semaphore(self.options["connect_concurrency"])
        started = time.perf_counter()
        await asyncio.gather(*(self._open(client, gate) for client in self.clients.values()))
        seconds = time.perf_counter() - started
        times = [client.ready_ms for client in self.clients.values() if client.ready_ms is not None]
        failed = [client for client in self.clients.values() if client.ready_ms is None]
        note = f"all open in {seconds:.1f}s"
        if failed:
            note += f"; {len(failed)} failed, e.g. {failed[0].error}"
        self.rows.append(
            Row(
                "open a socket (handshake to `ready`)",
                count,
                len(times),
                times,
                "all open",
                _met(not failed),
                note,
            )
        )
        self.say(f"{len(times)} of {count} sockets ready in {seconds:.1f}s")
        if failed:
            raise CommandError(f"{len(failed)} sockets did not open; the first: {failed[0].error}")

    async def close_all(self) -> None:
        dropped = [client for client in self.clients.values() if client.ready_ms is not None and client.error]
        if dropped and self.rows:
            self.rows[0].note += f"; {len(dropped)} closed during the run, e.g. {dropped[0].error}"
            self.rows[0].met = _met(False)
        for task in self.readers:
            task.cancel()
        gate = asyncio.Semaphore(200)

        async def close(client: Client) -> None:
            if client.connection is not None:
                async with gate:
                    with contextlib.suppress(Exception):
                        await client.connection.close()

        await asyncio.gather(*(close(client) for client in self.clients.values()))

    # --- measuring helpers ----------------------------------------------------------------------------

    async def drain(self, what: str) -> None:
        """Until the worker's queues are empty (tasks left by the seed or the previous part)."""
        started = time.perf_counter()
        left = await asyncio.to_thread(
            wait_for_empty_queues,
            self.options["broker_url"],
            self.options["queues"],
            self.options["drain_timeout"],
        )
        seconds = time.perf_counter() - started
        if left:
            self.say(f"{what}: {left} tasks still queued after {seconds:.0f}s; measuring anyway")
        elif seconds > 1:
            self.say(f"{what}: the worker's queues emptied in {seconds:.1f}s")

    async def _begin(self, name: str) -> tuple[Part, dict[str, float], int, float]:
        await self.drain(name)
        load = await asyncio.to_thread(
            wait_for_quiet, self.options["quiet_below"], self.options["quiet_timeout"]
        )
        self.say(f"{name}: the machine used {load:.2f} cores in the second before")
        part = Part(name=name, load_before=load)
        cpu = await asyncio.to_thread(self._cpu)
        offset = self.worker_log.stat().st_size if self.worker_log.exists() else 0
        part.frames = -self.frames
        return part, cpu, offset, time.perf_counter()

    async def _end(self, part: Part, cpu: dict[str, float], offset: int, started: float) -> None:
        part.seconds = round(time.perf_counter() - started, 2)
        after = await asyncio.to_thread(self._cpu)
        part.cpu_seconds = {name: round(after[name] - cpu[name], 2) for name in after}
        part.tasks = self._task_times(offset)
        part.frames += self.frames
        ws_cpu = sum(seconds for name, seconds in part.cpu_seconds.items() if name.startswith("ws-"))
        if part.frames:
            part.ws_cpu_ms_per_frame = round(ws_cpu * 1000 / part.frames, 2)
        self.parts.append(part)

    def _cpu(self) -> dict[str, float]:
        times = os.times()
        found = {name: server.cpu_seconds() for name, server in self.servers.items()}
        found["bench client"] = times.user + times.system
        return found

    def _task_times(self, offset: int) -> dict[str, dict[str, float]]:
        """How long each kind of task ran in the worker since ``offset`` of its log."""
        if not self.worker_log.exists():
            return {}
        with open(self.worker_log, "rb") as log:
            log.seek(offset)
            text = log.read().decode(errors="replace")
        runs: dict[str, list[float]] = defaultdict(list)
        for match in TASK_DONE.finditer(text):
            runs[match["name"]].append(float(match["seconds"]) * 1000)
        return {
            name: {
                "count": len(values),
                "mean_ms": round(sum(values) / len(values), 1),
                "p99_ms": round(percentile(values, 0.99), 1),
                "max_ms": round(max(values), 1),
            }
            for name, values in sorted(runs.items())
        }

    async def _post(self, path: str, body: dict[str, Any], member_id: int) -> ApiCall:
        loop = asyncio.get_running_loop()
        key = self.seeded.sessions[member_id]
        return await loop.run_in_executor(
            self.http,
            lambda: _api_post(self.web_port, path, body, session_key=key, csrf=self.csrf),
        )

    # --- (a) dialog messages ----------------------------------------------------------------------------

    async def _messages(self, count: int, rate: float, label: str) -> list[tuple[int, ApiCall]]:
        """Send ``count`` dialog messages at ``rate`` a second, round the pairs, and wait (at most the
        timeout) until each recipient's socket has its frame; (recipient, API call) for each."""
        pairs = self.seeded.pairs
        loop = asyncio.get_running_loop()
        begin = loop.time()
        sends: list[asyncio.Task[tuple[int, ApiCall]]] = []
        for index in range(count):
            pair = pairs[index % len(pairs)]
            # Each round over the pairs goes the other way, so that both members of a pair write.
            forward = (index // len(pairs)) % 2 == 0
            sender, recipient = (
                (pair.first_id, pair.second_id) if forward else (pair.second_id, pair.first_id)
            )
            delay = begin + index / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            body = {"body": f"Bench {label} {self.run_id}-{index}: are you there?"}
            sends.append(asyncio.create_task(self._send_message(pair.dialog_id, sender, recipient, body)))
        sent = await asyncio.gather(*sends)
        deadline = time.perf_counter() + self.options["timeout"]
        while time.perf_counter() < deadline:
            missing = [
                1
                for recipient, call in sent
                if call.status == 201 and call.body.get("id") not in self.clients[recipient].dialog_frames
            ]
            if not missing:
                break
            await asyncio.sleep(0.02)
        return sent

    async def _reply(self, label: str) -> ApiCall:
        """One reply by the author; wait (at most the timeout) until every watcher has a frame."""
        watchers = len(self.clients)
        before = self.reply_frames
        body = {"body": f"Bench {label} {self.run_id}: a new post for every watcher."}
        call = await self._post(f"/api/v1/threads/{self.seeded.thread_id}/posts", body, self.seeded.author_id)
        if call.status != 201:
            self.say(f"{label}: the API answered {call.status}: {json.dumps(call.body)[:300]}")
            return call
        deadline = call.started + self.options["timeout"]
        while self.reply_frames - before < watchers and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        self.say(
            f"{label}: {self.reply_frames - before} of {watchers} notified "
            f"{(time.perf_counter() - call.started) * 1000:.0f} ms after the call"
        )
        return call

    async def warm_up(self) -> None:
        """Unmeasured: the first requests of each web worker and the first tasks of each worker
        process import and connect what they need."""
        count = self.options["warmup_messages"]
        if count and self.seeded.pairs:
            self.say(f"warm-up: {count} dialog messages and a reply, not measured")
            sent = await self._messages(count, 5.0, "warm-up message")
            failed = [call for _recipient, call in sent if call.status != 201]
            if failed:
                raise CommandError(
                    f"the warm-up's dialog messages failed: {failed[0].status} {failed[0].body}"
                )
        if self.options["replies"]:
            call = await self._reply("warm-up reply")
            if call.status != 201:
                raise CommandError(f"the warm-up reply failed: {call.status} {call.body}")

    async def dialog_part(self) -> None:
        count = self.options["messages"]
        rate = self.options["message_rate"]
        pairs = self.seeded.pairs
        if not count or not pairs:
            return
        part, cpu, offset, started = await self._begin("(a) dialog messages")
        self.say(f"(a) {count} dialog messages through the API, {rate:g} a second, over {len(pairs)} pairs")
        sent = await self._messages(count, rate, "message")
        await self._end(part, cpu, offset, started)

        latencies, answers, failed = [], [], []
        for recipient, call in sent:
            answers.append(call.ms)
            if call.status != 201:
                failed.append(f"{call.status} {json.dumps(call.body)[:200]}")
                continue
            received = self.clients[recipient].dialog_frames.get(call.body["id"])
            if received is not None:
                latencies.append((received - call.started) * 1000)
        p99 = percentile(latencies, 0.99)
        all_there = len(latencies) == count
        note = f"load before {part.load_before:.2f}"
        if failed:
            note += f"; {len(failed)} API calls failed, e.g. {failed[0]}"
        self.rows.append(
            Row(
                "(a) dialog message: API call to the other member's socket",
                count,
                len(latencies),
                latencies,
                f"all delivered, p99 < {DIALOG_P99_MS:.0f} ms",
                _met(all_there and p99 < DIALOG_P99_MS),
                note,
            )
        )
        self.rows.append(
            Row(
                "(a) its API call, until the answer",
                count,
                count - len(failed),
                answers,
                note="for comparison",
            )
        )

    async def _send_message(
        self, dialog_id: int, sender: int, recipient: int, body: dict[str, Any]
    ) -> tuple[int, ApiCall]:
        call = await self._post(f"/api/v1/dialogs/{dialog_id}/messages", body, sender)
        return recipient, call

    # --- (b) replies in the watched thread ---------------------------------------------------------------

    async def reply_part(self) -> None:
        replies = self.options["replies"]
        if not replies:
            return
        watchers = len(self.clients)
        part, cpu, offset, started = await self._begin("(b) replies")
        self.say(f"(b) {replies} replies in the thread watched by all {watchers}, one after another")
        calls: list[ApiCall] = []
        for index in range(replies):
            if index:
                # Each reply on an idle worker: what is left of the previous one (a fan-out that took
                # longer than the timeout) would be measured again otherwise.
                await self.drain(f"before reply {index + 1}")
                await asyncio.sleep(self.options["reply_pause"])
            calls.append(await self._reply(f"reply {index + 1}"))
        await asyncio.sleep(0.2)  # a frame or two still on its way to the last sockets
        await self._end(part, cpu, offset, started)
        await asyncio.to_thread(self._reply_rows, calls, part)

    def _reply_rows(self, calls: list[ApiCall], part: Part) -> None:
        """Match each watcher's notification frames to the replies through the notification ids (the
        bench database says which post each notification is about)."""
        post_of_call = {call.body["id"]: call for call in calls if call.status == 201 and "id" in call.body}
        post_of_notification = self._posts_of_notifications(list(post_of_call))
        watchers = len(self.clients)
        goal = f"all {watchers} within {REPLY_LAST_MS:.0f} ms, p99 < {REPLY_P99_MS:.0f} ms"
        every: list[float] = []
        all_met = bool(post_of_call) and len(post_of_call) == len(calls)
        for number, (post_id, call) in enumerate(post_of_call.items(), start=1):
            latencies = []
            for client in self.clients.values():
                times = [
                    received
                    for received, notification_id, _kind in client.notices
                    if post_of_notification.get(notification_id) == post_id
                ]
                if times:
                    latencies.append((min(times) - call.started) * 1000)
            every += latencies
            last = max(latencies, default=math.nan)
            met = (
                len(latencies) == watchers
                and last < REPLY_LAST_MS
                and percentile(latencies, 0.99) < REPLY_P99_MS
            )
            all_met = all_met and met
            self.rows.append(
                Row(
                    f"(b) reply {number}: API call to every watcher's socket",
                    watchers,
                    len(latencies),
                    latencies,
                    goal,
                    _met(met),
                    f"API answered in {call.ms:.0f} ms",
                )
            )
        self.rows.append(
            Row(
                f"(b) all {len(calls)} replies",
                watchers * len(calls),
                len(every),
                every,
                goal,
                _met(all_met),
                f"load before {part.load_before:.2f}; max = the slowest reply's last watcher",
            )
        )
        answers = [call.ms for call in calls]
        self.rows.append(
            Row(
                "(b) its API call, until the answer",
                len(calls),
                len(post_of_call),
                answers,
                note="for comparison",
            )
        )

    def _posts_of_notifications(self, post_ids: list[int]) -> dict[int, int]:
        if not post_ids:
            return {}
        meta = Notification._meta
        query = sql.SQL("SELECT {id}, {post} FROM {table} WHERE {post} = ANY(%s)").format(
            id=sql.Identifier(str(meta.pk.column)),
            post=sql.Identifier(str(meta.get_field("post_id").column)),
            table=sql.Identifier(meta.db_table),
        )
        with psycopg.connect(_libpq_url(self.options["bench_url"]), autocommit=True) as database:
            return {int(pk): int(post) for pk, post in database.execute(query, [post_ids]).fetchall()}


def queued_tasks(broker_url: str, queues: Sequence[str]) -> int:
    """Messages waiting in the queues (not those a worker holds); a queue not there counts 0."""
    total = 0
    with Connection(broker_url, connect_timeout=5) as broker:
        # The transport's own channel class (py-amqp's or kombu's Redis one), both with queue_declare.
        channel: Any = broker.channel()
        try:
            for queue in queues:
                try:
                    total += channel.queue_declare(queue=queue, passive=True).message_count
                except Exception:  # noqa: BLE001 - no such queue (yet): nothing waits in it
                    # RabbitMQ closes the channel on a passive declare of a missing queue.
                    channel = broker.channel()
        finally:
            with contextlib.suppress(Exception):
                channel.close()
    return total


def wait_for_empty_queues(broker_url: str, queues: Sequence[str], timeout: float) -> int:
    """Until no task waits in ``queues`` or ``timeout`` runs out; how many still wait."""
    deadline = time.monotonic() + timeout
    while True:
        left = queued_tasks(broker_url, queues)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.5)


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


# --- The command ------------------------------------------------------------------------------------


class Command(BaseCommand):
    help = "Measure live delivery to 1,000 WebSockets over two servers (dialog messages, reply fan-out)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clients", type=int, default=1000, help="Members, each with a socket.")
        parser.add_argument("--messages", type=int, default=200, help="(a) dialog messages to send.")
        parser.add_argument(
            "--message-rate",
            type=float,
            default=5.0,
            help="(a) messages a second: a steady load that leaves the machine room (each message costs "
            "about 0.1 s of CPU over the web server, the worker and the WebSocket servers).",
        )
        parser.add_argument("--replies", type=int, default=5, help="(b) replies, one after another.")
        parser.add_argument(
            "--reply-pause",
            type=float,
            default=1.0,
            help="(b) seconds between one reply's last frame and the next.",
        )
        parser.add_argument(
            "--timeout", type=float, default=10.0, help="Seconds to wait for a message's or reply's frames."
        )
        parser.add_argument(
            "--settle",
            type=float,
            default=None,
            help="Seconds between (a) and (b) (default: NOTIFICATION_DIALOG_DELAY_SECONDS + 2, so that the "
            "notices of unseen dialog messages are not sent during (b)).",
        )
        parser.add_argument(
            "--warmup-messages",
            type=int,
            default=8,
            help="Unmeasured dialog messages (and one reply) first, so that no process starts cold.",
        )
        parser.add_argument("--ws-servers", type=int, default=2, help="uvicorn processes.")
        parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers for the API calls.")
        parser.add_argument("--worker-concurrency", type=int, default=2, help="Celery worker processes.")
        parser.add_argument(
            "--drain-timeout",
            type=float,
            default=300.0,
            help="Before each part, wait at most this long for the worker's queues to empty.",
        )
        parser.add_argument("--connect-concurrency", type=int, default=50, help="Handshakes at once.")
        parser.add_argument(
            "--database-url", default="", help=f"Bench database (default: {DATABASE} beside DATABASE_URL)."
        )
        parser.add_argument("--drop-database", action="store_true", help="Drop the bench database after.")
        parser.add_argument(
            "--quiet-below",
            type=float,
            default=0.5,
            help="Before each part, wait until the machine uses fewer cores than this...",
        )
        parser.add_argument("--quiet-timeout", type=float, default=15.0, help="...or this many seconds.")
        parser.add_argument("--json", default="", help="Also write the results to this file.")
        parser.add_argument("--keep-logs", action="store_true", help="Keep the servers' output.")
        # The seed step: this command again, in the servers' environment (their SECRET_KEY signs the
        # sessions), writing what it made to the file named.
        parser.add_argument("--seed-into", default="", help=argparse.SUPPRESS)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["clients"] < 2 or options["clients"] % options["ws_servers"]:
            raise CommandError("--clients must be at least 2 and a multiple of --ws-servers")
        if options["seed_into"]:
            self._seed_step(options)
            return
        bench_url = options["database_url"] or _with_database(settings.DATABASE_URL, DATABASE)
        database = urlparse(bench_url).path.lstrip("/")
        if not database.endswith("_bench"):
            raise CommandError(f"the bench database's name must end in _bench, not {database!r}")
        options["bench_url"] = bench_url
        if options["settle"] is None:
            options["settle"] = float(settings.NOTIFICATION_DIALOG_DELAY_SECONDS) + 2.0
        _raise_open_files_limit()

        maintenance = _libpq_url(_with_database(bench_url, "postgres"))
        self._ensure_database(maintenance, database)
        token = secrets.token_hex(4)
        env = self._server_env(bench_url, token, options)
        log_dir = Path(tempfile.mkdtemp(prefix="bench-live-"))
        servers: dict[str, ServerProcess] = {}
        run: LiveRun | None = None
        try:
            started = time.monotonic()
            manage(env, "migrate", "--noinput")
            self.stdout.write(f"migrated {database} in {time.monotonic() - started:.1f}s")
            started = time.monotonic()
            seed_file = log_dir / "seeded.json"
            manage(env, "bench_live", "--seed-into", str(seed_file), "--clients", str(options["clients"]))
            seeded = Seeded.load(seed_file)
            self.stdout.write(
                f"seeded {database} in {time.monotonic() - started:.1f}s: {len(seeded.member_ids)} members "
                f"watching thread {seeded.thread_id}, {len(seeded.pairs)} dialogs, a session each"
            )
            started = time.monotonic()
            ws_ports = self._start_servers(servers, env, log_dir, options)
            options["queues"] = celery_queues(env["FORUM_QUEUE_PREFIX"])
            options["broker_url"] = env["CELERY_BROKER_URL"]
            self.stdout.write(f"servers ready in {time.monotonic() - started:.1f}s")
            run = LiveRun(
                seeded=seeded,
                ws_ports=ws_ports,
                web_port=servers["web"].port,
                servers=servers,
                worker_log=servers["worker"].log_path,
                options=options,
                out=self.stdout,
            )
            asyncio.run(run.run())
        finally:
            # All at once: each may take its graceful shutdown's few seconds.
            with ThreadPoolExecutor(max_workers=len(servers) or 1) as stopping:
                list(stopping.map(lambda server: server.stop(), servers.values()))
            self._clean_up(env, token, options, maintenance, database)
            if options["keep_logs"] or run is None or not run.rows:
                self.stdout.write(f"server logs in {log_dir}")
            else:
                shutil.rmtree(log_dir, ignore_errors=True)
        self._report(run, options)

    # --- setting up -------------------------------------------------------------------------------------

    def _seed_step(self, options: dict[str, Any]) -> None:
        name = str(connection.settings_dict["NAME"])
        if not name.endswith("_bench"):
            raise CommandError(
                f"--seed-into writes only into a database whose name ends in _bench, not {name!r}"
            )
        seeded = seed(clients=options["clients"])
        Path(options["seed_into"]).write_text(json.dumps(asdict(seeded)))

    def _ensure_database(self, maintenance_url: str, database: str) -> None:
        with psycopg.connect(maintenance_url, autocommit=True) as admin:
            exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
            if not exists:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
                self.stdout.write(f"created database {database}")

    def _server_env(self, bench_url: str, token: str, options: dict[str, Any]) -> dict[str, str]:
        """The production profile on the bench database, with throwaway secrets made for this run, and
        queues and Redis keys of this run's own."""
        env = dict(os.environ)
        # Test-only apps and the test profile's database name, when run from the test suite.
        for name in ("FORUM_EXTRA_APPS", "TEST_DATABASE_NAME", "PYTEST_XDIST_WORKER"):
            env.pop(name, None)
        env.update(
            {
                "FORUM_ENV": "production",
                # manage.py's --settings applies to the servers too (an experiment with another layer).
                "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE") or "config.settings",
                "DEBUG": "false",
                "SECRET_KEY": secrets.token_urlsafe(64),
                "PASSWORD_PEPPER": secrets.token_urlsafe(48),
                "INTERNAL_API_SECRETS": f"bench:{secrets.token_urlsafe(48)}",
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SECURE_SSL_REDIRECT": "false",
                "DATABASE_URL": bench_url,
                "REDIS_URL": settings.REDIS_URL,
                "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
                "REDIS_KEY_PREFIX": f"forum-live-bench-{token}",
                "FORUM_QUEUE_PREFIX": f"live-bench-{token}-",
                # RabbitMQ drops this run's queues ten minutes after their last use.
                "CELERY_QUEUE_EXPIRES": "600",
                "WEB_CONCURRENCY": str(options["web_workers"]),
                "PYTHONPATH": os.pathsep.join(filter(None, [str(BASE_DIR), os.environ.get("PYTHONPATH")])),
                "PYTHONUNBUFFERED": "1",
                "LOG_FORMAT": "plain",
                "LOG_LEVEL": "WARNING",
                # The notices of unseen dialog messages are mailed at once: to nowhere, as a mail
                # server would take them, not printed through the worker's log.
                "EMAIL_URL": "dummymail://",
            }
        )
        return env

    def _start_servers(
        self, servers: dict[str, ServerProcess], env: dict[str, str], log_dir: Path, options: dict[str, Any]
    ) -> list[int]:
        bin_dir = Path(sys.executable).parent
        web_port = free_port()
        servers["web"] = ServerProcess(
            "web",
            [
                str(bin_dir / "gunicorn"),
                "--config",
                str(GUNICORN_CONF),
                "--bind",
                f"127.0.0.1:{web_port}",
                "config.wsgi:application",
            ],
            port=web_port,
            env=env,
            cwd=BASE_DIR,
            log=log_dir / "web.log",
        )
        ws_ports = []
        for index in range(options["ws_servers"]):
            port = free_port()
            name = f"ws-{'ab'[index] if index < 2 else index}"
            # As the image's ws role runs it (docker/entrypoint.sh), on this machine's loopback.
            command = [
                str(bin_dir / "uvicorn"),
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--lifespan",
                "off",
                "--timeout-graceful-shutdown",
                "5",
                "--no-server-header",
                "--no-access-log",
                "--log-level",
                "warning",
            ]
            servers[name] = ServerProcess(
                name,
                command,
                port=port,
                env=env | {"DATABASE_POOL": "1"},
                cwd=BASE_DIR,
                log=log_dir / f"{name}.log",
            )
            ws_ports.append(port)
        queues = celery_queues(env["FORUM_QUEUE_PREFIX"])
        servers["worker"] = ServerProcess(
            "worker",
            [
                sys.executable,
                "-m",
                "celery",
                "--app",
                "config",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                str(options["worker_concurrency"]),
                "--hostname",
                f"{env['FORUM_QUEUE_PREFIX']}worker@%h",
                "--queues",
                ",".join(queues),
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            port=0,
            # The worker's own lines (a task's run time) at INFO; the application's at WARNING.
            env=env | {"LOG_LEVEL": "INFO"},
            cwd=BASE_DIR,
            log=log_dir / "worker.log",
        )
        for name, server in servers.items():
            if name != "worker":
                server.wait_ready("/health/live")
        self._wait_for_worker(servers["worker"])
        self.stdout.write(
            f"servers: gunicorn ({options['web_workers']} workers) on {web_port}, uvicorn on "
            f"{', '.join(map(str, ws_ports))}, a Celery worker ({options['worker_concurrency']} "
            f"processes) on {len(queues)} queues; broker {urlparse(settings.CELERY_BROKER_URL).scheme}"
        )
        return ws_ports

    @staticmethod
    def _wait_for_worker(worker: ServerProcess, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and worker.process.poll() is None:
            if " ready." in worker.log_tail(20_000):
                return
            time.sleep(0.3)
        raise CommandError(f"the Celery worker did not start:\n{worker.log_tail()}")

    def _clean_up(
        self, env: dict[str, str], token: str, options: dict[str, Any], maintenance: str, database: str
    ) -> None:
        """Drop the run's Redis keys (and its queues, on a Redis broker), and the database if asked."""
        patterns = [f"{env['REDIS_KEY_PREFIX']}*"]
        urls = {settings.REDIS_URL}
        if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
            patterns += [f"{env['FORUM_QUEUE_PREFIX']}*", f"_kombu.binding.{env['FORUM_QUEUE_PREFIX']}*"]
            urls.add(settings.CELERY_BROKER_URL)
        for url in urls:
            client = redis.Redis.from_url(url)
            try:
                for pattern in patterns:
                    keys = list(client.scan_iter(match=pattern, count=1000))
                    for start in range(0, len(keys), 1000):
                        client.delete(*keys[start : start + 1000])
            except redis.RedisError as error:
                self.stderr.write(f"could not drop the run's Redis keys: {error}")
            finally:
                client.close()
        if options["drop_database"]:
            with psycopg.connect(maintenance, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
                )

    # --- the report ---------------------------------------------------------------------------------------

    def _report(self, run: LiveRun | None, options: dict[str, Any]) -> None:
        if run is None:
            return
        header = [
            "operation",
            "count",
            "delivered",
            "p50 ms",
            "p99 ms",
            "max/last ms",
            "goal",
            "met",
            "notes",
        ]
        table = []
        for row in run.rows:
            table.append(
                [
                    row.operation,
                    row.count,
                    row.delivered,
                    _ms(percentile(row.latencies_ms, 0.50)),
                    _ms(percentile(row.latencies_ms, 0.99)),
                    _ms(max(row.latencies_ms, default=math.nan)),
                    row.goal,
                    row.met,
                    row.note,
                ]
            )
        self.stdout.write("")
        self.stdout.write(markdown_table(header, table, right=(1, 2, 3, 4, 5)))
        for part in run.parts:
            cpu = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in part.cpu_seconds.items())
            self.stdout.write(f"{part.name}: {part.seconds:.1f}s; CPU used: {cpu}")
            if part.ws_cpu_ms_per_frame is not None:
                self.stdout.write(
                    f"    {part.frames} frames reached the sockets: {part.ws_cpu_ms_per_frame:.2f} ms of "
                    "WebSocket server CPU a frame"
                )
            for name, times in part.tasks.items():
                self.stdout.write(
                    f"    {name}: {times['count']:.0f} runs, mean {times['mean_ms']:.1f} ms, "
                    f"p99 {times['p99_ms']:.1f} ms, max {times['max_ms']:.1f} ms"
                )
        self.stdout.write(
            f"{os.cpu_count()} CPUs. Latency: from just before the API request until the frame is read "
            "from the socket by the bench process, which holds every socket and shares the machine."
        )
        if options["json"]:
            result = {
                "cpus": os.cpu_count(),
                "clients": len(run.clients),
                "options": {
                    name: options[name]
                    for name in (
                        "clients",
                        "messages",
                        "message_rate",
                        "replies",
                        "ws_servers",
                        "web_workers",
                        "worker_concurrency",
                    )
                },
                "rows": [row.summary() for row in run.rows],
                "parts": [asdict(part) for part in run.parts],
            }
            Path(options["json"]).write_text(json.dumps(result, indent=2) + "\n")


def _raise_open_files_limit() -> None:
    """1,000 sockets in this process: the soft limit up to the hard one (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
