"""Template tags of the notification app, for templates of other apps (a tag is not an import).

``{% notification_bell %}`` in the header: the bell with the member's unread count (one query).
``{% watch_button "thread" thread.id %}`` / ``{% watch_button "forum" forum.id %}``: the watch or
unwatch form for a page's thread or forum (one query, once per page; nothing for guests).
"""

from __future__ import annotations

from typing import Any

from django import template

from apps.notification import services

register = template.Library()


def _member_id(context: template.Context) -> int | None:
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    if user is None or not user.is_authenticated or user.pk is None:
        return None
    return int(user.pk)


@register.inclusion_tag("notification/_bell.html", takes_context=True)
def notification_bell(context: template.Context) -> dict[str, Any]:
    member_id = _member_id(context)
    return {
        "member": member_id is not None,
        "unread_count": services.unread_count(user_id=member_id) if member_id is not None else 0,
    }


@register.inclusion_tag("notification/_watch_button.html", takes_context=True)
def watch_button(context: template.Context, target: str, target_id: int) -> dict[str, Any]:
    member_id = _member_id(context)
    if member_id is None or target not in {"thread", "forum"}:
        return {"target": None}
    request = context.get("request")
    watching = target_id in services.watched_among(user_id=member_id, target=target, target_ids=[target_id])
    return {
        "target": target,
        "target_id": target_id,
        "watching": watching,
        "next": request.get_full_path() if request is not None else "",
        "csrf_token": context.get("csrf_token"),
    }
