"""``{% site_header %}``: the header of every page (base.html), rendered as a Jinja2 fragment.

The header's counts come from the context, where the apps that own them put them (context
processors: ``dialog_unread`` of the dialog app, ``notification_unread`` of the notification app),
each counted only when a header is shown. The kernel imports no app.
"""

from __future__ import annotations

from django import template
from django.conf import settings
from django.utils.safestring import SafeString
from django.utils.translation import get_language, get_language_info

from forum.fragments import render_fragment

register = template.Library()


def _languages() -> list[tuple[str, str]]:
    """Each language's code and its own name, capitalised, as the switch lists them."""
    languages = []
    for code, _name in settings.LANGUAGES:
        own = str(get_language_info(code)["name_local"])
        languages.append((code, own[:1].upper() + own[1:]))
    return languages


def _count(context: template.Context, name: str) -> int:
    counter = context.get(name)
    return int(getattr(counter, "count", 0) or 0) if counter is not None else 0


@register.simple_tag(takes_context=True)
def site_header(context: template.Context) -> SafeString:
    request = context.get("request")
    user = context.get("user") or getattr(request, "user", None)
    member = bool(user is not None and user.is_authenticated)
    match = getattr(request, "resolver_match", None)
    return render_fragment(
        "_site_header.jinja",
        {
            "forum_name": context.get("FORUM_NAME", ""),
            "member": member,
            "username": user.get_username() if user is not None and member else "",
            "dialogs_unread": _count(context, "dialog_unread") if member else 0,
            "notifications_unread": _count(context, "notification_unread") if member else 0,
            "url_name": getattr(match, "url_name", None),
            "url_namespace": getattr(match, "namespace", None),
            "full_path": request.get_full_path() if request is not None else "",
            "languages": _languages(),
            "language_code": get_language(),
        },
        request,
    )
