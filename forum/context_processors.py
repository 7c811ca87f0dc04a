"""Template context every page shares."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def forum(request: HttpRequest) -> dict[str, Any]:
    return {"FORUM_WEBSOCKET_URL": settings.FORUM_WEBSOCKET_URL}
