"""Template context every page shares: the forum's name and where live updates connect."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _


def forum_name() -> str:
    """The community's name when the operator set one (FORUM_NAME), else "Forum" in the active language."""
    return settings.FORUM_NAME or _("Forum")


def forum(request: HttpRequest) -> dict[str, Any]:
    return {"FORUM_NAME": forum_name(), "FORUM_WEBSOCKET_URL": settings.FORUM_WEBSOCKET_URL}
