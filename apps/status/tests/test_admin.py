"""Staff grant and revoke statuses and edit the catalogue in the Django admin, through the services."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.authorization.services import has_perm, limit, permission_catalogue, role_assign
from apps.status.admin import permission_field_name
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
    name = get_user_model().objects.get(pk=member).username
    agent = status_grant(user_id=member, status_code="agent", source="purchase")
    reader = status_grant(user_id=member, status_code="reader", source="purchase")

    response = client.post(
        LIST_URL,
        {"action": "revoke_grants", "_selected_action": [str(agent.grant_id), str(reader.grant_id)]},
        follow=True,
    )

    assert response.status_code == 200
    assert f"2 grants revoked: Agent for {name}, Reader for {name}." in response.content.decode()
    assert {event["grant_id"] for event in outbox("status.revoked")} == {agent.grant_id, reader.grant_id}
    assert {event["revoked_by"] for event in outbox("status.revoked")} == {staff}
    assert not has_perm(user_id=member, permission="forum.read_exclusive")

    again = client.post(
        LIST_URL, {"action": "revoke_grants", "_selected_action": [str(agent.grant_id)]}, follow=True
    )
    assert f"Already over, left as it was: Agent for {name}." in again.content.decode()


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


def status_fields(status: Status, **given: str) -> dict[str, str]:
    """The status form as a browser sends it: its own fields, every permission not granted, then ``given``."""
    form = {"name": status.name, "description": status.description, "position": str(status.position)}
    for info in permission_catalogue():
        name = permission_field_name(info.code)
        if info.kind != "flag":
            form |= {f"{name}_0": "", f"{name}_1": ""}
    return form | given


def test_the_status_form_has_a_field_per_permission_of_the_registry(make_member: Callable[..., int]) -> None:
    client, _staff = staff_client(make_member, "admin")
    agent = Status.objects.get(code="agent")  # seeded: forum.read_exclusive, thread.create_per_day: 10

    page = " ".join(client.get(f"/admin/status/status/{agent.pk}/change/").content.decode().split())

    assert 'name="permissions"' not in page  # no JSON
    for info in permission_catalogue():
        name = permission_field_name(info.code)
        if info.kind == "flag":
            assert f'type="checkbox" name="{name}"' in page, info.code
        else:
            assert f'name="{name}_0"' in page and f'type="number" name="{name}_1"' in page, info.code
        assert info.description in page and info.code in page
    assert re.search(r'<input type="checkbox" name="permission__forum__read_exclusive"[^>]* checked>', page)
    assert 'type="number" name="permission__thread__create_per_day_1" value="10"' in page
    assert "a quota: uses in any 1 day" in page


def test_the_status_form_saves_typed_values(make_member: Callable[..., int]) -> None:
    client, _staff = staff_client(make_member, "admin")
    holder = make_member()
    status_grant(user_id=holder, status_code="agent", source="purchase")
    agent = Status.objects.get(code="agent")
    url = f"/admin/status/status/{agent.pk}/change/"

    accepted = client.post(
        url,
        status_fields(
            agent,
            permission__forum__read_exclusive="on",
            permission__thread__skip_premoderation="on",
            permission__thread__create_per_day_0="number",
            permission__thread__create_per_day_1="12",
            permission__dialog__max_participants_0="unlimited",
        ),
    )

    assert accepted.status_code == 302, accepted.content.decode()[:3000]
    assert Status.objects.get(pk=agent.pk).permissions == {
        "forum.read_exclusive": True,
        "thread.skip_premoderation": True,
        "thread.create_per_day": 12,
        "dialog.max_participants": None,
    }
    assert limit(user_id=holder, permission="thread.create_per_day") == 12
    assert limit(user_id=holder, permission="dialog.max_participants") is None
    assert has_perm(user_id=holder, permission="thread.skip_premoderation")
    listing = client.get("/admin/status/status/").content.decode()
    assert "New threads a day: 12" in listing and "Participants in one dialog: no limit" in listing


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ({"permission__thread__create_per_day_1": "ten"}, "Enter a whole number."),
        ({"permission__thread__create_per_day_1": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"permission__thread__create_per_day_0": "number"}, "Give the number, or choose “no limit”."),
        ({"permission__thread__create_per_day_0": "fly"}, "Select a valid choice."),
        ({"permission__thread__create_per_day_1": "7"}, "Choose “up to the number” to grant this number"),
    ],
)
def test_the_status_form_refuses_a_wrong_value_on_its_field(
    make_member: Callable[..., int], given: dict[str, str], error: str
) -> None:
    client, _staff = staff_client(make_member, "admin")
    agent = Status.objects.get(code="agent")
    before = dict(agent.permissions)

    refused = client.post(f"/admin/status/status/{agent.pk}/change/", status_fields(agent, **given))

    assert refused.status_code == 200
    page = refused.content.decode()
    assert error in page and 'class="errorlist' in page
    assert Status.objects.get(pk=agent.pk).permissions == before


def test_an_admin_adds_a_status_and_support_may_only_look(make_member: Callable[..., int]) -> None:
    client, _admin = staff_client(make_member, "admin")
    fields = status_fields(Status(name="Veteran", position=30), code="veteran")
    response = client.post("/admin/status/status/add/", fields | {"permission__reaction__add": "on"})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Status.objects.filter(code="veteran", permissions={"reaction.add": True}).exists()

    support, _staff = staff_client(make_member, "support")
    assert support.get("/admin/status/status/").status_code == 200
    assert support.get("/admin/status/status/add/").status_code == 403


@pytest.mark.parametrize("role", ["admin", "support"])
def test_a_member_is_picked_by_name(make_member: Callable[..., int], role: str) -> None:
    client, _staff = staff_client(make_member, role)
    member = make_member()
    name = get_user_model().objects.get(pk=member).username

    form = client.get(ADD_URL).content.decode()
    assert "admin-autocomplete" in form and 'data-field-name="user"' in form

    answer = client.get(
        "/admin/autocomplete/",
        {"app_label": "status", "model_name": "statusgrant", "field_name": "user", "term": name},
    )
    assert answer.status_code == 200
    assert [result["id"] for result in answer.json()["results"]] == [str(member)]
    assert name in answer.json()["results"][0]["text"]


def test_a_grant_is_named_in_messages_and_titles(make_member: Callable[..., int]) -> None:
    client, _staff = staff_client(make_member, "admin")
    member = make_member()
    name = get_user_model().objects.get(pk=member).username

    added = client.post(ADD_URL, grant_form(member), follow=True)

    assert f"Agent for {name}" in added.content.decode()
    grant = StatusGrant.objects.get(user_id=member)
    page = client.get(f"{LIST_URL}{grant.pk}/change/").content.decode()
    assert f"<title>Agent for {name} |" in page


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_grant_list_does_not_grow_a_query_per_row(make_member: Callable[..., int]) -> None:
    client, staff = staff_client(make_member, "admin")
    status_grant(user_id=make_member(), status_code="agent", source="staff", granted_by=staff)
    client.get(LIST_URL)  # the session's first request records it; the ones measured are ordinary
    one = _queries(client, LIST_URL)
    for number in range(29):
        status_grant(
            user_id=make_member(),
            status_code="agent" if number % 2 else "reader",
            source="staff",
            granted_by=make_member(),
        )
    assert _queries(client, LIST_URL) == one
