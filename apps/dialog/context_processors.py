"""The header's unread-dialogs badge, for every page (config/settings.py lists this processor).

One query, run only when a template asks for it (``dialog_unread.count``: the site header).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from apps.dialog import selectors
from forum.context_processors import MemberCount


def dialogs(request: HttpRequest) -> dict[str, Any]:
    return {"dialog_unread": MemberCount(request, selectors.unread_dialog_count)}
