"""The dialog pages live, in a real browser against the real stack: a message arrives in the open
dialog and in the other member's list and badge, the visible tab sends its read receipt (so
``message_seen`` turns true and the writer's page says "Seen by"), "typing…" shows, and a tab whose
WebSocket server went away fetches what it missed once it is back, each message once and in order.

The stack is what production runs: the pages and the API on gunicorn (WSGI), the WebSocket gateway on
uvicorn (ASGI), and a Celery worker that pushes the dialog's events, on the test database, this test's
own queues and its own Redis keys.
"""

from __future__ import annotations

import copy
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.db import close_old_connections, connections
from django.test.utils import override_settings
from rest_framework.test import APIClient

from apps.dialog import services
from forum.testing import processes

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
# Waits for the stack and for the page; reached only when something is broken.
TIMEOUT = 30.0


def wait_until(condition: Callable[[], bool], *, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        close_old_connections()  # see what the server processes committed since
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Stack:
    origin: str
    ws_port: int
    env: dict[str, str]
    log_dir: Path
    ws: processes.Child

    def start_ws(self) -> processes.Child:
        command = [
            str(processes.BIN_DIR / "uvicorn"),
            "config.asgi:application",
            "--host=127.0.0.1",
            f"--port={self.ws_port}",
            "--lifespan=off",
            "--timeout-graceful-shutdown=2",
        ]
        name = f"ws-{uuid.uuid4().hex[:6]}"
        return processes.start_child(name, command, env=self.env, log_dir=self.log_dir, port=self.ws_port)


@pytest.fixture
def stack(transactional_db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM}")
    # Playwright's sync API runs an event loop in this thread; Django then takes the database calls
    # of this test's own teardown for calls from async code, which they are not.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    prefix = processes.unique_prefix()
    layers: dict[str, Any] = copy.deepcopy(django_settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["prefix"] = f"{prefix}:asgi"
    web_port, ws_port = processes.free_port(), processes.free_port()
    with override_settings(FORUM_QUEUE_PREFIX=prefix, REDIS_KEY_PREFIX=prefix, CHANNEL_LAYERS=layers):
        env = processes.child_env(
            FORUM_WEBSOCKET_URL=f"ws://127.0.0.1:{ws_port}/ws/",
            MEDIA_ROOT=str(tmp_path / "media"),
            STATIC_ROOT=str(tmp_path / "static"),
        )
        # WhiteNoise serves what was collected, as in production (the test profile has no DEBUG).
        subprocess.run(
            [processes.PYTHON, "manage.py", "collectstatic", "--noinput", "--verbosity=0"],
            cwd=processes.BASE_DIR,
            env=env,
            check=True,
            timeout=120,
        )
        started: list[processes.Child] = []
        stack: Stack | None = None
        try:
            worker = processes.start_child(
                "worker", processes.celery_worker_command(queues=["dialog"]), env=env, log_dir=tmp_path
            )
            started.append(worker)
            web = processes.start_child(
                "web",
                [
                    str(processes.BIN_DIR / "gunicorn"),
                    "config.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{web_port}",
                    "--workers",
                    "1",
                    "--worker-class",
                    "gthread",
                    "--threads",
                    "4",
                ],
                env=env,
                log_dir=tmp_path,
                port=web_port,
            )
            started.append(web)
            stack = Stack(f"http://127.0.0.1:{web_port}", ws_port, env, tmp_path, ws=None)  # type: ignore[arg-type]
            stack.ws = stack.start_ws()
            wait_until(lambda: "ready" in worker.log(), what="the worker to be ready")
            yield stack
        finally:
            if stack is not None and stack.ws is not None:
                stack.ws.stop()  # the test may have replaced it
            for child in reversed(started):
                child.stop()


def member() -> tuple[int, str, str]:
    """A new member signed in through a database session: (user id, username, session key)."""
    user = get_user_model().objects.create_user(username=f"m{uuid.uuid4().hex[:10]}", password=None)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = django_settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    assert session.session_key is not None
    return user.pk, user.username, session.session_key


def api(user_id: int) -> APIClient:
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(pk=user_id))
    return client


def say(user_id: int, dialog_id: int, body: str) -> int:
    response = api(user_id).post(f"/api/v1/dialogs/{dialog_id}/messages", {"body": body}, format="json")
    assert response.status_code == 201, response.content
    message_id: int = response.json()["id"]
    return message_id


@pytest.mark.django_db(transaction=True)
def test_a_dialog_page_is_live_and_catches_up_after_a_drop(stack: Stack) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT * 1000)  # a reconnection waits out realtime.js's backoff

    alice_id, _alice_name, alice_session = member()
    bob_id, bob_name, bob_session = member()
    dialog_id = services.dialog_start(starter_id=alice_id, recipient_id=bob_id).id
    services.message_create(author_id=alice_id, dialog_id=dialog_id, body="Hello Bob")
    dialog_url = f"{stack.origin}/dialogs/{dialog_id}/"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            pages = {}
            for name, session_key in (("alice", alice_session), ("bob", bob_session)):
                context = browser.new_context(locale="en-US")
                context.add_cookies(
                    [{"name": django_settings.SESSION_COOKIE_NAME, "value": session_key, "url": stack.origin}]
                )
                context.set_default_timeout(TIMEOUT * 1000)
                pages[name] = context
            bob = pages["bob"].new_page()
            bob.goto(dialog_url)
            alice_list = pages["alice"].new_page()
            alice_list.goto(f"{stack.origin}/dialogs/")
            for page in (bob, alice_list):
                expect(page.locator("body")).to_have_attribute("data-realtime", "connected")

            # A message written through the API appears in Bob's open dialog, and his visible tab
            # acknowledges it: message_seen (what notifications ask before mailing) turns true.
            first = say(alice_id, dialog_id, "Are you *there*?")
            expect(bob.locator(f"#message-{first} .message__body")).to_have_text("Are you there?")
            wait_until(
                lambda: services.message_seen(user_id=bob_id, dialog_id=dialog_id, message_id=first),
                what="Bob's read receipt",
            )

            # Bob's reply reaches Alice's list and her header's badge, without a reload.
            say(bob_id, dialog_id, "Right here")
            expect(alice_list.locator("[data-dialog-unread]")).to_have_text("1")
            expect(alice_list.locator("#dialog-list")).to_contain_text("Right here")

            # With the dialog open, Alice sees Bob read her next message, and Bob typing.
            alice = pages["alice"].new_page()
            alice.goto(dialog_url)
            expect(alice.locator("body")).to_have_attribute("data-realtime", "connected")
            expect(alice.locator("[data-dialog-unread]")).to_be_hidden()
            third = say(alice_id, dialog_id, "Good")
            expect(bob.locator(f"#message-{third}")).to_be_visible()
            expect(alice.locator("[data-seen-by]")).to_have_text(f"Seen by {bob_name}")
            bob.locator("textarea[name=body]").press_sequentially("typing something")
            expect(alice.locator("[data-typing]")).to_have_text(f"{bob_name} is typing…")

            # The WebSocket server goes away: what is written meanwhile reaches no socket. When it is
            # back, Bob's tab reconnects and fetches everything after its last message, once, in order.
            stack.ws.stop()
            expect(bob.locator("body")).to_have_attribute("data-realtime", "offline")
            missed = [say(alice_id, dialog_id, f"While you were away {n}") for n in range(3)]
            stack.ws = stack.start_ws()
            expect(bob.locator("body")).to_have_attribute("data-realtime", "connected")
            for message_id in missed:
                expect(bob.locator(f"#message-{message_id}")).to_have_count(1)
            ids = [int(value) for value in bob.locator("[data-message-id]").evaluate_all(
                "items => items.map(item => item.getAttribute('data-message-id'))"
            )]  # fmt: skip
            assert ids == sorted(ids) and len(ids) == len(set(ids)) == 7
            wait_until(
                lambda: services.message_seen(user_id=bob_id, dialog_id=dialog_id, message_id=missed[-1]),
                what="the read receipt after catching up",
            )
        finally:
            browser.close()
            # Inside Playwright's event loop Django keeps other connections than the test's own;
            # closed here, or the test database could not be dropped.
            connections.close_all()
