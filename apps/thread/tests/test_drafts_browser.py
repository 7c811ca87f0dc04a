"""static/thread/drafts.js and the bookmark button in a real browser: what a member types is kept on
the server while they type and when they leave the page, comes back on reload, is thrown away by
"Discard draft" and by sending the reply; the bookmark button changes in place with htmx.

Django's live server (a thread of this process, on the test database) serves the pages and their
static files; Debian's Chromium is driven through Playwright.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from apps.thread import services
from apps.thread.models import Bookmark, Draft
from apps.thread.tests.conftest import Tree
from forum.testing import browser as web

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _draft_body(user_id: int, thread_id: int) -> str | None:
    return Draft.objects.filter(user_id=user_id, thread_id=thread_id).values_list("body", flat=True).first()


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    web.require_chromium(monkeypatch)
    with web.chromium() as browser:
        yield web.new_page(browser)


def test_a_reply_draft_is_kept_while_typing_and_on_leaving_and_goes_when_sent(
    live_server: Any, browser_page: Any, django_user_model: Any, tree: Tree, staff: int, member: int
) -> None:
    from playwright.sync_api import expect

    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="Harbour news", body="Hi")
    origin = live_server.url
    thread_url = f"{origin}/threads/{thread.id}/"
    session = Client()
    session.force_login(django_user_model.objects.get(pk=member))
    page = browser_page
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": session.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": origin,
            }
        ]
    )

    page.goto(thread_url)
    form = page.locator("form[data-draft-url]")
    body = form.locator("textarea[name=body]")
    status = form.locator("[data-draft-status]")
    discard = form.locator("[data-draft-discard]")
    expect(discard).to_be_hidden()

    # Typing: saved once the member pauses, and said so.
    body.press_sequentially("Half a thought")
    expect(status).to_have_text("Draft saved")
    assert _draft_body(member, thread.id) == "Half a thought"
    expect(discard).to_be_visible()

    # Back after a reload, from the page itself.
    page.reload()
    expect(body).to_have_value("Half a thought")

    # Typed and left at once, before the pause: the page's leaving sends it.
    body.click()
    page.keyboard.press("Control+End")
    body.press_sequentially(", and more")
    page.goto(f"{origin}/")
    web.wait_for(
        lambda: _draft_body(member, thread.id) == "Half a thought, and more", what="the save on leaving"
    )

    # "Discard draft" throws it away and empties the form, without leaving the page.
    page.goto(thread_url)
    web.mark(page)
    expect(body).to_have_value("Half a thought, and more")
    discard.click()
    expect(status).to_have_text("Draft discarded")
    expect(body).to_have_value("")
    web.wait_for(lambda: _draft_body(member, thread.id) is None, what="the draft to be deleted")
    assert web.stayed(page)

    # Sent: the reply deletes the draft, and nothing the page does on leaving brings it back.
    body.press_sequentially("The whole thought")
    expect(status).to_have_text("Draft saved")
    body.press_sequentially("!")
    form.get_by_role("button", name="Reply", exact=True).click()
    expect(page.locator("li.post", has_text="The whole thought!")).to_have_count(1)
    page.goto(f"{origin}/")
    page.goto(thread_url)
    expect(form.locator("textarea[name=body]")).to_have_value("")
    assert _draft_body(member, thread.id) is None

    # The bookmark button changes in place (htmx), and the bookmark is there.
    web.mark(page)
    opening = page.locator(f"#post-{thread.first_post_id}")
    opening.get_by_role("button", name="Bookmark", exact=True).click()
    expect(opening.get_by_role("button", name="Remove bookmark")).to_have_count(1)
    assert web.stayed(page)
    assert Bookmark.objects.filter(user_id=member, post_id=thread.first_post_id).exists()
