"""The token API from the outside: sign in for a pair, use it, refresh, reuse, sign out, cookie mode."""

from __future__ import annotations

import base64
import datetime
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from celery import current_app
from django.contrib.auth import get_user_model
from django.test import Client

from apps.authentication.services import two_factor_enrol_confirm, two_factor_enrol_start
from forum.testing.totp import Authenticator

pytestmark = pytest.mark.django_db

PASSWORD = "Quiet-Harbour-Lantern-71"
TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/token/refresh"
REVOKE = "/api/v1/auth/token/revoke"
ME = "/api/v1/me/permissions"


@pytest.fixture
def member(make_member: Callable[..., int]) -> tuple[int, str]:
    """A member with a password: (id, username)."""
    user_id = make_member()
    user = get_user_model().objects.get(pk=user_id)
    user.set_password(PASSWORD)
    user.save()
    return user_id, user.get_username()


def sign_in(client: Client, username: str, **headers: str) -> Any:
    return client.post(
        TOKEN,
        {"login": username, "password": PASSWORD},
        content_type="application/json",
        headers={"User-Agent": "Firefox/140 on Linux", **headers},
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def refresh(client: Client, token: str) -> Any:
    return client.post(REFRESH, {"refresh": token}, content_type="application/json")


def test_a_pair_is_issued_for_the_right_password_and_the_access_token_works(
    client: Client, member: tuple[int, str]
) -> None:
    user_id, username = member
    response = sign_in(client, username)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    access = claims(body["access"])
    assert access["exp"] - access["iat"] == 15 * 60
    assert claims(body["refresh"])["exp"] - claims(body["refresh"])["iat"] == 14 * 24 * 3600
    assert access["fam"] == claims(body["refresh"])["fam"]
    assert not response.cookies  # the default transport sets no cookie

    me = Client().get(ME, headers=bearer(body["access"]))
    assert me.status_code == 200
    assert me.json()["user_id"] == user_id


def test_a_wrong_password_gets_no_tokens(client: Client, member: tuple[int, str]) -> None:
    response = client.post(TOKEN, {"login": member[1], "password": "wrong"}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_credentials"


def test_missing_fields_and_a_garbage_token_are_clear_4xx(client: Client, member: tuple[int, str]) -> None:
    assert client.post(TOKEN, {}, content_type="application/json").json()["error"]["fields"].keys() == {
        "login",
        "password",
    }
    refused = Client().get(ME, headers=bearer("not-a-token"))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "token_not_valid"
    assert refused["WWW-Authenticate"].startswith("Bearer")
    assert refresh(client, "not-a-token").status_code == 401
    assert client.post(REFRESH, {}, content_type="application/json").status_code == 400


def test_an_expired_access_token_is_refused_with_401(
    client: Client, member: tuple[int, str], settings: Any
) -> None:
    settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "ACCESS_TOKEN_LIFETIME": datetime.timedelta(seconds=-1)}
    pair = sign_in(client, member[1]).json()
    response = Client().get(ME, headers=bearer(pair["access"]))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"
    # The refresh token still gives a new pair.
    assert refresh(client, pair["refresh"]).status_code == 200


def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_family(
    client: Client, member: tuple[int, str]
) -> None:
    first = sign_in(client, member[1]).json()
    second = refresh(client, first["refresh"]).json()
    assert second["refresh"] != first["refresh"] and second["access"] != first["access"]
    assert claims(second["refresh"])["fam"] == claims(first["refresh"])["fam"]
    assert Client().get(ME, headers=bearer(second["access"])).status_code == 200

    reused = refresh(client, first["refresh"])
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "token_reused"
    # The whole family is over: the newest refresh token and its access token too.
    assert refresh(client, second["refresh"]).json()["error"]["code"] == "token_revoked"
    refused = Client().get(ME, headers=bearer(second["access"]))
    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "token_revoked")


def test_another_sign_in_is_another_family_and_survives_a_reuse(
    client: Client, member: tuple[int, str]
) -> None:
    phone = sign_in(client, member[1]).json()
    laptop = sign_in(client, member[1]).json()
    refresh(client, phone["refresh"])
    refresh(client, phone["refresh"])  # reused: the phone's family ends
    assert Client().get(ME, headers=bearer(laptop["access"])).status_code == 200


def test_sign_out_revokes_the_refresh_and_access_tokens_of_the_family(
    client: Client, member: tuple[int, str]
) -> None:
    pair = sign_in(client, member[1]).json()
    other = sign_in(client, member[1]).json()
    response = client.post(REVOKE, {"refresh": pair["refresh"]}, content_type="application/json")
    assert response.status_code == 204
    assert refresh(client, pair["refresh"]).json()["error"]["code"] == "token_revoked"
    assert Client().get(ME, headers=bearer(pair["access"])).status_code == 401
    assert Client().get(ME, headers=bearer(other["access"])).status_code == 200


def test_sign_out_with_the_access_token_alone(client: Client, member: tuple[int, str]) -> None:
    pair = sign_in(client, member[1]).json()
    assert client.post(REVOKE, headers=bearer(pair["access"])).status_code == 204
    assert refresh(client, pair["refresh"]).status_code == 401
    assert client.post(REVOKE).status_code == 400


def test_a_disabled_account_loses_its_tokens(client: Client, member: tuple[int, str]) -> None:
    pair = sign_in(client, member[1]).json()
    get_user_model().objects.filter(pk=member[0]).update(is_active=False)
    assert Client().get(ME, headers=bearer(pair["access"])).json()["error"]["code"] == "account_disabled"
    assert refresh(client, pair["refresh"]).status_code == 401


# --- Cookie mode ---------------------------------------------------------------------------------------


def test_cookie_mode_sets_httponly_samesite_cookies_and_leaves_tokens_out_of_the_body(
    client: Client, member: tuple[int, str], settings: Any
) -> None:
    settings.JWT_COOKIE_SECURE = True
    settings.JWT_COOKIE_SAMESITE = "Strict"
    response = sign_in(client, member[1], **{"X-Token-Transport": "cookie"})
    assert response.status_code == 200
    assert (response.json()["access"], response.json()["refresh"]) == (None, None)
    access = response.cookies[settings.JWT_ACCESS_COOKIE_NAME]
    refresh_cookie = response.cookies[settings.JWT_REFRESH_COOKIE_NAME]
    for cookie in (access, refresh_cookie):
        assert cookie["httponly"] and cookie["secure"]
        assert cookie["samesite"] == "Strict"
    assert access["path"] == "/"
    assert refresh_cookie["path"] == "/api/v1/auth/token/"
    assert access["max-age"] == 15 * 60
    assert settings.CSRF_COOKIE_NAME in response.cookies  # the SPA reads its CSRF token from here


def test_secure_follows_the_setting(client: Client, member: tuple[int, str], settings: Any) -> None:
    settings.JWT_COOKIE_SECURE = False
    response = sign_in(client, member[1], **{"X-Token-Transport": "cookie"})
    assert not response.cookies[settings.JWT_ACCESS_COOKIE_NAME]["secure"]


def test_a_cookie_authenticated_unsafe_call_needs_the_csrf_token(
    member: tuple[int, str], settings: Any
) -> None:
    spa = Client(enforce_csrf_checks=True)
    signed_in = sign_in(spa, member[1], **{"X-Token-Transport": "cookie"})
    csrf = signed_in.cookies[settings.CSRF_COOKIE_NAME].value
    assert spa.get("/api/v1/me/sessions").status_code == 200  # reading needs no CSRF token

    refused = spa.post("/api/v1/me/sessions/end-others")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["error"]["message"]
    allowed = spa.post("/api/v1/me/sessions/end-others", headers={"X-CSRFToken": csrf})
    assert allowed.status_code == 200


def test_cookie_refresh_rotates_the_cookies_and_needs_the_csrf_token(
    member: tuple[int, str], settings: Any
) -> None:
    spa = Client(enforce_csrf_checks=True)
    signed_in = sign_in(spa, member[1], **{"X-Token-Transport": "cookie"})
    csrf = signed_in.cookies[settings.CSRF_COOKIE_NAME].value
    old_refresh = signed_in.cookies[settings.JWT_REFRESH_COOKIE_NAME].value

    assert spa.post(REFRESH).status_code == 403
    rotated = spa.post(REFRESH, headers={"X-CSRFToken": csrf})
    assert rotated.status_code == 200
    assert rotated.cookies[settings.JWT_REFRESH_COOKIE_NAME].value != old_refresh

    signed_out = spa.post(REVOKE, headers={"X-CSRFToken": csrf})
    assert signed_out.status_code == 204
    assert signed_out.cookies[settings.JWT_ACCESS_COOKIE_NAME].value == ""
    assert (
        Client().post(REFRESH, {"refresh": old_refresh}, content_type="application/json").status_code == 401
    )


def test_a_new_password_ends_every_api_sign_in(client: Client, member: tuple[int, str]) -> None:
    pair = sign_in(client, member[1]).json()
    # As a worker delivers it: the subscriber's Celery task, with its dedup record.
    current_app.tasks["authorization.on_password_changed"].apply(
        args=[
            str(uuid.uuid4()),
            "authentication.password_changed",
            1,
            {"user_id": member[0], "by_reset": False, "language": "en", "origin": "http://testserver"},
        ],
        throw=True,
    )
    assert refresh(client, pair["refresh"]).json()["error"]["code"] == "token_revoked"
    assert Client().get(ME, headers=bearer(pair["access"])).status_code == 401


TWO_FACTOR = "/api/v1/auth/token/two-factor"


def code_step(client: Client, challenge: str, code: str) -> Any:
    return client.post(TWO_FACTOR, {"challenge": challenge, "code": code}, content_type="application/json")


def test_an_account_with_two_factor_gets_a_challenge_and_tokens_only_for_its_code(
    client: Client, member: tuple[int, str]
) -> None:
    user_id, username = member
    enrolment = two_factor_enrol_start(user_id=user_id)
    phone = Authenticator(enrolment.key)
    two_factor_enrol_confirm(user_id=user_id, code=phone.code(), ip="127.0.0.1")

    answer = sign_in(client, username)
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "two_factor_required" and body["expires_in"] > 0
    assert "access" not in body and "refresh" not in body  # the password alone earns no token

    wrong = client.post(
        TWO_FACTOR,
        {"challenge": body["challenge"], "code": phone.wrong_code()},
        content_type="application/json",
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "invalid_code"

    right = code_step(client, body["challenge"], phone.code())
    assert right.status_code == 200, right.content
    pair = right.json()
    assert client.get(ME, headers=bearer(pair["access"])).status_code == 200

    # The challenge was used up with the sign-in.
    again = code_step(client, body["challenge"], phone.code())
    assert again.status_code == 400 and again.json()["error"]["code"] == "two_factor_challenge_invalid"


def test_the_two_factor_step_refuses_garbage_with_a_clear_error(client: Client) -> None:
    answer = client.post(TWO_FACTOR, {"challenge": "x" * 500, "code": ""}, content_type="application/json")
    assert answer.status_code == 400
    assert set(answer.json()["error"]["fields"]) == {"challenge", "code"}
