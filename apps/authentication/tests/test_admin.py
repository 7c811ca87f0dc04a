"""Accounts in the admin: the lists open, names stay unique whatever their case, and what other apps
show of an account (its name, full name, whether it is active) is published when staff change it."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.authentication.models import PendingSignup, User
from apps.authentication.tests.helpers import PASSWORD
from forum.models import OutboxEvent

pytestmark = pytest.mark.django_db


def test_the_account_lists_open_for_staff(admin_client: Client, member: User) -> None:
    PendingSignup.objects.create(username="waiting", email="waiting@example.com", password="x")
    users = admin_client.get("/admin/authentication/user/?email_verified__exact=1")
    assert users.status_code == 200
    assert "alice" in users.content.decode()
    pending = admin_client.get("/admin/authentication/pendingsignup/")
    assert pending.status_code == 200
    assert "waiting@example.com" in pending.content.decode()
    assert admin_client.get(f"/admin/authentication/user/{member.pk}/change/").status_code == 200


def test_staff_cannot_add_an_account_whose_name_differs_only_in_case(
    admin_client: Client, member: User
) -> None:
    response = admin_client.post(
        "/admin/authentication/user/add/",
        {"username": "ALICE", "password1": PASSWORD, "password2": PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 200  # the form again, with the error
    assert "A user with that username already exists." in response.content.decode()
    assert User.objects.count() == 2  # alice and the admin


def test_a_change_of_what_others_show_is_published(admin_client: Client, member: User) -> None:
    form = {
        "username": "alice_renamed",
        "email": member.email,
        "email_verified": "on",
        "date_joined_0": member.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": member.date_joined.strftime("%H:%M:%S"),
    }  # is_active left out: the account is closed
    url = f"/admin/authentication/user/{member.pk}/change/"
    assert admin_client.post(url, form).status_code == 302
    assert admin_client.post(url, {**form, "email": "new@example.com"}).status_code == 302  # not shown
    bad = admin_client.post(url, {**form, "username": "admin", "is_active": "on"})
    assert bad.status_code == 200  # a taken name: the form again, nothing saved, nothing published
    events = OutboxEvent.objects.filter(name="authentication.account_changed")
    assert [row.payload for row in events] == [{"user_id": member.pk, "fields": ["username", "is_active"]}]
    member.refresh_from_db()
    assert (member.username, member.is_active) == ("alice_renamed", False)
