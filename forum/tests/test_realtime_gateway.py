"""The WebSocket gateway end to end: uvicorn server processes on the real Redis layer and test DB."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.test import override_settings
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from forum.realtime import (
    CLOSE_UNAUTHENTICATED,
    MAX_INBOUND_FRAME_BYTES,
    MAX_SUBSCRIPTIONS,
    disconnect_user,
    send_to_topic,
    send_to_user,
)
from forum.testing import processes

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# A safety net so that a broken gateway fails the test instead of hanging it; never an assertion.
RECEIVE_TIMEOUT = 15.0


@pytest.fixture(scope="module")
def redis_prefix() -> Iterator[str]:
    """Redis keys of this module's servers and of the test process, shared with no other run."""
    prefix = processes.unique_prefix()
    layers: dict[str, Any] = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["prefix"] = f"{prefix}:asgi"
    with override_settings(REDIS_KEY_PREFIX=prefix, CHANNEL_LAYERS=layers):
        yield prefix


def start_server(
    name: str, prefix: str, log_dir: Any, django_db_blocker: Any, *, port: int | None = None
) -> processes.Child:
    with django_db_blocker.unblock():
        # The servers need the test topics; whatever extra apps the test profile has stay installed.
        extra = ",".join(filter(None, [os.environ.get("FORUM_EXTRA_APPS", ""), "forum.testing.realtime_app"]))
        env = processes.child_env(REDIS_KEY_PREFIX=prefix, FORUM_EXTRA_APPS=extra, LOG_FORMAT="plain")
    port = port or processes.free_port()
    command = [
        str(processes.BIN_DIR / "uvicorn"),
        "config.asgi:application",
        "--host=127.0.0.1",
        f"--port={port}",
        "--lifespan=off",
        "--timeout-graceful-shutdown=5",
    ]
    return processes.start_child(name, command, env=env, log_dir=log_dir, port=port)


@pytest.fixture(scope="module")
def servers(
    redis_prefix: str, django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[processes.Child, processes.Child]]:
    """Two ASGI server processes, A and B, on the same channel layer."""
    log_dir = tmp_path_factory.mktemp("realtime")
    first = start_server("asgi-a", redis_prefix, log_dir, django_db_blocker)
    try:
        second = start_server("asgi-b", redis_prefix, log_dir, django_db_blocker)
    except BaseException:
        first.stop()
        raise
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture
def server_a(servers: tuple[processes.Child, processes.Child]) -> processes.Child:
    return servers[0]


@pytest.fixture
def server_b(servers: tuple[processes.Child, processes.Child]) -> processes.Child:
    return servers[1]


def member(*, staff: bool = False, active: bool = True) -> tuple[int, str]:
    """A new member signed in through a database session: (user id, Cookie header)."""
    user = get_user_model().objects.create_user(
        username=f"m{uuid.uuid4().hex[:12]}", password=None, is_staff=staff, is_active=active
    )
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return user.pk, f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def open_socket(
    server: processes.Child, cookie: str | None = None, *, path: str = "/ws/", origin: str | None = None
) -> ClientConnection:
    headers = {"Cookie": cookie} if cookie else {}
    return connect(
        f"ws://127.0.0.1:{server.port}{path}",
        additional_headers=headers,
        origin=Origin(origin or f"http://127.0.0.1:{server.port}"),
        open_timeout=RECEIVE_TIMEOUT,
        close_timeout=2,
    )


def receive(ws: ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(ws.recv(timeout=RECEIVE_TIMEOUT))
    return frame


def send(ws: ClientConnection, content: Any) -> None:
    ws.send(content if isinstance(content, str | bytes) else json.dumps(content))


@contextlib.contextmanager
def signed_in(server: processes.Child, cookie: str, user_id: int) -> Iterator[ClientConnection]:
    """A socket past its ``ready`` frame: joined to the member's personal group."""
    with open_socket(server, cookie) as ws:
        ready = receive(ws)
        assert ready["type"] == "ready"
        assert ready["user_id"] == user_id
        yield ws


def subscribe(ws: ClientConnection, topic: str) -> None:
    send(ws, {"type": "subscribe", "topic": topic})
    assert receive(ws) == {"type": "subscribed", "topic": topic}


def close_code(ws: ClientConnection) -> int | None:
    """The close code the server sent, once the connection is closed; None if the TCP link dropped."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            ws.recv(timeout=RECEIVE_TIMEOUT)
    return closed.value.rcvd.code if closed.value.rcvd is not None else None


def new_key() -> str:
    return uuid.uuid4().hex[:16]


def test_a_whisper_sent_through_process_b_reaches_a_member_on_process_a(
    server_a: processes.Child, server_b: processes.Child
) -> None:
    alice_id, alice_cookie = member()
    bob_id, bob_cookie = member()
    topic = f"room:{new_key()}"
    with signed_in(server_a, alice_cookie, alice_id) as alice, signed_in(server_b, bob_cookie, bob_id) as bob:
        subscribe(alice, topic)
        subscribe(bob, topic)

        # Bob claims to be Alice: the server writes the sender itself.
        send(
            bob,
            {
                "type": "whisper",
                "topic": topic,
                "kind": "typing",
                "sender_id": alice_id,
                "payload": {"on": 1},
            },
        )
        assert receive(alice) == {
            "type": "whisper",
            "topic": topic,
            "kind": "typing",
            "sender_id": bob_id,
            "payload": {"on": 1},
        }

        # Bob's own whisper went to his channel too, before Alice answered: had it been relayed to
        # him, it would come before her answer.
        send(alice, {"type": "whisper", "topic": topic, "kind": "typing", "payload": {"on": 0}})
        assert receive(bob) == {
            "type": "whisper",
            "topic": topic,
            "kind": "typing",
            "sender_id": alice_id,
            "payload": {"on": 0},
        }


def test_send_to_user_from_another_process_reaches_every_socket_of_that_member_only(
    server_a: processes.Child, server_b: processes.Child
) -> None:
    alice_id, alice_cookie = member()
    bob_id, bob_cookie = member()
    with (
        signed_in(server_a, alice_cookie, alice_id) as alice_tab_one,
        signed_in(server_b, alice_cookie, alice_id) as alice_tab_two,
        signed_in(server_a, bob_cookie, bob_id) as bob,
    ):
        send_to_user(alice_id, "notification.created", {"notification_id": 7, "text": "Привет"})
        expected = {
            "type": "event",
            "kind": "notification.created",
            "payload": {"notification_id": 7, "text": "Привет"},
        }
        assert receive(alice_tab_one) == expected
        assert receive(alice_tab_two) == expected

        # Sent after Alice's event: if hers had leaked to Bob, it would come first.
        send_to_user(bob_id, "marker", {"for": "bob"})
        assert receive(bob) == {"type": "event", "kind": "marker", "payload": {"for": "bob"}}


def test_send_to_topic_reaches_subscribers_until_they_unsubscribe(
    server_a: processes.Child, server_b: processes.Child
) -> None:
    alice_id, alice_cookie = member()
    bob_id, bob_cookie = member()
    topic = f"news:{new_key()}"
    with signed_in(server_a, alice_cookie, alice_id) as alice, signed_in(server_b, bob_cookie, bob_id) as bob:
        subscribe(alice, topic)
        send_to_topic(topic, "post.created", {"post_id": 1})
        assert receive(alice) == {
            "type": "event",
            "kind": "post.created",
            "topic": topic,
            "payload": {"post_id": 1},
        }

        send_to_user(bob_id, "marker", {})
        assert receive(bob) == {"type": "event", "kind": "marker", "payload": {}}

        send(alice, {"type": "unsubscribe", "topic": topic, "ref": "u1"})
        assert receive(alice) == {"type": "unsubscribed", "topic": topic, "ref": "u1"}
        send_to_topic(topic, "post.created", {"post_id": 2})
        send_to_user(alice_id, "marker", {})
        assert receive(alice) == {"type": "event", "kind": "marker", "payload": {}}


def test_connections_without_a_member_are_closed_with_4401(server_a: processes.Child) -> None:
    _, inactive_cookie = member(active=False)
    for cookie in (None, f"{settings.SESSION_COOKIE_NAME}=no-such-session", inactive_cookie):
        with open_socket(server_a, cookie) as ws:
            assert close_code(ws) == CLOSE_UNAUTHENTICATED


def test_foreign_origins_and_other_paths_are_refused_at_the_handshake(server_a: processes.Child) -> None:
    _, cookie = member()
    with pytest.raises(InvalidStatus) as foreign:
        open_socket(server_a, cookie, origin="https://evil.example")
    assert foreign.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as elsewhere:
        open_socket(server_a, cookie, path="/ws/other/")
    assert elsewhere.value.response.status_code == 403


def test_garbage_gets_error_frames_and_the_connection_keeps_answering(server_a: processes.Child) -> None:
    user_id, cookie = member()
    garbage = [
        ("not json at all", "invalid_json"),
        ("[" * 5000 + "]" * 5000, "invalid_json"),
        (b"\x00\x01binary", "invalid_message"),
        ("[1, 2]", "invalid_message"),
        ('{"type": 5}', "invalid_message"),
        ('{"no": "type"}', "invalid_message"),
        ('{"type": "launch"}', "unknown_type"),
        (json.dumps({"type": "ping", "pad": "x" * MAX_INBOUND_FRAME_BYTES}), "too_large"),
        (json.dumps({"type": "subscribe", "topic": ["room", 1]}), "invalid_topic"),
        (json.dumps({"type": "subscribe", "topic": "room:a b"}), "invalid_topic"),
        (json.dumps({"type": "subscribe", "topic": "room:" + "k" * 65}), "invalid_topic"),
        (json.dumps({"type": "unsubscribe"}), "invalid_topic"),
    ]
    with signed_in(server_a, cookie, user_id) as ws:
        for content, code in garbage:
            send(ws, content)
            answer = receive(ws)
            assert (answer["type"], answer["code"]) == ("error", code), content[:80]
            assert answer["message"]
        send(ws, {"type": "ping", "ref": 41})
        assert receive(ws) == {"type": "pong", "ref": 41}


def test_subscriptions_follow_the_owning_apps_checks(server_a: processes.Child) -> None:
    user_id, cookie = member()
    staff_id, staff_cookie = member(staff=True)
    staff_topic = f"room:staff-{new_key()}"
    with signed_in(server_a, cookie, user_id) as ws, signed_in(server_a, staff_cookie, staff_id) as staff:
        refusals = [
            ({"type": "subscribe", "topic": staff_topic, "ref": "s"}, "forbidden"),
            ({"type": "subscribe", "topic": f"nosuch:{new_key()}"}, "unknown_topic"),
            ({"type": "subscribe", "topic": f"broken:{new_key()}"}, "unavailable"),
            ({"type": "whisper", "topic": f"room:{new_key()}", "kind": "typing"}, "not_subscribed"),
        ]
        for message, code in refusals:
            send(ws, message)
            answer = receive(ws)
            assert (answer["type"], answer["code"], answer["topic"]) == ("error", code, message["topic"])
        assert answer.get("ref") is None
        send(ws, refusals[0][0])
        assert receive(ws)["ref"] == "s"

        subscribe(staff, staff_topic)

        news = f"news:{new_key()}"
        subscribe(ws, news)
        send(ws, {"type": "whisper", "topic": news, "kind": "typing"})
        assert receive(ws)["code"] == "whisper_not_allowed"
        room = f"room:{new_key()}"
        subscribe(ws, room)
        for bad in ({"kind": "Not A Kind"}, {"kind": "typing", "payload": [1]}):
            send(ws, {"type": "whisper", "topic": room, **bad})
            assert receive(ws)["code"] == "invalid_message"

        # A check that refused does not leave the member in the group: staff events stay with staff.
        send_to_topic(staff_topic, "staff.note", {})
        assert receive(staff)["kind"] == "staff.note"
        send_to_user(user_id, "marker", {})
        assert receive(ws)["kind"] == "marker"


def test_a_connection_holds_a_bounded_number_of_subscriptions(server_a: processes.Child) -> None:
    user_id, cookie = member()
    base = new_key()
    with signed_in(server_a, cookie, user_id) as ws:
        for index in range(MAX_SUBSCRIPTIONS):
            send(ws, {"type": "subscribe", "topic": f"news:{base}-{index}"})
        for index in range(MAX_SUBSCRIPTIONS):
            assert receive(ws) == {"type": "subscribed", "topic": f"news:{base}-{index}"}
        send(ws, {"type": "subscribe", "topic": f"news:{base}-extra"})
        assert receive(ws)["code"] == "too_many_subscriptions"
        subscribe(ws, f"news:{base}-0")  # one already held is still acknowledged


def test_disconnect_user_closes_every_socket_of_the_member_with_4401(server_a: processes.Child) -> None:
    user_id, cookie = member()
    with signed_in(server_a, cookie, user_id) as ws:
        disconnect_user(user_id)
        assert close_code(ws) == CLOSE_UNAUTHENTICATED


def test_sigterm_closes_open_websockets_with_a_close_code(
    redis_prefix: str, django_db_blocker: Any, tmp_path: Any
) -> None:
    server = start_server("asgi-stopping", redis_prefix, tmp_path, django_db_blocker)
    try:
        user_id, cookie = member()
        with signed_in(server, cookie, user_id) as ws:
            server.signal(signal.SIGTERM)
            # 1012 "service restart": uvicorn's goodbye, which the client takes as "reconnect soon".
            assert close_code(ws) == 1012
        # After its graceful shutdown uvicorn raises the signal again, so that it ends "by SIGTERM".
        assert server.process.wait(RECEIVE_TIMEOUT) == -signal.SIGTERM
        log = server.log()
        assert "Finished server process" in log
        assert "graceful shutdown exceeded" not in log  # every consumer ended when its socket did
    finally:
        server.stop()


# --- the page client, static/js/realtime.js, run by Node.js against the servers ---------------------
CLIENT_SCRIPT = settings.BASE_DIR / "static" / "js" / "realtime.js"

# Just enough of a browser page for realtime.js: a document to dispatch on, a body, the meta tag, the
# page's location, and Node's own WebSocket with the member's cookie (a browser sends it itself).
# Every event the client dispatches is printed as one JSON line; commands come as JSON lines.
PAGE_HARNESS = r"""
const fs = require("fs");
const readline = require("readline");
const [scriptPath, pageUrl, cookie, origin, metaUrl] = process.argv.slice(2);
const out = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const NativeWebSocket = globalThis.WebSocket;
globalThis.WebSocket = class extends NativeWebSocket {
  constructor(url) {
    super(url, { headers: Object.assign({ Origin: origin }, cookie ? { Cookie: cookie } : {}) });
  }
};
const page = new EventTarget();
page.readyState = "complete";
page.body = { setAttribute: (name, value) => out({ body: { [name]: value } }) };
page.querySelector = (selector) =>
  selector === 'meta[name="forum-websocket-url"]' && metaUrl ? { content: metaUrl } : null;
for (const name of ["forum:event", "forum:subscribed", "forum:realtime-error", "forum:realtime-status"]) {
  page.addEventListener(name, (event) => out({ event: name, detail: event.detail }));
}
globalThis.document = page;
globalThis.window = globalThis;
window.location = { href: pageUrl };
window.forumRealtimeOptions = { firstDelayMs: 200, longestDelayMs: 800 };  // a restart takes seconds
require("vm").runInThisContext(fs.readFileSync(scriptPath, "utf8"), { filename: scriptPath });
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const command = JSON.parse(line);
  const value = window.forumRealtime[command.op](...command.args);
  out({ result: command.op, value: value === undefined ? null : value });
});
process.stdin.on("end", () => { window.forumRealtime.stop(); setTimeout(() => process.exit(0), 100); });
"""


class Page:
    """realtime.js in a Node.js process; ``expect`` reads its dispatched events in order."""

    def __init__(self, harness: Any, page_url: str, cookie: str, origin: str, meta_url: str = "") -> None:
        node = shutil.which("node")
        if node is None:
            pytest.skip("Node.js is not installed: the page client cannot be run")
        self.process = subprocess.Popen(
            [node, "--experimental-websocket", "--no-warnings", str(harness), str(CLIENT_SCRIPT),
             page_url, cookie, origin, meta_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def command(self, op: str, *args: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"op": op, "args": args}) + "\n")
        self.process.stdin.flush()

    def expect(self, **wanted: Any) -> dict[str, Any]:
        """The next line whose keys hold ``wanted`` (a dict value matches a subset of the line's)."""
        while True:
            try:
                line = self.lines.get(timeout=RECEIVE_TIMEOUT)
            except queue.Empty:
                raise AssertionError(f"the page never printed {wanted}; it printed {self.seen}") from None
            try:
                entry: dict[str, Any] = json.loads(line)
            except ValueError:
                raise AssertionError(f"the page client failed: {line}{self._rest()}") from None
            self.seen.append(entry)
            if all(_matches(entry.get(key), value) for key, value in wanted.items()):
                return entry

    def _rest(self) -> str:
        self.close()
        rest = []
        with contextlib.suppress(queue.Empty):
            while True:
                rest.append(self.lines.get(timeout=1))
        return "".join(rest)

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()


def _matches(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(_matches(actual.get(k), v) for k, v in wanted.items())
    return bool(actual == wanted)


@pytest.fixture
def page_harness(tmp_path: Any) -> Any:
    harness = tmp_path / "page.cjs"
    harness.write_text(PAGE_HARNESS)
    return harness


def test_the_page_client_reconnects_after_a_restart_and_subscribes_again(
    redis_prefix: str, django_db_blocker: Any, tmp_path: Any, page_harness: Any, server_b: processes.Child
) -> None:
    server = start_server("asgi-restarting", redis_prefix, tmp_path, django_db_blocker)
    origin = f"http://127.0.0.1:{server.port}"
    alice_id, alice_cookie = member()
    bob_id, bob_cookie = member()
    topic = f"room:{new_key()}"
    page = Page(page_harness, f"{origin}/thread/{topic}", alice_cookie, origin)
    try:
        page.expect(event="forum:realtime-status", detail={"state": "connected"})
        assert {"body": {"data-realtime": "connected"}} in page.seen
        page.command("subscribe", topic)
        page.expect(event="forum:subscribed", detail={"topic": topic})
        send_to_topic(topic, "post.created", {"post_id": 5})
        page.expect(event="forum:event", detail={"type": "event", "topic": topic, "payload": {"post_id": 5}})

        server.signal(signal.SIGTERM)
        page.expect(
            event="forum:realtime-status", detail={"state": "offline", "code": 1012, "retrying": True}
        )
        assert {"body": {"data-realtime": "offline"}} in page.seen
        server.process.wait(RECEIVE_TIMEOUT)
        server = start_server("asgi-restarted", redis_prefix, tmp_path, django_db_blocker, port=server.port)

        page.expect(event="forum:realtime-status", detail={"state": "connected"})
        page.expect(event="forum:subscribed", detail={"topic": topic})  # without being asked again
        send_to_topic(topic, "post.created", {"post_id": 6})
        page.expect(event="forum:event", detail={"payload": {"post_id": 6}})

        with signed_in(server_b, bob_cookie, bob_id) as bob:
            subscribe(bob, topic)
            page.command("whisper", topic, "typing", {"on": True})
            page.expect(result="whisper", value=True)
            assert receive(bob) == {
                "type": "whisper",
                "topic": topic,
                "kind": "typing",
                "sender_id": alice_id,
                "payload": {"on": True},
            }
        page.command("subscribe", f"room:staff-{new_key()}")
        page.expect(event="forum:realtime-error", detail={"code": "forbidden"})
    finally:
        page.close()
        server.stop()


def test_the_page_client_uses_the_meta_url_and_gives_up_without_a_member(
    server_a: processes.Child, page_harness: Any
) -> None:
    # The page itself is on a port where nothing listens: only the meta tag leads to the server.
    page = Page(
        page_harness,
        "http://localhost:9/page",
        "",
        f"http://localhost:{server_a.port}",
        meta_url=f"ws://127.0.0.1:{server_a.port}/ws/",
    )
    try:
        closed = page.expect(
            event="forum:realtime-status", detail={"state": "offline", "code": CLOSE_UNAUTHENTICATED}
        )
        assert closed["detail"]["retrying"] is False
        page.command("whisper", "room:x", "typing", {})
        page.expect(result="whisper", value=False)
    finally:
        page.close()
