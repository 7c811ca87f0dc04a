"""Roles: assigned through the service or the Django admin, with the admin access that goes with them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.authorization.services import (
    SUPPORT_GROUP_NAME,
    Role,
    permission_scope,
    role_assign,
    role_of,
    roles_for,
)
from forum.errors import NotFound, ValidationFailed
from forum.models import OutboxEvent

pytestmark = pytest.mark.django_db


def account(user_id: int) -> object:
    return get_user_model().objects.get(pk=user_id)


def signed_in(user_id: int) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(pk=user_id))
    return client


def test_support_is_staff_with_the_support_groups_limited_model_permissions(
    make_member: Callable[..., int],
) -> None:
    member = make_member()
    role_assign(user_id=member, role="support")
    user = get_user_model().objects.get(pk=member)
    assert user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == [SUPPORT_GROUP_NAME]
    assert user.has_perm("status.add_statusgrant") and user.has_perm("status.view_status")
    assert not user.has_perm("status.change_status")  # the catalogue is for admins
    # The moderation queue: support works threads in the admin, but does not delete them there.
    assert user.has_perm("thread.change_thread") and user.has_perm("thread.view_post")
    assert not user.has_perm("thread.delete_thread")

    role_assign(user_id=member, role="user")
    user = get_user_model().objects.get(pk=member)
    assert not user.is_staff and not user.groups.exists()


def test_a_role_change_is_published_once(make_member: Callable[..., int]) -> None:
    member, admin = make_member(), make_member()
    role_assign(user_id=member, role="support", assigned_by=admin)
    role_assign(user_id=member, role="support", assigned_by=admin)  # no change, no event
    events = [row.payload for row in OutboxEvent.objects.filter(name="authorization.role_assigned")]
    assert events == [{"user_id": member, "role": "support", "previous_role": "user", "assigned_by": admin}]


def test_an_unknown_role_or_member_is_refused(make_member: Callable[..., int]) -> None:
    with pytest.raises(ValidationFailed) as refused:
        role_assign(user_id=make_member(), role="emperor")
    assert list(refused.value.fields) == ["role"]
    with pytest.raises(NotFound):
        role_assign(user_id=10**12, role="support")


def test_an_admin_changes_a_role_in_the_django_admin(make_member: Callable[..., int]) -> None:
    admin, member = make_member(), make_member()
    role_assign(user_id=admin, role="admin")
    client = signed_in(admin)

    response = client.post("/admin/authorization/memberaccess/add/", {"user": str(member), "role": "support"})

    assert response.status_code == 302, response.content.decode()[:2000]
    assert role_of(user_id=member) is Role.SUPPORT
    assert get_user_model().objects.get(pk=member).is_staff
    assert OutboxEvent.objects.filter(name="authorization.role_assigned", payload__user_id=member).exists()


def test_support_sees_roles_but_cannot_change_them(make_member: Callable[..., int]) -> None:
    support, member = make_member(), make_member()
    role_assign(user_id=support, role="support")
    role_assign(user_id=member, role="user")
    client = signed_in(support)

    assert client.get("/admin/authorization/memberaccess/").status_code == 200
    url = f"/admin/authorization/memberaccess/{member}/change/"
    assert client.post(url, {"role": "admin"}).status_code == 403
    assert role_of(user_id=member) is Role.USER


def test_roles_for_answers_as_role_of_in_one_query(make_member: Callable[..., int]) -> None:
    admin, support, member = make_member(), make_member(is_staff=True), make_member()
    superuser, gone = make_member(is_superuser=True), make_member(is_staff=True, is_active=False)
    role_assign(user_id=admin, role="admin")
    asked = [admin, support, member, superuser, gone, 10**12]

    with CaptureQueriesContext(connection) as one:
        roles_for(user_ids=[member])
    with CaptureQueriesContext(connection) as many:
        roles = roles_for(user_ids=asked)

    assert len(one) == len(many) == 1
    assert roles == {user_id: role_of(user_id=user_id) for user_id in asked}
    assert [roles[user_id] for user_id in asked] == [
        Role.ADMIN,
        Role.SUPPORT,
        Role.USER,
        Role.ADMIN,
        Role.USER,
        Role.USER,
    ]
    # Members whose permissions this scope has loaded already cost nothing more.
    with permission_scope():
        role_of(user_id=admin)
        with CaptureQueriesContext(connection) as kept:
            assert roles_for(user_ids=[admin]) == {admin: Role.ADMIN}
    assert len(kept) == 0
