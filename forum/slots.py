"""HTML rendered once for everyone who sees the same thing, with holes for each viewer's own bits.

A hot page of a member (a thread's posts, a forum's thread list, the forum tree) is the same for every
member with the same permissions and language but for a few marks of their own: the unread marker,
their reaction, their bookmark, the CSRF field. Rendering it costs far more than reading it; so it is
rendered once with a **hole** where each such mark goes, kept (``forum.versioned_cache.kept``) as a
``Slotted`` and filled per request, which is a string join.

- In the template, ``hole(name, arg)`` (a global of the fragments' environment) writes the hole: an
  HTML comment carrying a key derived from ``SECRET_KEY``, the hole's name and its argument (a post's
  id, say). User content cannot forge one (it would need the key), and a hole left unfilled by mistake
  is an invisible comment, never markup.
- ``Slotted.parse(html)`` splits the rendered HTML at its holes, once, when the part is built.
- ``slotted.fill(fillers)`` answers the HTML with each hole replaced by ``fillers[name](arg)`` (a
  string of safe HTML). A hole whose name has no filler raises ``KeyError``: a template and its
  caller disagree, which a test must catch, not a reader.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest
from django.middleware.csrf import get_token
from markupsafe import Markup

__all__ = ["RenderedOnce", "Slotted", "hole", "page_token", "stand_in"]

# Names are identifiers; arguments are ids and short words (never "-" followed by ">").
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@functools.cache
def _key() -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), b"forum.slots", hashlib.sha256).hexdigest()
    return digest[:20]


@functools.cache
def _pattern() -> re.Pattern[str]:
    return re.compile(r"<!--hole:" + _key() + r":([a-z][a-z0-9_]*):([^<>]*?)-->")


def hole(name: str, arg: object = "") -> Markup:
    """The hole named ``name`` for ``arg`` (written into a template: ``{{ hole('unread', post.id) }}``)."""
    if not _NAME.match(name):
        raise ValueError(f"a hole's name is an identifier, not {name!r}")
    text = str(arg)
    if "<" in text or ">" in text or "--" in text:
        raise ValueError(f"a hole's argument cannot hold '<', '>' or '--': {text!r}")
    return Markup(f"<!--hole:{_key()}:{name}:{text}-->")  # noqa: S704  no "<", ">" or "--" inside


def stand_in(name: str) -> str:
    """Plain letters and digits that stand for the hole ``name`` where a hole cannot be written as such
    (a form field's value, escaped on its way into the page): ``Slotted.parse(html, stand_ins=...)``
    turns them into the hole. Derived from the key: content cannot hold one by chance or on purpose."""
    if not _NAME.match(name):
        raise ValueError(f"a hole's name is an identifier, not {name!r}")
    return f"standin{_key()}{name.replace('_', '')}"


@dataclass(frozen=True)
class Slotted:
    """Rendered HTML split at its holes: text, name, argument, text, name, argument, ..., text."""

    parts: tuple[str, ...]

    @classmethod
    def parse(cls, html: str, stand_ins: tuple[str, ...] = ()) -> Slotted:
        """``html`` split at its holes, and at the stand-ins (``stand_in``) of the names given."""
        text = str(html)
        for name in stand_ins:
            text = text.replace(stand_in(name), hole(name))
        return cls(parts=tuple(_pattern().split(text)))

    @property
    def holes(self) -> tuple[tuple[str, str], ...]:
        """Each hole's name and argument, in order."""
        parts = self.parts
        return tuple((parts[index], parts[index + 1]) for index in range(1, len(parts), 3))

    def fill(self, fillers: Mapping[str, Callable[[str], str]]) -> Markup:
        """The HTML with every hole filled by ``fillers[name](argument)``."""
        parts = self.parts
        out = [parts[0]]
        append = out.append
        for index in range(1, len(parts), 3):
            append(fillers[parts[index]](parts[index + 1]))
            append(parts[index + 2])
        return Markup("".join(out))  # noqa: S704  rendered HTML and the fillers' safe HTML


class RenderedOnce:
    """Fragments rendered once per process for a key that names everything they show, split at their
    holes and kept (least recently used first out, ``limit`` at most). The key is the data, so an entry
    is never stale: the header, the footer, the watch button."""

    def __init__(self, limit: int = 2048) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._kept: OrderedDict[Hashable, Slotted] = OrderedDict()

    def get(self, key: Hashable, render: Callable[[], str]) -> Slotted:
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
                return found
        found = Slotted.parse(render())
        with self._lock:
            self._kept[key] = found
            while len(self._kept) > self._limit:
                self._kept.popitem(last=False)
        return found

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


def page_token(request: HttpRequest) -> str:
    """The request's masked CSRF token, masked once: every form of a page filled per request (the
    header's, the posts', the footer's) takes the same one, as one ``render()`` would give them
    (Django's ``get_token`` masks again on each call, 32 random characters each time)."""
    token = request.META.get("forum.page_token")
    if token is None:
        token = str(get_token(request))
        request.META["forum.page_token"] = token
    return str(token)
