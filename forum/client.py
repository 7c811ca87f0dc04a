"""What the kernel knows about a request's client: its address behind trusted proxies, its device."""

from __future__ import annotations

import ipaddress
from functools import cache

from django.conf import settings
from django.http import HttpRequest

__all__ = ["client_device", "client_ip"]

# Long enough to tell browsers and versions apart; the rest of a User-Agent is noise for people.
DEVICE_MAX_LENGTH = 255

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _networks(spec: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in spec)


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(settings.TRUSTED_PROXY_NETWORKS)))


def client_ip(request: HttpRequest) -> str:
    """``REMOTE_ADDR``, or behind a proxy of ``TRUSTED_PROXY_NETWORKS`` the last forwarded hop it did
    not add itself.

    Only the hops our own proxies appended can be believed: a client can write anything at the front of
    X-Forwarded-For, so it is read from the right and the first address outside the trusted networks
    wins. Per-address limits (sign-in, sign-up) depend on this being right behind nginx.
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


def client_device(request: HttpRequest) -> str:
    """The User-Agent, trimmed: shown to the member to recognise a session, never used to decide."""
    return " ".join(str(request.META.get("HTTP_USER_AGENT", "")).split())[:DEVICE_MAX_LENGTH]
