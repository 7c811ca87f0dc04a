"""Signing in and out: by username or address in any case, throttled, and silent on who has an account."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core import signing
from django.test import Client
from rest_framework.test import APIClient

from apps.authentication import devices, services
from apps.authentication.models import User
from apps.authentication.tests.helpers import PASSWORD, signed_in_id
from forum.tests.test_pages import Page

pytestmark = pytest.mark.django_db

WRONG = "The username or email address, or the password, is not right."


def api_signin(api: APIClient, login: str, password: str = PASSWORD, **extra: Any) -> Any:
    return api.post("/api/v1/auth/signin", {"login": login, "password": password}, format="json", **extra)


def page_signin(client: Client, login: str, password: str = PASSWORD, **data: str) -> Any:
    return client.post("/accounts/signin/", {"login": login, "password": password, **data})


# --- Signing in -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "login", ["alice", "ALICE", "Alice", "alice@example.com", "Alice@Example.COM", " alice "]
)
def test_signing_in_by_username_or_address_in_any_case(api: APIClient, member: User, login: str) -> None:
    response = api_signin(api, login)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "signed_in"
    assert body["account"] == {
        "id": member.pk,
        "username": "alice",
        "email": "alice@example.com",
        "email_verified": True,
        "is_staff": False,
        "date_joined": body["account"]["date_joined"],
    }
    assert signed_in_id(api) == member.pk


def test_the_sign_in_page_starts_a_session_and_goes_where_it_was_asked(client: Client, member: User) -> None:
    page = Page(client.get("/accounts/signin/?next=/accounts/settings/").content.decode())
    # The sign-in form's own field (the language switch further down the page has a `next` of its own).
    hidden = [
        attrs for attrs in page.find("input") if attrs.get("type") == "hidden" and attrs.get("name") == "next"
    ]
    assert hidden[0].get("value") == "/accounts/settings/"

    response = page_signin(client, "alice@example.com", next="/accounts/settings/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/settings/"
    assert signed_in_id(client) == member.pk
    member.refresh_from_db()
    assert member.last_login is not None


@pytest.mark.parametrize(
    "target", ["https://evil.example.com/", "//evil.example.com/", "javascript:alert(1)"]
)
def test_sign_in_never_sends_anyone_to_another_site(client: Client, member: User, target: str) -> None:
    response = page_signin(client, "alice", next=target)
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_a_page_for_members_sends_a_visitor_to_sign_in_and_back(client: Client) -> None:
    response = client.get("/accounts/settings/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/signin/?next=/accounts/settings/"


def test_the_layout_links_to_the_forums_own_account_pages(client: Client, member: User) -> None:
    page = Page(client.get("/?page=2").content.decode())
    assert "/accounts/signin/?next=/%3Fpage%3D2" in page.urls()
    assert "/accounts/signup/" in page.urls()
    client.force_login(member)
    page = Page(client.get("/").content.decode())
    sign_out = [form for form in page.find("form") if form.get("action") == "/accounts/signout/"]
    assert sign_out and sign_out[0]["method"] == "post"
    assert "/accounts/settings/" in page.urls()


# --- Refusals, and nothing given away -------------------------------------------------------------------


def test_a_wrong_password_and_an_unknown_account_get_the_same_answer(api: APIClient, member: User) -> None:
    wrong_password = api_signin(api, "alice", "not-her-password")
    unknown = api_signin(api, "nobody", "not-her-password")
    unknown_address = api_signin(api, "nobody@example.com", "not-her-password")
    assert wrong_password.status_code == unknown.status_code == unknown_address.status_code == 400
    assert wrong_password.json() == unknown.json() == unknown_address.json()
    assert wrong_password.json()["error"] == {"code": "invalid_credentials", "message": WRONG, "fields": {}}


def test_the_page_says_the_same_for_a_wrong_password_and_an_unknown_account(
    client: Client, member: User
) -> None:
    texts = []
    for login in ("alice", "nobody"):
        response = page_signin(Client(), login, "not-her-password")
        assert response.status_code == 400
        texts.append(Page(response.content.decode()).text.replace(login, "X"))
    assert texts[0] == texts[1]
    assert WRONG in texts[0]


def test_an_unknown_account_costs_a_password_hash_too(member: User, monkeypatch: pytest.MonkeyPatch) -> None:
    # Timing must not tell an unknown name from a wrong password: both run the hasher once.
    calls: list[str] = []
    from apps.authentication.hashers import PepperedBCryptSHA256PasswordHasher

    original = PepperedBCryptSHA256PasswordHasher.encode

    def counting(self: PepperedBCryptSHA256PasswordHasher, password: str, salt: bytes | str) -> str:
        calls.append(password)
        return original(self, password, salt)

    monkeypatch.setattr(PepperedBCryptSHA256PasswordHasher, "encode", counting)
    for login in ("alice", "nobody"):
        calls.clear()
        with pytest.raises(services.InvalidCredentials):
            services.credentials_check(login=login, password="guess", ip="192.0.2.1")
        assert calls == ["guess"], login


def test_a_disabled_account_is_told_only_with_the_right_password(
    api: APIClient, make_member: Callable[..., User]
) -> None:
    make_member(username="gone", email="gone@example.com", is_active=False)
    assert api_signin(api, "gone", "wrong").json()["error"]["code"] == "invalid_credentials"
    response = api_signin(api, "gone")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "account_disabled"
    assert signed_in_id(api) is None


@pytest.mark.parametrize(
    "body", [{}, {"login": "alice"}, {"login": "", "password": ""}, {"login": ["a"], "password": 1}]
)
def test_malformed_sign_in_input_is_a_400(api: APIClient, member: User, body: dict[str, Any]) -> None:
    response = api.post("/api/v1/auth/signin", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_an_email_with_no_account_does_not_match_a_username(
    api: APIClient, make_member: Callable[..., User]
) -> None:
    # An old account whose username looks like an address: its name signs it in, nobody else's address.
    make_member(username="x@example.com", email="owner@example.com")
    make_member(username="other", email="x2@example.com")
    assert api_signin(api, "x@example.com").json()["account"]["username"] == "x@example.com"


# --- Throttling -----------------------------------------------------------------------------------------


def test_five_failures_lock_the_account_name_for_everyone(api: APIClient, member: User) -> None:
    for _attempt in range(5):
        assert api_signin(api, "alice", "wrong").status_code == 400
    locked = api_signin(api, "alice")  # even the right password waits
    assert locked.status_code == 429
    assert 0 < int(locked["Retry-After"]) <= 15 * 60
    error = locked.json()["error"]
    assert error["code"] == "rate_limited"
    assert error["message"].startswith("Too many failed sign-in attempts. Try again in ")
    # From another address too, and by another spelling of the same name.
    assert api_signin(api, "ALICE", REMOTE_ADDR="203.0.113.50").status_code == 429


def test_the_lock_looks_the_same_for_an_account_that_does_not_exist(api: APIClient, member: User) -> None:
    answers = {}
    for login in ("alice", "nobody"):
        for _attempt in range(5):
            api_signin(api, login, "wrong", REMOTE_ADDR=f"198.51.100.{len(answers) + 1}")
        locked = api_signin(api, login, "wrong", REMOTE_ADDR="192.0.2.200")
        answers[login] = (
            locked.status_code,
            locked.json()["error"]["code"],
            locked.json()["error"]["message"],
        )
    assert answers["alice"] == answers["nobody"]
    assert answers["alice"][0] == 429


def test_a_success_clears_the_failures_of_the_name(api: APIClient, member: User) -> None:
    for _attempt in range(4):
        api_signin(api, "alice", "wrong")
    assert api_signin(api, "alice").status_code == 200
    for _attempt in range(4):
        assert api_signin(api, "alice", "wrong").status_code == 400


def test_twenty_failures_lock_an_address_across_accounts(api: APIClient, member: User) -> None:
    for number in range(20):
        assert api_signin(api, f"guess{number}", "wrong", REMOTE_ADDR="203.0.113.7").status_code == 400
    refused = api_signin(api, "alice", REMOTE_ADDR="203.0.113.7")
    assert refused.status_code == 429
    assert api_signin(api, "alice", REMOTE_ADDR="203.0.113.8").status_code == 200


def test_an_ipv6_client_is_counted_by_its_slash_64(api: APIClient, member: User) -> None:
    for number in range(20):
        api_signin(api, f"guess{number}", "wrong", REMOTE_ADDR=f"2001:db8:1:2::{number + 1:x}")
    assert api_signin(api, "alice", REMOTE_ADDR="2001:db8:1:2:ffff::1").status_code == 429
    assert api_signin(api, "alice", REMOTE_ADDR="2001:db8:1:3::1").status_code == 200


def test_the_page_shows_the_lock_on_its_form(client: Client, member: User) -> None:
    for _attempt in range(5):
        page_signin(client, "alice", "wrong")
    response = page_signin(client, "alice")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    page = Page(response.content.decode())
    assert "Too many failed sign-in attempts" in page.text
    assert any(attrs.get("name") == "login" for attrs in page.find("input"))


def test_the_admin_login_goes_through_the_same_check_and_limit(
    client: Client, make_member: Callable[..., User]
) -> None:
    make_member(username="staffer", email="staff@example.com", is_staff=True)
    for _attempt in range(5):
        client.post("/admin/login/", {"username": "staffer", "password": "wrong"})
    locked = client.post("/admin/login/", {"username": "STAFFER", "password": PASSWORD})
    assert locked.status_code == 429
    assert signed_in_id(client) is None


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(
    api: APIClient, member: User, settings: Any
) -> None:
    settings.TRUSTED_PROXY_NETWORKS = ["10.0.0.0/8"]
    for number in range(20):
        api_signin(
            api,
            f"guess{number}",
            "wrong",
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{number}, 203.0.113.99",  # a client can forge the front
        )
    via_proxy = {"REMOTE_ADDR": "10.0.0.2"}
    assert api_signin(api, "alice", HTTP_X_FORWARDED_FOR="203.0.113.99", **via_proxy).status_code == 429
    assert api_signin(api, "alice", HTTP_X_FORWARDED_FOR="203.0.113.100", **via_proxy).status_code == 200


def test_an_untrusted_peer_cannot_choose_its_address(api: APIClient, member: User) -> None:
    for number in range(20):
        api_signin(
            api,
            f"guess{number}",
            "wrong",
            REMOTE_ADDR="203.0.113.5",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{number}",
        )
    assert api_signin(api, "alice", REMOTE_ADDR="203.0.113.5").status_code == 429


# --- Per account, and the device cookie of a browser that signed in before ------------------------------


def device_cookie(client: Client) -> str:
    """The device cookie a completed sign-in left in ``client``."""
    return str(client.cookies[django_settings.SIGNIN_DEVICE_COOKIE_NAME].value)


def browser_with(cookie: str) -> APIClient:
    """A browser whose session is gone and that still keeps a device cookie."""
    browser = APIClient()
    browser.cookies[django_settings.SIGNIN_DEVICE_COOKIE_NAME] = cookie
    return browser


def lock_out(login: str = "alice", ip: str = "203.0.113.66") -> None:
    """A stranger's five wrong guesses: the account is locked for every client without its cookie."""
    stranger = APIClient()
    for _attempt in range(5):
        assert api_signin(stranger, login, "wrong", REMOTE_ADDR=ip).status_code == 400
    assert api_signin(stranger, login, REMOTE_ADDR=ip).status_code == 429


def test_failures_by_the_username_and_by_the_address_add_up_for_the_account(
    api: APIClient, member: User
) -> None:
    for _attempt in range(3):
        assert api_signin(api, "alice", "wrong").status_code == 400
    for _attempt in range(2):
        assert api_signin(api, "Alice@Example.com", "wrong", REMOTE_ADDR="198.51.100.9").status_code == 400
    # Five in all: locked, by either name, from any address.
    assert api_signin(api, "alice").status_code == 429
    assert api_signin(api, "alice@example.com", REMOTE_ADDR="192.0.2.77").status_code == 429


def test_a_strangers_failures_do_not_lock_out_a_browser_that_signed_in_before(
    api: APIClient, client: Client, member: User
) -> None:
    assert api_signin(api, "alice").status_code == 200
    from_api = device_cookie(api)
    assert page_signin(client, "alice@example.com").status_code == 302
    from_page = device_cookie(client)
    lock_out("alice")
    assert api_signin(APIClient(), "alice", REMOTE_ADDR="192.0.2.9").status_code == 429

    owner = browser_with(from_api)
    signed_in = api_signin(owner, "alice@example.com")
    assert signed_in.status_code == 200
    assert signed_in_id(owner) == member.pk
    assert device_cookie(owner) != from_api  # each sign-in gets a new one
    on_the_page = Client()
    on_the_page.cookies[django_settings.SIGNIN_DEVICE_COOKIE_NAME] = from_page
    assert page_signin(on_the_page, "ALICE").status_code == 302
    assert signed_in_id(on_the_page) == member.pk
    # The owner signing in did not lift the strangers' lock.
    assert api_signin(APIClient(), "alice", REMOTE_ADDR="192.0.2.10").status_code == 429


def test_the_device_cookie_is_http_only_lax_long_lived_and_secure_when_configured(
    api: APIClient, member: User, settings: Any
) -> None:
    settings.SIGNIN_DEVICE_COOKIE_SECURE = True
    failed = api_signin(api, "alice", "wrong")
    assert settings.SIGNIN_DEVICE_COOKIE_NAME not in failed.cookies
    cookie = api_signin(api, "alice").cookies[settings.SIGNIN_DEVICE_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["secure"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/"
    assert cookie["max-age"] == settings.SIGNIN_DEVICE_COOKIE_DAYS * 24 * 60 * 60


def test_a_device_cookie_of_another_account_grants_nothing(
    api: APIClient, member: User, make_member: Callable[..., User]
) -> None:
    make_member(username="bob", email="bob@example.com")
    assert api_signin(api, "bob").status_code == 200
    lock_out("alice")
    assert api_signin(api, "alice").status_code == 429
    assert signed_in_id(api) != member.pk


class _Signed40DaysPastItsLifetime(signing.TimestampSigner):
    def timestamp(self) -> str:
        days = int(django_settings.SIGNIN_DEVICE_COOKIE_DAYS) + 40
        return signing.b62_encode(int(time.time()) - days * 24 * 60 * 60)


@pytest.mark.parametrize("kind", ["altered", "other_key", "moved_to_another_account", "expired", "garbage"])
def test_an_altered_forged_or_expired_device_cookie_grants_nothing(
    api: APIClient, member: User, make_member: Callable[..., User], kind: str
) -> None:
    make_member(username="bob", email="bob@example.com")
    assert api_signin(api, "alice").status_code == 200
    genuine = device_cookie(api)
    bobs = APIClient()
    assert api_signin(bobs, "bob").status_code == 200
    payload = {"u": member.pk, "n": "a-nonce-of-my-choosing"}
    cookies = {
        "altered": genuine[:-1] + ("A" if genuine[-1] != "A" else "B"),
        "other_key": signing.dumps(payload, salt=devices.SALT, key="not-the-secret-key" * 3),
        # alice's id in the payload, bob's cookie's timestamp and signature
        "moved_to_another_account": ":".join(
            [signing.dumps(payload, salt=devices.SALT).split(":")[0], *device_cookie(bobs).split(":")[1:]]
        ),
        "expired": _Signed40DaysPastItsLifetime(salt=devices.SALT).sign_object(payload),
        "garbage": "x" * 4000,
    }
    lock_out("alice")
    assert api_signin(browser_with(cookies[kind]), "alice").status_code == 429
    assert api_signin(browser_with(genuine), "alice").status_code == 200


def test_a_browser_that_fails_five_times_is_locked_itself_and_only_itself(
    api: APIClient, member: User
) -> None:
    assert api_signin(api, "alice").status_code == 200
    owner = browser_with(device_cookie(api))
    for _attempt in range(5):
        assert api_signin(owner, "alice", "wrong").status_code == 400
    locked = api_signin(owner, "alice")
    assert locked.status_code == 429
    assert 0 < int(locked["Retry-After"]) <= 15 * 60
    assert locked.json()["error"]["message"].startswith("Too many failed sign-in attempts. Try again in ")
    # Its failures were its own: the account is not locked for the owner's other browsers.
    assert api_signin(APIClient(), "alice", REMOTE_ADDR="192.0.2.30").status_code == 200


def test_a_browser_that_signed_in_before_is_not_held_by_others_at_its_address(
    api: APIClient, member: User
) -> None:
    assert api_signin(api, "alice", REMOTE_ADDR="203.0.113.7").status_code == 200
    owner = browser_with(device_cookie(api))
    neighbour = APIClient()
    for number in range(20):
        assert api_signin(neighbour, f"guess{number}", "wrong", REMOTE_ADDR="203.0.113.7").status_code == 400
    assert api_signin(APIClient(), "alice", REMOTE_ADDR="203.0.113.7").status_code == 429
    assert api_signin(owner, "alice", REMOTE_ADDR="203.0.113.7").status_code == 200


def test_the_token_sign_in_sets_and_honours_the_device_cookie(api: APIClient, member: User) -> None:
    body = {"login": "alice", "password": PASSWORD}
    in_the_body = APIClient().post("/api/v1/auth/token", body, format="json")
    assert in_the_body.status_code == 200 and not in_the_body.cookies  # no cookies for that transport
    first = api.post("/api/v1/auth/token", body, format="json", HTTP_X_TOKEN_TRANSPORT="cookie")
    assert first.status_code == 200
    assert first.cookies[django_settings.SIGNIN_DEVICE_COOKIE_NAME]["httponly"] is True
    lock_out("alice")
    assert APIClient().post("/api/v1/auth/token", body, format="json").status_code == 429
    again = api.post("/api/v1/auth/token", body, format="json")
    assert again.status_code == 200
    assert again.json()["access"]


def test_while_redis_is_down_failures_still_add_up_per_account_and_the_owner_still_gets_in(
    api: APIClient, member: User, settings: Any
) -> None:
    assert api_signin(api, "alice").status_code == 200
    owner = browser_with(device_cookie(api))
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    stranger = APIClient()
    for login in ("alice", "alice@example.com", "ALICE", "Alice@Example.com", "alice"):
        assert api_signin(stranger, login, "wrong", REMOTE_ADDR="203.0.113.70").status_code == 400
    assert api_signin(APIClient(), "alice", REMOTE_ADDR="192.0.2.71").status_code == 429
    assert api_signin(owner, "alice").status_code == 200


# --- CSRF and signing out ---------------------------------------------------------------------------------


def test_api_sign_in_wants_the_csrf_token_even_from_a_visitor(member: User) -> None:
    browser = APIClient(enforce_csrf_checks=True)
    refused = api_signin(browser, "alice")
    assert refused.status_code == 403
    assert signed_in_id(browser) is None

    browser.get("/accounts/signin/")  # any page hands out the token's cookie
    token = browser.cookies["csrftoken"].value
    assert api_signin(browser, "alice", HTTP_X_CSRFTOKEN=token).status_code == 200


def test_signing_out_on_the_page_and_through_the_api(client: Client, api: APIClient, member: User) -> None:
    client.force_login(member)
    asked = client.get("/accounts/signout/")  # a link only asks
    assert asked.status_code == 200 and signed_in_id(client) == member.pk
    assert any(
        form.get("action") == "/accounts/signout/" for form in Page(asked.content.decode()).find("form")
    )
    response = client.post("/accounts/signout/")
    assert response.status_code == 302
    assert signed_in_id(client) is None

    api.force_login(member)
    assert api.post("/api/v1/auth/signout").status_code == 204
    assert signed_in_id(api) is None
    assert api.post("/api/v1/auth/signout").status_code == 204  # signing out twice is fine


def test_me_needs_a_session(api: APIClient) -> None:
    response = api.get("/api/v1/me")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("login", ["ali\x00ce", "a" * 300])
def test_hostile_input_is_a_400_never_a_500(api: APIClient, client: Client, member: User, login: str) -> None:
    assert api_signin(api, login).status_code == 400
    assert page_signin(client, login).status_code == 400
    assert api_signin(api, "alice", "p" * 5000).status_code == 400
    signup = api.post(
        "/api/v1/auth/signup",
        {"username": login, "email": f"{login}@example.com", "password": PASSWORD},
        format="json",
    )
    assert signup.status_code == 400


# --- The session's account on every request (CredentialsBackend.get_user, in plain SQL) -------------


def test_the_session_user_is_the_whole_account(member: User) -> None:
    from apps.authentication.backends import CredentialsBackend

    loaded = CredentialsBackend().get_user(member.pk)
    assert loaded is not None and loaded.pk == member.pk
    stored = User.objects.get(pk=member.pk)
    for field in User._meta.concrete_fields:
        assert getattr(loaded, field.attname) == getattr(stored, field.attname), field.name
    assert loaded.get_session_auth_hash() == stored.get_session_auth_hash()
    loaded.save(update_fields=["last_login"])  # a normal instance: it saves where it came from


@pytest.mark.parametrize("user_id", [None, "", "abc", 0, -1, 2**63, "9" * 30])
def test_a_session_with_a_broken_or_unknown_user_id_signs_nobody_in(user_id: Any) -> None:
    from apps.authentication.backends import CredentialsBackend

    assert CredentialsBackend().get_user(user_id) is None


def test_a_closed_account_is_signed_out_of_its_sessions(client: Client, member: User) -> None:
    client.force_login(member)
    assert client.get("/dialogs/").status_code == 200
    member.is_active = False
    member.save(update_fields=["is_active"])
    response = client.get("/dialogs/")
    assert response.status_code == 302 and "/signin" in response["Location"]
