"""Per-request work of the moderation app: refusing writes from banned addresses and networks."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils.translation import gettext as _

from apps.admin.bans import address_banned
from forum.client import client_ip
from forum.errors import error_response
from forum.internal_auth import internal_caller

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class AddressBanMiddleware:
    """Answers 403 ``address_banned`` to every write (POST, PUT, PATCH, DELETE) from a banned address
    or network. Reads pass untouched, and so do calls signed by our own services (``/internal/``);
    the lists are kept per process (``bans.py``), so a write costs no query in the common case."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        # A verified internal call speaks for one of our services, not for a member's network.
        if (
            request.method not in _SAFE_METHODS
            and internal_caller(request) is None
            and address_banned(client_ip(request))
        ):
            return error_response(
                request,
                403,
                code="address_banned",
                message=_("Your network is banned from taking part in this forum."),
            )
        return self.get_response(request)
