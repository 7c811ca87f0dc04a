"""GET /api/v1/me/statuses: the signed-in member's grants; guests are refused."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.status.services import status_grant, status_revoke
from forum.testing.fixtures import Clock

pytestmark = pytest.mark.django_db


def test_a_member_sees_every_grant_with_its_state(make_member: Callable[..., int], clock: Clock) -> None:
    member, stranger = make_member(), make_member()
    ends_at = clock.now + datetime.timedelta(days=30)
    agent = status_grant(user_id=member, status_code="agent", source="purchase", ends_at=ends_at)
    clock.move(minutes=1)
    reader = status_grant(user_id=member, status_code="reader", source="staff")
    status_revoke(grant_id=reader.grant_id)
    status_grant(user_id=stranger, status_code="reader", source="staff")

    client = Client()
    client.force_login(get_user_model().objects.get(pk=member))
    response = client.get("/api/v1/me/statuses")

    assert response.status_code == 200
    grants = response.json()["grants"]
    assert [(grant["grant_id"], grant["status"], grant["state"]) for grant in grants] == [
        (reader.grant_id, "reader", "revoked"),
        (agent.grant_id, "agent", "active"),
    ]
    assert grants[1]["source"] == "purchase" and grants[1]["status_name"] == "Agent"
    assert datetime.datetime.fromisoformat(grants[1]["ends_at"]) == ends_at
    assert grants[0]["revoked_at"] is not None and grants[0]["ends_at"] is None


def test_a_guest_is_refused_with_the_json_error_shape(client: Client) -> None:
    response = client.get("/api/v1/me/statuses")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
