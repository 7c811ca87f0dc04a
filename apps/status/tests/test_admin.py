"""Staff grant and revoke statuses and edit the catalogue in the Django admin, through the services."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from apps.authorization.services import has_perm, limit, role_assign
from apps.status.models import Status, StatusGrant
from apps.status.services import status_grant

pytestmark = pytest.mark.django_db

Outbox = Callable[[str], list[dict[str, Any]]]
ADD_URL = "/admin/status/statusgrant/add/"
LIST_URL = "/admin/status/statusgrant/"


def staff_client(make_member: Callable[..., int], role: str) -> tuple[Client, int]:
    staff = make_member()
    role_assign(user_id=staff, role=role)
    client = Client()
    client.force_login(get_user_model().objects.get(pk=staff))
    return client, staff


def grant_form(
    member: int, *, ends_at: datetime.datetime | None = None, status: str = "agent"
) -> dict[str, str]:
    return {
        "user": str(member),
        "status": str(Status.objects.get(code=status).pk),
        "starts_at_0": "",
        "starts_at_1": "",
        "ends_at_0": ends_at.strftime("%Y-%m-%d") if ends_at else "",
        "ends_at_1": ends_at.strftime("%H:%M:%S") if ends_at else "",
        "reference": "goodwill",
    }


@pytest.mark.parametrize("role", ["admin", "support"])
def test_staff_grant_a_status_in_the_admin(
    make_member: Callable[..., int], outbox: Outbox, role: str
) -> None:
    client, staff = staff_client(make_member, role)
    member = make_member()
    ends_at = (timezone.now() + datetime.timedelta(days=7)).replace(microsecond=0)

    response = client.post(ADD_URL, grant_form(member, ends_at=ends_at))

    assert response.status_code == 302, response.content.decode()[:2000]
    grant = StatusGrant.objects.get(user_id=member)
    assert (grant.source, grant.granted_by_id, grant.ends_at, grant.reference) == (
        "staff",
        staff,
        ends_at,
        "goodwill",
    )
    (event,) = outbox("status.granted")
    assert (event["grant_id"], event["granted_by"], event["source"]) == (grant.pk, staff, "staff")
    assert limit(user_id=member, permission="thread.create_per_day") == 10


def test_a_grant_ending_in_the_past_is_refused_by_the_form(make_member: Callable[..., int]) -> None:
    client, _staff = staff_client(make_member, "admin")
    member = make_member()
    response = client.post(ADD_URL, grant_form(member, ends_at=timezone.now() - datetime.timedelta(days=1)))
    assert response.status_code == 200
    assert "The end must come after the start and lie in the future." in response.content.decode()
    assert not StatusGrant.objects.filter(user_id=member).exists()


def test_staff_revoke_grants_with_an_admin_action(make_member: Callable[..., int], outbox: Outbox) -> None:
    client, staff = staff_client(make_member, "support")
    member = make_member()
    agent = status_grant(user_id=member, status_code="agent", source="purchase")
    reader = status_grant(user_id=member, status_code="reader", source="purchase")

    response = client.post(
        LIST_URL,
        {"action": "revoke_grants", "_selected_action": [str(agent.grant_id), str(reader.grant_id)]},
        follow=True,
    )

    assert response.status_code == 200
    assert "2 grants revoked." in response.content.decode()
    assert {event["grant_id"] for event in outbox("status.revoked")} == {agent.grant_id, reader.grant_id}
    assert {event["revoked_by"] for event in outbox("status.revoked")} == {staff}
    assert not has_perm(user_id=member, permission="forum.read_exclusive")

    again = client.post(
        LIST_URL, {"action": "revoke_grants", "_selected_action": [str(agent.grant_id)]}, follow=True
    )
    assert "1 grant was already over and is left as it was." in again.content.decode()


def test_a_grant_cannot_be_edited_nor_deleted(make_member: Callable[..., int]) -> None:
    client, _staff = staff_client(make_member, "admin")
    granted = status_grant(user_id=make_member(), status_code="agent", source="purchase")
    page = client.get(f"{LIST_URL}{granted.grant_id}/change/").content.decode()
    assert 'name="ends_at_0"' not in page
    assert client.get(f"{LIST_URL}{granted.grant_id}/delete/").status_code == 403


def test_a_member_without_a_staff_role_cannot_grant(make_member: Callable[..., int]) -> None:
    client = Client()
    member = make_member()
    client.force_login(get_user_model().objects.get(pk=member))
    response = client.post(ADD_URL, grant_form(member))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not StatusGrant.objects.exists()


def test_the_status_form_checks_permissions_against_the_registry(make_member: Callable[..., int]) -> None:
    client, _staff = staff_client(make_member, "admin")
    holder = make_member()
    status_grant(user_id=holder, status_code="agent", source="purchase")
    agent = Status.objects.get(code="agent")
    url = f"/admin/status/status/{agent.pk}/change/"
    form = {"name": "Agent", "description": agent.description, "position": "10"}

    refused = client.post(url, {**form, "permissions": '{"thread.fly": true}'})
    assert refused.status_code == 200
    assert "thread.fly: There is no such permission." in refused.content.decode()

    accepted = client.post(url, {**form, "permissions": '{"thread.create_per_day": 12}'})
    assert accepted.status_code == 302
    assert limit(user_id=holder, permission="thread.create_per_day") == 12


def test_an_admin_adds_a_status_and_support_may_only_look(make_member: Callable[..., int]) -> None:
    client, _admin = staff_client(make_member, "admin")
    response = client.post(
        "/admin/status/status/add/",
        {"code": "veteran", "name": "Veteran", "description": "", "position": "30", "permissions": "{}"},
    )
    assert response.status_code == 302
    assert Status.objects.filter(code="veteran", permissions={}).exists()

    support, _staff = staff_client(make_member, "support")
    assert support.get("/admin/status/status/").status_code == 200
    assert support.get("/admin/status/status/add/").status_code == 403
