"""A thread in a real browser against the real stack: a member signs in, replies with an image and
reacts; another member, with the thread open, sees both arrive live; a thread waiting for moderation
stays hidden from everyone but its author.

The stack is what production runs: the pages on gunicorn (WSGI), the WebSocket gateway on uvicorn
(ASGI), and a Celery worker that turns the thread's events into pushes, all on the test database,
this test's own queues and its own Redis keys.
"""

from __future__ import annotations

import copy
import io
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connections
from django.test.utils import override_settings
from PIL import Image

from apps.thread import services
from forum.models import ProcessedEvent
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


class Site:
    """The pages' origin, and the WebSocket gateway, which a test may stop and start again."""

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


@pytest.fixture
def site(transactional_db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """gunicorn for the pages, uvicorn for /ws/ (the pages' meta tag points there), and a worker on
    the thread queue."""
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
        # WhiteNoise serves what was collected, as in production (the test profile has no DEBUG);
        # collected while the worker and the gateway start.
        collecting = subprocess.Popen(
            [processes.PYTHON, "manage.py", "collectstatic", "--noinput", "--verbosity=0"],
            cwd=processes.BASE_DIR,
            env=env,
        )
        started: list[processes.Child] = []
        site: Site | None = None
        try:
            worker = processes.start_child(
                "worker", processes.celery_worker_command(queues=["thread"]), env=env, log_dir=tmp_path
            )
            started.append(worker)
            site = Site(f"http://127.0.0.1:{web_port}", ws_port, env, tmp_path)
            site.start_ws()
            assert collecting.wait(timeout=120) == 0, "collectstatic failed"
            started.append(
                processes.start_child(
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
            )
            _wait_for(lambda: "ready" in worker.log(), what="the worker to be ready")
            yield site
        finally:
            if collecting.poll() is None:
                collecting.kill()
                collecting.wait()
            if site is not None:
                site.stop_ws()
            for child in reversed(started):
                child.stop()


@dataclass(frozen=True)
class Forum:
    general: int
    thread: int
    opening_post: int
    long_thread: int
    staff: int
    ada: int
    bruno: int
    cleo: int


@pytest.fixture
def forum(site: Site, django_user_model: Any) -> Forum:
    """Sam (staff) and three members; a public thread and a two-page one (made after the stack is up,
    so that their events go to this test's own queues)."""

    def member(username: str, **fields: Any) -> int:
        return int(django_user_model.objects.create_user(username=username, password=PASSWORD, **fields).pk)

    staff, ada, bruno, cleo = member("sam", is_staff=True), member("ada"), member("bruno"), member("cleo")
    category = services.forum_create(name="Community", kind="category").id
    general = services.forum_create(name="General", parent_id=category).id
    thread = services.thread_create(author_id=staff, forum_id=general, title="Harbour news", body="Welcome!")
    assert thread.first_post_id is not None
    # Two pages: a reply to it shows on its last page, not on the first.
    long_thread = services.thread_create(author_id=staff, forum_id=general, title="Long talk", body="One")
    for number in range(2, 22):
        services.post_create(author_id=staff, thread_id=long_thread.id, body=f"Post number {number}")
    return Forum(general, thread.id, thread.first_post_id, long_thread.id, staff, ada, bruno, cleo)


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


def handled_count() -> int:
    """How many events the worker has pushed to the thread pages (its handlers' dedup records)."""
    found: list[int] = []
    backstage(lambda: found.append(ProcessedEvent.objects.filter(handler__startswith="thread.on_").count()))
    return found[0]


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "#2a6f97").save(out, format="PNG")
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_a_reply_with_an_image_and_a_reaction_arrive_live_and_a_queued_thread_stays_hidden(
    site: Site, forum: Forum
) -> None:
    from playwright.sync_api import Page, expect, sync_playwright

    expect.set_options(timeout=TIMEOUT * 1000)
    origin = site.origin
    thread_url = f"{origin}/threads/{forum.thread}/"

    def sign_in(page: Page, username: str, next_path: str) -> None:
        """Through the sign-in page, as a member would; lands on ``next_path``."""
        page.goto(f"{origin}/accounts/signin/?next={next_path}")
        page.fill("input[name=login]", username)
        page.fill("input[name=password]", PASSWORD)
        page.locator("main form button[type=submit]").click()
        expect(page.locator("header .user-name")).to_have_text(username)
        page.wait_for_url(f"{origin}{next_path}*")

    def following(page: Page) -> None:
        """Wait until the page follows its thread live; mark the page to tell a reload later."""
        expect(page.locator("ol.posts[data-live-subscribed]")).to_have_count(1)
        page.evaluate("window.stayedSinceMark = true")

    def stayed(page: Page) -> bool:
        return bool(page.evaluate("window.stayedSinceMark === true"))

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            # Cleo has the thread open, and the first page of a long one.
            cleo = browser.new_context(locale="en-US").new_page()
            cleo.set_default_timeout(TIMEOUT * 1000)
            sign_in(cleo, "cleo", f"/threads/{forum.thread}/")
            following(cleo)
            cleo_long = cleo.context.new_page()
            cleo_long.set_default_timeout(TIMEOUT * 1000)
            cleo_long.goto(f"{origin}/threads/{forum.long_thread}/")
            following(cleo_long)

            # Ada signs in, opens the thread and replies with an image through the form.
            ada = browser.new_context(locale="en-US").new_page()
            ada.set_default_timeout(TIMEOUT * 1000)
            sign_in(ada, "ada", f"/threads/{forum.thread}/")
            reply_form = ada.locator("form[action$='/reply/']")
            reply_form.locator("textarea[name=body]").fill("Photos from the pier")
            reply_form.locator("input[name=attachments]").set_input_files(
                files=[{"name": "pier.png", "mimeType": "image/png", "buffer": png()}]
            )
            reply_form.get_by_role("button", name="Reply", exact=True).click()
            ada.wait_for_url(re.compile(re.escape(thread_url) + r"#post-\d+$"))
            reply = ada.locator("li.post", has_text="Photos from the pier")
            expect(reply).to_have_count(1)
            image = reply.locator(".attachments img")
            expect(image).to_be_visible()
            _wait_for(
                lambda: bool(image.evaluate("img => img.complete && img.naturalWidth > 0")),
                what="Ada's image to load",
            )
            reply_id = reply.get_attribute("data-post-id")

            # Cleo sees it arrive, image included, without a reload.
            live_reply = cleo.locator(f"li.post#post-{reply_id}")
            expect(live_reply).to_contain_text("Photos from the pier")
            expect(live_reply.locator(".attachments img")).to_be_visible()
            expect(cleo.locator("li.post", has_text="Photos from the pier")).to_have_count(1)
            assert stayed(cleo)

            # Ada reacts to Sam's opening post: the count changes in place, for her and for Cleo.
            following(ada)
            like = ada.locator(f"#post-{forum.opening_post} form.reactions button[value=like]")
            like.click()
            expect(like).to_have_attribute("aria-pressed", "true")
            expect(like.locator(".reactions__count")).to_have_text("1")
            assert stayed(ada)
            cleo_like = cleo.locator(f"#post-{forum.opening_post} form.reactions button[value=like]")
            expect(cleo_like.locator(".reactions__count")).to_have_text("1")
            expect(cleo_like).to_have_attribute("aria-pressed", "false")  # counts only: not Cleo's
            assert stayed(cleo)

            # A moderator edits Ada's reply and then deletes it: Cleo's page follows.
            post_id = int(reply_id or 0)
            backstage(
                partial(
                    services.post_edit, editor_id=forum.staff, post_id=post_id, body="Pier photos, edited"
                )
            )
            expect(live_reply).to_contain_text("Pier photos, edited")
            backstage(partial(services.post_delete, user_id=forum.staff, post_id=post_id))
            expect(live_reply).to_have_count(0)
            assert stayed(cleo)

            # The gateway restarts; what was pushed meanwhile is lost, so Cleo's page catches up by
            # itself once it follows the thread again.
            site.stop_ws()
            expect(cleo.locator("ol.posts[data-live-subscribed]")).to_have_count(0)
            handled = handled_count()
            away = partial(
                services.post_create, author_id=forum.bruno, thread_id=forum.thread, body="Written meanwhile"
            )
            backstage(away)
            backstage(
                partial(services.reaction_set, user_id=forum.bruno, post_id=forum.opening_post, kind="like")
            )
            _wait_for(lambda: handled_count() >= handled + 2, what="the worker to push both changes")
            site.start_ws()
            expect(cleo.locator("li.post", has_text="Written meanwhile")).to_have_count(1)
            expect(cleo_like.locator(".reactions__count")).to_have_text("2")
            expect(cleo.locator("ol.posts[data-live-subscribed]")).to_have_count(1)
            assert stayed(cleo)

            # On the first page of the long thread, a new reply is announced, not inserted.
            late = partial(
                services.post_create, author_id=forum.bruno, thread_id=forum.long_thread, body="Late word"
            )
            backstage(late)
            notice = cleo_long.locator("[data-live-notice]")
            expect(notice).to_be_visible()
            expect(notice.locator("[data-live-count]")).to_have_text("1")
            expect(cleo_long.locator("li.post", has_text="Late word")).to_have_count(0)
            notice.locator("a[data-live-show]").click()
            expect(cleo_long.locator("li.post", has_text="Late word")).to_be_visible()

            # Bruno starts a thread: it waits for a moderator, seen by him alone.
            bruno = browser.new_context(locale="en-US").new_page()
            bruno.set_default_timeout(TIMEOUT * 1000)
            sign_in(bruno, "bruno", f"/forums/{forum.general}/new/")
            bruno.fill("input[name=title]", "Boat for sale")
            bruno.fill("textarea[name=body]", "Barely used.")
            bruno.get_by_role("button", name="Start the thread", exact=True).click()
            bruno.wait_for_url(re.compile(re.escape(origin) + r"/threads/\d+/$"))
            expect(bruno.locator(".thread-status")).to_contain_text("Awaiting moderation")
            queued_url = bruno.url
            assert bruno.goto(queued_url).status == 200  # type: ignore[union-attr]

            cleo.goto(f"{origin}/forums/{forum.general}/")
            expect(cleo.locator("main")).to_contain_text("Harbour news")
            expect(cleo.locator("main")).not_to_contain_text("Boat for sale")
            response = cleo.goto(queued_url)
            assert response is not None and response.status == 404
            expect(cleo.locator("main")).not_to_contain_text("Boat for sale")
        finally:
            browser.close()
