"""Accounts in the admin: the lists open, and names stay unique whatever their case."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.authentication.models import PendingSignup, User
from apps.authentication.tests.helpers import PASSWORD

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
