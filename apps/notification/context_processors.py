"""The header's notification count, for every page (config/settings.py lists this processor).

Counted only when a template asks for it (``notification_unread.count``: the site header), and then kept
per member in Redis (``services.unread_count_kept``): no query on a warm page.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from apps.notification import services
from forum.context_processors import MemberCount


def notifications(request: HttpRequest) -> dict[str, Any]:
    return {"notification_unread": MemberCount(request, services.unread_count_kept)}
