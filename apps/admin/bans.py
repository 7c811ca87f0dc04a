"""Bans of the admin (moderation) app: account bans (posting or full), email bans and address bans.

An account ban takes effect through the permission engine (``access_ban_set``: while it runs the member
keeps only what survives a ban, reading); a full one also ends every session, token family and socket
of the member and refuses sign-in (a check handed to the authentication app from ``AdminConfig.ready``).
Email and address bans are refused at sign-up and email change (a check handed in the same way), and
address bans on every write (``AddressBanMiddleware``). Each process keeps the two lists in memory and
reloads them when the version row in the database changed (asked at most every few seconds).
The acts (ban, lift, add or remove an email or address ban) are in ``services.py``, which logs them.
"""

from __future__ import annotations

import datetime
import fnmatch
import ipaddress
import threading
import time
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.admin.models import (
    AddressBan,
    Ban,
    BanKind,
    BanListVersion,
    EmailBan,
)
from forum.errors import ValidationFailed

# How long a process trusts its copy of the email and address bans before asking for the version.
LISTS_RECHECK_SECONDS = 5.0


@dataclass(frozen=True)
class BanRow:
    id: int
    member_id: int
    kind: str
    reason: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime | None
    issued_by: int | None
    lifted_at: datetime.datetime | None
    active: bool


def ban_row(ban: Ban, now: datetime.datetime) -> BanRow:
    return BanRow(
        id=ban.pk,
        member_id=ban.member_id,
        kind=ban.kind,
        reason=ban.reason,
        starts_at=ban.starts_at,
        ends_at=ban.ends_at,
        issued_by=ban.issued_by_id,
        lifted_at=ban.lifted_at,
        active=ban.lifted_at is None and (ban.ends_at is None or ban.ends_at > now),
    )


def running_q(now: datetime.datetime) -> Q:
    return Q(lifted_at__isnull=True) & (Q(ends_at__isnull=True) | Q(ends_at__gt=now))


def running_ends(member_id: int, now: datetime.datetime) -> list[datetime.datetime | None]:
    """The ends of the member's running account bans (for the engine, with escalation bans)."""
    return list(Ban.objects.filter(running_q(now), member_id=member_id).values_list("ends_at", flat=True))


def ban_running(*, member_id: int) -> BanRow | None:
    """The member's running ban that ends last (a full one first among equals), or None."""
    now = timezone.now()
    running = list(Ban.objects.filter(running_q(now), member_id=member_id))
    if not running:
        return None
    far = datetime.datetime.max.replace(tzinfo=datetime.UTC)
    running.sort(key=lambda ban: (ban.ends_at or far, ban.kind == BanKind.FULL), reverse=True)
    return ban_row(running[0], now)


def bans_of(*, member_id: int) -> tuple[BanRow, ...]:
    now = timezone.now()
    return tuple(ban_row(ban, now) for ban in Ban.objects.filter(member_id=member_id))


def ban_refusal(ban: BanRow) -> str:
    """What a banned member is told: the reason and the end."""
    if ban.ends_at is None:
        return _("Your account is banned permanently. Reason: %(reason)s") % {"reason": ban.reason}
    return _("Your account is banned until %(until)s UTC. Reason: %(reason)s") % {
        "until": ban.ends_at.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M"),
        "reason": ban.reason,
    }


def signin_check(user_id: int) -> str | None:
    """Handed to the authentication app: a member under a running full ban may not sign in."""
    now = timezone.now()
    ban = (
        Ban.objects.filter(running_q(now), member_id=user_id, kind=BanKind.FULL)
        .order_by(F("ends_at").desc(nulls_first=True))
        .first()
    )
    return None if ban is None else ban_refusal(ban_row(ban, now))


# --- Email and address bans --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lists:
    version: int
    checked: float
    emails: tuple[str, ...]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


_lists_lock = threading.Lock()
_lists: _Lists | None = None


def _version() -> int:
    value = BanListVersion.objects.filter(pk=1).values_list("version", flat=True).first()
    return int(value or 0)


def lists_bump() -> None:
    """In the caller's transaction: every process reloads its lists; this one at its next check."""
    global _lists
    if not BanListVersion.objects.filter(pk=1).update(version=F("version") + 1):
        BanListVersion.objects.get_or_create(pk=1, defaults={"version": 1})
    transaction.on_commit(lists_forget)
    _lists = None


def lists_forget() -> None:
    global _lists
    with _lists_lock:
        _lists = None


def _current_lists() -> _Lists:
    """The email and address bans, from this process's copy: no query within LISTS_RECHECK_SECONDS of
    the last check, one small query after that, and a reload only when the version changed."""
    global _lists
    kept = _lists
    clock = time.monotonic()
    if kept is not None and clock - kept.checked < LISTS_RECHECK_SECONDS:
        return kept
    version = _version()
    if kept is not None and kept.version == version:
        fresh = _Lists(version=version, checked=clock, emails=kept.emails, networks=kept.networks)
    else:
        fresh = _Lists(
            version=version,
            checked=clock,
            emails=tuple(EmailBan.objects.values_list("pattern", flat=True)),
            networks=tuple(
                ipaddress.ip_network(value, strict=False)
                for value in AddressBan.objects.values_list("network", flat=True)
            ),
        )
    with _lists_lock:
        _lists = fresh
    return fresh


def clean_pattern(pattern: str) -> str:
    pattern = pattern.strip().lower()
    local, at, domain = pattern.rpartition("@")
    if not at or not local or not domain or len(pattern) > 254:
        raise ValidationFailed(
            _("Give an address or a pattern such as *@spam.example."),
            fields={"pattern": [_("An address or a pattern with “@”.")]},
        )
    return pattern


def clean_network(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except ValueError:
        raise ValidationFailed(
            _("Give an IPv4 or IPv6 address or network."),
            fields={"network": [_("Such as 203.0.113.7, 203.0.113.0/24 or 2001:db8::/32.")]},
        ) from None


def email_banned(email: str) -> bool:
    address = email.strip().lower()
    return bool(address) and any(fnmatch.fnmatchcase(address, pattern) for pattern in _current_lists().emails)


def address_banned(ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return False
    return any(address.version == net.version and address in net for net in _current_lists().networks)


def signup_check(email: str, ip: str) -> str | None:
    """Handed to the authentication app: sign-ups and email changes from banned addresses or networks."""
    if email and email_banned(email):
        return _("This email address may not be used on this forum.")
    if ip and address_banned(ip):
        return _("Sign-ups from your network are not allowed.")
    return None
