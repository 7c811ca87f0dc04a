"""Reads of the authorization app: the one query that loads what the engine knows of a member."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model


@dataclass(frozen=True)
class AccessFacts:
    """A member's account flags and access row, as stored (interpreted by the engine in services)."""

    user_id: int
    is_active: bool
    is_staff: bool
    is_superuser: bool
    role: str | None
    banned: bool
    banned_until: datetime.datetime | None
    statuses: list[dict[str, Any]]


def member_access_facts(*, user_id: int) -> AccessFacts | None:
    """The member's facts in ONE query (the account left-joined to its access row); None if no account.

    The join is along the one relation allowed between apps: a foreign key to the user model.
    """
    row = (
        get_user_model()
        .objects.filter(pk=user_id)
        .values(
            "is_active",
            "is_staff",
            "is_superuser",
            "forum_access__role",
            "forum_access__banned",
            "forum_access__banned_until",
            "forum_access__statuses",
        )
        .first()
    )
    if row is None:
        return None
    return AccessFacts(
        user_id=user_id,
        is_active=row["is_active"],
        is_staff=row["is_staff"],
        is_superuser=row["is_superuser"],
        role=row["forum_access__role"],
        banned=bool(row["forum_access__banned"]),
        banned_until=row["forum_access__banned_until"],
        statuses=list(row["forum_access__statuses"] or []),
    )
