"""Two-factor sign-in: enrolling an authenticator app, backup codes, and the challenge a code answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from django.utils.translation import gettext as _

from apps.authentication import selectors, throttles, two_factor
from apps.authentication.models import User
from apps.authentication.services._common import (
    Account,
    AccountDisabled,
    Caller,
    _account,
    _minutes,
    _password_confirm,
    _user,
    logger,
)
from apps.authentication.services.checks import _signin_refusal
from forum.context_processors import forum_name
from forum.errors import ApplicationError, Conflict, Forbidden, RateLimited, ValidationFailed
from forum.qr import qr_svg


@dataclass(frozen=True)
class TwoFactorStatus:
    enabled: bool
    enrolling: bool  # a device was started and waits for its first code
    backup_codes_left: int


@dataclass(frozen=True)
class TwoFactorEnrolment:
    """What an authenticator app needs: the otpauth:// URI, as a QR code (SVG) too, and the key to type."""

    otpauth_uri: str
    key: str
    qr_svg: str


@dataclass(frozen=True)
class TwoFactorChallenge:
    """Proof for a while that an account's password was right; its code finishes the sign-in."""

    challenge: str
    expires_in: int


class InvalidCode(ValidationFailed):
    code = "invalid_code"


class CodeUsed(InvalidCode):
    """A right code of a time step already used: refused by design (a code is good once)."""

    code = "code_used"


class InvalidChallenge(ValidationFailed):
    code = "two_factor_challenge_invalid"


class TwoFactorRequired(Forbidden):
    code = "two_factor_required"


# --- Two-factor authentication ------------------------------------------------------------------------


def _two_factor_unavailable() -> ApplicationError:
    return ApplicationError(
        _("Two-factor sign-in is unavailable for a moment. Try again shortly."),
        code="unavailable",
        status=503,
    )


def _two_factor_wait(user_id: int, ip: str) -> None:
    waits = [
        throttles.retry_after(throttles.TWO_FACTOR_FAILURES_PER_ACCOUNT, str(user_id)),
        throttles.retry_after(throttles.TWO_FACTOR_FAILURES_PER_IP, throttles.address_subject(ip)),
    ]
    wait = max((seconds for seconds in waits if seconds is not None), default=None)
    if wait is not None:
        raise RateLimited(
            _("Too many wrong codes. Try again in %(minutes)s min.") % {"minutes": _minutes(wait)},
            retry_after=wait,
        )


def _wrong_code(field: str, message: str | None = None) -> InvalidCode:
    return InvalidCode(message or _("The code is not right."), fields={field: [_("The code is not right.")]})


def _code_used(field: str) -> CodeUsed:
    message = _("This code was already used; wait for the next one.")
    return CodeUsed(message, fields={field: [message]})


def _code_confirm(user: User, code: str, *, ip: str, field: str = "code", pending: bool = False) -> None:
    """A code from the member's authenticator app (or a backup code), used up; refused ones are counted
    (a used one too: it is still a code that did not sign in)."""
    _two_factor_wait(user.pk, ip)
    found = two_factor.code_check(user, code, pending=pending)
    if found is not two_factor.CodeCheck.RIGHT:
        throttles.hit(throttles.TWO_FACTOR_FAILURES_PER_ACCOUNT, str(user.pk))
        throttles.hit(throttles.TWO_FACTOR_FAILURES_PER_IP, throttles.address_subject(ip))
        raise _code_used(field) if found is two_factor.CodeCheck.USED else _wrong_code(field)
    throttles.clear(throttles.TWO_FACTOR_FAILURES_PER_ACCOUNT, str(user.pk))


def _enrolment(user: User, device: Any) -> TwoFactorEnrolment:
    uri = two_factor.enrolment_uri(device, issuer=forum_name(), account_name=user.username)
    return TwoFactorEnrolment(
        otpauth_uri=uri,
        key=two_factor.key_base32(device),
        qr_svg=qr_svg(uri, title=_("QR code for your authenticator app"), css_class="two-factor-qr"),
    )


def two_factor_status(*, user_id: int) -> TwoFactorStatus:
    user = _user(user_id)
    return TwoFactorStatus(
        enabled=two_factor.is_enabled(user.pk),
        enrolling=two_factor.pending_device(user) is not None,
        backup_codes_left=two_factor.backup_codes_left(user.pk),
    )


def two_factor_required(*, user_id: int) -> bool:
    """Whether signing this account in needs a code after the password (it has a confirmed device)."""
    return two_factor.is_enabled(user_id)


def two_factor_enrol_start(*, user_id: int) -> TwoFactorEnrolment:
    """Start (or start over) adding an authenticator app; it counts once ``two_factor_enrol_confirm`` ran.

    Raises Conflict (``two_factor_enabled``) when two-factor sign-in is on already.
    """
    user = _user(user_id)
    if two_factor.is_enabled(user.pk):
        raise Conflict(
            _("Two-factor authentication is on already. Turn it off first to use another app."),
            code="two_factor_enabled",
        )
    return _enrolment(user, two_factor.enrolment_start(user))


def two_factor_enrolment(*, user_id: int) -> TwoFactorEnrolment | None:
    """The enrolment started and not confirmed yet, to show again; None when there is none."""
    user = _user(user_id)
    device = two_factor.pending_device(user)
    return None if device is None else _enrolment(user, device)


def two_factor_enrol_confirm(*, user_id: int, code: str, ip: str) -> tuple[str, ...]:
    """Turn two-factor sign-in on with the first code from the app; the ten backup codes, shown once.

    Raises ValidationFailed (``two_factor_not_started``) without a started enrolment, InvalidCode for a
    wrong code, RateLimited after too many.
    """
    user = _user(user_id)
    if two_factor.pending_device(user) is None:
        raise ValidationFailed(
            _("Start by adding the app: scan the QR code, then enter the code it shows."),
            code="two_factor_not_started",
        )
    _code_confirm(user, code, ip=ip, pending=True)
    return tuple(two_factor.backup_codes_replace(user))


def _require_enabled(user: User) -> None:
    if not two_factor.is_enabled(user.pk):
        raise ValidationFailed(_("Two-factor authentication is off."), code="two_factor_disabled")


def two_factor_backup_codes_regenerate(*, user_id: int, code: str, ip: str) -> tuple[str, ...]:
    """Ten new backup codes for a code from the app (or a backup code); the old ones stop working."""
    user = _user(user_id)
    _require_enabled(user)
    _code_confirm(user, code, ip=ip)
    return tuple(two_factor.backup_codes_replace(user))


def two_factor_disable(*, user_id: int, password: str, code: str, caller: Caller) -> None:
    """Turn two-factor sign-in off: needs the password and a code (from the app, or a backup code)."""
    user = _user(user_id)
    _require_enabled(user)
    _password_confirm(user, password, ip=caller.ip, field="password")
    _code_confirm(user, code, ip=caller.ip)
    two_factor.devices_delete(user)


def two_factor_challenge_create(*, user_id: int) -> TwoFactorChallenge:
    """After the password was right: a challenge that the account's code turns into a sign-in."""
    try:
        challenge = two_factor.challenge_create(user_id)
    except redis.RedisError:
        logger.exception("two-factor challenge store unavailable")
        raise _two_factor_unavailable() from None
    return TwoFactorChallenge(challenge=challenge, expires_in=two_factor.CHALLENGE_TTL)


def _invalid_challenge() -> InvalidChallenge:
    return InvalidChallenge(
        _("This sign-in has expired or was finished already. Sign in again with your password."),
        fields={"challenge": [_("The sign-in has expired.")]},
    )


def two_factor_challenge_verify(*, challenge: str, code: str, ip: str) -> Account:
    """The account whose challenge ``code`` answers; the challenge is used up.

    Raises InvalidChallenge for an unknown, used or expired challenge (and after five wrong codes for
    it, which drop it), InvalidCode for a wrong code, AccountDisabled, and RateLimited (429) after ten
    wrong codes for the account in 15 minutes, or thirty from one address.
    """
    try:
        user_id = two_factor.challenge_user_id(challenge)
    except redis.RedisError:
        logger.exception("two-factor challenge store unavailable")
        raise _two_factor_unavailable() from None
    user = selectors.user_get(user_id=user_id) if user_id is not None else None
    if user is None:
        raise _invalid_challenge()
    if not user.is_active:
        two_factor.challenge_drop(challenge)
        raise AccountDisabled(_("This account is disabled."))
    try:
        _code_confirm(user, code, ip=ip)
    except InvalidCode as wrong:
        subject = two_factor.challenge_subject(challenge)
        failures = throttles.hit(throttles.TWO_FACTOR_FAILURES_PER_CHALLENGE, subject)
        if failures >= throttles.TWO_FACTOR_FAILURES_PER_CHALLENGE.limit:
            two_factor.challenge_drop(challenge)
            raise _wrong_code(
                "code",
                _("The code is not right, and that was the last try. Sign in again with your password."),
            ) from wrong
        raise
    if not two_factor.challenge_consume(challenge):
        raise _invalid_challenge()  # another request finished this sign-in first
    _signin_refusal(user.pk)  # banned while the code was being typed
    return _account(user)
