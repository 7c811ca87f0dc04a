"""Fast HTML fragments: the Jinja2 environment for partials rendered once per row on hot pages.

Pages are Django templates. Where a page repeats a block for every row (the forum tree, a thread
list, the posts of a thread) the Django template language costs tens of milliseconds a page: each
``{% url %}`` reverses the URL map, each ``{% blocktranslate %}`` re-parses its tokens, each variable
walks a chain of lookups. Those partials are Jinja2 templates (``templates/**/*.jinja``), compiled to
Python once, rendered here and inserted into the page as safe HTML.

What the environment offers a fragment:
- ``_()``, ``gettext``, ``ngettext`` and ``{% trans %}`` through Django's catalogues, so the words
  are translated exactly as the pages' are (the msgids live in ``locale/*/django.po``);
- ``url(name, *args)``: ``reverse`` with the URL pattern's shape cached after the first call;
- ``static(path)``, ``csrf_field`` (the hidden CSRF input, made once per render) and ``request``
  when a request is given;
- ``hole(name, arg)``: a hole for a viewer's own bit in HTML kept for many viewers (``forum.slots``);
- filters ``datetime_short`` and ``datetime_iso`` (local time, like Django's ``date`` filter),
  ``year_month`` (the month and year, as ``YEAR_MONTH_FORMAT`` spells them: "March 2024"),
  ``filesizeformat`` and ``urlencode``.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import jinja2
from django.http import HttpRequest
from django.template import engines
from django.template.backends.utils import csrf_input
from django.template.defaultfilters import filesizeformat
from django.templatetags.static import static
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils import formats, timezone
from django.utils.http import urlencode as _urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext, ngettext

from forum.slots import hole

__all__ = ["ENGINE", "environment", "fragment_context", "render_fragment", "url"]

# The name of the Jinja2 engine in settings.TEMPLATES.
ENGINE = "jinja2"

# Stands in for each argument while the URL map is asked for a pattern's shape once. Digits, so that
# every path converter (int, str, slug, path) accepts it.
_PLACEHOLDER = "8427519036"
# reverse() quotes arguments with these left as they are (django.urls.resolvers).
_SAFE_IN_PATH = "!$&'()*+,;=/~:@"
_SHAPES: dict[tuple[Any, str, str, int], tuple[str, ...] | None] = {}


def _placeholder(index: int) -> str:
    return f"{_PLACEHOLDER}{index}"


def _urls_key() -> tuple[Any, str]:
    return (get_urlconf(), get_script_prefix())


def url(name: str, *args: object) -> str:
    """``reverse(name, args=args)``, served from a cached shape after the first call.

    The shape is the reversed URL split at each argument's place; an argument is then quoted the way
    ``reverse`` quotes it. A pattern whose reversal would not show each argument once, in order (a
    converter that changes its value, say), is not cached and goes through ``reverse`` every time.
    """
    return _url(_urls_key(), name, args)


@jinja2.pass_context
def _url_in_fragment(context: jinja2.runtime.Context, name: str, *args: object) -> str:
    return _url(context.get(_URLS_KEY) or _urls_key(), name, args)


def _url(urls: tuple[Any, str], name: str, args: tuple[object, ...]) -> str:
    key = (*urls, name, len(args))
    shape = _SHAPES.get(key, ())
    if shape == ():
        placeholders = [_placeholder(index) for index in range(len(args))]
        try:
            reversed_url = reverse(name, args=placeholders)
        except NoReverseMatch:
            shape = None
        else:
            shape = _split(reversed_url, placeholders)
        _SHAPES[key] = shape
    # A slash is the one character a placeholder's converter (str) may refuse and the shape would not.
    if shape is None or any("/" in str(arg) for arg in args):
        return reverse(name, args=args)
    parts = [shape[0]]
    for index, arg in enumerate(args):
        parts.append(quote(str(arg), safe=_SAFE_IN_PATH))
        parts.append(shape[index + 1])
    # The shape went through iri_to_uri in reverse(), and quote() leaves only ASCII.
    return "".join(parts)


def _split(reversed_url: str, placeholders: list[str]) -> tuple[str, ...] | None:
    pieces: list[str] = []
    rest = reversed_url
    for placeholder in placeholders:
        if rest.count(placeholder) != 1:
            return None
        before, rest = rest.split(placeholder)
        pieces.append(before)
    pieces.append(rest)
    return tuple(pieces)


def _local(value: datetime.datetime | None) -> datetime.datetime | None:
    if value is None:
        return None
    return timezone.localtime(value) if timezone.is_aware(value) else value


def datetime_iso(value: datetime.datetime | None) -> str:
    """What ``{{ value|date:"c" }}`` shows: ISO 8601 in local time."""
    local = _local(value)
    return "" if local is None else local.isoformat()


# Django's gettext, timezone and URL prefix are found through context-locals on every call, and a
# fragment asks for them once per row: render_fragment looks them up once and hands them to the
# helpers in the template context under these names.
_LANGUAGE = "_fragment_language"
_TIMEZONE = "_fragment_timezone"
_URLS_KEY = "_fragment_urls"
# The answers are kept per language: the catalogues do not change while the process runs, and the keys
# are the templates' literal msgids (with the count for plurals: bounded below).
_GETTEXT: dict[tuple[str | None, str], str] = {}
_NGETTEXT: dict[tuple[str | None, str, str, int], str] = {}
_CACHE_LIMIT = 100_000


@jinja2.pass_context
def _gettext(context: jinja2.runtime.Context, message: str) -> str:
    key = (context.get(_LANGUAGE), message)
    try:
        return _GETTEXT[key]
    except KeyError:
        _GETTEXT[key] = translated = gettext(message)
        return translated


@jinja2.pass_context
def _ngettext(context: jinja2.runtime.Context, singular: str, plural: str, number: int) -> str:
    key = (context.get(_LANGUAGE), singular, plural, number)
    try:
        return _NGETTEXT[key]
    except KeyError:
        translated = ngettext(singular, plural, number)
        if len(_NGETTEXT) < _CACHE_LIMIT:
            _NGETTEXT[key] = translated
        return translated


@functools.lru_cache(maxsize=_CACHE_LIMIT)
def _short(language: str | None, zone: datetime.tzinfo, value: datetime.datetime) -> str:
    # Django's own formatter (slow: it parses the format each time), once per language, zone and
    # moment; the language and zone are the active ones, part of the key.
    return formats.date_format(timezone.localtime(value, zone), "SHORT_DATETIME_FORMAT")


@jinja2.pass_context
def _datetime_short(context: jinja2.runtime.Context, value: datetime.datetime | None) -> str:
    if value is None:
        return ""
    if not timezone.is_aware(value):
        return formats.date_format(value, "SHORT_DATETIME_FORMAT")
    return _short(context.get(_LANGUAGE), context.get(_TIMEZONE) or timezone.get_current_timezone(), value)


@functools.lru_cache(maxsize=1024)
def _month_of(language: str | None, year: int, month: int) -> str:
    # The language is part of the key: date_format spells the month in the active one.
    return formats.date_format(datetime.date(year, month, 1), "YEAR_MONTH_FORMAT")


@jinja2.pass_context
def _year_month(context: jinja2.runtime.Context, value: datetime.datetime | None) -> str:
    if value is None:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value, context.get(_TIMEZONE) or timezone.get_current_timezone())
    return _month_of(context.get(_LANGUAGE), value.year, value.month)


def _query(value: object) -> str:
    return _urlencode(value) if isinstance(value, Mapping) else quote(str(value), safe="/")


def environment(**options: Any) -> jinja2.Environment:
    """The Jinja2 environment (``settings.TEMPLATES[...]["OPTIONS"]["environment"]``)."""
    options.setdefault("extensions", []).append("jinja2.ext.i18n")
    # Templates are written for the output's readability, not the source's: blocks leave no lines.
    options.setdefault("trim_blocks", True)
    options.setdefault("lstrip_blocks", True)
    options["autoescape"] = True
    env = jinja2.Environment(**options)  # noqa: S701  autoescape is set on the line above
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(url=_url_in_fragment, static=static, hole=hole)
    env.filters.update(
        datetime_short=_datetime_short,
        datetime_iso=datetime_iso,
        year_month=_year_month,
        filesizeformat=filesizeformat,
        urlencode=_query,
    )
    return env


def render_fragment(
    template_name: str, context: Mapping[str, Any], request: HttpRequest | None = None
) -> SafeString:
    """Render ``templates/<template_name>`` (a ``.jinja`` file) to HTML for a Django page to include."""
    template = engines[ENGINE].get_template(template_name)
    values = fragment_context(context)
    # Once per render: each evaluation of the backend's lazy csrf_input masks the token anew, which
    # costs a few dozen random draws, and a page of posts holds dozens of forms.
    # A page kept for many members passes its own: the CSRF hole (forum/kept_html.py).
    if "csrf_field" not in values:
        values["csrf_field"] = csrf_input(request) if request is not None else ""
    return mark_safe(template.render(values, request))  # noqa: S308  autoescaped


def fragment_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """``context`` with what the fragment helpers look up once per render instead of once per call."""
    values = dict(context)
    values[_LANGUAGE] = get_language()
    values[_TIMEZONE] = timezone.get_current_timezone()
    values[_URLS_KEY] = _urls_key()
    return values
