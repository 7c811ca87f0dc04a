"""The support pages without JavaScript: asking for help with a file, the conversation, staff working a
ticket (canned replies, assignee, state, priority), the report form and what it refuses, the staff's
queue; and what each page costs in queries."""

from __future__ import annotations

import re
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from PIL import Image

from apps.support import services
from apps.support.models import CannedReply, HelpTopic, Report, Ticket, TicketAttachment
from apps.support.tests.conftest import Content, Web


def png() -> SimpleUploadedFile:
    buffer = BytesIO()
    Image.new("RGB", (8, 8), (20, 130, 30)).save(buffer, "PNG")
    return SimpleUploadedFile("screen.png", buffer.getvalue(), content_type="image/png")


def topic(code: str = "account") -> int:
    return HelpTopic.objects.get(code=code).pk


def test_a_member_asks_for_help_with_a_screenshot(web: Web, reporter: int) -> None:
    browser = web(reporter)
    form = browser.get("/support/new/").content.decode()
    assert "My account" in form and "Reports" not in form  # the reports topic is not offered
    answer = browser.post(
        "/support/new/",
        {"topic": topic(), "subject": "Avatar broken", "body": "It shows *nothing*", "attachments": png()},
    )
    assert answer.status_code == 302
    ticket = Ticket.objects.get()
    assert answer["Location"] == f"/support/tickets/{ticket.pk}/"
    page = browser.get(answer["Location"]).content.decode()
    assert "Avatar broken" in page and "<em>nothing</em>" in page and "screen.png" in page
    file = TicketAttachment.objects.get()
    assert browser.get(f"/support/attachments/{file.pk}/screen.png")["Content-Type"] == "image/png"
    listing = browser.get("/support/").content.decode()
    assert f"#{ticket.pk} Avatar broken" in listing


def test_a_refused_ticket_keeps_the_form_and_its_reason(web: Web, reporter: int) -> None:
    answer = web(reporter).post("/support/new/", {"topic": topic("reports"), "subject": "x", "body": "y"})
    assert answer.status_code == 400
    assert "Select a valid choice" in answer.content.decode()
    assert not Ticket.objects.exists()


def test_staff_work_a_ticket_from_its_page(web: Web, reporter: int, support: int) -> None:
    HelpTopic.objects.update(assign_policy="manual")
    ticket_id = services.ticket_open(
        member_id=reporter, topic_id=topic(), subject="Email", body="Change it"
    ).id
    canned = CannedReply.objects.create(title="Greeting", body="Hello {member}, ticket {ticket} here.")
    staff = web(support)
    page = staff.get(f"/support/tickets/{ticket_id}/?canned={canned.pk}").content.decode()
    assert f"ticket #{ticket_id} here." in page
    assert staff.post(f"/support/tickets/{ticket_id}/assign/", {"assignee": "me"}).status_code == 302
    assert staff.post(f"/support/tickets/{ticket_id}/priority/", {"priority": "high"}).status_code == 302
    answer = staff.post(
        f"/support/tickets/{ticket_id}/reply/", {"body": "Done, check your mail", "state": "resolved"}
    )
    assert answer.status_code == 302
    ticket = Ticket.objects.get(pk=ticket_id)
    assert (ticket.assignee_id, ticket.priority, ticket.state) == (support, 3, "resolved")
    history = staff.get(f"/support/tickets/{ticket_id}/").content.decode()
    assert "Normal → High" in history and "Open → Resolved" in history

    # The member sees the answer, reopens by replying, then settles it themselves.
    member = web(reporter)
    assert "Done, check your mail" in member.get(f"/support/tickets/{ticket_id}/").content.decode()
    member.post(f"/support/tickets/{ticket_id}/reply/", {"body": "Not yet"})
    assert Ticket.objects.get(pk=ticket_id).state == "open"
    member.post(f"/support/tickets/{ticket_id}/state/", {"state": "resolved"})
    assert Ticket.objects.get(pk=ticket_id).state == "resolved"
    # A member's attempt at staff changes is refused with the reason, nothing changes.
    member.post(f"/support/tickets/{ticket_id}/priority/", {"priority": "urgent"}, follow=True)
    assert Ticket.objects.get(pk=ticket_id).priority == 3


def test_the_report_form_shows_what_is_reported_and_files_it(
    web: Web, content: Content, reporter: int
) -> None:
    browser = web(reporter)
    form = browser.get(f"/report/?kind=post&id={content.reply_id}")
    assert form.status_code == 200
    html = form.content.decode()
    assert "A post in “Cheap watches”" in html and "This is spam." in html
    answer = browser.post(
        "/report/", {"kind": "post", "id": content.reply_id, "reason": "spam", "comment": ""}
    )
    assert answer.status_code == 302
    report = Report.objects.get()
    assert answer["Location"] == f"/support/tickets/{report.ticket_id}/"
    page = browser.get(answer["Location"]).content.decode()
    assert "Staff will look at it" in page
    assert "Post" in browser.get("/support/").content.decode()

    again = browser.post("/report/", {"kind": "post", "id": content.reply_id, "reason": "abuse"})
    assert again.status_code == 409 and "reported this already" in again.content.decode()
    other = browser.post(
        "/report/", {"kind": "member", "id": content.reply_id, "reason": "other", "comment": ""}
    )
    assert other.status_code in (400, 404)


@pytest.mark.parametrize(
    "query", ["kind=post&id=999999999", "kind=post&id=abc", "kind=cat&id=1", "kind=post", ""]
)
def test_the_report_form_for_nothing_visible_is_not_found(web: Web, reporter: int, query: str) -> None:
    assert web(reporter).get(f"/report/?{query}").status_code == 404


def test_guests_are_sent_to_sign_in(web: Web, content: Content) -> None:
    for path in ("/support/", "/support/new/", f"/report/?kind=post&id={content.reply_id}"):
        answer = web(None).get(path)
        assert answer.status_code == 302 and "/accounts/" in answer["Location"]


def _queries(browser: object, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        answer = browser.get(path)  # type: ignore[attr-defined]
        assert answer.status_code == 200
    return len(captured)


def test_lists_and_a_ticket_page_cost_the_same_whatever_they_hold(
    web: Web, reporter: int, support: int, make_member: object
) -> None:
    staff, member = web(support), web(reporter)
    first = services.ticket_open(member_id=reporter, topic_id=topic(), subject="One", body="1").id
    pages = ("/support/", "/support/queue/", f"/support/tickets/{first}/", f"/support/tickets/{first}/live/")
    browsers = (member, staff, staff, staff)
    for browser, path in zip(browsers, pages, strict=True):
        browser.get(path)  # the first request of a session records it (once a minute): not the page's cost
    before = [_queries(browser, path) for browser, path in zip(browsers, pages, strict=True)]
    member_before = _queries(member, f"/support/tickets/{first}/")
    for number in range(6):
        services.ticket_open(member_id=reporter, topic_id=topic(), subject=f"More {number}", body="x")
        services.ticket_reply(author_id=support, ticket_id=first, body=f"Answer {number}")
        services.ticket_reply(author_id=support, ticket_id=first, body=f"Note {number}", internal=True)
        services.ticket_reply(author_id=reporter, ticket_id=first, body=f"Thanks {number}")
    after = [_queries(browser, path) for browser, path in zip(browsers, pages, strict=True)]
    assert after == before
    assert _queries(member, f"/support/tickets/{first}/") == member_before
    shown = staff.get(f"/support/tickets/{first}/").content.decode()
    assert len(re.findall(r'id="message-', shown)) == 19


def test_the_pages_speak_russian(web: Web, reporter: int, content: Content) -> None:
    browser = web(reporter)
    index = browser.get("/support/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Мои обращения" in index and "Обратиться в поддержку" in index
    form = browser.get(
        f"/report/?kind=post&id={content.reply_id}", HTTP_ACCEPT_LANGUAGE="ru"
    ).content.decode()
    assert "Оскорбления или травля" in form and "Отправить жалобу" in form
