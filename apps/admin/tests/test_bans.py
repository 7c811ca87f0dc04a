"""Bans from the outside: an administrator bans (API, admin), support, members and guests may not; a
posting ban leaves reading and shows its notice on every page; a full ban ends the member's sessions and
token families and refuses sign-in with the reason; bans lift early (staff) and at their end (beat);
email and address bans refuse sign-ups, email changes and (addresses) every write."""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from apps.admin import bans
from apps.admin.context_processors import ban_notice
from apps.admin.models import Action, ActionLogEntry, Restriction, WarningType
from apps.admin.services import ban_issue, ban_lift, bans_end_due, restriction_lift, warning_issue
from apps.admin.tests.conftest import Api, Web
from apps.authorization.services import has_perm, permission_scope, permissions_for
from forum.errors import Conflict
from forum.internal_auth import sign_request
from forum.models import OutboxEvent
from forum.testing.fixtures import Clock

PASSWORD = "Quiet-Harbour-Lantern-71"


@pytest.fixture(autouse=True)
def fresh_ban_lists() -> Iterator[None]:
    """The process keeps its copy of the email and address bans for a few seconds; the test's rows
    roll back, so its copy must not outlive it (other tests would meet its bans)."""
    bans.lists_forget()
    yield
    bans.lists_forget()


def _with_password(user_id: int, email: str = "") -> str:
    user = get_user_model().objects.get(pk=user_id)
    user.set_password(PASSWORD)
    if email:
        user.email = email
    user.save()
    return str(user.username)


def test_an_admin_bans_from_posting_and_the_member_still_reads_with_the_notice(
    api_as: Api, web: Web, admin: int, member: int
) -> None:
    answer = api_as(admin).post(
        f"/api/v1/members/{member}/bans", {"kind": "posting", "reason": "spam links"}, format="json"
    )
    assert answer.status_code == 201, answer.content
    assert (answer.json()["kind"], answer.json()["ends_at"], answer.json()["active"]) == (
        "posting",
        None,
        True,
    )
    assert not has_perm(user_id=member, permission="thread.create")
    page = web(member).get("/warnings/")
    assert page.status_code == 200
    assert b"data-ban-notice" in page.content
    assert b"spam links" in page.content
    assert api_as(member).get("/api/v1/me/ban").json()["ban"]["reason"] == "spam links"
    (entry,) = ActionLogEntry.objects.filter(action=Action.BAN)
    assert (entry.actor_id, entry.target_id, entry.reason) == (admin, member, "spam links")
    assert OutboxEvent.objects.filter(name="moderation.member_banned").count() == 1
    # Nobody else sees a notice.
    assert b"data-ban-notice" not in web(admin).get("/warnings/").content


def test_support_members_and_guests_may_not_ban(api_as: Api, support: int, member: int, other: int) -> None:
    body = {"kind": "full", "reason": "no"}
    assert api_as(support).post(f"/api/v1/members/{member}/bans", body, format="json").status_code == 403
    assert api_as(other).post(f"/api/v1/members/{member}/bans", body, format="json").status_code == 403
    assert api_as(None).post(f"/api/v1/members/{member}/bans", body, format="json").status_code in (401, 403)
    assert api_as(support).get(f"/api/v1/members/{member}/bans").status_code == 404
    assert (
        api_as(other).post("/api/v1/bans/emails", {"pattern": "*@x.example"}, format="json").status_code
        == 403
    )
    assert (
        api_as(support).post("/api/v1/bans/addresses", {"network": "10.0.0.0/8"}, format="json").status_code
        == 403
    )
    assert has_perm(user_id=member, permission="thread.create")
    assert not ActionLogEntry.objects.filter(action=Action.BAN).exists()


def test_a_full_ban_ends_sessions_and_tokens_and_refuses_sign_in_with_the_reason(
    api_as: Api, admin: int, member: int, django_user_model: Any
) -> None:
    username = _with_password(member)
    pair = APIClient().post("/api/v1/auth/token", {"login": username, "password": PASSWORD}, format="json")
    assert pair.status_code == 200, pair.content
    browser = Client()
    browser.force_login(django_user_model.objects.get(pk=member))
    assert browser.get("/warnings/").status_code == 200  # the session is recorded
    ends_at = timezone.now() + datetime.timedelta(days=7)
    answer = api_as(admin).post(
        f"/api/v1/members/{member}/bans",
        {"kind": "full", "reason": "threats", "ends_at": ends_at.isoformat()},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    # The browser is signed out, the token family revoked.
    assert browser.get("/warnings/").status_code == 302
    refreshed = APIClient().post(
        "/api/v1/auth/token/refresh", {"refresh": pair.json()["refresh"]}, format="json"
    )
    assert refreshed.status_code == 401
    # Sign-in refused everywhere, with the reason and the end.
    for path in ("/api/v1/auth/token", "/api/v1/auth/signin"):
        refused = Client().post(
            path, {"login": username, "password": PASSWORD}, content_type="application/json"
        )
        assert refused.status_code == 403, (path, refused.content)
        error = refused.json()["error"]
        assert error["code"] == "account_banned"
        assert "threats" in error["message"]
        assert ends_at.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M") in error["message"]
    page = Client().post("/accounts/signin/", {"login": username, "password": PASSWORD})
    assert page.status_code == 403
    assert b"threats" in page.content


def test_staff_lift_early_and_bans_lift_themselves_at_their_end(
    api_as: Api, admin: int, member: int, other: int, clock: Clock
) -> None:
    early = ban_issue(actor_id=admin, member_id=member, kind="posting", reason="cool off")
    lifted = api_as(admin).post(f"/api/v1/bans/{early.id}/lift", {"reason": "mistake"}, format="json")
    assert lifted.status_code == 200, lifted.content
    assert api_as(admin).post(f"/api/v1/bans/{early.id}/lift", {}, format="json").status_code == 409
    with permission_scope():
        assert has_perm(user_id=member, permission="thread.create")

    timed = ban_issue(
        actor_id=admin,
        member_id=other,
        kind="posting",
        reason="a day",
        ends_at=clock.now + datetime.timedelta(days=1),
    )
    assert not has_perm(user_id=other, permission="thread.create")
    assert bans_end_due() == 0
    clock.move(days=1, seconds=1)
    assert bans_end_due() == 1
    assert has_perm(user_id=other, permission="thread.create")
    lifts = ActionLogEntry.objects.filter(action=Action.BAN_LIFT).order_by("id")
    assert [(entry.actor_id, entry.target_id) for entry in lifts] == [(admin, member), (None, other)]
    assert api_as(admin).get(f"/api/v1/members/{other}/bans").json()[0]["id"] == timed.id


def test_a_member_without_a_ban_costs_the_notice_no_query(
    rf: Any, member: int, django_user_model: Any
) -> None:
    request = rf.get("/")
    request.user = django_user_model.objects.get(pk=member)
    with permission_scope():
        permissions_for(user_id=member)  # what the page's checks load anyway
        with CaptureQueriesContext(connection) as queries:
            assert ban_notice(request) == {"active_ban": None}
    assert len(queries) == 0


def test_email_bans_refuse_sign_up_and_email_change(api_as: Api, admin: int, member: int) -> None:
    assert (
        api_as(admin).post("/api/v1/bans/emails", {"pattern": "*@Spam.example"}, format="json").status_code
        == 201
    )
    refused = APIClient().post(
        "/api/v1/auth/signup",
        {"username": "newcomer", "email": "joe@spam.example", "password": PASSWORD},
        format="json",
    )
    assert refused.status_code == 403, refused.content
    assert refused.json()["error"]["code"] == "signup_refused"
    accepted = APIClient().post(
        "/api/v1/auth/signup",
        {"username": "newcomer", "email": "joe@fine.example", "password": PASSWORD},
        format="json",
    )
    assert accepted.status_code == 202, accepted.content
    _with_password(member, email="me@fine.example")
    change = api_as(member).post(
        "/api/v1/auth/email", {"new_email": "me@spam.example", "password": PASSWORD}, format="json"
    )
    assert change.status_code == 403
    assert ActionLogEntry.objects.filter(
        action=Action.BAN, target_kind="email", target_label="*@spam.example"
    ).exists()


def test_address_bans_refuse_sign_up_and_every_write_but_not_reading(
    api_as: Api, admin: int, member: int
) -> None:
    for network in ("203.0.113.0/24", "2001:db8::/32"):
        answer = api_as(admin).post("/api/v1/bans/addresses", {"network": network}, format="json")
        assert answer.status_code == 201, answer.content
    signup = APIClient(REMOTE_ADDR="203.0.113.9").post(
        "/api/v1/auth/signup",
        {"username": "newcomer", "email": "joe@fine.example", "password": PASSWORD},
        format="json",
    )
    assert signup.status_code == 403
    for address in ("203.0.113.9", "2001:db8::7"):
        client = api_as(member)
        client.defaults["REMOTE_ADDR"] = address
        write = client.post("/api/v1/me/ban", {}, format="json")
        assert write.status_code == 403, address
        assert write.json()["error"]["code"] == "address_banned"
        assert client.get("/api/v1/me/ban").status_code == 200
    elsewhere = api_as(member)
    elsewhere.defaults["REMOTE_ADDR"] = "198.51.100.1"
    assert elsewhere.post("/api/v1/me/ban", {}, format="json").status_code == 405  # reached the view
    removed = api_as(admin).get("/api/v1/me/ban")  # reads pass
    assert removed.status_code == 200


def test_calls_signed_by_our_own_services_pass_an_address_ban(
    api_as: Api, admin: int, member: int, settings: Any
) -> None:
    # A service's signed call (here from the address the forum's own servers share with a banned
    # network) speaks for the service, not for a member: the ban stops members' writes only.
    secret = "address-ban-test-secret-of-thirty-two-chars"
    settings.INTERNAL_API_SECRETS = {"thread": secret}
    answer = api_as(admin).post("/api/v1/bans/addresses", {"network": "192.0.2.0/24"}, format="json")
    assert answer.status_code == 201, answer.content
    lookup = "/internal/v1/users/lookup"
    body = json.dumps({"ids": [member]}).encode()
    service = Client(REMOTE_ADDR="192.0.2.10")
    headers = sign_request("POST", lookup, body, key_id="thread", secret=secret)
    called = service.post(lookup, body, content_type="application/json", headers=headers)
    assert called.status_code == 200, called.content
    assert [user["id"] for user in called.json()["users"]] == [member]
    client = api_as(member)
    client.defaults["REMOTE_ADDR"] = "192.0.2.10"
    assert client.post("/api/v1/me/ban", {}, format="json").status_code == 403


def test_lifting_a_staff_ban_leaves_an_escalation_ban_in_force(
    web: Web, admin: int, support: int, member: int
) -> None:
    spam = int(WarningType.objects.get(name="Spam or advertising").pk)
    staff_ban = ban_issue(actor_id=admin, member_id=member, kind="posting", reason="flood")
    for _ in range(4):  # 12 points: past the seeded rule "10 points: banned for 30 days"
        warning_issue(actor_id=support, member_id=member, warning_type_id=spam)
    ban_lift(actor_id=admin, ban_id=staff_ban.id)
    assert not has_perm(user_id=member, permission="post.create")
    assert permissions_for(user_id=member).banned_until is not None
    page = web(member).get("/warnings/")
    assert b"Too many active warning points." in page.content


def test_the_django_admin_bans_and_lifts_for_administrators_only(
    web: Web, admin: int, support: int, member: int
) -> None:
    assert web(support).get("/admin/forum_admin/ban/").status_code == 403
    assert web(support).get("/admin/forum_admin/addressban/").status_code == 403
    added = web(admin).post(
        "/admin/forum_admin/ban/add/",
        {"member": member, "kind": "full", "reason": "fraud", "ends_at_0": "", "ends_at_1": ""},
    )
    assert added.status_code == 302, added.content
    (entry,) = ActionLogEntry.objects.filter(action=Action.BAN)
    assert (entry.actor_id, entry.target_id, entry.extra["kind"]) == (admin, member, "full")
    ban_id = entry.extra["ban_id"]
    lifted = web(admin).post("/admin/forum_admin/ban/", {"action": "lift", "_selected_action": [ban_id]})
    assert lifted.status_code == 302
    assert ActionLogEntry.objects.filter(action=Action.BAN_LIFT, target_id=member, actor_id=admin).exists()
    assert has_perm(user_id=member, permission="thread.create")
    address = web(admin).post(
        "/admin/forum_admin/addressban/add/", {"network": "198.51.100.0/24", "reason": "bots"}
    )
    assert address.status_code == 302, address.content
    assert ActionLogEntry.objects.filter(
        action=Action.BAN, target_kind="address", target_label="198.51.100.0/24"
    ).exists()


def test_staff_end_an_escalation_early_in_the_admin(web: Web, support: int, member: int) -> None:
    spam = int(WarningType.objects.get(name="Spam or advertising").pk)
    for _ in range(2):  # 6 points: premoderated, and no posting for 3 days
        warning_issue(actor_id=support, member_id=member, warning_type_id=spam)
    assert not has_perm(user_id=member, permission="post.create")
    restriction = Restriction.objects.get(member_id=member, sanction="no_posting")
    answer = web(support).post(
        "/admin/forum_admin/restriction/", {"action": "lift", "_selected_action": [restriction.pk]}
    )
    assert answer.status_code == 302
    assert has_perm(user_id=member, permission="post.create")
    (entry,) = ActionLogEntry.objects.filter(action=Action.RESTRICTION_END)
    assert (entry.actor_id, entry.target_id, entry.extra["early"]) == (support, member, True)
    with pytest.raises(Conflict):
        restriction_lift(actor_id=support, restriction_id=restriction.pk)
