"""Template context every page shares: the forum's name and where live updates connect; and what an
app's own context processor uses to put a count of the member's in the header."""

from collections.abc import Callable
from functools import cached_property
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _


def forum_name() -> str:
    """The community's name when the operator set one (FORUM_NAME), else "Forum" in the active language."""
    return settings.FORUM_NAME or _("Forum")


def forum(request: HttpRequest) -> dict[str, Any]:
    return {"FORUM_NAME": forum_name(), "FORUM_WEBSOCKET_URL": settings.FORUM_WEBSOCKET_URL}


def member_id(request: HttpRequest) -> int | None:
    """The signed-in member of a request, or None."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or user.pk is None:
        return None
    return int(user.pk)


class MemberCount:
    """A count of the request's member (unread dialogs, notifications), counted only when a template
    reads ``count``: pages that do not show the header pay nothing. 0 for guests."""

    def __init__(self, request: HttpRequest, counter: Callable[..., int]) -> None:
        self._user_id = member_id(request)
        self._counter = counter

    @cached_property
    def count(self) -> int:
        return 0 if self._user_id is None else self._counter(user_id=self._user_id)
