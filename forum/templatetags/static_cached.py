"""Django's ``static`` tag library with each path's URL kept (forum/static_urls.py).

config/settings.py registers it under the label ``static`` (``TEMPLATES[...]["OPTIONS"]["libraries"]``),
so ``{% load static %}`` in every template gets it; the syntax is Django's, ``as`` included.
"""

from __future__ import annotations

from typing import Any, cast

from django import template
from django.templatetags.static import StaticNode, get_media_prefix, get_static_prefix

from forum.static_urls import static_url

register = template.Library()
register.tag("get_static_prefix", get_static_prefix)
register.tag("get_media_prefix", get_media_prefix)


class CachedStaticNode(StaticNode):
    @classmethod
    def handle_simple(cls, path: Any) -> str:
        return static_url(str(path))


@register.tag("static")
def do_static(parser: template.base.Parser, token: template.base.Token) -> CachedStaticNode:
    """``{% static "path" %}`` or ``{% static "path" as name %}``, as Django's."""
    return cast(CachedStaticNode, CachedStaticNode.handle_token(parser, token))
