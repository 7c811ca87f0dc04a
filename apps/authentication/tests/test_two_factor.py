"""Two-factor authentication: enrolment with a QR code, sign-in with a code on pages and in the API,
single-use backup codes and challenges, limits on guessing, and turning it off with password and code."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from apps.authentication.models import User
from apps.authentication.tests.helpers import PASSWORD, signed_in_id
from forum.testing.totp import Authenticator
from forum.tests.test_pages import Page

pytestmark = pytest.mark.django_db


def api_signin(api: APIClient, login: str = "alice", password: str = PASSWORD) -> Any:
    return api.post("/api/v1/auth/signin", {"login": login, "password": password}, format="json")


def api_code(api: APIClient, challenge: str, code: str) -> Any:
    return api.post("/api/v1/auth/signin/two-factor", {"challenge": challenge, "code": code}, format="json")


def error_code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def enrol(api: APIClient) -> tuple[Authenticator, list[str]]:
    """Turn two-factor authentication on for the signed-in caller; its app and backup codes."""
    started = api.post("/api/v1/me/two-factor")
    assert started.status_code == 201, started.content
    app = Authenticator(started.json()["key"])
    confirmed = api.post("/api/v1/me/two-factor/confirm", {"code": app.code()}, format="json")
    assert confirmed.status_code == 200, confirmed.content
    return app, list(confirmed.json()["backup_codes"])


@pytest.fixture
def alice_api(member: User) -> APIClient:
    api = APIClient()
    api.force_authenticate(member)
    return api


@pytest.fixture
def protected(alice_api: APIClient) -> tuple[Authenticator, list[str]]:
    """alice, with two-factor authentication on."""
    return enrol(alice_api)


# --- Enrolment ------------------------------------------------------------------------------------------


def test_enrolment_gives_a_uri_a_key_and_a_qr_code_and_a_code_turns_it_on(
    alice_api: APIClient, english: None
) -> None:
    assert alice_api.get("/api/v1/me/two-factor").json() == {
        "enabled": False,
        "enrolling": False,
        "backup_codes_left": 0,
    }
    started = alice_api.post("/api/v1/me/two-factor")
    assert started.status_code == 201
    body = started.json()
    uri = urlsplit(body["otpauth_uri"])
    assert (uri.scheme, uri.netloc, uri.path) == ("otpauth", "totp", "/Forum:alice")
    query = parse_qs(uri.query)
    assert query["secret"] == [body["key"]]
    assert query["issuer"] == ["Forum"]
    assert query["digits"] == ["6"] and query["period"] == ["30"]
    assert body["qr_svg"].startswith("<svg") and body["qr_svg"].endswith("</svg>")
    assert "<script" not in body["qr_svg"] and "href" not in body["qr_svg"]
    assert alice_api.get("/api/v1/me/two-factor").json()["enrolling"] is True

    app = Authenticator(body["key"])
    wrong = alice_api.post("/api/v1/me/two-factor/confirm", {"code": app.wrong_code()}, format="json")
    assert wrong.status_code == 400
    assert error_code(wrong) == "invalid_code"
    assert alice_api.get("/api/v1/me/two-factor").json()["enabled"] is False

    confirmed = alice_api.post("/api/v1/me/two-factor/confirm", {"code": app.code()}, format="json")
    assert confirmed.status_code == 200
    codes = confirmed.json()["backup_codes"]
    assert len(codes) == len(set(codes)) == 10
    assert alice_api.get("/api/v1/me/two-factor").json() == {
        "enabled": True,
        "enrolling": False,
        "backup_codes_left": 10,
    }


def test_the_issuer_is_the_forums_name(alice_api: APIClient, settings: Any) -> None:
    settings.FORUM_NAME = "Birds: of a feather"
    uri = alice_api.post("/api/v1/me/two-factor").json()["otpauth_uri"]
    assert uri.startswith("otpauth://totp/Birds%20of%20a%20feather:alice?")
    assert parse_qs(urlsplit(uri).query)["issuer"] == ["Birds of a feather"]


def test_starting_over_replaces_the_key(alice_api: APIClient) -> None:
    first = Authenticator(alice_api.post("/api/v1/me/two-factor").json()["key"])
    second = alice_api.post("/api/v1/me/two-factor").json()["key"]
    assert Authenticator(second).key != first.key
    stale = alice_api.post("/api/v1/me/two-factor/confirm", {"code": first.code()}, format="json")
    assert stale.status_code == 400


def test_confirming_without_starting_and_starting_when_on_are_refused(alice_api: APIClient) -> None:
    response = alice_api.post("/api/v1/me/two-factor/confirm", {"code": "123456"}, format="json")
    assert response.status_code == 400
    assert error_code(response) == "two_factor_not_started"
    enrol(alice_api)
    again = alice_api.post("/api/v1/me/two-factor")
    assert again.status_code == 409
    assert error_code(again) == "two_factor_enabled"


def test_two_factor_settings_are_for_members_only(api: APIClient) -> None:
    assert api.get("/api/v1/me/two-factor").status_code == 401
    assert api.post("/api/v1/me/two-factor").status_code == 401
    assert api.post("/api/v1/me/two-factor/confirm", {"code": "1"}, format="json").status_code == 401


# --- Signing in through the API ---------------------------------------------------------------------------


def test_the_api_sign_in_asks_for_the_code_and_the_code_signs_in(
    protected: tuple[Authenticator, list[str]], member: User
) -> None:
    app, _codes = protected
    api = APIClient()
    first = api_signin(api)
    assert first.status_code == 200
    body = first.json()
    assert body["status"] == "two_factor_required"
    assert body["expires_in"] == 300
    assert "account" not in body
    assert signed_in_id(api) is None

    wrong = api_code(api, body["challenge"], app.wrong_code())
    assert wrong.status_code == 400
    assert error_code(wrong) == "invalid_code"
    assert signed_in_id(api) is None

    done = api_code(api, body["challenge"], app.code())
    assert done.status_code == 200
    assert done.json()["status"] == "signed_in"
    assert done.json()["account"]["id"] == member.pk
    assert signed_in_id(api) == member.pk


def test_the_device_cookie_comes_with_the_code_and_never_skips_it(
    protected: tuple[Authenticator, list[str]], member: User
) -> None:
    app, _codes = protected
    api = APIClient()
    first = api_signin(api)
    assert settings.SIGNIN_DEVICE_COOKIE_NAME not in first.cookies  # the password alone proves half
    done = api_code(api, first.json()["challenge"], app.code())
    assert done.status_code == 200
    cookie = done.cookies[settings.SIGNIN_DEVICE_COOKIE_NAME].value

    # A stranger's failures lock the account; the browser with the cookie is still asked for the code.
    stranger = APIClient()
    for _attempt in range(5):
        api_signin(stranger, password="wrong")
    assert api_signin(APIClient()).status_code == 429
    owner = APIClient()
    owner.cookies[settings.SIGNIN_DEVICE_COOKIE_NAME] = cookie
    again = api_signin(owner)
    assert again.status_code == 200
    assert again.json()["status"] == "two_factor_required"
    assert signed_in_id(owner) is None


def test_a_challenge_works_once(protected: tuple[Authenticator, list[str]]) -> None:
    app, codes = protected
    api = APIClient()
    challenge = api_signin(api).json()["challenge"]
    assert api_code(api, challenge, app.code()).status_code == 200
    again = api_code(APIClient(), challenge, codes[0])
    assert again.status_code == 400
    assert error_code(again) == "two_factor_challenge_invalid"


def test_a_challenge_expires(protected: tuple[Authenticator, list[str]]) -> None:
    app, _codes = protected
    api = APIClient()
    challenge = api_signin(api).json()["challenge"]
    store = redis.Redis.from_url(settings.REDIS_URL)
    (key,) = store.scan_iter(f"{settings.REDIS_KEY_PREFIX}:auth-2fa-challenge:*")
    assert 0 < store.ttl(key) <= 300
    assert challenge.encode() not in key  # only a hash of it is kept
    store.pexpire(key, 1)  # five minutes pass
    while store.exists(key):
        time.sleep(0.01)
    late = api_code(api, challenge, app.code())
    assert late.status_code == 400
    assert error_code(late) == "two_factor_challenge_invalid"
    assert signed_in_id(api) is None


def test_a_backup_code_signs_in_once(protected: tuple[Authenticator, list[str]], member: User) -> None:
    _app, codes = protected
    api = APIClient()
    # Typed as people copy them: upper case, with a dash.
    typed = (codes[0][:4] + "-" + codes[0][4:]).upper()
    assert api_code(api, api_signin(api).json()["challenge"], typed).status_code == 200
    assert signed_in_id(api) == member.pk

    other = APIClient()
    reused = api_code(other, api_signin(other).json()["challenge"], codes[0])
    assert reused.status_code == 400
    assert error_code(reused) == "invalid_code"
    assert signed_in_id(other) is None
    status = APIClient()
    status.force_authenticate(member)
    assert status.get("/api/v1/me/two-factor").json()["backup_codes_left"] == 9


def test_a_code_answers_only_the_challenge_of_its_own_account(
    protected: tuple[Authenticator, list[str]], make_member: Callable[..., User]
) -> None:
    app, _codes = protected
    bob = make_member(username="bob", email="bob@example.com")
    bob_api = APIClient()
    bob_api.force_authenticate(bob)
    enrol(bob_api)

    thief = APIClient()
    bobs_challenge = api_signin(thief, "bob").json()["challenge"]
    response = api_code(thief, bobs_challenge, app.code())  # alice's code
    assert response.status_code == 400
    assert error_code(response) == "invalid_code"
    assert signed_in_id(thief) is None


def test_five_wrong_codes_drop_the_challenge(protected: tuple[Authenticator, list[str]]) -> None:
    app, _codes = protected
    api = APIClient()
    challenge = api_signin(api).json()["challenge"]
    for _attempt in range(4):
        assert error_code(api_code(api, challenge, app.wrong_code())) == "invalid_code"
    last = api_code(api, challenge, app.wrong_code())
    assert error_code(last) == "invalid_code"
    assert "last try" in last.json()["error"]["message"]
    after = api_code(api, challenge, app.code())
    assert after.status_code == 400
    assert error_code(after) == "two_factor_challenge_invalid"
    assert signed_in_id(api) is None


def test_ten_wrong_codes_lock_the_account_for_a_while(protected: tuple[Authenticator, list[str]]) -> None:
    app, codes = protected
    api = APIClient()
    for _sign_in in range(2):
        challenge = api_signin(api).json()["challenge"]
        for _attempt in range(5):
            assert api_code(api, challenge, app.wrong_code()).status_code == 400
    challenge = api_signin(api).json()["challenge"]
    locked = api_code(api, challenge, app.code())
    assert locked.status_code == 429
    assert error_code(locked) == "rate_limited"
    assert 0 < int(locked["Retry-After"]) <= 15 * 60
    assert error_code(api_code(api, challenge, codes[0])) == "rate_limited"
    assert signed_in_id(api) is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"challenge": "x"},
        {"code": "123456"},
        {"challenge": ["x"], "code": {"a": 1}},
        {"challenge": "x" * 5000, "code": "123456"},
        {"challenge": "x", "code": "1" * 5000},
        {"challenge": None, "code": None},
    ],
)
def test_garbage_for_the_code_step_is_a_clear_400(api: APIClient, body: dict[str, Any]) -> None:
    response = api.post("/api/v1/auth/signin/two-factor", body, format="json")
    assert response.status_code == 400
    assert error_code(response) == "invalid"


@pytest.mark.parametrize("code", ["123456", "１２３４５６", "1_23456", "abcdefgh", "\x00", "-", "   "])
def test_odd_codes_and_unknown_challenges_are_clear_refusals(
    protected: tuple[Authenticator, list[str]], code: str
) -> None:
    api = APIClient()
    unknown = api_code(api, "not-a-challenge", code)
    assert unknown.status_code == 400
    challenge = api_signin(api).json()["challenge"]
    response = api_code(api, challenge, code)
    assert response.status_code == 400
    assert error_code(response) in {"invalid_code", "invalid"}


def test_non_json_is_a_clear_400(api: APIClient) -> None:
    response = api.post("/api/v1/auth/signin/two-factor", "{not json", content_type="application/json")
    assert response.status_code == 400


# --- Backup codes and turning it off --------------------------------------------------------------------


def test_new_backup_codes_need_a_code_and_replace_the_old(
    alice_api: APIClient, protected: tuple[Authenticator, list[str]]
) -> None:
    app, old = protected
    wrong = alice_api.post("/api/v1/me/two-factor/backup-codes", {"code": app.wrong_code()}, format="json")
    assert wrong.status_code == 400
    response = alice_api.post("/api/v1/me/two-factor/backup-codes", {"code": app.code()}, format="json")
    assert response.status_code == 200
    new = response.json()["backup_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    api = APIClient()
    assert api_code(api, api_signin(api).json()["challenge"], old[1]).status_code == 400
    assert api_code(api, api_signin(api).json()["challenge"], new[1]).status_code == 200


def test_turning_off_needs_the_password_and_a_code(
    alice_api: APIClient, protected: tuple[Authenticator, list[str]]
) -> None:
    app, codes = protected

    def disable(**body: str) -> Any:
        return alice_api.delete("/api/v1/me/two-factor", body, format="json")

    wrong_password = disable(password="Not-The-Password-1", code=app.code())
    assert wrong_password.status_code == 400
    assert "password" in wrong_password.json()["error"]["fields"]
    wrong_code = disable(password=PASSWORD, code=app.wrong_code())
    assert wrong_code.status_code == 400
    assert error_code(wrong_code) == "invalid_code"
    assert disable(password=PASSWORD).status_code == 400
    assert disable(code=codes[0]).status_code == 400
    assert alice_api.get("/api/v1/me/two-factor").json()["enabled"] is True

    assert disable(password=PASSWORD, code=codes[0]).status_code == 204
    assert alice_api.get("/api/v1/me/two-factor").json() == {
        "enabled": False,
        "enrolling": False,
        "backup_codes_left": 0,
    }
    api = APIClient()
    assert api_signin(api).json()["status"] == "signed_in"
    off_again = disable(password=PASSWORD, code=codes[1])
    assert off_again.status_code == 400
    assert error_code(off_again) == "two_factor_disabled"


# --- Pages ------------------------------------------------------------------------------------------------


def page_form_action(page: Page, action: str) -> dict[str, str]:
    found = [form for form in page.find("form") if form.get("action") == action]
    assert len(found) == 1, action
    return found[0]


def test_enrolling_on_the_settings_pages(client: Client, member: User, english: None) -> None:
    client.force_login(member)
    settings_page = Page(client.get("/accounts/settings/").content.decode())
    assert "/accounts/settings/two-factor/" in settings_page.urls()

    start_page = Page(client.get("/accounts/settings/two-factor/").content.decode())
    page_form_action(start_page, "/accounts/settings/two-factor/start/")
    started = client.post("/accounts/settings/two-factor/start/")
    assert started.status_code == 302

    response = client.get("/accounts/settings/two-factor/")
    html = response.content.decode()
    assert html.count("<svg") == 1 and "two-factor-qr" in html
    page_form_action(Page(html), "/accounts/settings/two-factor/confirm/")
    shown_key = html.split('id="two-factor-key">', 1)[1].split("<", 1)[0]
    assert "otpauth://totp/Forum:alice?secret=" + shown_key in html
    app = Authenticator(shown_key)

    wrong = client.post("/accounts/settings/two-factor/confirm/", {"code": app.wrong_code()})
    assert wrong.status_code == 400
    assert "The code is not right." in Page(wrong.content.decode()).text
    confirmed = client.post("/accounts/settings/two-factor/confirm/", {"code": app.code()})
    assert confirmed.status_code == 200
    codes = [text for _tag, text in _code_elements(confirmed.content.decode())]
    assert len(codes) == 10
    on = Page(client.get("/accounts/settings/").content.decode())
    assert "Manage two-factor authentication" in on.text

    refused = client.post(
        "/accounts/settings/two-factor/disable/", {"password": PASSWORD, "code": app.wrong_code()}
    )
    assert refused.status_code == 400
    off = client.post("/accounts/settings/two-factor/disable/", {"password": PASSWORD, "code": codes[0]})
    assert off.status_code == 302
    assert "Set up two-factor authentication" in Page(client.get("/accounts/settings/").content.decode()).text


def _code_elements(html: str) -> list[tuple[str, str]]:
    listed = html.split('<ol class="backup-codes">', 1)[1].split("</ol>", 1)[0]
    return [("code", part.split("</code>", 1)[0]) for part in listed.split("<code>")[1:]]


def test_the_sign_in_page_asks_for_the_code(
    client: Client, member: User, protected: tuple[Authenticator, list[str]], english: None
) -> None:
    app, _codes = protected
    response = client.post(
        "/accounts/signin/", {"login": "alice", "password": PASSWORD, "next": "/accounts/settings/"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/signin/two-factor/"
    assert signed_in_id(client) is None

    page = Page(client.get("/accounts/signin/two-factor/").content.decode())
    assert {attrs.get("name") for attrs in page.find("input")} >= {"code", "csrfmiddlewaretoken"}
    code_input = next(attrs for attrs in page.find("input") if attrs.get("name") == "code")
    assert code_input["autocomplete"] == "one-time-code"

    wrong = client.post("/accounts/signin/two-factor/", {"code": app.wrong_code()})
    assert wrong.status_code == 400
    assert "The code is not right." in Page(wrong.content.decode()).text
    empty = client.post("/accounts/signin/two-factor/", {})
    assert empty.status_code == 400

    done = client.post("/accounts/signin/two-factor/", {"code": app.code()})
    assert done.status_code == 302
    assert done["Location"] == "/accounts/settings/"
    assert signed_in_id(client) == member.pk
    # Done: the step is gone with its challenge.
    assert client.get("/accounts/signin/two-factor/").status_code == 302


def test_the_code_page_without_a_password_first_sends_to_sign_in(client: Client) -> None:
    response = client.get("/accounts/signin/two-factor/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/signin/"
    assert client.post("/accounts/signin/two-factor/", {"code": "123456"}).status_code == 302


def test_the_code_page_locks_after_too_many_wrong_codes(
    client: Client, protected: tuple[Authenticator, list[str]], english: None
) -> None:
    app, _codes = protected
    for _sign_in in range(2):
        client.post("/accounts/signin/", {"login": "alice", "password": PASSWORD})
        for _attempt in range(5):
            assert client.post("/accounts/signin/two-factor/", {"code": app.wrong_code()}).status_code == 400
    client.post("/accounts/signin/", {"login": "alice", "password": PASSWORD})
    locked = client.post("/accounts/signin/two-factor/", {"code": app.code()})
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0
    assert "Too many wrong codes." in Page(locked.content.decode()).text
    assert signed_in_id(client) is None


def test_the_admin_login_does_not_skip_the_second_factor(
    client: Client, member: User, protected: tuple[Authenticator, list[str]]
) -> None:
    member.is_staff = True
    member.save(update_fields=["is_staff"])
    response = client.post("/admin/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 403
    assert signed_in_id(client) is None


# --- A code used twice ------------------------------------------------------------------------------------


def test_the_enrolment_code_signs_in_nobody_and_says_to_wait_for_the_next(
    protected: tuple[Authenticator, list[str]], member: User, english: None
) -> None:
    """The code that turned two-factor on is right but used up: refused with a message that says why
    (not "The code is not right"), on the API and on the sign-in page; the next code signs in."""
    app, _codes = protected
    api = APIClient()
    challenge = api_signin(api).json()["challenge"]
    reused = api_code(api, challenge, app.used_code())
    assert reused.status_code == 400
    assert reused.json()["error"]["code"] == "code_used"
    assert reused.json()["error"]["message"] == "This code was already used; wait for the next one."
    assert signed_in_id(api) is None
    assert api_code(api, challenge, app.code()).status_code == 200
    assert signed_in_id(api) == member.pk

    # The page: the step the API sign-in just used is refused with the same words.
    browser = Client()
    browser.post("/accounts/signin/", {"login": "alice", "password": PASSWORD})
    page = browser.post("/accounts/signin/two-factor/", {"code": app.used_code()})
    assert page.status_code == 400
    text = Page(page.content.decode()).text
    assert "This code was already used; wait for the next one." in text
    assert "The code is not right." not in text
    assert signed_in_id(browser) is None


def test_a_wrong_code_is_still_not_right(protected: tuple[Authenticator, list[str]]) -> None:
    app, _codes = protected
    api = APIClient()
    wrong = api_code(api, api_signin(api).json()["challenge"], app.wrong_code())
    assert wrong.json()["error"]["code"] == "invalid_code"
