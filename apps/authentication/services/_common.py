"""What several concerns of the authentication services share: accounts and callers as plain data,
limits on sign-in failures and on mail, mail sending and email links, and checks of addresses and
passwords. Private to the package: callers import from ``apps.authentication.services``."""

from __future__ import annotations

import datetime
import logging
import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import password_validation
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from apps.authentication import selectors, throttles
from apps.authentication.models import User
from forum.context_processors import forum_name
from forum.errors import Forbidden, NotFound, RateLimited, ValidationFailed

# The name the module had before it became a package, so that log lines and logging settings keep it.
logger = logging.getLogger("apps.authentication.services")

# How long a link mailed to confirm an address (a sign-up's, a new one's) stays good.
EMAIL_LINK_MAX_AGE = datetime.timedelta(days=3)
_EMAIL_LINK_SALT = "authentication.email-link"
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


class AccountDisabled(Forbidden):
    code = "account_disabled"


class InvalidLink(ValidationFailed):
    code = "invalid_link"


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
