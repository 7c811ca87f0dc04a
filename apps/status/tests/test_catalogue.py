"""The catalogue: Agent and Reader seeded, changes checked against the permission registry and
applied to their holders at once, and GET /api/v1/statuses."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from apps.authorization.services import limit, permission_values_validate
from apps.status.services import status_catalogue, status_define, status_get, status_grant
from forum.errors import NotFound, ValidationFailed

pytestmark = pytest.mark.django_db


def test_agent_and_reader_are_seeded_with_values_the_registry_accepts() -> None:
    catalogue = {status.code: status for status in status_catalogue()}
    assert list(catalogue) == ["agent", "reader"]
    assert catalogue["agent"].name == "Agent" and catalogue["reader"].name == "Reader"
    assert catalogue["agent"].permissions == {"forum.read_exclusive": True, "thread.create_per_day": 10}
    assert catalogue["reader"].permissions["forum.read_extended"] is True
    for status in catalogue.values():
        assert permission_values_validate(values=status.permissions) == status.permissions


def test_changing_a_status_changes_what_its_holders_may_do_at_once(make_member: Callable[..., int]) -> None:
    member = make_member()
    status_grant(user_id=member, status_code="agent", source="purchase")
    agent = status_get(code="agent")
    status_define(
        code="agent",
        name=agent.name,
        description=agent.description,
        permissions={**agent.permissions, "thread.create_per_day": 15},
        position=agent.position,
    )
    assert limit(user_id=member, permission="thread.create_per_day") == 15


def test_a_new_status_can_be_defined() -> None:
    defined = status_define(
        code="veteran", name="Veteran", permissions={"post.attachments_max": 6}, position=30
    )
    assert defined.permissions == {"post.attachments_max": 6}
    assert [status.code for status in status_catalogue()] == ["agent", "reader", "veteran"]


def test_a_status_granting_what_the_registry_does_not_know_is_refused() -> None:
    with pytest.raises(ValidationFailed) as refused:
        status_define(
            code="Bad Code",
            name=" ",
            permissions={"thread.fly": True, "thread.create_per_day": -1},
        )
    assert set(refused.value.fields) == {
        "code",
        "name",
        "permissions.thread.fly",
        "permissions.thread.create_per_day",
    }
    with pytest.raises(NotFound):
        status_get(code="Bad Code")


def test_the_catalogue_is_open_to_anyone_and_lists_what_each_status_permits(client: Client) -> None:
    response = client.get("/api/v1/statuses")
    assert response.status_code == 200
    statuses = {status["code"]: status for status in response.json()["statuses"]}
    assert statuses["agent"]["permissions"] == [
        {"permission": "forum.read_exclusive", "value": True},
        {"permission": "thread.create_per_day", "value": 10},
    ]
    assert statuses["reader"]["name"] == "Reader"


def test_the_catalogue_speaks_the_callers_language(client: Client) -> None:
    response = client.get("/api/v1/statuses", headers={"Accept-Language": "ru"})
    names = {status["code"]: status["name"] for status in response.json()["statuses"]}
    assert names == {"agent": "Агент", "reader": "Читатель"}
