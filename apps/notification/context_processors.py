"""The header's notification count, for every page (config/settings.py lists this processor).

One query, run only when a template asks for it (``notification_unread.count``: the site header),
so pages that do not show the header pay nothing.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.http import HttpRequest

from apps.notification import selectors


class UnreadNotifications:
    def __init__(self, user_id: int | None) -> None:
        self.user_id = user_id

    @cached_property
    def count(self) -> int:
        if self.user_id is None:
            return 0
        return selectors.unread_count(user_id=self.user_id)


def notifications(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    user_id = int(user.pk) if user is not None and user.is_authenticated and user.pk is not None else None
    return {"notification_unread": UnreadNotifications(user_id)}
