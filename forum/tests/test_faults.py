"""Faults against the real services: Redis cut off behind a TCP proxy, and no Celery worker running.

What must hold (docs/architecture.md, "When Redis is down"): pages and the API answer, sign-in is
still throttled, daily quotas still refuse past their limit; the page says live delivery is paused,
and live delivery comes back by itself when Redis does. With the worker stopped, what members write
is stored and shown, and what it causes happens once a worker runs again.

The kernel imports no app, so the forum's data is made the way staff and members make it: through
the Django admin, the pages and the API.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import close_old_connections
from django.test import Client

from forum import bus
from forum.models import OutboxEvent, ProcessedEvent
from forum.outage import Breaker
from forum.realtime import delivery, send_to_user
from forum.testing import processes
from forum.testing.tcp_proxy import TcpProxy
from forum.tests.test_realtime_gateway import Page, close_code, open_socket, receive, signed_in
from forum.tests.test_realtime_gateway import member as member_with_session

PASSWORD = "correct horse battery staple 42"


# --- Redis behind a proxy -----------------------------------------------------------------------------
def proxied_url(url: str, proxy: TcpProxy) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@{proxy.url_host}" if credentials else proxy.url_host
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture
def redis_proxy() -> Iterator[TcpProxy]:
    target = urlsplit(settings.REDIS_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    yield proxy
    proxy.close()


@pytest.fixture
def redis_behind_proxy(settings: Any, redis_namespace: str, redis_proxy: TcpProxy) -> Iterator[TcpProxy]:
    """This process reaches Redis (cache, channel layer, counters) only through the proxy."""
    url = proxied_url(settings.REDIS_URL, redis_proxy)
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["LOCATION"] = url
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    for host in layers["default"]["CONFIG"]["hosts"]:
        host["address"] = url
    layers["default"]["CONFIG"]["prefix"] = f"{redis_namespace}:asgi"
    settings.REDIS_URL, settings.CACHES, settings.CHANNEL_LAYERS = url, caches, layers
    # Every call tries Redis again at once: the test sees the moment it comes back.
    settings.REDIS_OUTAGE_SKIP_SECONDS = 0
    yield redis_proxy


# --- The forum's data, made as staff and members make it ---------------------------------------------------
def new_member(*, password: str = PASSWORD) -> tuple[int, str]:
    username = f"m{uuid.uuid4().hex[:12]}"
    user = get_user_model().objects.create_user(username=username, password=password)
    return int(user.pk), username


def signed_in_client(user_id: int) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(pk=user_id))
    return client


def api(client: Client, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    send: Callable[..., Any] = getattr(client, method)
    if body is None:
        return send(path)
    return send(path, body, content_type="application/json")


@pytest.fixture
def forum_and_thread() -> dict[str, int]:
    """A forum and a thread in it, made as staff make them: the Django admin, then the API."""
    admin = get_user_model().objects.create_superuser(
        username=f"a{uuid.uuid4().hex[:12]}", email=f"{uuid.uuid4().hex[:12]}@example.com", password=PASSWORD
    )
    staff = signed_in_client(admin.pk)
    parent = ""
    for kind, name in (("category", "Outages"), ("forum", "Outage reports")):
        fields = {"parent": parent, "kind": kind, "name": name, "slug": name.lower().replace(" ", "-")}
        fields |= {"description": "", "position": "0", "read_permission": "forum.read"}
        # "Save and continue editing" answers with the new row's page, which names its id (the forum
        # list leaves out a category with nothing under it yet).
        fields |= {"post_permission": "thread.create", "_continue": "1"}
        answer = staff.post("/admin/thread/forum/add/", fields)
        assert answer.status_code == 302, answer.content.decode()[:2000]
        created = re.fullmatch(r"/admin/thread/forum/(\d+)/change/", answer["Location"])
        assert created is not None, answer["Location"]
        parent = created.group(1)
    forum_id = int(parent)
    thread = api(
        staff, "post", f"/api/v1/forums/{forum_id}/threads", {"title": "Status page", "body": "All up."}
    )
    assert thread.status_code == 201
    return {"forum": forum_id, "thread": thread.json()["id"]}


# --- Redis down: pages and the API ----------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_with_redis_cut_off_pages_and_the_api_answer_and_limits_still_hold(
    redis_behind_proxy: TcpProxy, forum_and_thread: dict[str, int], settings: Any
) -> None:
    settings.PAGE_CACHE_SECONDS = 300  # guests' pages go through the page cache, which is down too
    forum_id, thread_id = forum_and_thread["forum"], forum_and_thread["thread"]
    author, author_name = new_member()
    friend, _friend_name = new_member()
    member = signed_in_client(author)
    guest = Client()
    assert guest.get(f"/threads/{thread_id}/").get("X-Page-Cache") is None
    assert guest.get(f"/threads/{thread_id}/").get("X-Page-Cache") == "hit"  # kept before the outage
    redis_behind_proxy.cut()

    # Health says what is wrong, and the process still says it is alive.
    ready = guest.get("/health/ready")
    assert ready.status_code == 503 and ready.json()["failing"] == ["redis"]
    assert guest.get("/health/live").status_code == 200

    # Reading, as a guest (through the page cache) and as a member.
    for client in (guest, member):
        for url in ("/", f"/forums/{forum_id}/", f"/threads/{thread_id}/"):
            assert client.get(url).status_code == 200, url
    assert guest.get("/").status_code == 200  # and again, now that the cache is known to be down

    # Writing: a reply through the page and through the API; the reply shows on the thread page.
    answer = member.post(f"/threads/{thread_id}/reply/", {"body": "Written while Redis is down"})
    assert answer.status_code == 302
    assert "Written while Redis is down" in member.get(answer["Location"], follow=True).content.decode()
    answer = api(member, "post", f"/api/v1/threads/{thread_id}/posts", {"body": "And through the API"})
    assert answer.status_code == 201

    # The daily quota of new threads (3 for a member) still refuses the fourth: the outage is no way
    # around it.
    created = [
        api(member, "post", f"/api/v1/forums/{forum_id}/threads", {"title": f"Outage {n}", "body": "Hi"})
        for n in range(4)
    ]
    assert [answer.status_code for answer in created] == [201, 201, 201, 429]
    assert created[3].json()["error"]["code"] == "rate_limited" and int(created[3]["Retry-After"]) > 0
    assert api(member, "get", "/api/v1/me/permissions").status_code == 200

    # Signing in works, on the page and through the API ...
    assert Client().post("/accounts/signin/", {"login": author_name, "password": PASSWORD}).status_code == 302
    signin = {"login": author_name, "password": PASSWORD}
    assert api(Client(), "post", "/api/v1/auth/signin", signin).status_code == 200
    # ... and guessing is still throttled: five wrong passwords lock the account name for a while,
    # even for the right one.
    _target, target_name = new_member()
    wrong = [
        api(Client(), "post", "/api/v1/auth/signin", {"login": target_name, "password": "nope"})
        for _n in range(5)
    ]
    assert {answer.status_code for answer in wrong} == {400}
    locked = api(Client(), "post", "/api/v1/auth/signin", {"login": target_name, "password": PASSWORD})
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0

    # Dialogs: start one with a first message, write another, list and read them, on pages and the API.
    started = api(member, "post", "/api/v1/dialogs", {"participant_ids": [friend], "body": "Hello"})
    assert started.status_code == 201
    dialog_id = started.json()["id"]
    sent = api(member, "post", f"/api/v1/dialogs/{dialog_id}/messages", {"body": "Are you there?"})
    assert sent.status_code == 201
    assert member.get("/dialogs/").status_code == 200
    assert api(member, "get", "/api/v1/dialogs").status_code == 200
    page = signed_in_client(friend).get(f"/dialogs/{dialog_id}/")
    assert page.status_code == 200 and "Are you there?" in page.content.decode()
    assert member.post(f"/dialogs/{dialog_id}/send/", {"body": "Page form"}).status_code == 302

    # Notifications.
    assert member.get("/notifications/").status_code == 200
    assert api(member, "get", "/api/v1/notifications").status_code == 200

    # Redis returns: the guests' copy of the thread page kept before the outage is not served again,
    # since replies were written meanwhile (their new generation waited for Redis).
    redis_behind_proxy.restore()
    page = guest.get(f"/threads/{thread_id}/")
    assert page.get("X-Page-Cache") is None and "Written while Redis is down" in page.content.decode()
    assert guest.get(f"/threads/{thread_id}/").get("X-Page-Cache") == "hit"


def test_after_a_failure_redis_is_skipped_for_a_while_then_tried_again(settings: Any) -> None:
    breaker = Breaker("test")
    settings.REDIS_OUTAGE_SKIP_SECONDS = 60
    assert not breaker.skipping("redis://a") and not breaker.down("redis://a")
    assert breaker.failed("redis://a") is True  # an outage starts: the caller logs it
    assert breaker.failed("redis://a") is False  # the same outage
    assert breaker.skipping("redis://a") and not breaker.skipping("redis://b")
    settings.REDIS_OUTAGE_SKIP_SECONDS = 0  # the interval is over: the next call tries again
    assert not breaker.skipping("redis://a") and breaker.down("redis://a")
    assert breaker.succeeded("redis://a") is True  # the outage ends: logged once
    assert breaker.succeeded("redis://a") is False and not breaker.down("redis://a")


# --- Live delivery: uvicorn and the page client ---------------------------------------------------------
# realtime.js in Node.js, as in test_realtime_gateway, with the page's live-status notice: an element
# whose ``hidden`` the client sets, printed as {"notice": {"hidden": ...}}. The page's clock can be
# moved on (the command {"op": "advanceClock", "args": [ms]}): how long a socket stayed up is then
# the test's to say, not the machine's speed. OPTIONS becomes window.forumRealtimeOptions.
NOTICE_HARNESS = r"""
const fs = require("fs");
const readline = require("readline");
const [scriptPath, pageUrl, cookie, origin] = process.argv.slice(2);
const out = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const NativeWebSocket = globalThis.WebSocket;
globalThis.WebSocket = class extends NativeWebSocket {
  constructor(url) {
    super(url, { headers: Object.assign({ Origin: origin }, cookie ? { Cookie: cookie } : {}) });
  }
};
let hidden = true;
const notice = {
  get hidden() { return hidden; },
  set hidden(value) { hidden = value; out({ notice: { hidden: value } }); },
};
const realNow = Date.now;
let clockOffset = 0;
Date.now = () => realNow() + clockOffset;
const page = new EventTarget();
page.readyState = "complete";
page.body = { setAttribute: () => {} };
page.querySelector = (selector) => (selector === "[data-live-status]" ? notice : null);
const names = ["forum:event", "forum:realtime-status", "forum:realtime-reconnected"];
for (const name of names) page.addEventListener(name, (event) => out({ event: name, detail: event.detail }));
globalThis.document = page;
globalThis.window = globalThis;
window.location = { href: pageUrl };
window.forumRealtimeOptions = OPTIONS;
require("vm").runInThisContext(fs.readFileSync(scriptPath, "utf8"), { filename: scriptPath });
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const command = JSON.parse(line);
  if (command.op === "advanceClock") {
    clockOffset += command.args[0];
    out({ result: command.op, value: null });
    return;
  }
  const value = window.forumRealtime[command.op](...command.args);
  out({ result: command.op, value: value === undefined ? null : value });
});
process.stdin.on("end", () => { window.forumRealtime.stop(); setTimeout(() => process.exit(0), 100); });
"""


def write_harness(path: Any, **options: int) -> Any:
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed: the page client cannot be run")
    path.write_text(NOTICE_HARNESS.replace("OPTIONS", json.dumps(options)))
    return path


@pytest.fixture
def notice_harness(tmp_path: Any) -> Any:
    return write_harness(tmp_path / "notice.cjs", firstDelayMs=200, longestDelayMs=400, noticeAfterMs=1000)


def start_asgi(
    name: str, *, redis_url: str, prefix: str, log_dir: Any, django_db_blocker: Any
) -> processes.Child:
    with django_db_blocker.unblock():
        env = processes.child_env(REDIS_URL=redis_url, REDIS_KEY_PREFIX=prefix, LOG_FORMAT="plain")
    port = processes.free_port()
    command = [
        str(processes.BIN_DIR / "uvicorn"),
        "config.asgi:application",
        "--host=127.0.0.1",
        f"--port={port}",
        "--lifespan=off",
        "--timeout-graceful-shutdown=5",
    ]
    return processes.start_child(name, command, env=env, log_dir=log_dir, port=port)


def statuses(page: Page, state: str) -> list[dict[str, Any]]:
    """The ``forum:realtime-status`` details of ``state`` the page printed so far, in order."""
    return [
        entry["detail"]
        for entry in page.seen
        if entry.get("event") == "forum:realtime-status" and entry["detail"]["state"] == state
    ]


def assert_no_tracebacks(server: processes.Child) -> None:
    log = server.log()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-4000:]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_live_delivery_pauses_with_a_notice_and_resumes_when_redis_returns(
    redis_behind_proxy: TcpProxy,
    redis_namespace: str,
    notice_harness: Any,
    django_db_blocker: Any,
    tmp_path: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every step waits for what the page or a socket says, never for time: the page client's own
    delays (200-400 ms between attempts, the notice after 1 s offline) only decide how soon."""
    proxy = redis_behind_proxy
    server = start_asgi(
        "asgi-behind-proxy",
        redis_url=settings.REDIS_URL,
        prefix=redis_namespace,
        log_dir=tmp_path,
        django_db_blocker=django_db_blocker,
    )
    origin = f"http://127.0.0.1:{server.port}"
    user_id, cookie = member_with_session()
    page = Page(notice_harness, f"{origin}/", cookie, origin)
    try:
        page.expect(event="forum:realtime-status", detail={"state": "connected"})
        send_to_user(user_id, "note", {"n": 1})
        page.expect(event="forum:event", detail={"kind": "note", "payload": {"n": 1}})

        proxy.cut()
        # The open socket's subscription is lost: it is closed with 1011, and the page retries.
        page.expect(
            event="forum:realtime-status", detail={"state": "offline", "code": 1011, "retrying": True}
        )
        page.expect(notice={"hidden": False})
        # A handshake while Redis is away is accepted and closed with 1011 (not answered with HTTP 500).
        with open_socket(server, cookie) as refused:
            assert close_code(refused) == 1011
        # Sending while the layer is unreachable is logged, never raised (a page or a task goes on).
        with caplog.at_level("WARNING", logger="forum.realtime.delivery"):
            send_to_user(user_id, "note", {"n": 2})
        assert "real-time message not sent" in [record.getMessage() for record in caplog.records]

        proxy.restore()
        page.expect(notice={"hidden": True})
        page.expect(event="forum:realtime-status", detail={"state": "connected"})
        since_reconnect = len(page.seen)
        page.expect(event="forum:realtime-reconnected")
        send_to_user(user_id, "note", {"n": 3})
        page.expect(event="forum:event", detail={"kind": "note", "payload": {"n": 3}})
        # The first socket after the outage stayed up (the reconnect's report of the lost
        # subscription was not for it): nothing went offline between its "ready" and the note.
        assert not [entry for entry in page.seen[since_reconnect:] if "state" in entry.get("detail", {})]
        # The frame sent during the outage is gone for good: the page fetches what it missed instead.
        assert not [entry for entry in page.seen if entry.get("detail", {}).get("payload") == {"n": 2}]

        with signed_in(server, cookie, user_id) as socket:
            send_to_user(user_id, "note", {"n": 4})
            assert receive(socket)["payload"] == {"n": 4}
        assert_no_tracebacks(server)
    finally:
        page.close()
        server.stop()
        delivery.layer_breaker.reset()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_page_client_backs_off_while_sockets_keep_closing_and_starts_over_after_one_stayed_up(
    redis_behind_proxy: TcpProxy, redis_namespace: str, django_db_blocker: Any, tmp_path: Any
) -> None:
    """Redis flapping: every socket gets ``ready`` and is closed with 1011 soon after. The waits
    between attempts double (jittered: between half the delay and all of it) up to the cap; once a
    socket has stayed up (the page's clock is moved past stableAfterMs), a drop is retried within
    firstDelayMs again."""
    first, longest, stable_after = 100, 800, 60_000
    harness = write_harness(
        tmp_path / "backoff.cjs",
        firstDelayMs=first,
        longestDelayMs=longest,
        stableAfterMs=stable_after,
        noticeAfterMs=600_000,
    )
    proxy = redis_behind_proxy
    server = start_asgi(
        "asgi-flapping",
        redis_url=settings.REDIS_URL,
        prefix=redis_namespace,
        log_dir=tmp_path,
        django_db_blocker=django_db_blocker,
    )
    origin = f"http://127.0.0.1:{server.port}"
    _user_id, cookie = member_with_session()
    page = Page(harness, f"{origin}/", cookie, origin)
    try:
        page.expect(event="forum:realtime-status", detail={"state": "connected"})
        while len(statuses(page, "offline")) < 7:
            proxy.cut()
            page.expect(event="forum:realtime-status", detail={"state": "offline", "retrying": True})
            proxy.restore()
            page.expect(event="forum:realtime-status", detail={"state": "connected"})
        waits = [status["retryInMs"] for status in statuses(page, "offline") if status["retrying"]]
        waits = waits[1:]  # the first is the page's own start, before any attempt
        assert all(status["code"] == 1011 for status in statuses(page, "offline")[1:])
        for attempt, wait in enumerate(waits):
            delay = min(first * 2**attempt, longest)
            assert delay / 2 <= wait <= delay, (attempt, waits)

        # The socket now up is taken to have stayed up: its drop is retried promptly.
        page.command("advanceClock", stable_after)
        page.expect(result="advanceClock")
        proxy.cut()
        dropped = page.expect(event="forum:realtime-status", detail={"state": "offline", "retrying": True})
        assert first / 2 <= dropped["detail"]["retryInMs"] <= first
        proxy.restore()
        page.expect(event="forum:realtime-status", detail={"state": "connected"})
        assert_no_tracebacks(server)
    finally:
        page.close()
        server.stop()
        delivery.layer_breaker.reset()


# --- The worker down: stored and shown now, handled when it returns ---------------------------------------
def wait_until(condition: Callable[[], bool], *, what: str, timeout: float = 60.0) -> None:
    """Poll ``condition``, each time on a fresh connection so that it sees what the worker committed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        close_old_connections()
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def next_event(socket: Any, kind: str) -> dict[str, Any]:
    """The next event frame of ``kind`` on ``socket`` (other events, say the dialog's own, are skipped)."""
    for _frame in range(50):
        frame = receive(socket)
        if frame.get("type") == "event" and frame.get("kind") == kind:
            return frame
    raise AssertionError(f"no {kind} frame among the next 50")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_with_the_worker_down_a_message_is_kept_and_its_notification_follows_when_it_returns(
    settings: Any, redis_namespace: str, django_db_blocker: Any, tmp_path: Any
) -> None:
    # Queues of this test alone: nothing another test left on the shared ones runs first.
    settings.FORUM_QUEUE_PREFIX = processes.unique_prefix()
    author, _author_name = new_member()
    recipient, recipient_cookie = member_with_session()
    writer = signed_in_client(author)
    server = start_asgi(
        "asgi-worker-down",
        redis_url=settings.REDIS_URL,
        prefix=redis_namespace,
        log_dir=tmp_path,
        django_db_blocker=django_db_blocker,
    )
    worker: processes.Child | None = None
    try:
        with signed_in(server, recipient_cookie, recipient) as recipient_socket:
            # No worker runs: the message is stored and shown on reload all the same.
            started = api(
                writer, "post", "/api/v1/dialogs", {"participant_ids": [recipient], "body": "Anyone?"}
            )
            assert started.status_code == 201
            dialog_id = started.json()["id"]
            messages = api(writer, "get", f"/api/v1/dialogs/{dialog_id}/messages").json()["messages"]
            assert [message["body"] for message in messages] == ["Anyone?"]
            assert "Anyone?" in writer.get(f"/dialogs/{dialog_id}/").content.decode()

            # What it causes waits: the event is in the outbox (handed to the broker, whose queues
            # keep it), no handler has run, and the recipient has no notification.
            events = list(
                OutboxEvent.objects.filter(name="dialog.message_created").values_list("id", flat=True)
            )
            assert len(events) == 1
            assert not ProcessedEvent.objects.filter(event_id__in=events).exists()
            reader = signed_in_client(recipient)
            assert api(reader, "get", "/api/v1/notifications").json()["total"] == 0

            # The worker returns; the sweep sends whatever never reached the broker.
            with django_db_blocker.unblock():
                env = processes.child_env(
                    NOTIFICATION_DIALOG_DELAY_SECONDS="1", EVENT_HANDLER_RETRY_BACKOFF="1"
                )
            worker = processes.start_child(
                "worker",
                processes.celery_worker_command(queues=["forum", "dialog", "notification"], concurrency=1),
                env=env,
                log_dir=tmp_path,
            )
            bus.sweep_outbox(min_age_seconds=0)
            wait_until(
                lambda: api(reader, "get", "/api/v1/notifications").json()["total"] == 1,
                what="the recipient's notification",
            )
            listed = api(reader, "get", "/api/v1/notifications").json()
            assert listed["unread_count"] == 1
            assert listed["notifications"][0]["kind"] == "dialog.message"
            assert ProcessedEvent.objects.filter(event_id__in=events).exists()
            # ... and the recipient's open socket is told at once.
            frame = next_event(recipient_socket, "notification.new")
            assert frame["payload"]["unread_count"] == 1
    finally:
        if worker is not None:
            worker.stop()
        server.stop()
