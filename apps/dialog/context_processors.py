"""The header's unread-dialogs badge, for every page (config/settings.py lists this processor).

The count is one query, and it runs only when a template asks for it (``dialog_unread.count``), so
pages that do not show the header pay nothing.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.http import HttpRequest

from apps.dialog import selectors


class UnreadDialogs:
    def __init__(self, user_id: int | None) -> None:
        self.user_id = user_id

    @cached_property
    def count(self) -> int:
        if self.user_id is None:
            return 0
        return selectors.unread_dialog_count(user_id=self.user_id)


def dialogs(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    user_id = int(user.pk) if user is not None and user.is_authenticated and user.pk is not None else None
    return {"dialog_unread": UnreadDialogs(user_id)}
