"""Who works tickets: the members the support and admin roles let handle them."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Q

from apps.authorization.services import permissions_for_many
from apps.user.services import users_brief

from ._common import HANDLE_PERMISSION


def _staff_member_ids() -> list[int]:
    """Members who work tickets now, by id: the accounts with the admin flags the support and admin
    roles set (``role_assign`` keeps them in step), checked with the permission engine (a banned one
    drops out). Two queries."""
    candidates = list(
        get_user_model()
        .objects.filter(Q(is_staff=True) | Q(is_superuser=True), is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )
    held = permissions_for_many(user_ids=candidates)
    return [user_id for user_id in candidates if user_id in held and held[user_id].allows(HANDLE_PERMISSION)]


@dataclass(frozen=True)
class StaffMember:
    id: int
    username: str


def staff_members() -> tuple[StaffMember, ...]:
    """Who works tickets now (an assignee is one of them), by name."""
    return tuple(
        StaffMember(id=brief.id, username=brief.username)
        for brief in users_brief(user_ids=_staff_member_ids())
    )
