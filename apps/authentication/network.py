"""What the services need to know about a request: its client's address, language and origin."""

from __future__ import annotations

import ipaddress
from functools import cache

from django.conf import settings
from django.http import HttpRequest
from django.utils import translation

from apps.authentication.services import Caller

__all__ = ["caller_of", "client_ip"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _networks(spec: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in spec)


def _trusted(address: str) -> bool:
    networks = _networks(tuple(settings.TRUSTED_PROXY_NETWORKS))
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(request: HttpRequest) -> str:
    """``REMOTE_ADDR``, or behind a trusted proxy the last X-Forwarded-For hop it did not add itself.

    Only the hops our own proxies appended can be believed: a client can write anything at the front of
    the header, so it is read from the right and the first address outside the trusted networks wins.
    """
    remote = str(request.META.get("REMOTE_ADDR", ""))
    if not _trusted(remote):
        return remote
    hops = [hop.strip() for hop in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            break  # a malformed hop: nothing before it can be trusted either
        if not _trusted(hop):
            return hop
    return remote


def caller_of(request: HttpRequest) -> Caller:
    """The request as the services see it: who (by address), in which language, at which origin."""
    return Caller(
        ip=client_ip(request),
        language=translation.get_language() or str(settings.LANGUAGE_CODE),
        # Host is checked against ALLOWED_HOSTS; FORUM_BASE_URL, when set, wins in the links anyway.
        origin=request.build_absolute_uri("/").rstrip("/"),
    )
