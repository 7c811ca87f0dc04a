"""Template tags of the notification app, for templates of other apps (a tag is not an import).

``{% notification_bell %}`` in the header: the bell with the member's unread count (one query).
``{% watch_button "thread" thread.id %}`` / ``{% watch_button "forum" forum.id %}``: the watch or
unwatch form for a page's thread or forum (remembered per member with their session: a query only
for a page they have not opened lately; nothing for guests).
"""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from apps.notification import services
from forum.slots import RenderedOnce, hole

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


_rendered = RenderedOnce()


@register.simple_tag(takes_context=True)
def watch_button(context: template.Context, target: str, target_id: int) -> SafeString:
    """The form, rendered once per process for what it shows (target, watching or not, the page to
    come back to, the language) with a hole for the CSRF token, filled with the page's token: a thread
    page and a forum's page draw it on every request."""
    member_id = _member_id(context)
    if member_id is None or target not in {"thread", "forum"}:
        return mark_safe("")
    request = context.get("request")
    watching = services.watch_state(user_id=member_id, target=target, target_id=target_id)
    values = {
        "target": target,
        "target_id": target_id,
        "watching": watching,
        "next": request.get_full_path() if request is not None else "",
    }
    found = _rendered.get(
        (get_language(), *values.values()),
        lambda: render_to_string("notification/_watch_button.html", {**values, "csrf_token": hole("csrf")}),
    )
    # The page's own token: the request's, or a hole in a page kept for many members (forum/kept_html).
    token = str(context.get("csrf_token") or "")
    return mark_safe(found.fill({"csrf": lambda _arg: token}))  # noqa: S308  rendered, autoescaped
