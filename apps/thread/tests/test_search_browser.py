"""Search in a real browser: the header's box leads to the results page, which passes axe-core at
1280 and 390 px without overflowing; the composer offers members for an @mention, picked with the
keyboard (static/search/member-lookup.js). Screenshots go to .artifacts/ for a person to look at."""

from __future__ import annotations

import re
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from apps.thread import services
from apps.thread.tests.conftest import Tree
from forum.testing import browser as web
from forum.testing.pages import axe_violations, overflow, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    web.require_chromium(monkeypatch)
    with web.chromium() as browser:
        yield web.new_page(browser)


def test_search_from_the_header_and_mentions_in_the_composer(
    live_server: Any, browser_page: Any, django_user_model: Any, tree: Tree, staff: int, member: int
) -> None:
    from playwright.sync_api import expect

    django_user_model.objects.create_user(username="alice_liddell", first_name="Alice")
    thread = services.thread_create(
        author_id=staff, forum_id=tree.general, title="Lighthouse keepers", body="Keepers <b>wrote</b> logs"
    )
    services.post_create(author_id=staff, thread_id=thread.id, body="A lighthouse with a foghorn")
    call_command("search_reindex", stdout=StringIO(), stderr=StringIO())
    origin = live_server.url
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
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{origin}/")
    box = page.get_by_role("searchbox", name="Search the forum")
    box.fill("lighthouses")
    box.press("Enter")
    expect(page).to_have_url(f"{origin}/search/?q=lighthouses")
    results = page.locator(".search-results")
    expect(results.locator(".search-hit__snippet mark").first).to_have_text("lighthouse")
    page.get_by_role("link", name="Threads", exact=True).click()
    expect(results.locator(".search-hit__title")).to_have_text("Lighthouse keepers")
    # The tab open says its count; the others are plain links.
    expect(page.get_by_role("link", name="1 thread")).to_have_attribute("aria-current", "page")
    assert axe_violations(page) == []
    screenshot(page, "search-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    assert overflow(page) is None
    assert axe_violations(page) == []
    screenshot(page, "search-390")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{origin}/threads/{thread.id}/")
    body = page.locator("form[data-draft-url] textarea[name=body]")
    body.press_sequentially("Thanks @ali")
    listbox = page.get_by_role("listbox", name="Members")
    expect(listbox.get_by_role("option").first).to_contain_text("alice_liddell")
    # A textarea keeps its textbox role: no aria-expanded (axe: aria-allowed-attr), the active option
    # is announced through aria-activedescendant.
    assert body.get_attribute("aria-expanded") is None
    body.press("ArrowDown")
    expect(listbox.get_by_role("option").first).to_have_attribute("aria-selected", "true")
    expect(body).to_have_attribute("aria-activedescendant", re.compile(r"^member-lookup-\d+-0$"))
    body.press("Enter")
    expect(body).to_have_value("Thanks @alice_liddell ")
    expect(listbox).to_be_hidden()
    assert body.get_attribute("aria-activedescendant") is None
