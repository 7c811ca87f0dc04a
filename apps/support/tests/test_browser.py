"""Reports and tickets in a real browser against the real stack: a member reports a post from the
report form; support finds it in the queue and resolves it on the ticket page; the reporter's open
ticket page turns resolved without a reload. Both pages read at 1280 and 390 pixels without sideways
scrolling; screenshots of them are saved for review (the path is printed).

The stack is what production runs (gunicorn, uvicorn, a worker), on the test database, this test's own
queues and Redis keys. Data is made through the services, committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore

from apps.authorization.services import role_assign
from apps.support.models import Ticket
from apps.thread.services import forum_create, post_create, thread_create
from forum.testing import browser as web

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def stack(transactional_db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[web.Stack]:
    web.require_chromium(monkeypatch)
    with web.running_stack(tmp_path, queues=["notification"]) as stack:
        yield stack


def member(*, role: str = "user") -> tuple[int, str]:
    """A new member signed in through a database session: (user id, session key)."""
    user = get_user_model().objects.create_user(username=f"m{uuid.uuid4().hex[:10]}", password=None)
    if role != "user":
        role_assign(user_id=user.pk, role=role)
        user.refresh_from_db()
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = django_settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    assert session.session_key is not None
    return user.pk, session.session_key


def no_sideways_scroll(page: object) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))  # type: ignore[attr-defined]


@pytest.mark.django_db(transaction=True)
def test_a_member_reports_a_post_and_sees_it_resolved_without_a_reload(
    stack: web.Stack, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    _reporter, reporter_session = member()
    _staff, staff_session = member(role="support")
    # Staff skip premoderation: the reported post is public at once (the seeded Reader status may be
    # gone, as transactional tests empty every table).
    author, _author_session = member(role="support")
    category = forum_create(name="Community", kind="category").id
    general = forum_create(name="General", parent_id=category).id
    thread = thread_create(author_id=author, forum_id=general, title="Watches", body="Hello")
    post = post_create(author_id=author, thread_id=thread.id, body="Cheap watches at example.com")
    shots = tmp_path / "screenshots"
    shots.mkdir()

    with web.chromium() as browser:
        page = web.new_page(browser, origin=stack.origin, session_key=reporter_session)
        page.goto(f"{stack.origin}/report/?kind=post&id={post.id}")
        expect(page.locator(".report-preview")).to_contain_text("Cheap watches at example.com")
        page.get_by_label("Spam").check()
        page.get_by_role("button", name="Send the report").click()
        expect(page.locator(".alert--success")).to_contain_text("Thank you")
        expect(page.locator("body")).to_have_attribute("data-realtime", "connected")
        expect(page.locator("[data-report-outcome]")).to_contain_text("Staff will look at it")
        ticket_id = Ticket.objects.get().pk
        web.mark(page)

        desk = web.new_page(browser, origin=stack.origin, session_key=staff_session)
        desk.goto(f"{stack.origin}/support/queue/?kind=report")
        desk.get_by_role("link", name=f"#{ticket_id}").click()
        expect(desk.locator(".report-list")).to_contain_text("Spam")
        desk.get_by_label("Action taken").check()
        desk.get_by_role("button", name="Resolve", exact=True).click()
        expect(desk.locator(".alert--success")).to_contain_text("The report is resolved")

        expect(page.locator("[data-report-outcome]")).to_contain_text("took action")
        expect(page.locator(".ticket-meta")).to_contain_text("Resolved")
        assert web.stayed(page), "the reporter's page was reloaded"
        assert Ticket.objects.get().state == "resolved"

        for name, tab in (("reporter", page), ("support", desk)):
            for width, height in ((1280, 900), (390, 844)):
                tab.set_viewport_size({"width": width, "height": height})
                tab.reload()
                assert no_sideways_scroll(tab), f"{name}'s ticket page scrolls sideways at {width}px"
                tab.screenshot(path=str(shots / f"ticket-{name}-{width}.png"), full_page=True)
    print(f"support screenshots: {shots}")
