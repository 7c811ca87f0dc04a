"""``{% site_header %}`` and ``{% site_footer %}``: the header and footer of every page (base.html),
rendered as Jinja2 fragments.

The header's counts come from the context, where the apps that own them put them (context
processors: ``dialog_unread`` of the dialog app, ``notification_unread`` of the notification app),
each counted only when a header is shown. The kernel imports no app.

Both are rendered once per process for each set of values they show (the member's name, counts, the
page's address, the language...), with a hole for the CSRF token (``forum.slots``), and filled per
request: every page has them, and most requests show a header some request showed before.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, get_language_info

from forum.fragments import render_fragment
from forum.kept_html import csrf_field_hole
from forum.slots import RenderedOnce, hole, page_token

register = template.Library()

_rendered = RenderedOnce()


def _kept_render(name: str, values: dict[str, Any], context: template.Context, request: Any) -> SafeString:
    """``render_fragment(name, values, request)``, rendered once per process for these values and this
    language, and filled with the request's CSRF token (or, inside a page kept for many members, left
    with the token's hole for that page's fill: ``csrf_field`` in the context)."""
    found = _rendered.get(
        (name, get_language(), tuple(sorted(values.items()))),
        lambda: render_fragment(name, {**values, "csrf_field": csrf_field_hole()}, request),
    )
    if context.get("csrf_field"):  # a kept page's build: its own fill puts the token in
        token = str(hole("csrf"))
    else:
        token = page_token(request) if request is not None else ""
    return mark_safe(found.fill({"csrf": lambda _arg: token}))  # noqa: S308  rendered, autoescaped


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
    return _kept_render(
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
        context,
        request,
    )


@register.simple_tag(takes_context=True)
def site_footer(context: template.Context) -> SafeString:
    request, user, member = _member(context)
    return _kept_render(
        "_site_footer.jinja",
        {
            "forum_name": context.get("FORUM_NAME", ""),
            "staff": bool(member and user.is_staff),
            "full_path": request.get_full_path() if request is not None else "",
            "languages": tuple(_languages()),
            "language_code": get_language(),
        },
        context,
        request,
    )
