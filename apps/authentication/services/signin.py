"""Sign-in: checking a login and password, and the device cookie a completed sign-in sets."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.utils.translation import gettext as _

from apps.authentication import devices, selectors, throttles
from apps.authentication.models import User
from apps.authentication.services._common import (
    Account,
    AccountDisabled,
    _account,
    _signin_failed,
    _signin_subject,
    _signin_wait,
)
from apps.authentication.services.checks import _signin_refusal
from forum.errors import ValidationFailed


class InvalidCredentials(ValidationFailed):
    code = "invalid_credentials"


def _signin_device(user: User | None, device: str) -> str | None:
    """The device counter's subject when ``device`` is a valid device cookie of ``user``'s account.

    A cookie of another account, an altered or an expired one counts for nothing: the attempt is a
    stranger's, held by the account-wide lock.
    """
    if user is None or not device:
        return None
    found = devices.token_read(device)
    if found is None or found.account_id != user.pk:
        return None
    return f"{found.account_id}:{found.nonce}"


# --- Sign-in ------------------------------------------------------------------------------------------


def credentials_check(*, login: str, password: str, ip: str, device: str = "") -> Account:
    """The account that ``login`` (a username or an email address, any case) and ``password`` name.

    The one way in: pages, the API and the admin's login all call it, and a second factor, where the
    account has one, is asked for after it. ``device`` is the device cookie the client sent, if any
    (``signin_device_cookie``). Raises InvalidCredentials (one message, whichever part was wrong),
    AccountDisabled (only when the password was right), or RateLimited after too many failures for the
    account (for a browser with the account's device cookie: of that browser), or from the address.
    A hash made by an older hasher is replaced on success.
    """
    login = login.strip()
    user = selectors.user_by_login(login=login) if login else None
    subject = _signin_subject(login, user)
    known_device = _signin_device(user, device)
    _signin_wait(subject, known_device, ip)
    if user is None:
        # As much work as checking a real account's password, so that timing does not tell either.
        make_password(password)
        matches = False
    else:
        matches = user.check_password(password)  # rehashes with the preferred hasher when it matches
    if not matches or user is None:
        _signin_failed(subject, known_device, ip)
        raise InvalidCredentials(_("The username or email address, or the password, is not right."))
    if not user.is_active:
        raise AccountDisabled(_("This account is disabled."))
    _signin_refusal(user.pk)
    # A success clears what it was judged by. Through a known device, strangers' failures stay counted:
    # the owner signing in must not hand the guesser a fresh allowance.
    if known_device is not None:
        throttles.clear(throttles.SIGNIN_FAILURES_PER_DEVICE, known_device)
    else:
        throttles.clear(throttles.SIGNIN_FAILURES_PER_ACCOUNT, subject)
    return _account(user)


@dataclass(frozen=True)
class DeviceCookie:
    """The device cookie to set once a sign-in is complete (after the second factor, if any)."""

    name: str
    value: str
    max_age: int
    secure: bool
    httponly: bool = True
    samesite: str = "Lax"


def signin_device_cookie(*, user_id: int) -> DeviceCookie:
    """A new device cookie binding the browser that just signed in to ``user_id``'s account.

    Send its value back to ``credentials_check`` as ``device``: this browser's sign-ins to that account
    are then held by this browser's own failures, not by the lock that strangers' failures put on the
    account. Each sign-in gets a new one (a new nonce, so a device counter of its own).
    """
    return DeviceCookie(
        name=str(settings.SIGNIN_DEVICE_COOKIE_NAME),
        value=devices.token_issue(user_id),
        max_age=int(devices.max_age().total_seconds()),
        secure=bool(settings.SIGNIN_DEVICE_COOKIE_SECURE),
    )
