"""Private reads of the user app: members' accounts, read through the one shared user model."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model

from apps.user.models import Follow, Profile


def user_rows_by_ids(*, user_ids: Collection[int]) -> list[tuple[int, str, bool, datetime]]:
    """``(id, username, is_active, date_joined)`` of the accounts among ``user_ids``, in one query."""
    if not user_ids:
        return []
    rows = (
        get_user_model()
        .objects.filter(pk__in=user_ids)
        .values_list("pk", "username", "is_active", "date_joined")
    )
    return [
        (int(pk), str(username), bool(is_active), date_joined)
        for pk, username, is_active, date_joined in rows
    ]


def profile_rows_by_ids(*, user_ids: Collection[int]) -> list[dict[str, Any]]:
    """Accounts among ``user_ids`` with their profile's public fields (empty when no profile row),
    in one query: the user table left-joined to the profile table."""
    if not user_ids:
        return []
    rows = (
        get_user_model()
        .objects.filter(pk__in=user_ids)
        .values(
            "pk",
            "username",
            "is_active",
            "date_joined",
            "profile__bio_html",
            "profile__signature_html",
            "profile__website",
            "profile__location",
            "profile__avatar_thumbnail_key",
        )
    )
    return [dict(row) for row in rows]


def profile_for_update(*, user_id: int) -> Profile:
    """The member's profile row, made if missing, locked for the current transaction."""
    Profile.objects.get_or_create(user_id=user_id)
    return Profile.objects.select_for_update().get(user_id=user_id)


def profile_source(*, user_id: int) -> Profile | None:
    """The member's own profile row as written (Markdown sources), for the edit form."""
    return Profile.objects.filter(user_id=user_id).first()


def avatar_thumbnail_key(*, user_id: int) -> str:
    """The key of the member's avatar thumbnail; empty when they have none (or no account)."""
    key = Profile.objects.filter(user_id=user_id).values_list("avatar_thumbnail_key", flat=True).first()
    return str(key or "")


def follow_exists(*, follower_id: int, target_id: int) -> bool:
    return Follow.objects.filter(follower_id=follower_id, target_id=target_id).exists()


def followed_ids(*, follower_id: int) -> tuple[int, ...]:
    rows = Follow.objects.filter(follower_id=follower_id).order_by("created_at", "id")
    return tuple(int(pk) for pk in rows.values_list("target_id", flat=True))
