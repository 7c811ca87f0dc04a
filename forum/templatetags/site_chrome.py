"""``{% site_header %}`` and ``{% site_footer %}``: the header and footer of every page (base.html),
rendered as Jinja2 fragments.

The header's counts come from the context, where the apps that own them put them (context
processors: ``dialog_unread`` of the dialog app, ``notification_unread`` of the notification app),
each counted only when a header is shown. The kernel imports no app.
"""

from __future__ import annotations

from typing import Any

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


def _member(context: template.Context) -> tuple[Any, Any, bool]:
    request = context.get("request")
    user = context.get("user") or getattr(request, "user", None)
    return request, user, bool(user is not None and user.is_authenticated)


@register.simple_tag(takes_context=True)
def site_header(context: template.Context) -> SafeString:
    request, user, member = _member(context)
    match = getattr(request, "resolver_match", None)
    return render_fragment(
        "_site_header.jinja",
        {
            "forum_name": context.get("FORUM_NAME", ""),
            "member": member,
            "user_id": user.pk if member else None,
            "username": user.get_username() if member else "",
            # Staff-only links (the admin) are shown to staff only: anyone else would meet a sign-in.
            "staff": bool(member and user.is_staff),
            "dialogs_unread": _count(context, "dialog_unread") if member else 0,
            "notifications_unread": _count(context, "notification_unread") if member else 0,
            # The moderation queue's size for staff (the admin app's context processor), else None.
            "moderation_count": getattr(context.get("moderation_queue"), "count", None) if member else None,
            "url_name": getattr(match, "url_name", None),
            "url_namespace": getattr(match, "namespace", None),
            "full_path": request.get_full_path() if request is not None else "",
        },
        request,
    )


@register.simple_tag(takes_context=True)
def site_footer(context: template.Context) -> SafeString:
    request, user, member = _member(context)
    return render_fragment(
        "_site_footer.jinja",
        {
            "forum_name": context.get("FORUM_NAME", ""),
            "staff": bool(member and user.is_staff),
            "full_path": request.get_full_path() if request is not None else "",
            "languages": _languages(),
            "language_code": get_language(),
            # A page kept for many members (forum/kept_html.py) has a hole for the token instead.
            **({"csrf_field": context["csrf_field"]} if context.get("csrf_field") else {}),
        },
        request,
    )
