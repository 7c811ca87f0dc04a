"""The profile admin names the members it lists and acts for, never their ids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.authorization.services import role_assign
from apps.user.models import Profile
from apps.user.services import follow, profile_source_get, profile_update

LIST_URL = "/admin/user/profile/"


def admin_client(make_member: Callable[..., int], django_user_model: Any) -> Client:
    admin = make_member()
    role_assign(user_id=admin, role="admin")
    client = Client()
    client.force_login(django_user_model.objects.get(pk=admin))
    return client


def test_clearing_texts_names_the_members(make_member: Callable[..., int], django_user_model: Any) -> None:
    client = admin_client(make_member, django_user_model)
    members = [make_member(), make_member()]
    for member in members:
        profile_update(user_id=member, bio="Buy cheap watches", signature="spam")
    names = sorted(django_user_model.objects.get(pk=member).username for member in members)

    answer = client.post(
        LIST_URL,
        {"action": "clear_texts", "_selected_action": [str(member) for member in members]},
        follow=True,
    )

    assert f"Texts cleared for {names[0]}, {names[1]}." in answer.content.decode()
    assert all(profile_source_get(user_id=member).bio == "" for member in members)
    page = client.get(f"{LIST_URL}{members[0]}/change/").content.decode()
    assert f"<title>profile of {django_user_model.objects.get(pk=members[0]).username} |" in page


def test_profile_and_follow_lists_do_not_grow_a_query_per_row(
    make_member: Callable[..., int], django_user_model: Any
) -> None:
    client = admin_client(make_member, django_user_model)
    client.get(LIST_URL)  # the session's first request records it; the ones measured are ordinary

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    first = make_member()
    profile_update(user_id=first, location="Oslo")
    follow(user_id=first, target_id=make_member())
    profiles, follows = queries(LIST_URL), queries("/admin/user/follow/")
    for _number in range(15):
        member = make_member()
        profile_update(user_id=member, location="Bergen")
        follow(user_id=member, target_id=first)
    assert Profile.objects.count() == 16
    assert queries(LIST_URL) == profiles
    assert queries("/admin/user/follow/") == follows
