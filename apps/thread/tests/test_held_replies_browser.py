"""A reply held for premoderation in a real browser: its author finds it under the thread's last page,
marked as awaiting approval, and another member does not; at 1280 and 390 px wide, with no axe-core
violation and no sideways scrolling. Screenshots go to .artifacts/ for a person to look at."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from apps.authorization.services import AccessRestriction, access_restrictions_set
from apps.thread import services
from apps.thread.tests.conftest import Tree
from forum.testing import browser as web
from forum.testing import pages
from forum.testing.fixtures import local_upload_storages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path) -> Iterator[Any]:
    local_upload_storages(settings, tmp_path)
    web.require_chromium(monkeypatch)
    with web.chromium() as chromium:
        yield chromium


def _signed_in(browser: Any, origin: str, user: Any) -> Any:
    session = Client()
    session.force_login(user)
    page = web.new_page(browser)
    cookie = session.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": origin}])
    return page


def test_the_author_sees_the_held_reply_marked_and_others_do_not(
    live_server: Any, browser: Any, django_user_model: Any, tree: Tree, staff: int
) -> None:
    from playwright.sync_api import expect

    author = django_user_model.objects.create_user(username="ada")
    reader = django_user_model.objects.create_user(username="bruno")
    thread = services.thread_create(
        author_id=staff, forum_id=tree.general, title="Harbour news", body="The tide is high today."
    ).id
    services.post_create(author_id=reader.pk, thread_id=thread, body="Mind the pier.")
    access_restrictions_set(
        user_id=author.pk,
        restrictions=[AccessRestriction(code="premoderate", denied=("post.skip_premoderation",))],
    )
    held = services.post_create(author_id=author.pk, thread_id=thread, body="Boats for sale, cheap!")
    assert held.held
    origin = live_server.url

    page = _signed_in(browser, origin, author)
    for name, size in (("desktop", pages.DESKTOP), ("phone", pages.PHONE)):
        page.set_viewport_size(size)
        page.goto(f"{origin}/threads/{thread}/")
        post = page.locator(f"#post-{held.id}")
        expect(post).to_be_visible()
        expect(post.locator(".badge--warning")).to_have_text("Awaiting approval")
        expect(page.locator("#held-title")).to_have_text("Replies awaiting approval")
        assert pages.axe_violations(page) == []
        assert pages.overflow(page) is None
        pages.screenshot(page, f"thread-held-reply-{name}")

    # Staff find it in the moderation queue, with its thread, forum and author, to tick and approve.
    desk = _signed_in(browser, origin, django_user_model.objects.get(pk=staff))
    for name, size in (("desktop", pages.DESKTOP), ("phone", pages.PHONE)):
        desk.set_viewport_size(size)
        desk.goto(f"{origin}/moderation/")
        item = desk.locator("[data-queue-posts] li")
        expect(item).to_have_count(1)
        expect(item).to_contain_text("Boats for sale, cheap!")
        expect(item).to_contain_text("Harbour news")
        assert pages.axe_violations(desk) == []
        assert pages.overflow(desk) is None
        pages.screenshot(desk, f"moderation-queue-held-reply-{name}")

    other = _signed_in(browser, origin, reader)
    other.goto(f"{origin}/threads/{thread}/")
    expect(other.locator("ol.posts li.post")).to_have_count(2)
    expect(other.locator(f"#post-{held.id}")).to_have_count(0)
    expect(other.get_by_text("Boats for sale")).to_have_count(0)
