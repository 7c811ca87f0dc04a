"""Issue 14's walk in a real browser against the real stack: a member reports a post from its Report
button; support sees it in the moderation queue (and the count in the header), opens the ticket,
hides the post and warns its author from the ticket page; the reporter's open ticket page turns
"resolved" without a reload; the author reads the warning on their warnings page; and a third warning
escalates to premoderation on its own: the author's next thread waits for a moderator. The staff
ticket page passes axe (WCAG 2.1 A and AA) and reads at 390 px without sideways scrolling.

The stack is what production runs (gunicorn, uvicorn, a worker on the notification and moderation
queues), on the test database and this test's own queues and Redis keys; data is made through the
services and committed. Transactional tests empty every table, seeded rows included: the warning type,
the escalation rule and a status that skips premoderation are made here (or set, when still seeded).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore

from apps.admin.models import EscalationRule, MemberWarning, Sanction, WarningType
from apps.admin.services import warning_issue
from apps.authorization.services import role_assign
from apps.status.services import status_define, status_grant
from apps.support.services import report_tickets_open, ticket_get
from apps.thread.services import forum_create, post_create, thread_approve, thread_create
from forum.testing import browser as web
from forum.testing import pages

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def stack(transactional_db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[web.Stack]:
    web.require_chromium(monkeypatch)
    with web.running_stack(tmp_path, queues=["notification", "forum_admin"]) as stack:
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


@pytest.mark.django_db(transaction=True)
def test_support_hides_a_reported_post_and_warns_its_author_from_the_ticket(stack: web.Stack) -> None:
    from playwright.sync_api import expect

    _reporter, reporter_session = member()
    staff, staff_session = member(role="support")
    author, author_session = member()
    # The author publishes without premoderation, until the escalation takes it away.
    status_define(code="trusted", name="Trusted", permissions={"thread.skip_premoderation": True})
    status_grant(user_id=author, status_code="trusted", source="staff")
    off_topic, _created = WarningType.objects.update_or_create(
        name="Off-topic", defaults={"points": 1, "expires_after_days": 30, "message": "Stay on topic."}
    )
    EscalationRule.objects.update_or_create(points=3, defaults={"sanction": Sanction.PREMODERATE, "days": 7})
    category = forum_create(name="Community", kind="category").id
    general = forum_create(name="General", parent_id=category).id
    thread = thread_create(author_id=author, forum_id=general, title="Watches", body="Hello")
    assert thread.state == "approved"
    post = post_create(author_id=author, thread_id=thread.id, body="Cheap watches at example.com")

    with web.chromium() as browser:
        page = web.new_page(browser, origin=stack.origin, session_key=reporter_session)
        page.goto(f"{stack.origin}/threads/{thread.id}/")
        page.locator(f"#post-{post.id} .post-action--report").click()
        expect(page.locator(".report-preview")).to_contain_text("Cheap watches at example.com")
        page.get_by_label("Spam").check()
        page.get_by_role("button", name="Send the report").click()
        expect(page.locator(".alert--success")).to_contain_text("Thank you")
        expect(page.locator("body")).to_have_attribute("data-realtime", "connected")
        expect(page.locator("[data-report-outcome]")).to_contain_text("Staff will look at it")
        [ticket] = report_tickets_open()
        web.mark(page)

        desk = web.new_page(browser, origin=stack.origin, session_key=staff_session)
        desk.goto(f"{stack.origin}/moderation/")
        expect(desk.locator(".site-nav [data-moderation-count]")).to_have_text("1")
        desk.locator("[data-queue-reports]").get_by_role("link", name=f"#{ticket.id}").click()
        expect(desk.locator(".report-list")).to_contain_text("Spam")
        desk.get_by_role("button", name="Hide the post").click()
        expect(desk.locator(".alert--success")).to_contain_text("The post is hidden")
        expect(desk.get_by_role("button", name="Restore the post")).to_be_visible()

        # axe on the staff ticket page, at both widths.
        for size in (pages.DESKTOP, pages.PHONE):
            desk.set_viewport_size(size)
            assert pages.axe_violations(desk) == [], f"axe on the staff ticket page at {size['width']}px"
            assert pages.overflow(desk) is None, f"the ticket page scrolls sideways at {size['width']}px"
            pages.screenshot(desk, f"moderation-ticket-staff-{size['width']}")
        desk.set_viewport_size(pages.DESKTOP)

        desk.get_by_label("Warning", exact=True).select_option(str(off_topic.pk))
        desk.get_by_label("Reason (the member reads it)").first.fill("Advertising in a discussion.")
        desk.locator("#act-warn-resolve").check()
        desk.get_by_role("button", name="Warn", exact=True).click()
        expect(desk.locator(".alert--success").first).to_contain_text("The member is warned")

        # The reporter's page turns resolved, live.
        expect(page.locator("[data-report-outcome]")).to_contain_text("took action")
        expect(page.locator(".ticket-meta")).to_contain_text("Resolved")
        assert web.stayed(page), "the reporter's page was reloaded"
        assert ticket_get(viewer_id=staff, ticket_id=ticket.id).outcome == "action_taken"
        # The header's count follows, live too.
        expect(desk.locator(".site-nav [data-moderation-count]")).to_have_text("0")

        mine = web.new_page(browser, origin=stack.origin, session_key=author_session)
        mine.goto(f"{stack.origin}/warnings/")
        expect(mine.locator("main")).to_contain_text("Off-topic")
        expect(mine.locator("main")).to_contain_text("Advertising in a discussion.")

    # Two more warnings make three points: the rule premoderates the author's new threads on its own.
    for reason in ("Again off topic.", "And again."):
        warning_issue(actor_id=staff, member_id=author, warning_type_id=off_topic.pk, reason=reason)
    assert MemberWarning.objects.filter(member_id=author).count() == 3
    held = thread_create(author_id=author, forum_id=general, title="My next thread", body="Hello again")
    assert held.state == "pending"
    thread_approve(moderator_id=staff, thread_id=held.id)
