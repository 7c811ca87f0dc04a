"""Hostile request bodies against the real endpoints: never a 500, always the API's JSON error shape.

Deeply nested JSON used to exhaust the decoder's stack (a ``RecursionError``, a 500) with no sign-in
needed; a body over the size limit answered Django's HTML 400 (its debugging page in the development
profile). These walk every write operation the schema documents, signed in, as well as the ones the
report named.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from apps.thread import services as thread_services

DEEP = "[" * 3000 + "]" * 3000  # about 6 KB: far past the decoder's recursion limit
NESTED_BELOW_STACK = '{"body": ' + "[" * 500 + "]" * 500 + "}"  # parses, but deeper than any body


def assert_json_error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"]
    return body


@pytest.fixture
def member_client(make_member: Callable[..., int], django_user_model: Any) -> tuple[Client, int]:
    member_id = make_member()
    client = Client(raise_request_exception=False)
    client.force_login(django_user_model.objects.get(pk=member_id))
    return client, member_id


def sign_in_again(client: Client, member_id: int, django_user_model: Any) -> None:
    """Some writes sign out or end sessions: each call is made signed in."""
    client.force_login(django_user_model.objects.get(pk=member_id))


@pytest.fixture
def thread_id(make_member: Callable[..., int]) -> int:
    forum = thread_services.forum_create(name="General")
    return thread_services.thread_create(
        author_id=make_member(is_staff=True), forum_id=forum.id, title="Hostile", body="Bodies"
    ).id


@pytest.mark.parametrize("body", [DEEP, NESTED_BELOW_STACK], ids=["past-the-stack", "too-deep"])
@pytest.mark.parametrize("url", ["/api/v1/auth/token", "/api/v1/auth/signup", "/api/v1/auth/password/reset"])
def test_deep_json_to_the_anonymous_endpoints_is_a_400(db: None, url: str, body: str) -> None:
    response = Client(raise_request_exception=False).post(url, body, content_type="application/json")
    assert assert_json_error(response, 400)["error"]["code"] == "parse_error"


@pytest.mark.parametrize("body", [DEEP, NESTED_BELOW_STACK], ids=["past-the-stack", "too-deep"])
def test_deep_json_to_a_reply_and_to_preferences_is_a_400(
    member_client: tuple[Client, int], thread_id: int, body: str
) -> None:
    client, _member_id = member_client
    reply = client.post(f"/api/v1/threads/{thread_id}/posts", body, content_type="application/json")
    assert assert_json_error(reply, 400)["error"]["code"] == "parse_error"
    preferences = client.patch("/api/v1/notifications/preferences", body, content_type="application/json")
    assert assert_json_error(preferences, 400)["error"]["code"] == "parse_error"


def test_every_write_operation_answers_a_deep_body_without_a_server_error(
    member_client: tuple[Client, int], thread_id: int, django_user_model: Any
) -> None:
    client, member_id = member_client
    schema = client.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"}).json()
    tried = 0
    for path, operations in schema["paths"].items():
        for method in ("post", "put", "patch"):
            if method not in operations:
                continue
            # Path parameters get ids that exist where the fixtures made some (the thread, the member).
            url = re.sub(r"\{[^}]*thread[^}]*\}", str(thread_id), path)
            url = re.sub(r"\{[^}]*\}", str(member_id), url)
            sign_in_again(client, member_id, django_user_model)
            response = getattr(client, method)(url, DEEP, content_type="application/json")
            assert response.status_code < 500, (method, url, response.content[:300])
            if response.status_code != 204:  # a call that ignores its body (sign-out) answers nothing
                assert response["Content-Type"].startswith("application/json"), (method, url)
            tried += 1
    assert tried > 20  # the schema's write operations were all reached, not none


@pytest.mark.parametrize("debug", [True, False], ids=["development", "production"])
def test_a_body_over_the_size_limit_is_a_413_in_the_json_shape(db: None, settings: Any, debug: bool) -> None:
    settings.DEBUG = debug
    body = '{"login": "' + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024) + '", "password": "p"}'
    response = Client(raise_request_exception=False).post(
        "/api/v1/auth/token", body, content_type="application/json"
    )
    error = assert_json_error(response, 413)["error"]
    assert error["code"] == "request_too_large"


def test_a_page_form_over_the_size_limit_is_a_413_page(db: None, settings: Any) -> None:
    settings.DEBUG = True
    body = "login=" + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024)
    response = Client(raise_request_exception=False).post(
        "/accounts/signin/", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
