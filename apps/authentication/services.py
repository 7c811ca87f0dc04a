"""Published interface of the authentication app: accounts, sign-up, sign-in, passwords and addresses.

Functions here take and return plain data (ids, frozen dataclasses), never model instances, so that
each call could become an HTTP call when the app is split into its own service.

Nothing here tells a stranger whether an account exists: a sign-up always answers "check your mail"
(the address gets a link, or word that it already has an account), a reset request always answers the
same, and a failed sign-in costs one password hash whether the account exists or not. Usernames are
public (they sign every post), so a taken one is said. Mail goes out from event handlers in Celery
workers (``handlers.py`` calls the ``*_mail_send`` functions), never from the request.

Accounts whose address is not verified (made by staff, or from before verification) may sign in; an
app that needs a reachable member calls ``account_require_verified_email`` before acting.

Two-factor sign-in (TOTP, with ten single-use backup codes): once ``credentials_check`` accepted the
password, a caller asks ``two_factor_required``; when it is true, no session or token may be handed out
yet. The caller gets a challenge from ``two_factor_challenge_create`` (random, single use, five
minutes), and the account from ``two_factor_challenge_verify`` once the code is right.
"""

from __future__ import annotations

import datetime
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Lower
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.authentication import devices, selectors, throttles, two_factor
from apps.authentication.events import (
    AccountCreated,
    EmailChanged,
    EmailChangeRequested,
    EmailVerificationRequested,
    PasswordChanged,
    PasswordResetRequested,
    SignupRequested,
)
from apps.authentication.models import PendingSignup, User
from forum.bus import publish
from forum.context_processors import forum_name
from forum.errors import ApplicationError, Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from forum.realtime import disconnect_user

__all__ = [
    "Account",
    "AccountBanned",
    "AccountDisabled",
    "Caller",
    "CodeUsed",
    "DeviceCookie",
    "InvalidChallenge",
    "InvalidCode",
    "InvalidCredentials",
    "InvalidLink",
    "SignupRefused",
    "TwoFactorChallenge",
    "TwoFactorEnrolment",
    "TwoFactorRequired",
    "TwoFactorStatus",
    "Verification",
    "account_get",
    "account_require_verified_email",
    "credentials_check",
    "email_change_mail_send",
    "email_change_request",
    "email_changed_mail_send",
    "email_verification_mail_send",
    "email_verification_resend",
    "email_verify",
    "password_change",
    "password_changed_mail_send",
    "password_reset_check",
    "password_reset_confirm",
    "password_reset_mail_send",
    "password_reset_request",
    "signin_check_register",
    "signin_device_cookie",
    "signup_check_register",
    "signup_mail_send",
    "signup_request",
    "two_factor_backup_codes_regenerate",
    "two_factor_challenge_create",
    "two_factor_challenge_verify",
    "two_factor_disable",
    "two_factor_enrol_confirm",
    "two_factor_enrol_start",
    "two_factor_enrolment",
    "two_factor_required",
    "two_factor_status",
]

logger = logging.getLogger(__name__)

# How long a link mailed to confirm an address (a sign-up's, a new one's) stays good.
EMAIL_LINK_MAX_AGE = datetime.timedelta(days=3)
_EMAIL_LINK_SALT = "authentication.email-link"
_RESET_LINK_SALT = "authentication.password-reset"
USERNAME_MIN_LENGTH = 3
USERNAME_MAX_LENGTH = 30
# Letters and digits of any script, "_", "." and "-". No "@": an address never reads as a username.
_USERNAME_PATTERN = re.compile(r"[\w.-]+")
# Longer input is refused before it reaches a hasher or a validator.
PASSWORD_MAX_LENGTH = 4096


# --- Data ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    email: str
    email_verified: bool
    is_active: bool
    is_staff: bool
    date_joined: datetime.datetime


@dataclass(frozen=True)
class Caller:
    """Who is asking, as far as a request tells: its address (for limits), language and origin (for mail)."""

    ip: str
    language: str
    origin: str


@dataclass(frozen=True)
class Verification:
    """What a followed email link did: ``signup`` (an account was made), ``email`` or ``email_change``."""

    kind: str
    account: Account


class InvalidCredentials(ValidationFailed):
    code = "invalid_credentials"


class AccountDisabled(Forbidden):
    code = "account_disabled"


class AccountBanned(Forbidden):
    code = "account_banned"


class SignupRefused(Forbidden):
    code = "signup_refused"


# --- Checks other apps add ----------------------------------------------------------------------------

# Apps that depend on this one (moderation's bans) cannot be imported from here, so they hand their
# checks in from their AppConfig.ready. A sign-in check gets the account's id and returns the refusal
# (the reason a member may not sign in) or None; a sign-up check gets an address and the client's IP
# (either may be empty) and returns the refusal or None.
SigninCheck = Callable[[int], str | None]
SignupCheck = Callable[[str, str], str | None]
_signin_checks: dict[str, SigninCheck] = {}
_signup_checks: dict[str, SignupCheck] = {}


def signin_check_register(name: str, check: SigninCheck) -> None:
    """Add (or replace, by ``name``) a check every sign-in passes after the password was right."""
    _signin_checks[name] = check


def signup_check_register(name: str, check: SignupCheck) -> None:
    """Add (or replace, by ``name``) a check every sign-up and email change passes."""
    _signup_checks[name] = check


def _signin_refusal(user_id: int) -> None:
    for check in list(_signin_checks.values()):
        refusal = check(user_id)
        if refusal:
            raise AccountBanned(refusal)


def _signup_refusal(email: str, ip: str, *, field: str) -> None:
    for check in list(_signup_checks.values()):
        refusal = check(email, ip)
        if refusal:
            raise SignupRefused(refusal, fields={field: [refusal]})


class InvalidLink(ValidationFailed):
    code = "invalid_link"


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


def _account(user: User) -> Account:
    return Account(
        id=user.pk,
        username=user.username,
        email=user.email,
        email_verified=user.email_verified,
        is_active=user.is_active,
        is_staff=user.is_staff,
        date_joined=user.date_joined,
    )


def _user(user_id: int) -> User:
    user = selectors.user_get(user_id=user_id)
    if user is None:
        raise NotFound(_("There is no such account."))
    return user


def account_get(*, user_id: int) -> Account:
    return _account(_user(user_id))


def account_require_verified_email(*, user_id: int) -> None:
    """Refuse (403, ``email_unverified``) an action that needs a member we can reach by mail."""
    if not _user(user_id).email_verified:
        raise Forbidden(
            _(
                "Confirm your email address first: follow the link we sent you, "
                "or ask for a new one in your account settings."
            ),
            code="email_unverified",
        )


# --- Limits -------------------------------------------------------------------------------------------


def _minutes(seconds: int) -> int:
    return max(1, math.ceil(seconds / 60))


def _signin_subject(login: str, user: User | None) -> str:
    """What the account-wide counter counts: the account, whichever of its names was typed.

    A name that reaches no account is counted as typed (case aside), so that probing names that do not
    exist is held the same way and answers the same. Since failures typed with an account's username
    and with its address add up, a lock seen through the username after five failures through an
    address says that the address is that account's: each such question costs the asker five failures
    of its address's twenty per window, which keeps it slow, and counting per name instead gave every
    account ten guesses per window.
    """
    if user is not None:
        return f"account:{user.pk}"
    return "name:" + User.normalize_username(login.strip()).casefold()


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


def _signin_wait(subject: str, device: str | None, ip: str) -> None:
    if device is not None:
        # A browser that signed in to this account before is held by its own failures alone: neither
        # strangers' failures for the account nor those of others behind its address lock it out, and
        # its five guesses per window on one account keep guessing hopeless.
        waits = [throttles.retry_after(throttles.SIGNIN_FAILURES_PER_DEVICE, device)]
    else:
        waits = [
            throttles.retry_after(throttles.SIGNIN_FAILURES_PER_ACCOUNT, subject),
            throttles.retry_after(throttles.SIGNIN_FAILURES_PER_IP, throttles.address_subject(ip)),
        ]
    wait = max((seconds for seconds in waits if seconds is not None), default=None)
    if wait is not None:
        # One message for every limit, and the same for accounts that exist and those that do not.
        raise RateLimited(
            _("Too many failed sign-in attempts. Try again in %(minutes)s min.")
            % {"minutes": _minutes(wait)},
            retry_after=wait,
        )


def _signin_failed(subject: str, device: str | None, ip: str) -> None:
    # A known device's failures count against that device, never against the account: they must not
    # lock the account for its owner's other browsers. The address counts every failure it sends.
    if device is not None:
        throttles.hit(throttles.SIGNIN_FAILURES_PER_DEVICE, device)
    else:
        throttles.hit(throttles.SIGNIN_FAILURES_PER_ACCOUNT, subject)
    throttles.hit(throttles.SIGNIN_FAILURES_PER_IP, throttles.address_subject(ip))


def _mail_allowed(address: str) -> bool:
    if throttles.take(throttles.EMAILS_PER_ADDRESS, address) is None:
        return True
    logger.warning("mail to an address over its limit not sent", extra={"limit": "mail-address"})
    return False


# --- Mail ---------------------------------------------------------------------------------------------


def _link(origin: str, path: str) -> str:
    base = str(settings.FORUM_BASE_URL) or origin
    return base.rstrip("/") + path


def _language(language: str) -> str:
    known = {code for code, _name in settings.LANGUAGES}
    return language if language in known else str(settings.LANGUAGE_CODE)


def _send(*, to: str, template: str, language: str, context: dict[str, Any]) -> None:
    """Render ``templates/authentication/email/<template>`` in the member's language and send it."""
    with translation.override(_language(language)):
        context = {"forum_name": forum_name(), **context}
        subject = render_to_string(f"authentication/email/{template}_subject.txt", context)
        body = render_to_string(f"authentication/email/{template}.txt", context)
    send_mail(" ".join(subject.split()), body, settings.DEFAULT_FROM_EMAIL, [to])


def _email_link_token(payload: dict[str, Any]) -> str:
    return signing.dumps(payload, salt=_EMAIL_LINK_SALT, compress=True)


def _verify_link(origin: str, payload: dict[str, Any]) -> str:
    return _link(origin, reverse("authentication:verify", kwargs={"token": _email_link_token(payload)}))


# --- Validation ---------------------------------------------------------------------------------------


def _clean_email(email: str) -> tuple[str, list[str]]:
    cleaned = User.objects.normalize_email(email.strip())
    try:
        validate_email(cleaned)
    except ValidationError:
        return cleaned, [_("Enter a valid email address.")]
    if len(cleaned) > User._meta.get_field("email").max_length:  # type: ignore[operator]
        return cleaned, [_("This address is too long.")]
    return cleaned, []


def _username_problems(username: str) -> list[str]:
    if not USERNAME_MIN_LENGTH <= len(username) <= USERNAME_MAX_LENGTH:
        return [
            _("A username has %(min)s to %(max)s characters.")
            % {"min": USERNAME_MIN_LENGTH, "max": USERNAME_MAX_LENGTH}
        ]
    if not _USERNAME_PATTERN.fullmatch(username):
        return [_("A username may contain only letters, digits and the characters . _ -")]
    if selectors.user_by_username(username=username) is not None:
        return [_("This username is taken. Choose another one.")]
    return []


def _password_problems(password: str, user: User) -> list[str]:
    if len(password) > PASSWORD_MAX_LENGTH:
        return [_("This password is too long.")]
    try:
        password_validation.validate_password(password, user=user)
    except ValidationError as error:
        return list(error.messages)
    return []


def _password_confirm(user: User, password: str, *, ip: str, field: str) -> None:
    """The member's own password, before a change that needs it; wrong guesses count as sign-in failures."""
    subject = _signin_subject(user.username, user)
    _signin_wait(subject, None, ip)
    if not user.check_password(password):
        _signin_failed(subject, None, ip)
        raise ValidationFailed(
            _("The password is not right."), fields={field: [_("The password is not right.")]}
        )


# --- Sign-up ------------------------------------------------------------------------------------------


def signup_request(*, username: str, email: str, password: str, caller: Caller) -> None:
    """Check the details and mail a confirmation link; the account is made when the link is followed.

    Raises ValidationFailed (with ``fields``) for a taken or malformed username, a malformed address or
    a weak password, and RateLimited after too many sign-ups from one network. An address that has an
    account already is not refused here: the same answer goes back, and its owner is told by mail.
    """
    network = throttles.address_subject(caller.ip)
    # Only accepted sign-ups count: a member fixing typos on the form is not held up by them.
    wait = throttles.retry_after(throttles.SIGNUPS_PER_IP, network)
    if wait is not None:
        raise RateLimited(
            _("Too many sign-ups from your network. Try again in %(minutes)s min.")
            % {"minutes": _minutes(wait)},
            retry_after=wait,
        )
    username = User.normalize_username(username.strip())
    email, email_problems = _clean_email(email)
    fields = {
        "username": _username_problems(username),
        "email": email_problems,
        "password": _password_problems(password, User(username=username, email=email)),
    }
    fields = {name: problems for name, problems in fields.items() if problems}
    if fields:
        raise ValidationFailed(_("Some of the details need another look."), fields=fields)
    _signup_refusal(email, caller.ip, field="email")
    with transaction.atomic():
        PendingSignup.objects.filter(created_at__lt=timezone.now() - EMAIL_LINK_MAX_AGE).delete()
        # Hashed here whether or not the address has an account: the same work, the same time.
        pending = PendingSignup.objects.create(
            username=username, email=email, password=make_password(password)
        )
        publish(SignupRequested(pending_signup_id=pending.pk, language=caller.language, origin=caller.origin))
    throttles.hit(throttles.SIGNUPS_PER_IP, network)


def signup_mail_send(*, pending_signup_id: int, language: str, origin: str) -> None:
    """Mail the sign-up's link, or, when the address has an account already, tell its owner so."""
    pending = PendingSignup.objects.filter(pk=pending_signup_id).first()
    if pending is None:
        return  # confirmed or expired since
    if not _mail_allowed(pending.email):
        return
    existing = selectors.user_by_email(email=pending.email)
    if existing is not None:
        pending.delete()
        _send(
            to=existing.email,
            template="signup_existing",
            language=language,
            context={
                "username": existing.username,
                "signin_url": _link(origin, reverse("authentication:signin")),
                "reset_url": _link(origin, reverse("authentication:password-reset")),
            },
        )
        return
    _send(
        to=pending.email,
        template="signup_confirm",
        language=language,
        context={
            "username": pending.username,
            "verify_url": _verify_link(origin, {"k": "signup", "p": pending.pk}),
            "days": EMAIL_LINK_MAX_AGE.days,
        },
    )


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
        qr_svg=two_factor.qr_svg(uri, title=_("QR code for your authenticator app")),
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


# --- Passwords ----------------------------------------------------------------------------------------


def _password_set(user: User, new_password: str) -> None:
    """Store a new password, in the caller's transaction. The account's other sessions and API tokens
    stop signing in at once (their stamp is the old password's: Django's session hash, and the token
    families' copy of it), and after the commit every WebSocket of the member closes with 4401, before
    the request answers: a socket cannot tell whether it was opened by the sign-in that changed it."""
    user.set_password(new_password)
    user.save(update_fields=["password"])
    disconnect_user(user.pk, on_commit=True)


def password_change(*, user_id: int, current_password: str, new_password: str, caller: Caller) -> None:
    """Change a member's password; other sessions end (their session hash no longer matches)."""
    user = _user(user_id)
    _password_confirm(user, current_password, ip=caller.ip, field="current_password")
    problems = _password_problems(new_password, user)
    if problems:
        raise ValidationFailed(_("Choose another password."), fields={"new_password": problems})
    with transaction.atomic():
        _password_set(user, new_password)
        publish(
            PasswordChanged(user_id=user.pk, by_reset=False, language=caller.language, origin=caller.origin)
        )


def password_reset_request(*, email: str, caller: Caller) -> None:
    """Mail a reset link to ``email`` if an account has it; the answer is the same either way."""
    wait = throttles.take(throttles.PASSWORD_RESETS_PER_IP, throttles.address_subject(caller.ip))
    if wait is not None:
        raise RateLimited(
            _("Too many password reset requests from your network. Try again in %(minutes)s min.")
            % {"minutes": _minutes(wait)},
            retry_after=wait,
        )
    email, problems = _clean_email(email)
    if problems:
        raise ValidationFailed(_("Enter a valid email address."), fields={"email": problems})
    with transaction.atomic():
        # Whether an account has the address is looked up by the handler, after the answer went out.
        publish(PasswordResetRequested(email=email, language=caller.language, origin=caller.origin))


def _reset_token(user: User) -> str:
    payload = {"u": user.pk, "t": default_token_generator.make_token(user)}
    return signing.dumps(payload, salt=_RESET_LINK_SALT)


def password_reset_mail_send(*, email: str, language: str, origin: str) -> None:
    user = selectors.user_by_email(email=email)
    if user is None or not user.is_active:
        return  # nobody to tell; the requester got the same answer anyway
    if not _mail_allowed(user.email):
        return
    path = reverse("authentication:password-reset-confirm", kwargs={"token": _reset_token(user)})
    _send(
        to=user.email,
        template="password_reset",
        language=language,
        context={"username": user.username, "reset_url": _link(origin, path)},
    )


def _reset_user(token: str) -> User:
    invalid = InvalidLink(
        _("This password reset link was used already, or it has expired. Ask for a new one."),
        fields={"token": [_("The link is not valid.")]},
    )
    try:
        payload = signing.loads(token, salt=_RESET_LINK_SALT)
        user = selectors.user_get(user_id=int(payload["u"]))
        token_part = str(payload["t"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise invalid from None
    # The inner token covers the password hash, last sign-in and address, and its age: it works once.
    if user is None or not user.is_active or not default_token_generator.check_token(user, token_part):
        raise invalid
    return user


def password_reset_check(*, token: str) -> Account:
    """The account a reset link is for; InvalidLink if it was used or has expired."""
    return _account(_reset_user(token))


def password_reset_confirm(*, token: str, new_password: str, caller: Caller) -> Account:
    """Set a new password through a mailed link. Does not sign in: a second factor must not be skipped."""
    user = _reset_user(token)
    problems = _password_problems(new_password, user)
    if problems:
        raise ValidationFailed(_("Choose another password."), fields={"new_password": problems})
    with transaction.atomic():
        _password_set(user, new_password)
        publish(
            PasswordChanged(user_id=user.pk, by_reset=True, language=caller.language, origin=caller.origin)
        )
    # Whoever proved they own the mailbox may sign in at once, whatever failures came before.
    throttles.clear(throttles.SIGNIN_FAILURES_PER_ACCOUNT, _signin_subject(user.username, user))
    return _account(user)


def password_changed_mail_send(*, user_id: int, by_reset: bool, language: str, origin: str) -> None:
    user = selectors.user_get(user_id=user_id)
    if user is None or not user.email:
        return
    _send(
        to=user.email,
        template="password_changed",
        language=language,
        context={
            "username": user.username,
            "by_reset": by_reset,
            "reset_url": _link(origin, reverse("authentication:password-reset")),
        },
    )


# --- Email addresses ----------------------------------------------------------------------------------


def email_change_request(*, user_id: int, new_email: str, password: str, caller: Caller) -> None:
    """Mail a link to ``new_email``; the account moves there when it is followed.

    Needs the member's password. An address that belongs to another account is not refused here (that
    would tell who has an account): the address's owner is told by mail instead.
    """
    user = _user(user_id)
    _password_confirm(user, password, ip=caller.ip, field="password")
    new_email, problems = _clean_email(new_email)
    if not problems and user.email and new_email.casefold() == user.email.casefold():
        problems = [_("This is already your address.")]
    if problems:
        raise ValidationFailed(_("Enter another email address."), fields={"new_email": problems})
    _signup_refusal(new_email, caller.ip, field="new_email")
    with transaction.atomic():
        publish(
            EmailChangeRequested(
                user_id=user.pk, new_email=new_email, language=caller.language, origin=caller.origin
            )
        )


def email_change_mail_send(*, user_id: int, new_email: str, language: str, origin: str) -> None:
    user = selectors.user_get(user_id=user_id)
    if user is None or not _mail_allowed(new_email):
        return
    if selectors.user_by_email(email=new_email, exclude_user_id=user.pk) is not None:
        _send(
            to=new_email,
            template="email_in_use",
            language=language,
            context={
                "signin_url": _link(origin, reverse("authentication:signin")),
                "reset_url": _link(origin, reverse("authentication:password-reset")),
            },
        )
        return
    # The old address is in the link: once the account has moved, the link no longer works.
    payload = {"k": "email_change", "u": user.pk, "e": new_email, "o": user.email}
    _send(
        to=new_email,
        template="email_change",
        language=language,
        context={
            "username": user.username,
            "verify_url": _verify_link(origin, payload),
            "days": EMAIL_LINK_MAX_AGE.days,
        },
    )


def email_changed_mail_send(
    *, user_id: int, old_email: str, new_email: str, language: str, origin: str
) -> None:
    user = selectors.user_get(user_id=user_id)
    if user is None or not old_email:
        return
    _send(
        to=old_email,
        template="email_changed",
        language=language,
        context={
            "username": user.username,
            "new_email": new_email,
            "reset_url": _link(origin, reverse("authentication:password-reset")),
        },
    )


def email_verification_resend(*, user_id: int, caller: Caller) -> None:
    """Mail a new link to confirm the account's current address."""
    user = _user(user_id)
    if not user.email:
        raise ValidationFailed(_("Your account has no email address yet: add one first."), code="no_email")
    if user.email_verified:
        raise ValidationFailed(_("Your email address is confirmed already."), code="already_verified")
    wait = throttles.take(throttles.VERIFICATION_RESENDS_PER_ACCOUNT, str(user.pk))
    if wait is not None:
        raise RateLimited(
            _("We sent several links already. Try again in %(minutes)s min.") % {"minutes": _minutes(wait)},
            retry_after=wait,
        )
    with transaction.atomic():
        publish(EmailVerificationRequested(user_id=user.pk, language=caller.language, origin=caller.origin))


def email_verification_mail_send(*, user_id: int, language: str, origin: str) -> None:
    user = selectors.user_get(user_id=user_id)
    if user is None or not user.email or user.email_verified or not _mail_allowed(user.email):
        return
    _send(
        to=user.email,
        template="email_verify",
        language=language,
        context={
            "username": user.username,
            "verify_url": _verify_link(origin, {"k": "email", "u": user.pk, "e": user.email}),
            "days": EMAIL_LINK_MAX_AGE.days,
        },
    )


def email_verify(*, token: str, caller: Caller) -> Verification:
    """Do what a mailed link is for: make the signed-up account, confirm an address, or move to one.

    Raises InvalidLink for a link that is malformed, expired or already used, and ValidationFailed when
    what it asks for cannot be done any more (the username or the address was taken meanwhile).
    """
    invalid = InvalidLink(
        _("This link is not valid: it may have expired or been cut short. Ask for a new one."),
        fields={"token": [_("The link is not valid.")]},
    )
    try:
        payload = signing.loads(token, salt=_EMAIL_LINK_SALT, max_age=EMAIL_LINK_MAX_AGE)
        kind = str(payload["k"])
        # A sign-up's link names the waiting sign-up; the others name the account.
        subject_id = int(payload["p"] if kind == "signup" else payload["u"])
        email = "" if kind == "signup" else str(payload["e"])
        old_email = str(payload["o"]) if kind == "email_change" else ""
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise invalid from None
    if kind == "signup":
        return _signup_confirm(subject_id)
    if kind == "email":
        return _email_confirm(subject_id, email)
    if kind == "email_change":
        return _email_change_confirm(subject_id, email, old_email, caller)
    raise invalid


def _used_link() -> InvalidLink:
    return InvalidLink(
        _("This link was used already, or what it was for has changed since it was sent."),
        fields={"token": [_("The link is not valid.")]},
    )


def _signup_confirm(pending_signup_id: int) -> Verification:
    with transaction.atomic():
        pending = PendingSignup.objects.select_for_update().filter(pk=pending_signup_id).first()
        if pending is None:
            raise _used_link()
        if selectors.user_by_email(email=pending.email) is not None:
            raise ValidationFailed(
                _("This address has an account already. Sign in, or reset the password if you forgot it."),
                code="email_taken",
            )
        taken = ValidationFailed(
            _("Someone took the username %(username)s in the meantime. Sign up again with another one.")
            % {"username": pending.username},
            code="username_taken",
        )
        if selectors.user_by_username(username=pending.username) is not None:
            raise taken
        user = User(username=pending.username, email=pending.email, email_verified=True)
        user.password = pending.password  # hashed at sign-up; the password itself was never kept
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:  # a concurrent confirmation took the name or the address first
            raise taken from None
        # Any other sign-ups waiting for this address are moot now.
        PendingSignup.objects.alias(email_lower=Lower("email")).filter(
            email_lower=Lower(Value(pending.email))
        ).delete()
        publish(AccountCreated(user_id=user.pk, username=user.username))
    return Verification(kind="signup", account=_account(user))


def _email_confirm(user_id: int, email: str) -> Verification:
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None or user.email.casefold() != email.casefold():
            raise _used_link()
        if not user.email_verified:
            user.email_verified = True
            user.save(update_fields=["email_verified"])
    return Verification(kind="email", account=_account(user))


def _email_change_confirm(user_id: int, new_email: str, old_email: str, caller: Caller) -> Verification:
    taken = ValidationFailed(_("This address belongs to another account now."), code="email_taken")
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None or user.email.casefold() != old_email.casefold():
            raise _used_link()
        if selectors.user_by_email(email=new_email, exclude_user_id=user.pk) is not None:
            raise taken
        user.email = new_email
        user.email_verified = True
        try:
            with transaction.atomic():
                user.save(update_fields=["email", "email_verified"])
        except IntegrityError:
            raise taken from None
        publish(
            EmailChanged(
                user_id=user.pk,
                old_email=old_email,
                new_email=new_email,
                language=caller.language,
                origin=caller.origin,
            )
        )
    return Verification(kind="email_change", account=_account(user))
