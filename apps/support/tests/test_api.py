"""The support API as an SPA uses it: topics, opening a ticket with a file, replying, the staff's queue
and changes, reports and their outcome, the logged evidence, canned replies; documented in the
OpenAPI schema; and a fixed number of queries for the lists and a ticket, whatever they hold."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import yaml
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from PIL import Image
from rest_framework.test import APIClient

from apps.dialog.services import dialog_start, message_create
from apps.support import services
from apps.support.models import CannedReply, EvidenceView, HelpTopic, Ticket
from apps.support.tests.conftest import Api, Content


def png() -> BytesIO:
    buffer = BytesIO()
    Image.new("RGB", (8, 8), (20, 30, 230)).save(buffer, "PNG")
    buffer.seek(0)
    buffer.name = "shot.png"
    return buffer


def test_a_member_opens_follows_and_answers_a_ticket(api_as: Api, reporter: int, support: int) -> None:
    member, staff = api_as(reporter), api_as(support)
    topics = member.get("/api/v1/support/topics").json()
    assert [topic["code"] for topic in topics] == ["account", "forum-help", "billing", "other"]
    upload = member.post("/api/v1/support/attachments", {"file": png()}, format="multipart")
    assert upload.status_code == 201
    created = member.post(
        "/api/v1/support/tickets",
        {
            "topic_id": topics[0]["id"],
            "subject": "Locked",
            "body": "Help",
            "attachment_ids": [upload.json()["id"]],
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    ticket_id = created.json()["id"]
    listed = member.get("/api/v1/support/tickets").json()
    assert listed["total"] == 1 and listed["tickets"][0]["subject"] == "Locked"
    assert listed["tickets"][0]["url"] == f"/support/tickets/{ticket_id}/"

    reply = staff.post(
        f"/api/v1/support/tickets/{ticket_id}/messages",
        {"body": "Reset sent", "state": "resolved"},
        format="json",
    )
    assert reply.status_code == 201
    staff.post(
        f"/api/v1/support/tickets/{ticket_id}/messages", {"body": "fraud?", "internal": True}, format="json"
    )
    detail = member.get(f"/api/v1/support/tickets/{ticket_id}").json()
    assert detail["ticket"]["state"] == "resolved"
    assert [message["body"] for message in detail["messages"]] == ["Help", "Reset sent"]
    assert detail["messages"][0]["attachments"][0]["original_name"] == "shot.png"
    assert detail["messages"][1]["by_staff"] is True

    # The member's reply within the window reopens it; they may not write notes or change priority.
    assert (
        member.post(
            f"/api/v1/support/tickets/{ticket_id}/messages", {"body": "Still locked"}, format="json"
        ).status_code
        == 201
    )
    assert member.get(f"/api/v1/support/tickets/{ticket_id}").json()["ticket"]["state"] == "open"
    note = member.post(
        f"/api/v1/support/tickets/{ticket_id}/messages", {"body": "x", "internal": True}, format="json"
    )
    assert note.status_code == 403 and note.json()["error"]["code"] == "not_support_staff"
    assert (
        member.patch(
            f"/api/v1/support/tickets/{ticket_id}", {"priority": "urgent"}, format="json"
        ).status_code
        == 403
    )
    assert (
        member.patch(f"/api/v1/support/tickets/{ticket_id}", {"state": "resolved"}, format="json").status_code
        == 200
    )


def test_staff_change_a_ticket_all_at_once_or_not_at_all(
    api_as: Api, reporter: int, support: int, other: int
) -> None:
    HelpTopic.objects.update(assign_policy="manual")
    ticket_id = services.ticket_open(
        member_id=reporter, topic_id=HelpTopic.objects.get(code="account").pk, subject="S", body="B"
    ).id
    staff = api_as(support)
    changed = staff.patch(
        f"/api/v1/support/tickets/{ticket_id}",
        {"assignee_id": support, "priority": "high", "state": "in_progress"},
        format="json",
    )
    assert changed.status_code == 200
    ticket = changed.json()["ticket"]
    assert (ticket["assignee"]["id"], ticket["priority"], ticket["state"]) == (support, "high", "in_progress")
    # A member who does not work tickets cannot be the assignee: nothing of the call happens.
    refused = staff.patch(
        f"/api/v1/support/tickets/{ticket_id}", {"priority": "low", "assignee_id": other}, format="json"
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "not_support_staff"
    assert Ticket.objects.get(pk=ticket_id).priority == 3
    queue = staff.get("/api/v1/support/queue?assignee=me").json()
    assert [row["id"] for row in queue["tickets"]] == [ticket_id]
    assert staff.get("/api/v1/support/queue?state=nonsense").status_code == 400
    assert staff.get("/api/v1/support/queue?page=abc").status_code == 400


def test_reports_through_the_api(
    api_as: Api, content: Content, reporter: int, other: int, support: int
) -> None:
    filed = api_as(reporter).post(
        "/api/v1/support/reports",
        {"target_kind": "post", "target_id": content.first_post_id, "reason": "spam"},
        format="json",
    )
    assert filed.status_code == 201 and filed.json()["merged"] is False
    again = api_as(other).post(
        "/api/v1/support/reports",
        {"target_kind": "post", "target_id": content.first_post_id, "reason": "abuse"},
        format="json",
    )
    assert again.json()["merged"] is True
    duplicate = api_as(reporter).post(
        "/api/v1/support/reports",
        {"target_kind": "post", "target_id": content.first_post_id, "reason": "abuse"},
        format="json",
    )
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "already_reported"
    missing = api_as(reporter).post(
        "/api/v1/support/reports",
        {"target_kind": "post", "target_id": 10**12, "reason": "spam"},
        format="json",
    )
    assert missing.status_code == 404
    ticket_id = filed.json()["ticket_id"]
    queue = api_as(support).get("/api/v1/support/queue?kind=report").json()
    assert queue["tickets"][0]["report_count"] == 2 and queue["tickets"][0]["reasons"] == ["spam", "abuse"]
    resolved = api_as(support).post(
        f"/api/v1/support/tickets/{ticket_id}/resolve", {"outcome": "action_taken"}, format="json"
    )
    assert resolved.status_code == 200 and resolved.json()["state"] == "resolved"
    mine = api_as(reporter).get("/api/v1/support/reports").json()
    assert mine["total"] == 1
    assert (mine["reports"][0]["state"], mine["reports"][0]["outcome"]) == ("resolved", "action_taken")


def test_evidence_is_for_staff_and_every_look_is_logged(
    api_as: Api, web: Any, reporter: int, author: int, support: int
) -> None:
    dialog = dialog_start(starter_id=author, recipient_id=reporter)
    message = message_create(author_id=author, dialog_id=dialog.id, body="threat").id
    ticket_id = (
        api_as(reporter)
        .post(
            "/api/v1/support/reports",
            {"target_kind": "message", "target_id": message, "reason": "abuse"},
            format="json",
        )
        .json()["ticket_id"]
    )
    assert api_as(reporter).get(f"/api/v1/support/tickets/{ticket_id}/evidence").status_code == 404
    assert api_as(author).get(f"/api/v1/support/tickets/{ticket_id}/evidence").status_code == 404
    evidence = api_as(support).get(f"/api/v1/support/tickets/{ticket_id}/evidence").json()
    assert [item["reported"] for item in evidence] == [True] and "threat" in evidence[0]["body_html"]
    page = web(support).get(f"/support/tickets/{ticket_id}/evidence/")
    assert page.status_code == 200 and "threat" in page.content.decode()
    assert web(reporter).get(f"/support/tickets/{ticket_id}/evidence/").status_code == 404
    assert list(EvidenceView.objects.order_by("id").values_list("staff_id", "surface")) == [
        (support, "api"),
        (support, "page"),
    ]
    # The ticket page itself does not show the messages: it links to the logged page.
    assert "threat" not in web(support).get(f"/support/tickets/{ticket_id}/").content.decode()


def test_canned_replies_come_filled_in_for_a_ticket(api_as: Api, reporter: int, support: int) -> None:
    CannedReply.objects.create(title="Hi", body="Hello {member} ({ticket})")
    CannedReply.objects.create(title="Old", body="x", is_active=False)
    ticket_id = services.ticket_open(
        member_id=reporter, topic_id=HelpTopic.objects.get(code="account").pk, subject="S", body="B"
    ).id
    listed = api_as(support).get(f"/api/v1/support/canned-replies?ticket={ticket_id}").json()
    assert [item["title"] for item in listed] == ["Hi"]
    assert listed[0]["body"].endswith(f"(#{ticket_id})") and "{member}" not in listed[0]["body"]


def test_an_upload_is_taken_back_only_by_its_owner(api_as: Api, reporter: int, other: int) -> None:
    upload = api_as(reporter).post("/api/v1/support/attachments", {"file": png()}, format="multipart").json()
    assert api_as(other).delete(f"/api/v1/support/attachments/{upload['id']}").status_code == 404
    assert api_as(reporter).delete(f"/api/v1/support/attachments/{upload['id']}").status_code == 204
    assert api_as(reporter).delete(f"/api/v1/support/attachments/{upload['id']}").status_code == 404


def test_every_support_operation_is_in_the_schema() -> None:
    schema = yaml.safe_load(Client().get("/api/schema/").content)
    paths = schema["paths"]
    for path, methods in {
        "/api/v1/support/topics": {"get"},
        "/api/v1/support/tickets": {"get", "post"},
        "/api/v1/support/queue": {"get"},
        "/api/v1/support/tickets/{ticket_id}": {"get", "patch"},
        "/api/v1/support/tickets/{ticket_id}/messages": {"post"},
        "/api/v1/support/tickets/{ticket_id}/resolve": {"post"},
        "/api/v1/support/tickets/{ticket_id}/evidence": {"get"},
        "/api/v1/support/canned-replies": {"get"},
        "/api/v1/support/reports": {"get", "post"},
        "/api/v1/support/attachments": {"post"},
        "/api/v1/support/attachments/{attachment_id}": {"delete"},
    }.items():
        assert methods <= set(paths[path]), path
        for method in methods:
            assert paths[path][method]["tags"] == ["support"]
            assert "404" in paths[path][method]["responses"] or "{" not in path


def _count(client: APIClient, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_the_lists_and_a_ticket_cost_a_fixed_number_of_queries(
    api_as: Api, content: Content, reporter: int, other: int, support: int, make_member: Any
) -> None:
    topic = HelpTopic.objects.get(code="account").pk
    first = services.ticket_open(member_id=reporter, topic_id=topic, subject="First", body="1").id
    report = services.report_file(
        reporter_id=reporter, target_kind="post", target_id=content.reply_id, reason="spam"
    )
    member, staff = api_as(reporter), api_as(support)
    paths = [
        (member, "/api/v1/support/tickets"),
        (member, "/api/v1/support/reports"),
        (member, f"/api/v1/support/tickets/{first}"),
        (member, f"/api/v1/support/tickets/{report.ticket_id}"),
        (staff, "/api/v1/support/queue"),
        (staff, f"/api/v1/support/tickets/{first}"),
        (staff, f"/api/v1/support/tickets/{report.ticket_id}"),
    ]
    before = [_count(client, path) for client, path in paths]
    for number in range(5):
        services.ticket_open(member_id=reporter, topic_id=topic, subject=f"More {number}", body="x")
        services.ticket_reply(author_id=support, ticket_id=first, body=f"Answer {number}")
        services.ticket_assign(actor_id=support, ticket_id=first, assignee_id=support if number % 2 else None)
        services.report_file(
            reporter_id=make_member(), target_kind="post", target_id=content.reply_id, reason="abuse"
        )
        services.report_file(
            reporter_id=reporter, target_kind="member", target_id=make_member(), reason="spam"
        )
    after = [_count(client, path) for client, path in paths]
    assert after == before
