"""Shared helpers of the browser tests: the production stack in child processes, Debian's Chromium
driven through Playwright, and the small steps every such test takes.

The stack is what production runs: the pages and the API on gunicorn (WSGI), the WebSocket gateway
on uvicorn (ASGI, which a test may stop and start again) and a Celery worker on the queues the test
names, all on the test database, the test's own queues and its own Redis keys. Tests that use it
commit their data (``@pytest.mark.django_db(transaction=True)``).

Playwright is imported where it is used, so that importing this module costs nothing.
"""

from __future__ import annotations

import copy
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import close_old_connections, connections
from django.test.utils import override_settings

from forum.testing import processes
from forum.testing.clients import session_key_for

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-background-networking")
# Waits for the stack and for the page; reached only when something is broken.
TIMEOUT = 30.0


def require_chromium(monkeypatch: pytest.MonkeyPatch) -> None:
    """Skip without Debian's Chromium; let this thread's ORM calls run beside Playwright's loop.

    Playwright's sync API runs an event loop in the test's thread; Django would take the database
    calls of the test (and of its teardown) for calls from async code, which they are not.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM}")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def wait_for(condition: Callable[[], object], *, what: str, timeout: float = TIMEOUT) -> None:
    """Poll ``condition`` until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        close_old_connections()  # see what the server processes committed since
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def backstage(action: Callable[[], object]) -> None:
    """Make a change of the test's own (a moderator's edit, say) while the browser runs.

    In a thread of its own, which closes its database connection: on the thread of Playwright's
    event loop Django would open a connection that outlives the test and holds the test database.
    """

    def run() -> None:
        try:
            action()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(run).result(timeout=TIMEOUT)


class Stack:
    """The pages' origin, the child processes' environment, and the WebSocket gateway."""

    def __init__(self, origin: str, ws_port: int, env: dict[str, str], log_dir: Path) -> None:
        self.origin = origin
        self.ws_port = ws_port
        self.env = env
        self.log_dir = log_dir
        self.ws: processes.Child | None = None
        self.ws_starts = 0

    def start_ws(self) -> None:
        self.ws_starts += 1
        self.ws = processes.start_child(
            f"ws-{self.ws_starts}",
            [
                str(processes.BIN_DIR / "uvicorn"),
                "config.asgi:application",
                "--host=127.0.0.1",
                f"--port={self.ws_port}",
                "--lifespan=off",
                "--timeout-graceful-shutdown=2",
            ],
            env=self.env,
            log_dir=self.log_dir,
            port=self.ws_port,
        )

    def stop_ws(self) -> None:
        if self.ws is not None:
            self.ws.stop()
            self.ws = None


@contextmanager
def running_stack(tmp_path: Path, *, queues: Sequence[str], **env: str) -> Iterator[Stack]:
    """gunicorn for the pages, uvicorn for /ws/ (the pages' meta tag points there) and a worker on
    ``queues``; ``env`` adds to the children's environment. Settings of this process point at the
    same queues, Redis keys and channel layer while it runs."""
    prefix = processes.unique_prefix()
    layers: dict[str, Any] = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["prefix"] = f"{prefix}:asgi"
    web_port, ws_port = processes.free_ports(2)
    with override_settings(FORUM_QUEUE_PREFIX=prefix, REDIS_KEY_PREFIX=prefix, CHANNEL_LAYERS=layers):
        child_env = processes.child_env(
            FORUM_WEBSOCKET_URL=f"ws://127.0.0.1:{ws_port}/ws/",
            MEDIA_ROOT=str(tmp_path / "media"),
            PRIVATE_MEDIA_ROOT=str(tmp_path / "private"),
            STATIC_ROOT=str(tmp_path / "static"),
            **env,
        )
        # WhiteNoise serves what was collected, as in production (the test profile has no DEBUG);
        # collected while the worker and the gateway start.
        collecting = subprocess.Popen(
            [processes.PYTHON, "manage.py", "collectstatic", "--noinput", "--verbosity=0"],
            cwd=processes.BASE_DIR,
            env=child_env,
        )
        started: list[processes.Child] = []
        stack: Stack | None = None
        try:
            worker = processes.start_child(
                "worker", processes.celery_worker_command(queues=queues), env=child_env, log_dir=tmp_path
            )
            started.append(worker)
            stack = Stack(f"http://127.0.0.1:{web_port}", ws_port, child_env, tmp_path)
            stack.start_ws()
            assert collecting.wait(timeout=120) == 0, "collectstatic failed"
            gunicorn = [
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
            ]
            started.append(
                processes.start_child("web", gunicorn, env=child_env, log_dir=tmp_path, port=web_port)
            )
            wait_for(lambda: "ready" in worker.log(), what="the worker to be ready")
            yield stack
        finally:
            if collecting.poll() is None:
                collecting.kill()
                collecting.wait()
            if stack is not None:
                stack.stop_ws()
            for child in reversed(started):
                child.stop()


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless; Playwright's ``expect`` waits as long as the pages do."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT * 1000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()
            # Inside Playwright's event loop Django keeps other connections than the test's own
            # (connections are context-local); closed here, or the test database could not be dropped.
            connections.close_all()


def new_page(browser: Browser, *, origin: str = "", session_key: str = "") -> Page:
    """A page in a browser context of its own (one member), in English; with ``session_key``, that
    session's cookie is set for ``origin``."""
    context = browser.new_context(locale="en-US")
    context.set_default_timeout(TIMEOUT * 1000)
    if session_key:
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session_key, "url": origin}])
    return context.new_page()


def member_session() -> tuple[int, str]:
    """A new member (no usable password) and the key of a session signed in as them: (id, key), for
    ``new_page(..., session_key=key)``."""
    user = get_user_model().objects.create_user(username=f"m{uuid.uuid4().hex[:10]}", password=None)
    return int(user.pk), session_key_for(int(user.pk))


def use_session(page: Page, origin: str, user_id: int) -> None:
    """Sign ``page``'s browser context in as ``user_id`` for ``origin`` without the sign-in page: a new
    session's cookie."""
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session_key_for(user_id), "url": origin}]
    )


def sign_in(page: Page, origin: str, username: str, password: str, next_path: str) -> None:
    """Through the sign-in page, as a member would; lands on ``next_path``."""
    from playwright.sync_api import expect

    page.goto(f"{origin}/accounts/signin/?next={next_path}")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", password)
    page.locator("main form button[type=submit]").click()
    expect(page.locator("header .user-name")).to_have_text(username)
    page.wait_for_url(f"{origin}{next_path}*")


def mark(page: Page) -> None:
    """Mark the page's window: a navigation or a reload loses the mark (see ``stayed``)."""
    page.evaluate("window.stayedSinceMark = true")


def stayed(page: Page) -> bool:
    """Whether the page is still the one ``mark`` marked (no navigation, no reload since)."""
    return bool(page.evaluate("window.stayedSinceMark === true"))
