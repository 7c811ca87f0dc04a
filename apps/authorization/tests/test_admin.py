"""The role admin for staff: members picked by name (autocomplete) and named in messages, lists and titles."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.authorization.services import role_assign

pytestmark = pytest.mark.django_db

ADD_URL = "/admin/authorization/memberaccess/add/"
LIST_URL = "/admin/authorization/memberaccess/"


def admin_client(make_member: Callable[..., int]) -> Client:
    admin = make_member()
    role_assign(user_id=admin, role="admin")
    client = Client()
    client.force_login(get_user_model().objects.get(pk=admin))
    return client


def test_a_member_is_picked_by_name_and_named_in_the_message(make_member: Callable[..., int]) -> None:
    client = admin_client(make_member)
    member = make_member()
    name = get_user_model().objects.get(pk=member).username

    form = client.get(ADD_URL).content.decode()
    assert "admin-autocomplete" in form and 'data-field-name="user"' in form
    answer = client.get(
        "/admin/autocomplete/",
        {"app_label": "authorization", "model_name": "memberaccess", "field_name": "user", "term": name},
    )
    assert answer.status_code == 200
    assert [(row["id"], name in row["text"]) for row in answer.json()["results"]] == [(str(member), True)]

    added = client.post(ADD_URL, {"user": str(member), "role": "support"}, follow=True)
    assert f"{name}: Support" in added.content.decode()
    page = client.get(f"{LIST_URL}{member}/change/").content.decode()
    assert f"<title>{name}: Support |" in page


def test_the_role_list_does_not_grow_a_query_per_row(make_member: Callable[..., int]) -> None:
    client = admin_client(make_member)
    client.get(LIST_URL)  # the session's first request records it; the ones measured are ordinary

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(LIST_URL).status_code == 200
        return len(captured)

    one = queries()
    for _number in range(20):
        role_assign(user_id=make_member(), role="support")
    assert queries() == one
