"""The permission engine from the outside: roles, statuses, bans, refusals, and what a check costs."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.authorization.services import (
    Role,
    StatusPermissions,
    access_ban_lift,
    access_ban_set,
    access_statuses_set,
    has_perm,
    limit,
    permission_scope,
    permissions_for,
    require,
    role_assign,
    role_of,
)
from forum.errors import Forbidden, NotFound, ValidationFailed
from forum.testing.fixtures import Clock

pytestmark = pytest.mark.django_db

WRITE_FLAGS = ["thread.create", "post.create", "reaction.add", "dialog.start"]


def grant(
    code: str, values: dict[str, Any], *, ends_in: datetime.timedelta | None = None, **times: Any
) -> StatusPermissions:
    now = timezone.now()
    return StatusPermissions(
        status_code=code,
        values=values,
        starts_at=times.get("starts_at", now - datetime.timedelta(minutes=1)),
        ends_at=times.get("ends_at", None if ends_in is None else now + ends_in),
    )


# --- Roles --------------------------------------------------------------------------------------------


def test_a_guest_reads_public_sections_and_nothing_more() -> None:
    assert has_perm(user_id=None, permission="forum.read")
    assert not has_perm(user_id=None, permission="forum.read_exclusive")
    assert not has_perm(user_id=None, permission="thread.create")
    assert limit(user_id=None, permission="thread.create_per_day") == 0
    with pytest.raises(Forbidden) as refused:
        require(user_id=None, permission="thread.create")
    assert refused.value.code == "not_authenticated"


def test_a_member_gets_the_user_role_defaults(make_member: Callable[..., int]) -> None:
    member = make_member()
    assert role_of(user_id=member) is Role.USER
    for flag in WRITE_FLAGS:
        assert has_perm(user_id=member, permission=flag), flag
    assert not has_perm(user_id=member, permission="forum.read_exclusive")
    assert not has_perm(user_id=member, permission="thread.skip_premoderation")
    assert not has_perm(user_id=member, permission="thread.moderate")
    assert limit(user_id=member, permission="thread.create_per_day") == 3
    assert limit(user_id=member, permission="dialog.max_participants") == 5
    with pytest.raises(Forbidden) as refused:
        require(user_id=member, permission="thread.moderate")
    assert refused.value.code == "forbidden" and refused.value.status == 403
    assert "Moderate threads" in refused.value.message


def test_support_gets_more_than_a_member_and_admin_gets_everything(make_member: Callable[..., int]) -> None:
    support, admin = make_member(), make_member()
    role_assign(user_id=support, role="support")
    role_assign(user_id=admin, role=Role.ADMIN)

    assert role_of(user_id=support) is Role.SUPPORT
    assert has_perm(user_id=support, permission="thread.moderate")
    assert has_perm(user_id=support, permission="forum.read_exclusive")
    assert not has_perm(user_id=support, permission="role.assign")
    assert limit(user_id=support, permission="thread.create_per_day") == 50

    assert role_of(user_id=admin) is Role.ADMIN
    assert has_perm(user_id=admin, permission="role.assign")
    assert limit(user_id=admin, permission="thread.create_per_day") is None  # unlimited
    assert limit(user_id=admin, permission="dialog.max_participants") is None


def test_the_django_admin_flags_imply_a_role(make_member: Callable[..., int]) -> None:
    # `createsuperuser` and staff accounts made in the user admin never pass through role_assign.
    superuser = make_member(is_staff=True, is_superuser=True)
    staff = make_member(is_staff=True)
    assert role_of(user_id=superuser) is Role.ADMIN
    assert role_of(user_id=staff) is Role.SUPPORT


def test_a_deactivated_or_missing_account_has_only_guest_permissions(make_member: Callable[..., int]) -> None:
    member = make_member(is_active=False)
    assert not has_perm(user_id=member, permission="thread.create")
    assert has_perm(user_id=member, permission="forum.read")
    assert not has_perm(user_id=10**12, permission="thread.create")


# --- Statuses -----------------------------------------------------------------------------------------


def test_a_status_raises_a_limit_and_grants_a_flag(make_member: Callable[..., int]) -> None:
    member = make_member()
    access_statuses_set(
        user_id=member, grants=[grant("agent", {"thread.create_per_day": 10, "forum.read_exclusive": True})]
    )
    assert limit(user_id=member, permission="thread.create_per_day") == 10
    assert has_perm(user_id=member, permission="forum.read_exclusive")
    assert permissions_for(user_id=member).statuses == ("agent",)


def test_with_several_statuses_the_most_generous_value_wins(make_member: Callable[..., int]) -> None:
    member = make_member()
    access_statuses_set(
        user_id=member,
        grants=[
            grant("agent", {"thread.create_per_day": 10, "dialog.max_participants": 8}),
            grant(
                "reader",
                {"thread.create_per_day": 5, "dialog.max_participants": 20, "forum.read_extended": True},
            ),
        ],
    )
    assert limit(user_id=member, permission="thread.create_per_day") == 10
    assert limit(user_id=member, permission="dialog.max_participants") == 20
    assert has_perm(user_id=member, permission="forum.read_extended")
    assert permissions_for(user_id=member).statuses == ("agent", "reader")


def test_a_status_never_lowers_what_the_role_gives(make_member: Callable[..., int]) -> None:
    member = make_member()
    role_assign(user_id=member, role="support")
    access_statuses_set(user_id=member, grants=[grant("agent", {"thread.create_per_day": 10})])
    assert limit(user_id=member, permission="thread.create_per_day") == 50


def test_a_grant_stops_granting_at_its_end_and_not_before_its_start(
    make_member: Callable[..., int], clock: Clock
) -> None:
    member = make_member()
    access_statuses_set(
        user_id=member,
        grants=[
            grant("agent", {"thread.create_per_day": 10}, ends_in=datetime.timedelta(days=30)),
            grant(
                "reader",
                {"forum.read_extended": True},
                starts_at=clock.now + datetime.timedelta(days=1),
                ends_at=None,
            ),
        ],
    )
    assert limit(user_id=member, permission="thread.create_per_day") == 10
    assert not has_perm(user_id=member, permission="forum.read_extended")  # not started yet

    clock.move(days=2)
    assert has_perm(user_id=member, permission="forum.read_extended")

    clock.move(days=29)  # past the Agent grant's end, before any expiry task ran
    assert limit(user_id=member, permission="thread.create_per_day") == 3
    assert permissions_for(user_id=member).statuses == ("reader",)


def test_pushing_the_grants_again_replaces_them(make_member: Callable[..., int]) -> None:
    member = make_member()
    access_statuses_set(user_id=member, grants=[grant("agent", {"thread.create_per_day": 10})])
    access_statuses_set(user_id=member, grants=[])
    assert limit(user_id=member, permission="thread.create_per_day") == 3


def test_values_the_registry_does_not_know_are_not_granted(make_member: Callable[..., int]) -> None:
    member = make_member()
    access_statuses_set(
        user_id=member, grants=[grant("odd", {"thread.fly": True, "thread.create_per_day": "lots"})]
    )
    assert limit(user_id=member, permission="thread.create_per_day") == 3


def test_grants_for_a_missing_account_are_refused() -> None:
    with pytest.raises(NotFound):
        access_statuses_set(user_id=10**12, grants=[])


# --- Bans ---------------------------------------------------------------------------------------------


def test_a_banned_member_keeps_reading_and_loses_everything_else(make_member: Callable[..., int]) -> None:
    member = make_member()
    access_statuses_set(
        user_id=member,
        grants=[grant("agent", {"forum.read_exclusive": True, "thread.create_per_day": 10})],
    )
    access_ban_set(user_id=member, until=None)

    assert has_perm(user_id=member, permission="forum.read")
    assert has_perm(user_id=member, permission="forum.read_exclusive")  # a status's reading survives too
    for flag in WRITE_FLAGS:
        assert not has_perm(user_id=member, permission=flag), flag
    assert limit(user_id=member, permission="thread.create_per_day") == 0
    with pytest.raises(Forbidden) as refused:
        require(user_id=member, permission="thread.create")
    assert refused.value.code == "banned"

    access_ban_lift(user_id=member)
    assert has_perm(user_id=member, permission="thread.create")
    assert limit(user_id=member, permission="thread.create_per_day") == 10


def test_a_ban_with_an_end_ends_by_itself(make_member: Callable[..., int], clock: Clock) -> None:
    member = make_member()
    access_ban_set(user_id=member, until=clock.now + datetime.timedelta(hours=2))
    with pytest.raises(Forbidden) as refused:
        require(user_id=member, permission="post.create")
    assert "banned until" in refused.value.message
    clock.move(hours=3)
    require(user_id=member, permission="post.create")


def test_even_staff_lose_writing_while_banned(make_member: Callable[..., int]) -> None:
    admin = make_member()
    role_assign(user_id=admin, role="admin")
    access_ban_set(user_id=admin)
    assert not has_perm(user_id=admin, permission="thread.create")
    assert limit(user_id=admin, permission="thread.create_per_day") == 0


def test_a_ban_needs_an_aware_end_and_an_account(make_member: Callable[..., int]) -> None:
    member = make_member()
    with pytest.raises(ValidationFailed) as refused:
        access_ban_set(user_id=member, until=datetime.datetime(2030, 1, 1))
    assert refused.value.status == 400 and "until" in refused.value.fields
    with pytest.raises(NotFound):
        access_ban_set(user_id=10**12)


# --- What a check costs -------------------------------------------------------------------------------


def test_within_a_scope_any_number_of_checks_costs_one_query(
    make_member: Callable[..., int], django_assert_num_queries: Any
) -> None:
    member = make_member()
    access_statuses_set(user_id=member, grants=[grant("agent", {"thread.create_per_day": 10})])
    with django_assert_num_queries(1), permission_scope():
        for _round in range(50):
            assert has_perm(user_id=member, permission="thread.create")
            require(user_id=member, permission="post.create")
            assert limit(user_id=member, permission="thread.create_per_day") == 10
            assert not has_perm(user_id=None, permission="thread.create")


def test_outside_a_scope_each_check_loads_again(
    make_member: Callable[..., int], django_assert_num_queries: Any
) -> None:
    # The opposite case, so that the test above can fail: nothing is kept between scopes.
    member = make_member()
    with django_assert_num_queries(2):
        has_perm(user_id=member, permission="thread.create")
        has_perm(user_id=member, permission="thread.create")


def test_a_change_inside_a_scope_is_seen_by_the_next_check(make_member: Callable[..., int]) -> None:
    member = make_member()
    with permission_scope():
        assert has_perm(user_id=member, permission="thread.create")
        access_ban_set(user_id=member)
        assert not has_perm(user_id=member, permission="thread.create")
        role_assign(user_id=member, role="support")
        assert role_of(user_id=member) is Role.SUPPORT


def test_the_role_is_stored_and_the_account_flags_follow_it(make_member: Callable[..., int]) -> None:
    member = make_member()
    role_assign(user_id=member, role="admin")
    account = get_user_model().objects.get(pk=member)
    assert account.is_staff and account.is_superuser
    role_assign(user_id=member, role="user")
    account.refresh_from_db()
    assert not account.is_staff and not account.is_superuser
    assert role_of(user_id=member) is Role.USER
