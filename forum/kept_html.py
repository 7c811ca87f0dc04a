"""Members' whole pages rendered once per shape and kept in the process, with holes for their own bits.

A member's page (a thread's page, say) is the same for every member who sees the same data with the
same permissions, language and address, but for a few parts of their own: the header (their name and
counts), the ban notice and messages under it (``partials/_chrome_top.html``), the CSRF token, and the
holes the view adds (the posts with their marks, a watch button, a draft). ``render_kept`` renders the
page once per **shape** with a hole in each such place (``forum.slots``), keeps it in the process's
memory, and per request fills the holes: a string join and the small renders the fillers do.

The shape is what the view passes as ``shape`` (every value of the page's context that is not a hole:
the thread's row as read for this request, its path's names, the page's flags) plus the template, the
language, the time zone, the full path (the footer's language switch and the pages' links) and whether
the member is staff (the footer's admin link). Since the shape holds the data itself, an entry never
needs a version: a change gives another shape, and stale shapes fall out of the LRU (``_LIMIT``) or
age out (``KEPT_PARTS_SECONDS``; ``0``, the test profile, keeps nothing and renders every time, through
the same holes). Nothing is shared between processes, so a deployment's new static addresses never
meet an old process's pages.
"""

from __future__ import annotations

import functools
import hashlib
import pickle
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import get_language
from markupsafe import Markup

from forum.slots import Slotted, hole, page_token, stand_in

__all__ = ["CHROME_TEMPLATE", "csrf_field_hole", "render_kept"]

# The per-member part of every page's top: the header, the ban notice, the messages (base.html).
CHROME_TEMPLATE = "partials/_chrome_top.html"

_LIMIT = 512


def csrf_field_hole() -> Markup:
    """The hidden CSRF input with the token's hole: what fragments (the footer's forms) put in a kept page."""
    return Markup('<input type="hidden" name="csrfmiddlewaretoken" value="') + hole("csrf") + Markup('">')


_lock = threading.Lock()
_pages: OrderedDict[str, tuple[float, Slotted]] = OrderedDict()


def _seconds() -> int:
    return int(getattr(settings, "KEPT_PARTS_SECONDS", 0))


def _key(request: HttpRequest, template_name: str, shape: tuple[object, ...]) -> str:
    user = getattr(request, "user", None)
    whole = (
        template_name,
        get_language(),
        timezone.get_current_timezone_name(),
        request.get_full_path(),
        bool(user is not None and user.is_staff),
        shape,
    )
    return hashlib.blake2b(pickle.dumps(whole, protocol=pickle.HIGHEST_PROTOCOL), digest_size=16).hexdigest()


def _get(key: str) -> Slotted | None:
    with _lock:
        entry = _pages.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del _pages[key]
            return None
        _pages.move_to_end(key)
        return entry[1]


def _put(key: str, page: Slotted) -> None:
    with _lock:
        _pages[key] = (time.monotonic() + _seconds(), page)
        _pages.move_to_end(key)
        while len(_pages) > _LIMIT:
            _pages.popitem(last=False)


def forget() -> None:
    """Drop every kept page of this process (tests)."""
    with _lock:
        _pages.clear()


def render_kept(
    request: HttpRequest,
    template_name: str,
    context: Mapping[str, Any],
    *,
    shape: tuple[object, ...],
    fillers: Mapping[str, Callable[[str], str]],
    stand_ins: tuple[str, ...] = (),
    live: Mapping[str, str] | None = None,
    live_context: Mapping[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    """``render(request, template_name, context)`` for a member, from the page kept for ``shape``.

    ``context`` holds the page's values, with ``forum.slots.hole`` markers where the member's own
    parts go (``fillers`` fills each by name); ``shape`` must name every other value the page shows.
    The CSRF token (``csrf``) and the page's top (``chrome``) are filled here. ``stand_ins`` names the
    holes the context carries as ``forum.slots.stand_in`` text (a form field's value). ``live`` names
    holes filled by Django templates rendered with the page's top, in the same render (one template
    context with the context processors, not one per part), with ``live_context``.
    """
    key = _key(request, template_name, shape)
    page = _get(key) if _seconds() > 0 else None
    if page is None:
        html = render_to_string(
            template_name,
            {
                **context,
                "csrf_token": hole("csrf"),
                "csrf_field": csrf_field_hole(),
                "chrome_top": hole("chrome"),
            },
            request,
        )
        page = Slotted.parse(html, stand_ins)
        if _seconds() > 0:
            _put(key, page)
    token = page_token(request)  # one masked token for the page, as render() gives
    every: dict[str, Callable[[str], str]] = {"csrf": lambda _arg: token, **fillers}
    if live:
        rendered = _live_template(tuple(live.values())).render(
            {**(live_context or {}), "csrf_token": token}, request
        )
        top, *rest = str(rendered).split(_separator())
        done = {"chrome": top, **dict(zip(live, rest, strict=True))}
        for name in done:
            every[name] = lambda _arg, name=name: done[name]  # type: ignore[misc]
    else:
        every["chrome"] = lambda _arg: render_to_string(CHROME_TEMPLATE, request=request)
    return HttpResponse(page.fill(every), status=status)


@functools.cache
def _separator() -> str:
    return f"<!--{stand_in('part')}-->"


@functools.cache
def _live_template(names: tuple[str, ...]) -> Any:
    """The page's top and the templates ``names`` as one Django template, compiled once."""
    source = "".join(
        [
            f'{{% include "{CHROME_TEMPLATE}" %}}',
            *(f'{_separator()}{{% include "{name}" %}}' for name in names),
        ]
    )
    return engines["django"].from_string(source)
