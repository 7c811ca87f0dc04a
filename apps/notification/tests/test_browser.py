"""The bell and the watch button in a real browser against the real stack: a member watches a thread
with the button (htmx, no reload), another member replies, the bell's count goes up live, the
dropdown opens in place with the notification, and "Mark all read" clears it.

The stack is what production runs (forum/testing/browser.py): the pages on gunicorn (WSGI), the
WebSocket gateway on uvicorn (ASGI), and a Celery worker running this app's handlers, all on the
test database, this test's own queues and its own Redis keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.thread import services as threads
from forum.testing import browser as web

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "Amber-Lighthouse-Meadow-52"


@pytest.fixture
def origin(transactional_db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The pages' origin, with a worker on the notification queue."""
    web.require_chromium(monkeypatch)
    with web.running_stack(tmp_path, queues=["notification"], EMAIL_URL="dummymail://") as stack:
        yield stack.origin


@pytest.mark.django_db(transaction=True)
def test_watch_then_a_reply_rings_the_bell_live_and_the_dropdown_shows_it(
    origin: str, django_user_model: Any
) -> None:
    from playwright.sync_api import expect

    sam = django_user_model.objects.create_user(username="sam", password=PASSWORD, is_staff=True).pk
    django_user_model.objects.create_user(username="ada", password=PASSWORD)
    bruno = django_user_model.objects.create_user(username="bruno", password=PASSWORD).pk
    general = threads.forum_create(name="General", kind="forum").id
    thread = threads.thread_create(author_id=sam, forum_id=general, title="Harbour news", body="Welcome!")

    with web.chromium() as browser:
        page = web.new_page(browser)
        web.sign_in(page, origin, "ada", PASSWORD, f"/threads/{thread.id}/")
        count = page.locator("[data-notification-count]")
        expect(count).to_be_hidden()

        # Watch, with htmx: the button turns into "Unwatch" in place.
        web.mark(page)
        page.locator("form.watch-button button").click()
        expect(page.locator("form.watch-button button")).to_have_text("Unwatch")
        assert web.stayed(page)
        expect(page.locator("body[data-realtime=connected]")).to_have_count(1)

        # Bruno replies: the worker notifies Ada, and her bell counts it without a reload.
        web.backstage(lambda: threads.post_create(author_id=bruno, thread_id=thread.id, body="Ahoy"))
        expect(count).to_have_text("1")
        expect(count).to_be_visible()
        assert web.stayed(page)

        # The bell opens the dropdown in place, fetched as a fragment.
        page.locator(".notification-bell__link").click()
        dropdown = page.locator("#notification-dropdown")
        expect(dropdown).to_be_visible()
        expect(dropdown).to_contain_text("bruno replied in “Harbour news”")
        assert web.stayed(page)

        # Marking all read comes back to the same page with the bell at zero.
        dropdown.get_by_role("button", name="Mark all read").click()
        page.wait_for_url(f"{origin}/threads/{thread.id}/")
        expect(page.locator("[data-notification-count]")).to_be_hidden()
