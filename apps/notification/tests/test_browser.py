"""The bell and the watch button in a real browser against the real stack: a member watches a thread
with the button (htmx, no reload), another member replies, the bell's count goes up live, the
dropdown opens in place with the notification, and "Mark all read" clears it.

The stack is what production runs: the pages on gunicorn (WSGI), the WebSocket gateway on uvicorn
(ASGI), and a Celery worker running this app's handlers, all on the test database, this test's own
queues and its own Redis keys.
"""

from __future__ import annotations

import copy
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connections
from django.test.utils import override_settings

from apps.thread import services as threads
from forum.testing import processes

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "Amber-Lighthouse-Meadow-52"
# Waits for the stack and for the page; reached only when something is broken.
TIMEOUT = 30.0


def _wait_for(condition: Callable[[], bool], *, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def origin(transactional_db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """gunicorn for the pages, uvicorn for /ws/ (the pages' meta tag points there), and a worker on
    the notification queue; the pages' origin."""
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM}")
    # Playwright's sync API runs an event loop in this thread; Django would take this test's own
    # database calls for calls from async code, which they are not.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    prefix = processes.unique_prefix()
    layers: dict[str, Any] = copy.deepcopy(django_settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["prefix"] = f"{prefix}:asgi"
    web_port, ws_port = processes.free_port(), processes.free_port()
    with override_settings(FORUM_QUEUE_PREFIX=prefix, REDIS_KEY_PREFIX=prefix, CHANNEL_LAYERS=layers):
        env = processes.child_env(
            FORUM_WEBSOCKET_URL=f"ws://127.0.0.1:{ws_port}/ws/",
            STATIC_ROOT=str(tmp_path / "static"),
            EMAIL_URL="dummymail://",
        )
        # WhiteNoise serves what was collected, as in production (the test profile has no DEBUG).
        collecting = subprocess.Popen(
            [processes.PYTHON, "manage.py", "collectstatic", "--noinput", "--verbosity=0"],
            cwd=processes.BASE_DIR,
            env=env,
        )
        started: list[processes.Child] = []
        try:
            worker = processes.start_child(
                "worker", processes.celery_worker_command(queues=["notification"]), env=env, log_dir=tmp_path
            )
            started.append(worker)
            uvicorn = [
                str(processes.BIN_DIR / "uvicorn"),
                "config.asgi:application",
                "--host=127.0.0.1",
                f"--port={ws_port}",
                "--lifespan=off",
                "--timeout-graceful-shutdown=2",
            ]
            started.append(processes.start_child("ws", uvicorn, env=env, log_dir=tmp_path, port=ws_port))
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
            started.append(processes.start_child("web", gunicorn, env=env, log_dir=tmp_path, port=web_port))
            _wait_for(lambda: "ready" in worker.log(), what="the worker to be ready")
            yield f"http://127.0.0.1:{web_port}"
        finally:
            if collecting.poll() is None:
                collecting.kill()
                collecting.wait()
            for child in reversed(started):
                child.stop()


def backstage(action: Callable[[], object]) -> None:
    """Make a change of the test's own while the browser runs, in a thread of its own that closes
    its database connection (on the thread of Playwright's event loop Django would keep one open)."""

    def run() -> None:
        try:
            action()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(run).result(timeout=TIMEOUT)


@pytest.mark.django_db(transaction=True)
def test_watch_then_a_reply_rings_the_bell_live_and_the_dropdown_shows_it(
    origin: str, django_user_model: Any
) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT * 1000)
    sam = django_user_model.objects.create_user(username="sam", password=PASSWORD, is_staff=True).pk
    django_user_model.objects.create_user(username="ada", password=PASSWORD)
    bruno = django_user_model.objects.create_user(username="bruno", password=PASSWORD).pk
    general = threads.forum_create(name="General", kind="forum").id
    thread = threads.thread_create(author_id=sam, forum_id=general, title="Harbour news", body="Welcome!")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_context(locale="en-US").new_page()
            page.set_default_timeout(TIMEOUT * 1000)
            page.goto(f"{origin}/accounts/signin/?next=/threads/{thread.id}/")
            page.fill("input[name=login]", "ada")
            page.fill("input[name=password]", PASSWORD)
            page.locator("main form button[type=submit]").click()
            page.wait_for_url(f"{origin}/threads/{thread.id}/*")
            count = page.locator("[data-notification-count]")
            expect(count).to_be_hidden()

            # Watch, with htmx: the button turns into "Unwatch" in place.
            page.evaluate("window.stayedSinceMark = true")
            page.locator("form.watch-button button").click()
            expect(page.locator("form.watch-button button")).to_have_text("Unwatch")
            assert page.evaluate("window.stayedSinceMark === true")
            expect(page.locator("body[data-realtime=connected]")).to_have_count(1)

            # Bruno replies: the worker notifies Ada, and her bell counts it without a reload.
            backstage(lambda: threads.post_create(author_id=bruno, thread_id=thread.id, body="Ahoy"))
            expect(count).to_have_text("1")
            expect(count).to_be_visible()
            assert page.evaluate("window.stayedSinceMark === true")

            # The bell opens the dropdown in place, fetched as a fragment.
            page.locator(".notification-bell__link").click()
            dropdown = page.locator("#notification-dropdown")
            expect(dropdown).to_be_visible()
            expect(dropdown).to_contain_text("bruno replied in “Harbour news”")
            assert page.evaluate("window.stayedSinceMark === true")

            # Marking all read comes back to the same page with the bell at zero.
            dropdown.get_by_role("button", name="Mark all read").click()
            page.wait_for_url(f"{origin}/threads/{thread.id}/")
            expect(page.locator("[data-notification-count]")).to_be_hidden()
        finally:
            browser.close()
