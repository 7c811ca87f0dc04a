"""Device cookies: a browser's signed proof that it signed in to an account before.

After a completed sign-in (password, and the second factor where the account has one) the browser gets
a cookie naming the account and a random nonce, signed with ``SECRET_KEY``. A later sign-in to that
account that brings it is judged by the failures of that one device (its nonce), not by the lockout
that anyone's failures for the account fill: a stranger guessing the password cannot lock the owner
out of a browser they used before (OWASP, "Slow Down Online Guessing Attacks with Device Cookies").
The cookie grants nothing else: it neither signs in nor skips the password or the second factor.
"""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

__all__ = ["SALT", "Device", "max_age", "token_issue", "token_read"]

SALT = "authentication.signin-device"
# A signed token is well under 200 characters; anything much longer is not one of ours.
_TOKEN_MAX_LENGTH = 512


@dataclass(frozen=True)
class Device:
    account_id: int
    nonce: str


def max_age() -> datetime.timedelta:
    return datetime.timedelta(days=int(settings.SIGNIN_DEVICE_COOKIE_DAYS))


def token_issue(account_id: int) -> str:
    """A new device token for ``account_id``: a new nonce, so a new device counter."""
    return signing.dumps({"u": account_id, "n": secrets.token_urlsafe(16)}, salt=SALT)


def token_read(token: str) -> Device | None:
    """The device a token names; None when it is missing, altered, expired or malformed."""
    if not token or len(token) > _TOKEN_MAX_LENGTH:
        return None
    try:
        payload = signing.loads(token, salt=SALT, max_age=max_age())
        device = Device(account_id=int(payload["u"]), nonce=str(payload["n"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    return device if device.nonce else None
