"""Changing a password, and resetting a forgotten one by a mailed link, on the pages and through the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from apps.authentication.models import User
from apps.authentication.tests.helpers import (
    OTHER_PASSWORD,
    PASSWORD,
    deliver_events,
    link_in,
    signed_in_id,
    token_of,
)
from forum.tests.test_pages import Page

pytestmark = pytest.mark.django_db


def signed_in_twice(member: User) -> tuple[Client, Client]:
    """The member on two devices, both signed in with the password."""
    devices = (Client(), Client())
    for device in devices:
        assert device.post("/accounts/signin/", {"login": "alice", "password": PASSWORD}).status_code == 302
    return devices


# --- Change ---------------------------------------------------------------------------------------------


def test_changing_the_password_on_the_settings_page(member: User) -> None:
    here, elsewhere = signed_in_twice(member)
    page = Page(here.get("/accounts/settings/").content.decode())
    assert any(form.get("action") == "/accounts/settings/password/" for form in page.find("form"))

    response = here.post(
        "/accounts/settings/password/", {"current_password": PASSWORD, "new_password": OTHER_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/settings/#password"
    member.refresh_from_db()
    assert member.check_password(OTHER_PASSWORD)
    # This device stays signed in; the other one is signed out.
    assert signed_in_id(here) == member.pk
    assert signed_in_id(elsewhere) is None
    assert "Your password is changed." in Page(here.get("/accounts/settings/").content.decode()).text

    # The owner is told by mail, in case it was not them.
    assert deliver_events() == ["authentication.password_changed"]
    assert mail.outbox[0].to == ["alice@example.com"]
    assert "was just changed" in str(mail.outbox[0].body)


def test_changing_the_password_through_the_api(api: APIClient, member: User) -> None:
    api.force_login(member)
    response = api.post(
        "/api/v1/auth/password",
        {"current_password": PASSWORD, "new_password": OTHER_PASSWORD},
        format="json",
    )
    assert response.status_code == 204
    assert signed_in_id(api) == member.pk
    member.refresh_from_db()
    assert member.check_password(OTHER_PASSWORD)


def test_a_wrong_current_password_is_refused_and_counted(api: APIClient, member: User) -> None:
    api.force_login(member)
    for _attempt in range(5):
        response = api.post(
            "/api/v1/auth/password",
            {"current_password": "nope", "new_password": OTHER_PASSWORD},
            format="json",
        )
        assert response.status_code == 400
        assert response.json()["error"]["fields"] == {"current_password": ["The password is not right."]}
    # Guessing through a stolen session is limited like guessing at sign-in.
    locked = api.post(
        "/api/v1/auth/password", {"current_password": PASSWORD, "new_password": OTHER_PASSWORD}, format="json"
    )
    assert locked.status_code == 429
    member.refresh_from_db()
    assert member.check_password(PASSWORD)


def test_a_weak_new_password_is_refused_with_the_reason(client: Client, member: User) -> None:
    client.force_login(member)
    response = client.post(
        "/accounts/settings/password/", {"current_password": PASSWORD, "new_password": "alice123"}
    )
    assert response.status_code == 400
    text = Page(response.content.decode()).text
    assert "This password is too short." in text or "too similar" in text or "too common" in text
    member.refresh_from_db()
    assert member.check_password(PASSWORD)


def test_the_password_api_is_for_members_only(api: APIClient) -> None:
    response = api.post(
        "/api/v1/auth/password", {"current_password": "a", "new_password": "b"}, format="json"
    )
    assert response.status_code == 401


# --- Reset ----------------------------------------------------------------------------------------------


def test_resetting_a_forgotten_password_on_the_pages(client: Client, member: User) -> None:
    _here, elsewhere = signed_in_twice(member)
    response = client.post("/accounts/password/reset/", {"email": "ALICE@example.com"})
    assert response.status_code == 302
    sent = client.get(response["Location"])
    assert "If an account has this address, we sent it a link" in Page(sent.content.decode()).text

    assert deliver_events() == ["authentication.password_reset_requested"]
    assert mail.outbox[0].to == ["alice@example.com"]
    link = link_in(mail.outbox[0], "/accounts/password/reset/")

    form_page = client.get(link)
    assert form_page.status_code == 200
    assert "For the account alice." in Page(form_page.content.decode()).text

    weak = client.post(link, {"new_password": "123"})
    assert weak.status_code == 400
    assert "This password is too short." in Page(weak.content.decode()).text

    done = client.post(link, {"new_password": OTHER_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == "/accounts/signin/"
    # A reset does not sign in (a second factor must not be skipped), and ends every session.
    assert signed_in_id(client) is None
    assert signed_in_id(elsewhere) is None
    member.refresh_from_db()
    assert member.check_password(OTHER_PASSWORD)

    # The link works once.
    again = client.get(link)
    assert again.status_code == 400
    assert "was used already, or it has expired" in Page(again.content.decode()).text
    assert client.post(link, {"new_password": "Another-Fine-Password-99"}).status_code == 400

    deliver_events()
    assert "through a link mailed to this address" in str(mail.outbox[-1].body)


def test_resetting_through_the_api(api: APIClient, member: User) -> None:
    response = api.post("/api/v1/auth/password/reset", {"email": "alice@example.com"}, format="json")
    assert response.status_code == 202
    deliver_events()
    token = token_of(link_in(mail.outbox[0], "/accounts/password/reset/"))

    weak = api.post(
        "/api/v1/auth/password/reset/confirm", {"token": token, "new_password": "x"}, format="json"
    )
    assert weak.status_code == 400
    assert "new_password" in weak.json()["error"]["fields"]

    done = api.post(
        "/api/v1/auth/password/reset/confirm", {"token": token, "new_password": OTHER_PASSWORD}, format="json"
    )
    assert done.status_code == 204
    member.refresh_from_db()
    assert member.check_password(OTHER_PASSWORD)
    used = api.post(
        "/api/v1/auth/password/reset/confirm", {"token": token, "new_password": PASSWORD}, format="json"
    )
    assert used.status_code == 400
    assert used.json()["error"]["code"] == "invalid_link"


def test_a_reset_request_answers_the_same_for_any_address(
    api: APIClient, make_member: Callable[..., User]
) -> None:
    make_member()
    make_member(username="gone", email="gone@example.com", is_active=False)
    answers = [
        api.post("/api/v1/auth/password/reset", {"email": email}, format="json")
        for email in ("alice@example.com", "nobody@example.com", "gone@example.com")
    ]
    assert {response.status_code for response in answers} == {202}
    assert len({response.content for response in answers}) == 1
    deliver_events()
    # Only the active account with that address gets a mail.
    assert [message.to for message in mail.outbox] == [["alice@example.com"]]


def test_the_reset_page_answers_the_same_for_any_address(member: User) -> None:
    answers = []
    for email in ("alice@example.com", "nobody@example.com"):
        browser = Client()
        response = browser.post("/accounts/password/reset/", {"email": email})
        shown = Page(browser.get(response["Location"]).content.decode()).text
        answers.append((response.status_code, response["Location"], shown))
    assert answers[0] == answers[1]


def test_reset_requests_are_limited_per_network(api: APIClient, member: User) -> None:
    for _attempt in range(5):
        assert (
            api.post("/api/v1/auth/password/reset", {"email": "x@example.com"}, format="json").status_code
            == 202
        )
    refused = api.post("/api/v1/auth/password/reset", {"email": "alice@example.com"}, format="json")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "Too many password reset requests" in refused.json()["error"]["message"]


def test_a_malformed_reset_address_is_a_field_error(api: APIClient, client: Client) -> None:
    response = api.post("/api/v1/auth/password/reset", {"email": "not an address"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"email": ["Enter a valid email address."]}
    page = client.post("/accounts/password/reset/", {"email": "nope"})
    assert page.status_code == 400


@pytest.mark.parametrize("token", ["x", "eyJ1IjoxfQ:bad", "a" * 500])
def test_a_bad_reset_link_is_a_clear_400(client: Client, api: APIClient, token: str) -> None:
    page = client.get(f"/accounts/password/reset/{token}/")
    assert page.status_code == 400
    page_text = Page(page.content.decode()).text
    assert "Ask for a new one" in page_text
    response = api.post(
        "/api/v1/auth/password/reset/confirm", {"token": token, "new_password": OTHER_PASSWORD}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_link"


def test_a_reset_link_dies_when_the_address_changes(member: User, api: APIClient) -> None:
    api.post("/api/v1/auth/password/reset", {"email": "alice@example.com"}, format="json")
    deliver_events()
    token = token_of(link_in(mail.outbox[0], "/accounts/password/reset/"))
    User.objects.filter(pk=member.pk).update(email="alice@new.example.com")
    response = api.post(
        "/api/v1/auth/password/reset/confirm", {"token": token, "new_password": OTHER_PASSWORD}, format="json"
    )
    assert response.status_code == 400


def test_a_reset_lifts_the_sign_in_lock(api: APIClient, member: User) -> None:
    for _attempt in range(5):
        api.post("/api/v1/auth/signin", {"login": "alice", "password": "wrong"}, format="json")
    assert (
        api.post("/api/v1/auth/signin", {"login": "alice", "password": PASSWORD}, format="json").status_code
        == 429
    )
    api.post("/api/v1/auth/password/reset", {"email": "alice@example.com"}, format="json")
    deliver_events()
    token = token_of(link_in(mail.outbox[0], "/accounts/password/reset/"))
    api.post(
        "/api/v1/auth/password/reset/confirm", {"token": token, "new_password": OTHER_PASSWORD}, format="json"
    )
    signin = api.post("/api/v1/auth/signin", {"login": "alice", "password": OTHER_PASSWORD}, format="json")
    assert signin.status_code == 200


def test_links_point_at_the_configured_base_url(api: APIClient, member: User, settings: Any) -> None:
    settings.FORUM_BASE_URL = "https://forum.example.org"
    api.post("/api/v1/auth/password/reset", {"email": "alice@example.com"}, format="json")
    deliver_events()
    assert "https://forum.example.org/accounts/password/reset/" in str(mail.outbox[0].body)


def test_mail_is_written_in_the_language_of_the_request(api: APIClient, member: User) -> None:
    api.post(
        "/api/v1/auth/password/reset",
        {"email": "alice@example.com"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="ru",
    )
    deliver_events()
    message = mail.outbox[0]
    assert "Форум" in message.subject
    assert "пароль" in str(message.body)
