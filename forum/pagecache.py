"""Whole pages for guests, kept in the cache until what they show changes.

A guest's page of the forum is the same for every guest speaking the same language, so the page
rendered for one is served to the next from Redis without touching the view. Freshness is by
generation, not by time: each scope (an app's pages, say ``"thread"``) has a generation number in the
cache; a page is kept with the generation it was rendered under, and a change that guests would see
calls ``changed(scope)`` inside its transaction, which starts a new generation once the change has
committed. Every page of the scope rendered before is then stale: a new post or an approval shows at
once. (The order matters: a generation started before the commit could be read by a request that
still renders the old rows and keeps them under the new generation.)

What is never served from here: members' pages, anything but GET and HEAD, a guest with a flash
message waiting, an answer other than 200. The one per-visitor part of a guest page, its CSRF token, is
kept as a placeholder and filled in with the visitor's own token on the way out.

When Redis is down the pages are rendered as if there were no cache, and for
``REDIS_OUTAGE_SKIP_SECONDS`` after a failure the cache is not even tried (``forum.outage``). A new
generation that could not be started is remembered by the process and started at its next successful
look at the cache, so that pages kept before the outage do not outlive a change made during it (at
worst, when that process never touches the cache again, they last ``PAGE_CACHE_SECONDS``).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import secrets
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.conf import settings
from django.contrib.messages.storage.cookie import CookieStorage
from django.core.cache import cache
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.middleware.csrf import get_token

from forum import versioned_cache
from forum.outage import Breaker

__all__ = ["ChangeOutsideTransactionError", "changed", "guest_page"]

logger = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., HttpResponseBase])

_PLACEHOLDER = b"\x00csrf-token\x00"
_TOKENS = (
    re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"'),
    re.compile(rb'"X-CSRFToken": "([^"]+)"'),
)

cache_breaker = Breaker("pagecache")
# Scopes whose new generation could not be started (Redis was down), started at the next chance.
_unfinished: set[str] = set()
_unfinished_lock = threading.Lock()


def _keep_for_later(scopes: set[str]) -> None:
    with _unfinished_lock:
        _unfinished.update(scopes)


def _unfinished_scopes() -> set[str]:
    with _unfinished_lock:
        return set(_unfinished)


class ChangeOutsideTransactionError(RuntimeError):
    """``changed()`` was called with no transaction open."""


def _generation_key(scope: str) -> str:
    # REDIS_KEY_PREFIX too (the cache's own prefix is fixed at start): tests get keys of their own.
    return f"{settings.REDIS_KEY_PREFIX}:pagecache:{scope}:generation"


def _page_key(scope: str, request: HttpRequest) -> str:
    language = getattr(request, "LANGUAGE_CODE", settings.LANGUAGE_CODE)
    path = hashlib.sha256(request.get_full_path().encode()).hexdigest()
    return f"{settings.REDIS_KEY_PREFIX}:pagecache:{scope}:page:{language}:{path}"


def _cache_address() -> str:
    return str(settings.CACHES["default"].get("LOCATION", ""))


def _failed(address: str, what: str) -> None:
    if cache_breaker.failed(address):
        logger.warning("pagecache: cache unavailable, %s", what, exc_info=True)


def _start_generations(scopes: set[str]) -> None:
    """New generations for ``scopes``, now; those that cannot be started are kept for later."""
    address = _cache_address()
    if cache_breaker.skipping(address):
        _keep_for_later(scopes)
        return
    try:
        cache.set_many({_generation_key(scope): secrets.token_hex(8) for scope in scopes}, timeout=None)
    except Exception:  # noqa: BLE001 - whatever the cache raises, the change must not fail
        _keep_for_later(scopes)
        _failed(address, "new generations kept for later")
        return
    cache_breaker.succeeded(address)
    with _unfinished_lock:
        _unfinished.difference_update(scopes)


def _new_generation(scope: str) -> None:
    _start_generations({scope, *_unfinished_scopes()})


def changed(scope: str) -> None:
    """Guests' pages of ``scope`` go stale once the current transaction commits."""
    if not connection.in_atomic_block:
        raise ChangeOutsideTransactionError(f"changed({scope!r}) needs an open transaction")
    transaction.on_commit(functools.partial(_new_generation, scope), robust=True)
    # What members' pages keep of the scope goes stale with it (forum.versioned_cache).
    versioned_cache.changed(scope)


def _has_messages(request: HttpRequest) -> bool:
    if CookieStorage.cookie_name in request.COOKIES:
        return True
    session = getattr(request, "session", None)
    return bool(session is not None and session.session_key and session.get("_messages"))


def _cacheable(request: HttpRequest) -> bool:
    return (
        settings.PAGE_CACHE_SECONDS > 0
        and request.method in ("GET", "HEAD")
        and not request.user.is_authenticated
        and not _has_messages(request)
    )


def _kept(body: bytes) -> bytes:
    """The page with its CSRF tokens replaced by the placeholder. Each token on a page is the visitor's
    secret under a mask of its own (one per render of a Django page, one per form of a fragment):
    every one of them is the visitor's, none may reach another visitor."""
    tokens = {found.group(1) for pattern in _TOKENS for found in pattern.finditer(body)}
    for token in tokens:
        body = body.replace(token, _PLACEHOLDER)
    return body


def _served(request: HttpRequest, content_type: str, body: bytes) -> HttpResponse:
    if _PLACEHOLDER in body:
        body = body.replace(_PLACEHOLDER, get_token(request).encode())
    response = HttpResponse(body, content_type=content_type)
    response["X-Page-Cache"] = "hit"
    return response


def guest_page(scope: str, *, also: tuple[str, ...] = ()) -> Callable[[View], View]:
    """Serve the decorated view's pages to guests from the cache (see the module's notes).

    ``also`` names more scopes whose changes the page shows, as ``forum.versioned_cache`` keeps their
    versions (each app's events bump the app's scope): a page kept under older versions is stale.
    """

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not _cacheable(request):
                return view(request, *args, **kwargs)
            address = _cache_address()
            if cache_breaker.skipping(address):
                return view(request, *args, **kwargs)
            if _unfinished:
                _start_generations(_unfinished_scopes())
            generation_key, page_key = _generation_key(scope), _page_key(scope, request)
            try:
                found = cache.get_many([generation_key, page_key])
                generation = found.get(generation_key)
                if generation is None:
                    cache.add(generation_key, secrets.token_hex(8), timeout=None)
                    generation = cache.get(generation_key)
            except Exception:  # noqa: BLE001 - a cache failure renders the page as if there were none
                _failed(address, f"rendering {request.path}")
                return view(request, *args, **kwargs)
            cache_breaker.succeeded(address)
            if also:
                current = versioned_cache.versions(also)
                if current is None:  # the versions are out of reach: render, keep nothing
                    return view(request, *args, **kwargs)
                generation = (generation, current)
            entry = found.get(page_key)
            if entry is not None and entry[0] == generation:
                return _served(request, entry[1], entry[2])

            response = view(request, *args, **kwargs)
            if (
                generation is not None
                and isinstance(response, HttpResponse)
                and response.status_code == 200
                and not response.cookies
            ):
                kept = _kept(response.content)
                try:
                    cache.set(
                        page_key,
                        (generation, response["Content-Type"], kept),
                        timeout=settings.PAGE_CACHE_SECONDS,
                    )
                except Exception:  # noqa: BLE001 - the page is served, only not kept
                    _failed(address, f"could not keep {request.path}")
            return response

        return cast(View, wrapper)

    return decorate
