"""A member's whole way in, in a real browser against a real server: sign up, follow the mailed link,
turn two-factor authentication on, sign out, and sign in again with a code from the app."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test.utils import override_settings

from apps.authentication.tests.helpers import PASSWORD
from forum.testing import processes
from forum.testing.totp import Authenticator

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
USERNAME = "wren"
EMAIL = "wren@example.com"
TIMEOUT = 30.0


def wait_for(find: Callable[[], Any], *, what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def wait_until_ready(child: processes.Child, marker: str, timeout: float = TIMEOUT) -> None:
    wait_for(lambda: marker in child.log(), what=f"{child.name} to be ready", timeout=timeout)


@pytest.fixture
def site(
    transactional_db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Path]]:
    """The forum served by gunicorn on a free port, with a Celery worker that mails into files.

    Both children use the test database and this test's own queues and Redis keys; the mail the worker
    sends lands as files in a directory the test reads. Yields the site's origin and that directory.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM}")
    # Playwright's sync API runs an event loop in this thread; Django then takes the database calls
    # of this test's own teardown for calls from async code, which they are not.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    prefix = processes.unique_prefix()
    port = processes.free_port()
    with override_settings(FORUM_QUEUE_PREFIX=prefix, REDIS_KEY_PREFIX=prefix):
        # django-environ takes the path after "filemail://" as relative: "/" + an absolute path.
        env = processes.child_env(EMAIL_URL=f"filemail:///{mail_dir}")
        worker = processes.start_child(
            "worker",
            processes.celery_worker_command(queues=["authentication"], concurrency=1),
            env=env,
            log_dir=tmp_path,
        )
        try:
            server = processes.start_child(
                "server",
                [
                    str(processes.BIN_DIR / "gunicorn"),
                    "config.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "1",
                    "--worker-class",
                    "gthread",
                    "--threads",
                    "4",
                ],
                env=env,
                log_dir=tmp_path,
                port=port,
            )
            try:
                wait_until_ready(worker, "ready")
                yield f"http://127.0.0.1:{port}", mail_dir
            finally:
                server.stop()
        finally:
            worker.stop()


def mailed_link(mail_dir: Path, origin: str) -> str:
    pattern = re.compile(re.escape(origin) + r"/accounts/verify/\S+/")

    def find() -> str | None:
        for message in sorted(mail_dir.iterdir()):
            found = pattern.search(message.read_text(errors="replace"))
            if found:
                return found.group(0)
        return None

    link: str = wait_for(find, what="the sign-up mail")
    return link


@pytest.mark.django_db(transaction=True)
def test_sign_up_confirm_turn_on_two_factor_and_sign_in_with_a_code(site: tuple[str, Path]) -> None:
    from playwright.sync_api import expect, sync_playwright

    origin, mail_dir = site
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_context(locale="en-US").new_page()
            page.set_default_timeout(TIMEOUT * 1000)

            # Sign up.
            page.goto(f"{origin}/accounts/signup/")
            page.fill("input[name=username]", USERNAME)
            page.fill("input[name=email]", EMAIL)
            page.fill("input[name=password]", PASSWORD)
            page.locator("main form button[type=submit]").click()
            page.wait_for_url(f"{origin}/accounts/signup/sent/")

            # Follow the mailed link and confirm: the new account is signed in.
            page.goto(mailed_link(mail_dir, origin))
            page.get_by_role("button", name="Confirm", exact=True).click()
            expect(page.locator("header .user-name")).to_have_text(USERNAME)

            # Turn two-factor authentication on, with the key the page shows.
            page.goto(f"{origin}/accounts/settings/")
            page.get_by_role("link", name="Set up two-factor authentication").click()
            page.get_by_role("button", name="Set up two-factor authentication").click()
            expect(page.locator("figure.two-factor__qr svg")).to_be_visible()
            app = Authenticator(page.locator("#two-factor-key").inner_text().strip())
            page.fill("input[name=code]", app.code())
            page.get_by_role("button", name="Turn on", exact=True).click()
            expect(page.locator("ol.backup-codes li")).to_have_count(10)

            # Sign out, from the member menu behind the name in the header.
            page.locator("header details.member-menu > summary").click()
            page.locator("header form.sign-out button[type=submit]").click()
            expect(page.locator("header .user-name")).to_have_count(0)

            # Sign in: the password, then the code step, then signed in.
            page.goto(f"{origin}/accounts/signin/")
            page.fill("input[name=login]", USERNAME)
            page.fill("input[name=password]", PASSWORD)
            page.locator("main form button[type=submit]").click()
            page.wait_for_url(f"{origin}/accounts/signin/two-factor/")
            expect(page.locator("header .user-name")).to_have_count(0)
            page.fill("input[name=code]", app.code())
            page.locator("main form button[type=submit]").click()
            expect(page.locator("header .user-name")).to_have_text(USERNAME)
        finally:
            browser.close()
