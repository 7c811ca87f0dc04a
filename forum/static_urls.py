"""Static files' URLs, computed once per path and process.

``{% static %}`` asks the storage every time: with the manifest storage of production that is a
manifest lookup and two URL joins, ~45 µs, ten times on every page. A deployment's static files do
not change while its processes run (``collectstatic`` comes before they start), so each path's URL is
kept. The cache is emptied when a test changes the static settings.
"""

from __future__ import annotations

import functools
from typing import Any

from django.core.signals import setting_changed
from django.templatetags.static import StaticNode

__all__ = ["static_url"]

_STATIC_SETTINGS = frozenset({"STATIC_URL", "STATIC_ROOT", "STORAGES", "STATICFILES_DIRS"})


@functools.lru_cache(maxsize=2048)
def static_url(path: str) -> str:
    """What ``{% static path %}`` gives."""
    return str(StaticNode.handle_simple(path))


def _static_settings_changed(setting: str = "", **kwargs: Any) -> None:
    if setting in _STATIC_SETTINGS:
        static_url.cache_clear()


setting_changed.connect(_static_settings_changed, dispatch_uid="forum.static_urls")
