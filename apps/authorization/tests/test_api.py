"""GET /api/v1/me/permissions, and what a request pays for its permission checks."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.authorization.services import StatusPermissions, access_ban_set, access_statuses_set, quota_consume
from forum.testing.fixtures import Clock

pytestmark = pytest.mark.django_db


def signed_in(user_id: int) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(pk=user_id))
    return client


def test_a_member_sees_role_statuses_permissions_and_quotas(make_member: Callable[..., int]) -> None:
    member = make_member()
    access_statuses_set(
        user_id=member,
        grants=[
            StatusPermissions(
                status_code="agent",
                values={"thread.create_per_day": 10, "forum.read_exclusive": True},
                starts_at=timezone.now() - datetime.timedelta(hours=1),
                ends_at=timezone.now() + datetime.timedelta(days=30),
            )
        ],
    )
    quota_consume(user_id=member, permission="thread.create_per_day")

    response = signed_in(member).get("/api/v1/me/permissions")
    assert response.status_code == 200
    body = response.json()
    assert (body["user_id"], body["role"], body["banned"], body["statuses"]) == (
        member,
        "user",
        False,
        ["agent"],
    )
    permissions = {entry["code"]: entry for entry in body["permissions"]}
    assert permissions["forum.read_exclusive"]["allowed"] is True
    assert permissions["thread.moderate"]["allowed"] is False
    assert permissions["thread.create_per_day"]["limit"] == 10
    assert permissions["dialog.max_participants"] == {
        "code": "dialog.max_participants",
        "kind": "limit",
        "description": "Participants in one dialog",
        "allowed": True,
        "limit": 5,
    }
    quotas = {entry["permission"]: entry for entry in body["quotas"]}
    threads = quotas["thread.create_per_day"]
    assert (threads["limit"], threads["used"], threads["remaining"], threads["period_seconds"]) == (
        10,
        1,
        9,
        86400,
    )
    assert datetime.datetime.fromisoformat(threads["resets_at"]) > timezone.now() + datetime.timedelta(
        hours=23
    )
    assert quotas["post.create_per_day"]["resets_at"] is None


def test_a_banned_member_is_told_so(make_member: Callable[..., int]) -> None:
    member = make_member()
    until = timezone.now() + datetime.timedelta(days=3)
    access_ban_set(user_id=member, until=until)
    body = signed_in(member).get("/api/v1/me/permissions").json()
    assert body["banned"] is True
    assert datetime.datetime.fromisoformat(body["banned_until"]) == until
    permissions = {entry["code"]: entry["allowed"] for entry in body["permissions"]}
    assert permissions["forum.read"] and not permissions["thread.create"]


def test_the_answer_speaks_the_callers_language(make_member: Callable[..., int]) -> None:
    body = signed_in(make_member()).get("/api/v1/me/permissions", headers={"Accept-Language": "ru"}).json()
    descriptions = {entry["code"]: entry["description"] for entry in body["permissions"]}
    assert descriptions["thread.create"] == "Создавать темы"


def test_a_guest_is_refused_with_the_json_error_shape(client: Client) -> None:
    response = client.get("/api/v1/me/permissions")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert set(response.json()["error"]) == {"code", "message", "fields"}


# --- One query per request ----------------------------------------------------------------------------


@pytest.mark.urls("apps.authorization.tests.urls")
def test_a_request_pays_one_query_for_any_number_of_checks(
    make_member: Callable[..., int], django_assert_max_num_queries: Any
) -> None:
    member = make_member()
    client = signed_in(member)
    with CaptureQueriesContext(connection) as baseline:
        assert client.get("/checks/0").status_code == 200  # session and account, no check

    with django_assert_max_num_queries(len(baseline) + 1):
        response = client.get("/checks/1")
    assert response.status_code == 200 and response.json()["allowed"] > 0

    with django_assert_max_num_queries(len(baseline) + 1):
        client.get("/checks/40")


@pytest.mark.urls("apps.authorization.tests.urls")
def test_the_query_is_per_member_not_per_check(make_member: Callable[..., int]) -> None:
    # The other side of the test above: checking a second member costs one more query, not one per
    # check, which shows the count above is not blind.
    member, other = make_member(), make_member()
    client = signed_in(member)
    client.get("/checks/0")  # a session's first request records it for the sessions list, once
    with CaptureQueriesContext(connection) as one_member:
        client.get("/checks/20")
    with CaptureQueriesContext(connection) as two_members:
        client.get(f"/checks/20?other={other}")
    assert len(two_members) == len(one_member) + 1
    assert sum("authorization_memberaccess" in query["sql"] for query in two_members.captured_queries) == 2


@pytest.mark.urls("apps.authorization.tests.urls")
def test_a_guest_request_pays_nothing_for_its_checks(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    with CaptureQueriesContext(connection) as baseline:
        client.get("/checks/0")
    with django_assert_max_num_queries(len(baseline)):
        client.get("/checks/10")


# --- A quota spent through the API --------------------------------------------------------------------


@pytest.mark.urls("apps.authorization.tests.urls")
def test_over_the_quota_the_api_answers_429_with_the_reset_time(
    make_member: Callable[..., int], clock: Clock
) -> None:
    client = signed_in(make_member())
    first_at = clock.now.replace(microsecond=clock.now.microsecond // 1000 * 1000)  # quotas keep milliseconds
    answers = []
    for _attempt in range(4):
        answers.append(client.post("/api/v1/testing/spend"))
        clock.move(minutes=5)

    assert [answer.status_code for answer in answers] == [201, 201, 201, 429]
    assert [answer.json()["remaining"] for answer in answers[:3]] == [2, 1, 0]
    refused = answers[3]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert "New threads a day" in refused.json()["error"]["message"]
    # Refused 15 minutes after the first use, which leaves the rolling window a day after it was taken.
    assert datetime.datetime.fromisoformat(refused["X-Quota-Resets-At"]) == first_at + datetime.timedelta(
        days=1
    )
    assert int(refused["Retry-After"]) == 86400 - 15 * 60


@pytest.mark.urls("apps.authorization.tests.urls")
def test_a_banned_member_spending_a_quota_gets_403_in_the_json_shape(make_member: Callable[..., int]) -> None:
    member = make_member()
    access_ban_set(user_id=member)
    refused = signed_in(member).post("/api/v1/testing/spend", headers={"Accept-Language": "ru"})
    assert refused.status_code == 403
    assert refused.json()["error"] == {
        "code": "banned",
        "message": "Ваша учётная запись заблокирована: вы можете читать, но не участвовать.",
        "fields": {},
    }
