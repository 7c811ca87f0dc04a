"""Private reads of the user app: members' accounts, read through the one shared user model."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection

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


_PROFILE_COLUMNS = (
    ("pk", 'u."id"'),
    ("username", 'u."username"'),
    ("is_active", 'u."is_active"'),
    ("date_joined", 'u."date_joined"'),
    ("profile__bio_html", 'p."bio_html"'),
    ("profile__signature_html", 'p."signature_html"'),
    ("profile__website", 'p."website"'),
    ("profile__location", 'p."location"'),
    ("profile__avatar_thumbnail_key", 'p."avatar_thumbnail_key"'),
)


def profile_rows_by_ids(*, user_ids: Collection[int]) -> list[dict[str, Any]]:
    """Accounts among ``user_ids`` with their profile's public fields (None when no profile row),
    in one query: the user table left-joined to the profile table. In SQL: the author cards of every
    thread page read it, and the ORM took longer to build the join than PostgreSQL to run it."""
    wanted = [user_id for user_id in set(user_ids) if 0 < user_id < 2**63]
    if not wanted:
        return []
    users, profiles = get_user_model()._meta.db_table, Profile._meta.db_table
    listed = ", ".join(column for _name, column in _PROFILE_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT {listed} FROM "{users}" u LEFT JOIN "{profiles}" p ON p."user_id" = u."id" '
            'WHERE u."id" = ANY(%s::bigint[])',
            [wanted],
        )
        return [dict(zip((name for name, _column in _PROFILE_COLUMNS), row, strict=True)) for row in cursor]


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
