"""The header's unread-dialogs badge, for every page (config/settings.py lists this processor).

Counted only when a template asks for it (``dialog_unread.count``: the site header), and then kept per
member in Redis (``services.unread_dialog_count_kept``): no query on a warm page.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from apps.dialog import services
from forum.context_processors import MemberCount


def dialogs(request: HttpRequest) -> dict[str, Any]:
    return {"dialog_unread": MemberCount(request, services.unread_dialog_count_kept)}
