"""Passwords: changing one, resetting a forgotten one through a mailed link, and the mail that says so."""

from __future__ import annotations

from django.contrib.auth.tokens import default_token_generator
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from apps.authentication import selectors, throttles
from apps.authentication.events import PasswordChanged, PasswordResetRequested
from apps.authentication.models import User
from apps.authentication.services._common import (
    Account,
    Caller,
    InvalidLink,
    _account,
    _clean_email,
    _link,
    _mail_allowed,
    _minutes,
    _password_confirm,
    _password_problems,
    _send,
    _signin_subject,
    _user,
)
from forum.bus import publish
from forum.errors import RateLimited, ValidationFailed
from forum.realtime import disconnect_user

_RESET_LINK_SALT = "authentication.password-reset"


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
