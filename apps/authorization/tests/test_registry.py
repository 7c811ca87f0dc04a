"""The permission registry: declared in code, checked when declared, and used to check status values."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.authorization import permissions
from apps.authorization.permissions import DAY, Permission, PermissionKind, declare, merge
from apps.authorization.services import (
    permission_catalogue,
    permission_declare,
    permission_values_validate,
)
from forum.errors import ValidationFailed


@pytest.fixture(autouse=True)
def registry_restored() -> Iterator[None]:
    """What these tests declare leaves the registry with them."""
    kept = dict(permissions._REGISTRY)
    yield
    permissions._REGISTRY.clear()
    permissions._REGISTRY.update(kept)


def test_the_permissions_the_brief_implies_are_declared() -> None:
    catalogue = {info.code: info for info in permission_catalogue()}
    assert {
        "forum.read",
        "forum.read_exclusive",
        "forum.read_extended",
        "thread.create",
        "thread.create_per_day",
        "thread.skip_premoderation",
        "dialog.start",
        "dialog.max_participants",
    } <= set(catalogue)
    assert catalogue["thread.create_per_day"].kind is PermissionKind.QUOTA
    assert catalogue["thread.create_per_day"].period_seconds == 86400
    assert catalogue["dialog.max_participants"].kind is PermissionKind.LIMIT
    assert catalogue["forum.read"].survives_ban and not catalogue["thread.create"].survives_ban


@pytest.mark.parametrize(
    "make",
    [
        lambda: Permission.flag("nodot", "x"),
        lambda: Permission(
            code="a.b", kind=PermissionKind.FLAG, description="x", guest=1, user=0, support=0, admin=0
        ),
        lambda: Permission(
            code="a.b", kind=PermissionKind.LIMIT, description="x", guest=-1, user=0, support=0, admin=0
        ),
        lambda: Permission(
            code="a.b",
            kind=PermissionKind.LIMIT,
            description="x",
            guest=0,
            user=0,
            support=0,
            admin=0,
            period=DAY,
        ),
        lambda: Permission(
            code="a.b", kind=PermissionKind.QUOTA, description="x", guest=0, user=0, support=0, admin=0
        ),
    ],
    ids=[
        "code without area",
        "flag given a number",
        "negative limit",
        "limit with a period",
        "quota without period",
    ],
)
def test_a_malformed_permission_is_refused_when_declared(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


def test_declaring_a_code_twice_differently_is_refused_and_the_same_way_is_harmless() -> None:
    first = Permission.flag("testing.twice", "Twice", user=True)
    permission_declare(first)
    permission_declare(Permission.flag("testing.twice", "Twice", user=True))
    with pytest.raises(ValueError, match="already declared"):
        declare(Permission.flag("testing.twice", "Twice", user=False))


def test_a_later_app_declares_its_own_permission_and_it_has_role_defaults() -> None:
    permission_declare(Permission.limit("testing.uploads_max", "Uploads", user=2, support=5))
    info = {info.code: info for info in permission_catalogue()}["testing.uploads_max"]
    assert info.kind is PermissionKind.LIMIT


def test_most_generous_value_wins() -> None:
    assert merge(PermissionKind.FLAG, [False, True, False]) is True
    assert merge(PermissionKind.FLAG, [False, False]) is False
    assert merge(PermissionKind.LIMIT, [3, 10, 5]) == 10
    assert merge(PermissionKind.QUOTA, [3, None, 5]) is None  # unlimited beats any number


def test_status_values_are_checked_against_the_registry() -> None:
    assert permission_values_validate(values={"thread.create_per_day": 10, "forum.read_exclusive": True}) == {
        "thread.create_per_day": 10,
        "forum.read_exclusive": True,
    }
    with pytest.raises(ValidationFailed) as refused:
        permission_values_validate(
            values={
                "thread.fly": True,
                "thread.create_per_day": "ten",
                "forum.read_exclusive": 1,
                "dialog.max_participants": -2,
                "post.attachments_max": True,
            }
        )
    assert set(refused.value.fields) == {
        "thread.fly",
        "thread.create_per_day",
        "forum.read_exclusive",
        "dialog.max_participants",
        "post.attachments_max",
    }
    with pytest.raises(ValidationFailed):
        permission_values_validate(values=["thread.create_per_day"])
