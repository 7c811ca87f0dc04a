"""The header's notification count, for every page (config/settings.py lists this processor).

One query, run only when a template asks for it (``notification_unread.count``: the site header).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from apps.notification import selectors
from forum.context_processors import MemberCount


def notifications(request: HttpRequest) -> dict[str, Any]:
    return {"notification_unread": MemberCount(request, selectors.unread_count)}
