"""Signing up on the page and through the API: a link by mail makes the account; nothing is given away."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail, signing
from django.db import IntegrityError, transaction
from django.test import Client
from rest_framework.test import APIClient

from apps.authentication.models import PendingSignup, User
from apps.authentication.tests.helpers import PASSWORD, deliver_events, link_in, signed_in_id, token_of
from forum.models import OutboxEvent
from forum.tests.test_pages import Page

pytestmark = pytest.mark.django_db

SIGNUP = {"username": "bob", "email": "bob@example.com", "password": PASSWORD}


def api_signup(api: APIClient, **changes: str) -> Any:
    return api.post("/api/v1/auth/signup", {**SIGNUP, **changes}, format="json")


def page_signup(client: Client, **changes: str) -> Any:
    return client.post("/accounts/signup/", {**SIGNUP, **changes})


# --- The whole flow -------------------------------------------------------------------------------------


def test_signing_up_on_the_page_mails_a_link_that_makes_the_account_and_signs_in(client: Client) -> None:
    page = Page(client.get("/accounts/signup/").content.decode())
    assert {attrs.get("name") for attrs in page.find("input")} >= {
        "csrfmiddlewaretoken",
        "username",
        "email",
        "password",
    }

    response = page_signup(client)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/signup/sent/"
    followed = client.get(response["Location"])
    assert "We sent a link to bob@example.com" in Page(followed.content.decode()).text
    # Nothing is made, nor mailed, by the request itself: the mail waits for the worker.
    assert not User.objects.filter(username="bob").exists()
    assert mail.outbox == []

    assert deliver_events() == ["authentication.signup_requested"]
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["bob@example.com"]
    assert "Confirm your sign-up" in message.subject
    link = link_in(message, "/accounts/verify/")

    # Opening the link only shows a button: a mail scanner that fetches links changes nothing.
    shown = client.get(link)
    assert shown.status_code == 200
    assert not User.objects.filter(username="bob").exists()
    confirm_forms = [form for form in Page(shown.content.decode()).find("form") if form.get("action") == link]
    assert confirm_forms and confirm_forms[0]["method"] == "post"

    confirmed = client.post(link)
    assert confirmed.status_code == 302
    user = User.objects.get(username="bob")
    assert user.email == "bob@example.com"
    assert user.email_verified
    assert user.check_password(PASSWORD)
    assert signed_in_id(client) == user.pk
    assert "Welcome, bob!" in Page(client.get("/").content.decode()).text
    assert "authentication.account_created" in deliver_events()


def test_signing_up_through_the_api(api: APIClient) -> None:
    response = api_signup(api)
    assert response.status_code == 202
    assert response.json() == {
        "detail": "We sent a link to bob@example.com. Follow it within 3 days to finish signing up."
    }
    deliver_events()
    token = token_of(link_in(mail.outbox[0], "/accounts/verify/"))

    confirmed = api.post("/api/v1/auth/email/verify", {"token": token}, format="json")
    assert confirmed.status_code == 200
    body = confirmed.json()
    assert body["kind"] == "signup" and body["signed_in"] is True
    assert body["account"]["username"] == "bob" and body["account"]["email_verified"] is True
    me = api.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["username"] == "bob"


def test_a_sign_up_link_works_once(client: Client) -> None:
    page_signup(client)
    deliver_events()
    link = link_in(mail.outbox[0], "/accounts/verify/")
    assert client.post(link).status_code == 302
    again = Client().post(link)
    assert again.status_code == 400
    assert "This link was used already" in Page(again.content.decode()).text
    assert User.objects.filter(username="bob").count() == 1


@pytest.mark.parametrize("token", ["nonsense", "a" * 300, "eyJrIjoic2lnbnVwIiwicCI6MX0:1tAAAA:forged"])
def test_a_broken_or_forged_link_is_a_clear_400(client: Client, api: APIClient, token: str) -> None:
    page = client.post(f"/accounts/verify/{token}/")
    assert page.status_code == 400
    assert "This link is not valid" in Page(page.content.decode()).text
    response = api.post("/api/v1/auth/email/verify", {"token": token}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_link"


def test_an_expired_link_is_refused(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    page_signup(client)
    # The link is signed with the time it was made; make it four days ago (links last three).
    four_days_ago = int(time.time()) - 4 * 86400
    monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(four_days_ago))
    deliver_events()
    monkeypatch.undo()
    response = client.post(link_in(mail.outbox[0], "/accounts/verify/"))
    assert response.status_code == 400
    assert "This link is not valid" in Page(response.content.decode()).text
    assert not User.objects.filter(username="bob").exists()


# --- Refusals with their reasons ---------------------------------------------------------------------


def test_a_weak_password_is_refused_with_the_reason(api: APIClient, client: Client) -> None:
    response = api_signup(api, password="password")
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "invalid"
    assert "This password is too common." in body["fields"]["password"]

    short = api_signup(api, password="x7#q")
    assert any("too short" in message for message in short.json()["error"]["fields"]["password"])

    like_the_name = api_signup(api, username="harbourlantern", password="harbourlantern")
    assert any("too similar" in message for message in like_the_name.json()["error"]["fields"]["password"])

    page = page_signup(client, password="12345678901")
    assert page.status_code == 400
    text = Page(page.content.decode()).text
    assert "This password is too common." in text or "entirely numeric" in text
    assert PendingSignup.objects.count() == 0
    assert OutboxEvent.objects.count() == 0


def test_the_reasons_come_in_the_readers_language(api: APIClient) -> None:
    response = api.post(
        "/api/v1/auth/signup", {**SIGNUP, "password": "password"}, format="json", HTTP_ACCEPT_LANGUAGE="ru"
    )
    assert "Введённый пароль слишком широко распространён." in response.json()["error"]["fields"]["password"]


@pytest.mark.parametrize("taken", ["carol", "CAROL", "Carol"])
def test_a_taken_username_is_said_whatever_its_case(
    api: APIClient, make_member: Callable[..., User], taken: str
) -> None:
    make_member(username="carol", email="carol@example.com")
    response = api_signup(api, username=taken)
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"username": ["This username is taken. Choose another one."]}


@pytest.mark.parametrize(
    ("username", "reason"),
    [
        ("ab", "3 to 30 characters"),
        ("x" * 31, "3 to 30 characters"),
        ("bob@home", "only letters, digits"),
        ("bob smith", "only letters, digits"),
    ],
)
def test_a_malformed_username_is_refused(api: APIClient, username: str, reason: str) -> None:
    response = api_signup(api, username=username)
    assert response.status_code == 400
    assert reason in response.json()["error"]["fields"]["username"][0]


def test_usernames_in_other_scripts_are_welcome(api: APIClient) -> None:
    assert api_signup(api, username="Ёжик_в.тумане-1").status_code == 202


@pytest.mark.parametrize("email", ["", "not-an-address", "a@b", "x" * 250 + "@example.com"])
def test_a_malformed_address_is_refused(api: APIClient, email: str) -> None:
    response = api_signup(api, email=email)
    assert response.status_code == 400
    assert "email" in response.json()["error"]["fields"]


def test_missing_fields_are_named(api: APIClient, client: Client) -> None:
    response = api.post("/api/v1/auth/signup", {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"username", "email", "password"}
    page = client.post("/accounts/signup/", {})
    assert page.status_code == 400
    assert "This field is required." in Page(page.content.decode()).text


def test_a_database_constraint_refuses_names_differing_only_in_case(make_member: Callable[..., User]) -> None:
    make_member(username="dave", email="dave@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="DAVE", email="other@example.com", password=PASSWORD)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user(username="dave2", email="DAVE@example.COM", password=PASSWORD)


# --- No enumeration -------------------------------------------------------------------------------------


def test_an_address_with_an_account_gets_the_same_answer_and_its_owner_a_mail(
    api: APIClient, make_member: Callable[..., User]
) -> None:
    make_member(username="erin", email="erin@example.com")

    fresh = api_signup(api, username="newcomer", email="someone@example.com")
    existing = api_signup(api, username="intruder", email="ERIN@example.com")

    assert (fresh.status_code, existing.status_code) == (202, 202)
    assert fresh.json()["detail"].replace("someone@example.com", "X") == existing.json()["detail"].replace(
        "ERIN@example.com", "X"
    )
    deliver_events()
    by_address = {message.to[0].lower(): message for message in mail.outbox}
    assert "/accounts/verify/" in str(by_address["someone@example.com"].body)
    told = by_address["erin@example.com"]
    assert "already belongs to your account, whose username is erin" in str(told.body)
    assert "/accounts/verify/" not in str(told.body)
    assert "/accounts/password/reset/" in str(told.body)
    # No account, and no username held, for the one who cannot read erin's mail.
    assert not User.objects.filter(username="intruder").exists()
    assert api_signup(api, username="intruder", email="third@example.com").status_code == 202


def test_the_page_answers_the_same_for_an_address_with_an_account(
    make_member: Callable[..., User],
) -> None:
    make_member(username="erin", email="erin@example.com")
    answers = []
    for email in ("erin@example.com", "nobody@example.com"):
        browser = Client()
        response = browser.post("/accounts/signup/", {**SIGNUP, "username": "frank", "email": email})
        followed = browser.get(response["Location"])
        answers.append((response.status_code, Page(followed.content.decode()).text.replace(email, "X")))
    assert answers[0] == answers[1]


def test_a_username_taken_while_the_link_waited_is_explained(
    client: Client, make_member: Callable[..., User]
) -> None:
    page_signup(client)
    deliver_events()
    link = link_in(mail.outbox[0], "/accounts/verify/")
    make_member(username="Bob", email="other-bob@example.com")
    response = client.post(link)
    assert response.status_code == 400
    assert "Someone took the username bob in the meantime" in Page(response.content.decode()).text


def test_sign_ups_from_one_network_are_limited(api: APIClient) -> None:
    for number in range(10):
        assert api_signup(api, username=f"user{number}", email=f"user{number}@example.com").status_code == 202
    refused = api_signup(api, username="user10", email="user10@example.com")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert refused.json()["error"]["code"] == "rate_limited"
    assert "Too many sign-ups" in refused.json()["error"]["message"]
    # Another network is not held up by this one.
    other = api.post(
        "/api/v1/auth/signup",
        {**SIGNUP, "username": "user11", "email": "user11@example.com"},
        format="json",
        REMOTE_ADDR="203.0.113.9",
    )
    assert other.status_code == 202


def test_mail_to_one_address_is_capped(api: APIClient) -> None:
    for number in range(7):
        api.post(
            "/api/v1/auth/signup",
            {**SIGNUP, "username": f"flood{number}"},
            format="json",
            REMOTE_ADDR=f"198.51.100.{number}",
        )
    deliver_events()
    assert len(mail.outbox) == 5


def test_a_signed_in_member_is_sent_on_from_the_sign_up_page(
    client: Client, make_member: Callable[..., User]
) -> None:
    client.force_login(make_member())
    response = client.get("/accounts/signup/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/settings/"


def test_refused_sign_ups_do_not_count_against_the_network(api: APIClient) -> None:
    for _attempt in range(12):
        assert api_signup(api, password="password").status_code == 400
    assert api_signup(api).status_code == 202
