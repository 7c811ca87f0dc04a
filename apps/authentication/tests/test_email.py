"""Email addresses: changing one (confirmed by a link sent to it), confirming one, and what needs one."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from apps.authentication import services
from apps.authentication.models import User
from apps.authentication.tests.helpers import PASSWORD, deliver_events, link_in, signed_in_id, token_of
from forum.errors import Forbidden
from forum.tests.test_pages import Page

pytestmark = pytest.mark.django_db


# --- Changing the address --------------------------------------------------------------------------------


def test_changing_the_address_on_the_settings_page(client: Client, member: User) -> None:
    client.force_login(member)
    response = client.post(
        "/accounts/settings/email/", {"new_email": "alice@new.example.com", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert (
        "We sent a link to alice@new.example.com"
        in Page(client.get("/accounts/settings/").content.decode()).text
    )
    member.refresh_from_db()
    assert member.email == "alice@example.com"  # nothing changes before the link is followed

    deliver_events()
    assert mail.outbox[0].to == ["alice@new.example.com"]
    link = link_in(mail.outbox[0], "/accounts/verify/")
    confirmed = client.post(link)
    assert confirmed.status_code == 302
    assert confirmed["Location"] == "/accounts/settings/"
    member.refresh_from_db()
    assert member.email == "alice@new.example.com"
    assert member.email_verified
    assert "Your email address is now alice@new.example.com." in Page(client.get("/").content.decode()).text

    # The old address is told where the account went.
    assert deliver_events() == ["authentication.email_changed"]
    notice = mail.outbox[-1]
    assert notice.to == ["alice@example.com"]
    assert "alice@new.example.com" in str(notice.body)

    # The link worked once; signing in by the new address works, by the old one not any more.
    assert Client().post(link).status_code == 400
    api = APIClient()
    login = {"password": PASSWORD}
    assert (
        api.post(
            "/api/v1/auth/signin", {**login, "login": "alice@new.example.com"}, format="json"
        ).status_code
        == 200
    )
    assert (
        api.post("/api/v1/auth/signin", {**login, "login": "alice@example.com"}, format="json").status_code
        == 400
    )


def test_changing_the_address_through_the_api(api: APIClient, member: User) -> None:
    api.force_login(member)
    response = api.post(
        "/api/v1/auth/email", {"new_email": "a2@example.com", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 202
    assert (
        response.json()["detail"]
        == "We sent a link to a2@example.com. Your address changes when you follow it."
    )
    deliver_events()
    token = token_of(link_in(mail.outbox[0], "/accounts/verify/"))
    done = APIClient().post("/api/v1/auth/email/verify", {"token": token}, format="json")
    assert done.status_code == 200
    assert done.json()["kind"] == "email_change"
    assert done.json()["signed_in"] is False
    assert done.json()["account"]["email"] == "a2@example.com"


def test_changing_the_address_needs_the_password(api: APIClient, member: User) -> None:
    api.force_login(member)
    response = api.post(
        "/api/v1/auth/email", {"new_email": "a2@example.com", "password": "wrong"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"password": ["The password is not right."]}
    assert deliver_events() == []


@pytest.mark.parametrize(
    ("new_email", "reason"),
    [
        ("not-an-address", "Enter a valid email address."),
        ("ALICE@example.com", "This is already your address."),
    ],
)
def test_a_useless_new_address_is_refused(api: APIClient, member: User, new_email: str, reason: str) -> None:
    api.force_login(member)
    response = api.post("/api/v1/auth/email", {"new_email": new_email, "password": PASSWORD}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"new_email": [reason]}


def test_the_settings_page_shows_refusals_on_the_form(client: Client, member: User) -> None:
    client.force_login(member)
    response = client.post("/accounts/settings/email/", {"new_email": "nope", "password": PASSWORD})
    assert response.status_code == 400
    assert "Enter a valid email address." in Page(response.content.decode()).text


def test_an_address_of_another_account_gets_the_same_answer_and_changes_nothing(
    api: APIClient, make_member: Callable[..., User]
) -> None:
    alice = make_member()
    make_member(username="bob", email="bob@example.com")
    api.force_login(alice)
    taken = api.post(
        "/api/v1/auth/email", {"new_email": "BOB@example.com", "password": PASSWORD}, format="json"
    )
    free = api.post(
        "/api/v1/auth/email", {"new_email": "free@example.com", "password": PASSWORD}, format="json"
    )
    assert (taken.status_code, free.status_code) == (202, 202)
    assert taken.json()["detail"].replace("BOB@example.com", "X") == free.json()["detail"].replace(
        "free@example.com", "X"
    )
    deliver_events()
    by_address = {message.to[0].lower(): message for message in mail.outbox}
    # bob is told someone tried; no link reaches him that would move alice onto his address.
    assert "already belongs to another account" in str(by_address["bob@example.com"].body)
    assert "/accounts/verify/" not in str(by_address["bob@example.com"].body)
    assert "/accounts/verify/" in str(by_address["free@example.com"].body)


def test_an_address_taken_while_the_link_waited_is_explained(
    api: APIClient, make_member: Callable[..., User]
) -> None:
    alice = make_member()
    api.force_login(alice)
    api.post("/api/v1/auth/email", {"new_email": "later@example.com", "password": PASSWORD}, format="json")
    deliver_events()
    token = token_of(link_in(mail.outbox[0], "/accounts/verify/"))
    make_member(username="later", email="Later@example.com")
    response = api.post("/api/v1/auth/email/verify", {"token": token}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "email_taken"


def test_the_email_api_is_for_members_only(api: APIClient) -> None:
    assert (
        api.post(
            "/api/v1/auth/email", {"new_email": "a@example.com", "password": "x"}, format="json"
        ).status_code
        == 401
    )
    assert api.post("/api/v1/auth/email/resend").status_code == 401


# --- Confirming the address of an older account -----------------------------------------------------------


def test_an_unconfirmed_address_may_sign_in_and_ask_for_a_link(
    client: Client, make_member: Callable[..., User]
) -> None:
    # Accounts made by staff (or before verification existed) may sign in, and confirm from the settings.
    member = make_member(verified=False)
    assert client.post("/accounts/signin/", {"login": "alice", "password": PASSWORD}).status_code == 302
    page = Page(client.get("/accounts/settings/").content.decode())
    assert "not confirmed" in page.text
    assert any(form.get("action") == "/accounts/settings/email/resend/" for form in page.find("form"))

    assert client.post("/accounts/settings/email/resend/").status_code == 302
    deliver_events()
    assert mail.outbox[0].to == ["alice@example.com"]
    link = link_in(mail.outbox[0], "/accounts/verify/")
    assert client.post(link).status_code == 302
    member.refresh_from_db()
    assert member.email_verified
    page = Page(client.get("/accounts/settings/").content.decode())
    assert "Your email address is confirmed." in page.text
    assert "not confirmed" not in page.text
    assert signed_in_id(client) == member.pk


def test_resending_is_refused_when_there_is_nothing_to_confirm(api: APIClient, member: User) -> None:
    api.force_login(member)
    response = api.post("/api/v1/auth/email/resend")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "already_verified"


def test_resending_is_limited(api: APIClient, make_member: Callable[..., User]) -> None:
    api.force_login(make_member(verified=False))
    for _attempt in range(3):
        assert api.post("/api/v1/auth/email/resend").status_code == 202
    refused = api.post("/api/v1/auth/email/resend")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0


def test_a_confirmation_link_for_an_address_since_replaced_is_refused(
    api: APIClient, make_member: Callable[..., User]
) -> None:
    member = make_member(verified=False)
    api.force_login(member)
    api.post("/api/v1/auth/email/resend")
    deliver_events()
    token = token_of(link_in(mail.outbox[0], "/accounts/verify/"))
    User.objects.filter(pk=member.pk).update(email="elsewhere@example.com")
    response = api.post("/api/v1/auth/email/verify", {"token": token}, format="json")
    assert response.status_code == 400
    member.refresh_from_db()
    assert not member.email_verified


def test_other_apps_can_require_a_confirmed_address(make_member: Callable[..., User]) -> None:
    confirmed = make_member()
    unconfirmed = make_member(username="newbie", email="newbie@example.com", verified=False)
    services.account_require_verified_email(user_id=confirmed.pk)
    with pytest.raises(Forbidden) as refused:
        services.account_require_verified_email(user_id=unconfirmed.pk)
    assert refused.value.code == "email_unverified"
    assert services.account_get(user_id=unconfirmed.pk).email_verified is False


def test_me_reports_the_account(api: APIClient, member: User) -> None:
    api.force_login(member)
    body = api.get("/api/v1/me").json()
    assert body["username"] == "alice"
    assert body["email_verified"] is True
    assert set(body) == {"id", "username", "email", "email_verified", "is_staff", "date_joined"}
