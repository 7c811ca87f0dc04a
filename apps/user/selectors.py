"""Private reads of the user app: members' accounts, read through the one shared user model."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from django.contrib.auth import get_user_model


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
