"""Warnings from the outside: staff warn (API, admin), the member sees points and expiry (page, API),
others see nothing, points fall as warnings expire, a crossed threshold escalates on its own through
the permission engine, staff revoke, the member appeals through a support ticket."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.admin.models import Action, ActionLogEntry, WarningType
from apps.admin.services import restrictions_end_due, warning_issue, warnings_expire_due
from apps.admin.tests.conftest import Api, Handler, Web
from apps.authorization.services import has_perm, permission_scope
from apps.notification.services import notifications_latest
from apps.status.services import status_grant
from apps.support.services import tickets_linked
from forum.testing.fixtures import Clock


def _type(name: str) -> int:
    return int(WarningType.objects.get(name=name).pk)


def test_staff_warn_and_the_member_sees_points_and_expiry(
    api_as: Api, web: Web, support: int, member: int, handle: Handler
) -> None:
    answer = api_as(support).post(
        f"/api/v1/members/{member}/warnings",
        {"warning_type_id": _type("Off-topic"), "reason": "stay on topic"},
    )
    assert answer.status_code == 201, answer.content
    mine = api_as(member).get("/api/v1/me/warnings").json()
    assert mine["active_points"] == 1
    (warning,) = mine["warnings"]
    assert (warning["type_name"], warning["reason"], warning["active"]) == (
        "Off-topic",
        "stay on topic",
        True,
    )
    assert warning["expires_at"] is not None
    page = web(member).get("/warnings/")
    assert b"1 active warning point" in page.content
    assert b"stay on topic" in page.content
    handle()
    (notice,) = [item for item in notifications_latest(user_id=member) if item.kind == "moderation.warned"]
    assert "Off-topic" in notice.text
    assert notice.url == "/warnings/"
    (entry,) = ActionLogEntry.objects.filter(action=Action.WARN)
    assert (entry.actor_id, entry.target_id, entry.reason) == (support, member, "stay on topic")


def test_nobody_else_sees_or_gives_warnings(
    api_as: Api, web: Web, support: int, member: int, other: int
) -> None:
    warning_issue(actor_id=support, member_id=member, warning_type_id=_type("Off-topic"))
    assert api_as(other).get(f"/api/v1/members/{member}/warnings").status_code == 404
    assert api_as(support).get(f"/api/v1/members/{member}/warnings").json()["active_points"] == 1
    assert api_as(other).get("/api/v1/me/warnings").json()["warnings"] == []
    refused = api_as(other).post(
        f"/api/v1/members/{member}/warnings", {"warning_type_id": _type("Off-topic")}
    )
    assert refused.status_code == 403
    assert api_as(None).get("/api/v1/me/warnings").status_code in (401, 403)
    assert web(None).get("/warnings/").status_code == 302
    assert (
        api_as(support).post(f"/api/v1/members/{support}/warnings", {"warning_type_id": 1}).status_code == 400
    )


def test_a_crossed_threshold_escalates_and_ends_on_its_own(
    support: int, member: int, clock: Clock, api_as: Api
) -> None:
    # A Reader publishes threads without premoderation, until three points say otherwise.
    status_grant(user_id=member, status_code="reader", source="staff")
    off_topic = _type("Off-topic")
    for _ in range(2):
        warning_issue(actor_id=support, member_id=member, warning_type_id=off_topic)
    with permission_scope():
        assert has_perm(user_id=member, permission="thread.skip_premoderation")
    warning_issue(actor_id=support, member_id=member, warning_type_id=off_topic)
    with permission_scope():
        assert not has_perm(user_id=member, permission="thread.skip_premoderation")
        assert has_perm(user_id=member, permission="post.create")
    (escalation,) = ActionLogEntry.objects.filter(action=Action.ESCALATE)
    assert (escalation.actor_id, escalation.target_id, escalation.extra["sanction"]) == (
        None,
        member,
        "premoderate",
    )
    assert [row["sanction"] for row in api_as(member).get("/api/v1/me/warnings").json()["restrictions"]] == [
        "premoderate"
    ]
    # A fourth point crosses no new threshold: nothing more is applied.
    warning_issue(actor_id=support, member_id=member, warning_type_id=off_topic)
    assert ActionLogEntry.objects.filter(action=Action.ESCALATE).count() == 1

    clock.move(days=7, seconds=1)
    with permission_scope():  # the engine stops counting it at its end, before any task ran
        assert has_perm(user_id=member, permission="thread.skip_premoderation")
    assert restrictions_end_due() == 1
    assert ActionLogEntry.objects.filter(action=Action.RESTRICTION_END, target_id=member).count() == 1

    clock.move(days=24)
    assert warnings_expire_due() == 4
    assert api_as(member).get("/api/v1/me/warnings").json()["active_points"] == 0


def test_six_points_stop_posting_and_ten_ban(support: int, member: int) -> None:
    spam = _type("Spam or advertising")
    warning_issue(actor_id=support, member_id=member, warning_type_id=spam)
    warning_issue(actor_id=support, member_id=member, warning_type_id=spam)
    with permission_scope():
        assert not has_perm(user_id=member, permission="post.create")
        assert has_perm(user_id=member, permission="forum.read")
    for _ in range(2):
        warning_issue(actor_id=support, member_id=member, warning_type_id=spam)
    with permission_scope():
        assert not has_perm(user_id=member, permission="dialog.start")  # banned: only reading is left
        assert has_perm(user_id=member, permission="ticket.create")  # and appealing
    sanctions = list(
        ActionLogEntry.objects.filter(action=Action.ESCALATE)
        .order_by("id")
        .values_list("extra__sanction", flat=True)
    )
    assert sanctions == ["premoderate", "no_posting", "ban"]


def test_revoking_a_warning_takes_its_points_away(api_as: Api, support: int, member: int, other: int) -> None:
    warning = warning_issue(actor_id=support, member_id=member, warning_type_id=_type("Rude or abusive"))
    assert api_as(other).post(f"/api/v1/warnings/{warning.id}/revoke").status_code == 403
    answer = api_as(support).post(f"/api/v1/warnings/{warning.id}/revoke", {"reason": "a mistake"})
    assert answer.status_code == 200
    assert api_as(support).post(f"/api/v1/warnings/{warning.id}/revoke").status_code == 409
    assert api_as(member).get("/api/v1/me/warnings").json()["active_points"] == 0
    (entry,) = ActionLogEntry.objects.filter(action=Action.WARNING_REVOKE)
    assert (entry.actor_id, entry.reason) == (support, "a mistake")


def test_a_member_appeals_a_warning_through_a_ticket(web: Web, support: int, member: int, other: int) -> None:
    warning = warning_issue(actor_id=support, member_id=member, warning_type_id=_type("Off-topic"))
    assert web(other).post(f"/warnings/{warning.id}/appeal/", {"body": "not mine"}).status_code == 302
    assert tickets_linked(link_kind="warning", link_id=warning.id) == ()
    answer = web(member).post(f"/warnings/{warning.id}/appeal/", {"body": "It was on topic."})
    (ticket,) = tickets_linked(link_kind="warning", link_id=warning.id)
    assert answer["Location"] == f"/support/tickets/{ticket.id}/"
    assert (ticket.kind, ticket.member_id) == ("appeal", member)


def test_the_warnings_page_and_api_run_a_fixed_number_of_queries(
    api_as: Api, web: Web, support: int, member: int
) -> None:
    off_topic = _type("Off-topic")
    warning_issue(actor_id=support, member_id=member, warning_type_id=off_topic)
    client, page = api_as(member), web(member)
    client.get("/api/v1/me/warnings")
    page.get("/warnings/")

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as api_queries:
            client.get("/api/v1/me/warnings")
        with CaptureQueriesContext(connection) as page_queries:
            page.get("/warnings/")
        return len(api_queries), len(page_queries)

    few = count()
    for _ in range(6):
        warning_issue(actor_id=support, member_id=member, warning_type_id=off_topic)
    assert count() == few


def test_staff_warn_in_the_admin(web: Web, support: int, member: int) -> None:
    answer = web(support).post(
        "/admin/forum_admin/memberwarning/add/",
        {"member": member, "warning_type": _type("Off-topic"), "reason": "from the admin"},
    )
    assert answer.status_code == 302
    (entry,) = ActionLogEntry.objects.filter(action=Action.WARN)
    assert (entry.actor_id, entry.target_id, entry.reason) == (support, member, "from the admin")
