"""The ban notice every page shows a banned member (templates/moderation/_ban_notice.html), and the
moderation queue's count in the staff header."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.translation import gettext as _

from apps.admin.bans import ban_running
from apps.admin.queue_count import queue_count_for
from apps.authorization.services import permissions_for


def ban_notice(request: HttpRequest) -> dict[str, Any]:
    """``active_ban``: ``{"reason", "ends_at", "full"}`` of the member's running ban, or None.

    Whether there is one comes from the permission engine's answer, loaded once per request (and by
    most pages anyway): only a banned member pays a query here, for the reason.
    """
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"active_ban": None}
    held = permissions_for(user_id=user.pk)
    if not held.banned:
        return {"active_ban": None}
    ban = ban_running(member_id=user.pk)
    if ban is None:
        # An escalation's ban (too many warning points), not one staff gave.
        return {
            "active_ban": {
                "reason": _("Too many active warning points."),
                "ends_at": held.banned_until,
                "full": False,
            }
        }
    return {"active_ban": {"reason": ban.reason, "ends_at": held.banned_until, "full": ban.kind == "full"}}


class _QueueCount:
    """``count``: the moderation queue's size for a member of staff, None for anyone else; looked up
    only when a template reads it (the site header)."""

    def __init__(self, request: HttpRequest) -> None:
        user = getattr(request, "user", None)
        self._user_id = int(user.pk) if user is not None and user.is_authenticated and user.pk else None

    @cached_property
    def count(self) -> int | None:
        return queue_count_for(viewer_id=self._user_id)


def moderation_queue(request: HttpRequest) -> dict[str, Any]:
    return {"moderation_queue": _QueueCount(request)}
