"""Who sees a ticket, tried from the outside as each kind of visitor: its member, a reporter, another
member, a guest, support and an administrator; by page, live part, API, attachment URL and live topic.
A ticket that is not theirs answers exactly as one that does not exist."""

from __future__ import annotations

from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from apps.support import services
from apps.support.handlers import ticket_staff_topic_check, ticket_topic_check
from apps.support.models import HelpTopic
from apps.support.tests.conftest import Api, Content, Web


def png(name: str = "screen.png") -> SimpleUploadedFile:
    buffer = BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.fixture
def request_ticket(reporter: int, support: int) -> dict[str, int]:
    """A member's ticket with a public file and a staff note carrying a file."""
    topic = HelpTopic.objects.get(code="account").pk
    public_file = services.attachment_upload(uploader_id=reporter, file=png()).id
    ticket = services.ticket_open(
        member_id=reporter, topic_id=topic, subject="Locked out", body="Help", attachment_ids=[public_file]
    )
    note_file = services.attachment_upload(uploader_id=support, file=png("log.png")).id
    services.ticket_reply(
        author_id=support,
        ticket_id=ticket.id,
        body="Looks like fraud",
        internal=True,
        attachment_ids=[note_file],
    )
    return {"ticket": ticket.id, "public_file": public_file, "note_file": note_file}


def _file_url(attachment_id: int, name: str) -> str:
    return f"/support/attachments/{attachment_id}/{name}"


def test_a_member_sees_their_ticket_without_the_notes(
    web: Web, api_as: Api, reporter: int, request_ticket: dict[str, int]
) -> None:
    ticket_id = request_ticket["ticket"]
    page = web(reporter).get(f"/support/tickets/{ticket_id}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Locked out" in html and "Looks like fraud" not in html and "log.png" not in html
    assert "Looks like fraud" not in web(reporter).get(f"/support/tickets/{ticket_id}/live/").content.decode()
    detail = api_as(reporter).get(f"/api/v1/support/tickets/{ticket_id}").json()
    assert detail["access"] == "member"
    assert [message["body"] for message in detail["messages"]] == ["Help"]
    assert detail["history"] == [] and detail["reports"] == []
    assert web(reporter).get(_file_url(request_ticket["public_file"], "screen.png")).status_code == 200
    assert web(reporter).get(_file_url(request_ticket["note_file"], "log.png")).status_code == 404
    assert ticket_topic_check(reporter, str(ticket_id))
    assert not ticket_staff_topic_check(reporter, str(ticket_id))


@pytest.mark.parametrize("who", ["other", "guest"])
def test_anyone_else_is_told_there_is_no_such_ticket(
    web: Web, api_as: Api, other: int, request_ticket: dict[str, int], who: str
) -> None:
    visitor = other if who == "other" else None
    ticket_id = request_ticket["ticket"]
    missing = 10**9
    for path in (f"/support/tickets/{ticket_id}/", f"/support/tickets/{ticket_id}/live/"):
        answer = web(visitor).get(path)
        if visitor is None:
            assert answer.status_code == 302 and "/accounts/" in answer["Location"]
        else:
            assert answer.status_code == 404
            assert web(visitor).get(path.replace(str(ticket_id), str(missing))).status_code == 404
    api = api_as(visitor).get(f"/api/v1/support/tickets/{ticket_id}")
    assert api.status_code == (404 if visitor else 401)
    if visitor:
        assert api.json() == api_as(visitor).get(f"/api/v1/support/tickets/{missing}").json()
        refused = api_as(visitor).post(
            f"/api/v1/support/tickets/{ticket_id}/messages", {"body": "hi"}, format="json"
        )
        assert refused.status_code == 404
    for file_id, name in (
        (request_ticket["public_file"], "screen.png"),
        (request_ticket["note_file"], "log.png"),
    ):
        assert web(visitor).get(_file_url(file_id, name)).status_code == 404
    if visitor:
        assert not ticket_topic_check(visitor, str(ticket_id))
        assert not ticket_topic_check(visitor, str(missing))
        assert not ticket_topic_check(visitor, "abc")


@pytest.mark.parametrize("role", ["support", "admin"])
def test_staff_see_everything(
    web: Web, api_as: Api, support: int, admin: int, request_ticket: dict[str, int], role: str
) -> None:
    staff = support if role == "support" else admin
    ticket_id = request_ticket["ticket"]
    html = web(staff).get(f"/support/tickets/{ticket_id}/").content.decode()
    assert "Looks like fraud" in html and "Work the ticket" in html
    detail = api_as(staff).get(f"/api/v1/support/tickets/{ticket_id}").json()
    assert detail["access"] == "staff"
    assert [message["internal"] for message in detail["messages"]] == [False, True]
    assert detail["history"]
    assert web(staff).get(_file_url(request_ticket["note_file"], "log.png")).status_code == 200
    assert ticket_topic_check(staff, str(ticket_id)) and ticket_staff_topic_check(staff, str(ticket_id))
    assert web(staff).get("/support/queue/").status_code == 200


def test_the_queue_and_staff_endpoints_do_not_exist_for_members(web: Web, api_as: Api, reporter: int) -> None:
    assert web(reporter).get("/support/queue/").status_code == 404
    assert api_as(reporter).get("/api/v1/support/queue").status_code == 404
    assert api_as(reporter).get("/api/v1/support/canned-replies").status_code == 404
    assert "Ticket queue" not in web(reporter).get("/support/").content.decode()


def test_a_reporter_sees_their_report_and_how_it_ends_nothing_more(
    web: Web,
    api_as: Api,
    content: Content,
    reporter: int,
    other: int,
    author: int,
    support: int,
    django_user_model: object,
) -> None:
    mine = services.report_file(
        reporter_id=reporter,
        target_kind="post",
        target_id=content.first_post_id,
        reason="spam",
        comment="mine",
    )
    services.report_file(
        reporter_id=other,
        target_kind="post",
        target_id=content.first_post_id,
        reason="abuse",
        comment="theirs",
    )
    services.ticket_reply(
        author_id=support, ticket_id=mine.ticket_id, body="Author is a known spammer", internal=True
    )
    page = web(reporter).get(f"/support/tickets/{mine.ticket_id}/").content.decode()
    assert "mine" in page and "theirs" not in page and "known spammer" not in page
    detail = api_as(reporter).get(f"/api/v1/support/tickets/{mine.ticket_id}").json()
    assert detail["access"] == "reporter"
    assert [report["comment"] for report in detail["reports"]] == ["mine"]
    assert detail["messages"] == [] and detail["history"] == []
    assert detail["ticket"]["report_count"] == 0 and detail["ticket"]["reasons"] == []
    assert detail["reported_member"] is None
    # The reported member does not learn of it.
    assert web(author).get(f"/support/tickets/{mine.ticket_id}/").status_code == 404
    assert api_as(author).get(f"/api/v1/support/tickets/{mine.ticket_id}").status_code == 404
    assert not ticket_topic_check(author, str(mine.ticket_id))
    # A reporter follows the page live, but not the staff's side.
    assert ticket_topic_check(reporter, str(mine.ticket_id))
    assert not ticket_staff_topic_check(reporter, str(mine.ticket_id))
    # ... and cannot write on it.
    answer = api_as(reporter).post(
        f"/api/v1/support/tickets/{mine.ticket_id}/messages", {"body": "hi"}, format="json"
    )
    assert answer.status_code == 403
