"""The user app's internal lookup: users_brief as a function and as signed /internal/ endpoints."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.test import Client
from pytest_django.live_server_helper import LiveServer

from apps.user.services import USERS_BRIEF_MAX, UserBrief, user_brief, users_brief
from forum.errors import NotFound, ValidationFailed
from forum.internal_auth import InternalCallError, InternalClient, sign_request

SECRET = "user-lookup-test-secret-of-thirty-two-chars"
LOOKUP = "/internal/v1/users/lookup"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def keys(settings: Any) -> None:
    settings.INTERNAL_API_SECRETS = {"thread": SECRET}
    settings.INTERNAL_API_SIGNING_KEY_ID = "thread"


@pytest.fixture
def members() -> list[Any]:
    model = get_user_model()
    alice = model.objects.create_user(username="alice", email="alice@example.com")
    bob = model.objects.create_user(username="bob", email="bob@example.com", is_active=False)
    carol = model.objects.create_user(username="carol", email="carol@example.com")
    return [alice, bob, carol]


def signed(client: Client, method: str, target: str, payload: Any = None, **headers: str) -> Any:
    body = b"" if payload is None else json.dumps(payload).encode()
    signature = sign_request(method, target, body, key_id="thread", secret=SECRET)
    return client.generic(method, target, body, content_type="application/json", headers=signature | headers)


def brief_json(user: Any) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.username,
        "is_active": user.is_active,
        "date_joined": user.date_joined.isoformat().replace("+00:00", "Z"),
    }


# --- The service --------------------------------------------------------------------------------------


def test_users_brief_keeps_the_order_asked_and_leaves_out_unknown_ids(members: list[Any]) -> None:
    alice, bob, carol = members
    briefs = users_brief(user_ids=[carol.pk, 10**12, alice.pk, carol.pk, bob.pk, 2**70, -1])
    assert [brief.id for brief in briefs] == [carol.pk, alice.pk, bob.pk]
    assert briefs[2] == UserBrief(id=bob.pk, username="bob", is_active=False, date_joined=bob.date_joined)
    assert users_brief(user_ids=[]) == []


def test_users_brief_is_one_query_whatever_the_number_of_ids(
    members: list[Any], django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        assert len(users_brief(user_ids=[member.pk for member in members])) == 3


def test_users_brief_is_bounded() -> None:
    with pytest.raises(ValidationFailed):
        users_brief(user_ids=range(1, USERS_BRIEF_MAX + 2))


def test_user_brief_of_a_missing_account_is_not_found() -> None:
    with pytest.raises(NotFound):
        user_brief(user_id=10**12)


# --- The endpoints -----------------------------------------------------------------------------------


def test_one_user_by_id(client: Client, members: list[Any]) -> None:
    bob = members[1]
    response = signed(client, "GET", f"/internal/v1/users/{bob.pk}")
    assert response.status_code == 200
    assert response.json() == brief_json(bob)


@pytest.mark.parametrize("user_id", ["1000000000000", "99999999999999999999999"])
def test_a_missing_user_is_a_json_404(client: Client, user_id: str) -> None:
    response = signed(client, "GET", f"/internal/v1/users/{user_id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_lookup_answers_the_known_ids_in_one_query(
    client: Client, members: list[Any], django_assert_num_queries: Any
) -> None:
    alice, bob, _carol = members
    # The whole request, signature check included, costs the one query of the lookup.
    with django_assert_num_queries(1):
        response = signed(client, "POST", LOOKUP, {"ids": [bob.pk, 10**12, alice.pk]})
    assert response.status_code == 200
    assert response.json() == {"users": [brief_json(bob), brief_json(alice)]}


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"ids": "1,2"},
        {"ids": [0]},
        {"ids": ["x"]},
        {"ids": [2**63]},
        {"ids": list(range(1, USERS_BRIEF_MAX + 2))},
        [1, 2],
    ],
    ids=["no-ids", "not-a-list", "zero", "not-a-number", "beyond-bigint", "too-many", "not-an-object"],
)
def test_bad_lookup_input_is_a_400(client: Client, payload: Any) -> None:
    response = signed(client, "POST", LOOKUP, payload)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_lookup_takes_the_most_ids_allowed(client: Client, members: list[Any]) -> None:
    ids = [members[0].pk, *range(10**12, 10**12 + USERS_BRIEF_MAX - 1)]
    response = signed(client, "POST", LOOKUP, {"ids": ids})
    assert response.status_code == 200
    assert [user["id"] for user in response.json()["users"]] == [members[0].pk]


def test_a_superusers_session_without_a_signature_is_refused(client: Client, members: list[Any]) -> None:
    admin = get_user_model().objects.create_superuser(username="root", email="root@example.com")
    client.force_login(admin)
    assert client.get("/admin/").status_code == 200  # the session is a working one
    for response in (
        client.get(f"/internal/v1/users/{members[0].pk}"),
        client.post(LOOKUP, {"ids": [members[0].pk]}, content_type="application/json"),
    ):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "missing_signature"


def test_a_signed_call_with_a_members_cookies_loads_no_session(
    client: Client, members: list[Any], django_assert_num_queries: Any
) -> None:
    # A signed call speaks for a service: a session riding along (a superuser's) is not even read,
    # so the lookup's one query is all the request costs.
    admin = get_user_model().objects.create_superuser(username="root", email="root@example.com")
    client.force_login(admin)
    with django_assert_num_queries(1):
        response = signed(client, "POST", LOOKUP, {"ids": [members[0].pk]})
    assert response.status_code == 200


def test_a_replayed_lookup_is_refused(client: Client, members: list[Any]) -> None:
    body = json.dumps({"ids": [members[0].pk]}).encode()
    headers = sign_request("POST", LOOKUP, body, key_id="thread", secret=SECRET)
    first = client.post(LOOKUP, body, content_type="application/json", headers=headers)
    again = client.post(LOOKUP, body, content_type="application/json", headers=headers)
    assert first.status_code == 200
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "replayed_signature"


def test_internal_endpoints_are_not_in_the_public_schema(client: Client) -> None:
    schema = yaml.safe_load(client.get("/api/schema/").content)
    assert schema["paths"], "an empty schema would prove nothing"
    assert [route for route in schema["paths"] if route.startswith("/internal/")] == []


# --- Over the network, as a split-out service would call -------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_split_out_service_gets_what_the_function_returns(live_server: LiveServer) -> None:
    model = get_user_model()
    alice = model.objects.create_user(username="alice", email="alice@example.com")
    bob = model.objects.create_user(username="bob", email="bob@example.com", is_active=False)
    client = InternalClient.from_settings(live_server.url)

    answer = client.post("/internal/v1/users/lookup", {"ids": [bob.pk, alice.pk]})
    assert answer == {"users": [brief_json(bob), brief_json(alice)]}
    assert [user["id"] for user in answer["users"]] == [
        brief.id for brief in users_brief(user_ids=[bob.pk, alice.pk])
    ]
    assert client.get(f"/internal/v1/users/{alice.pk}") == brief_json(alice)
    with pytest.raises(InternalCallError) as caught:
        client.get("/internal/v1/users/1000000000000")
    assert (caught.value.status, caught.value.code) == (404, "not_found")
