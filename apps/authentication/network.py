"""What the services need to know about a request: its client's address, language and origin.

The address rule (trusted proxies) is the kernel's: forum.client.client_ip."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.utils import translation

from apps.authentication.services import Caller
from forum.client import client_ip

__all__ = ["caller_of", "client_ip"]


def caller_of(request: HttpRequest) -> Caller:
    """The request as the services see it: who (by address), in which language, at which origin."""
    return Caller(
        ip=client_ip(request),
        language=translation.get_language() or str(settings.LANGUAGE_CODE),
        # Host is checked against ALLOWED_HOSTS; FORUM_BASE_URL, when set, wins in the links anyway.
        origin=request.build_absolute_uri("/").rstrip("/"),
    )
