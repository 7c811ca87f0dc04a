"""Email addresses: changing one, verifying one, and what a followed email link does (a sign-up's too)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils.translation import gettext as _

from apps.authentication import selectors, throttles
from apps.authentication.events import (
    AccountCreated,
    EmailChanged,
    EmailChangeRequested,
    EmailVerificationRequested,
)
from apps.authentication.models import PendingSignup, User
from apps.authentication.services._common import (
    _EMAIL_LINK_SALT,
    EMAIL_LINK_MAX_AGE,
    Account,
    Caller,
    InvalidLink,
    _account,
    _clean_email,
    _link,
    _mail_allowed,
    _minutes,
    _password_confirm,
    _send,
    _user,
    _verify_link,
)
from apps.authentication.services.checks import _signup_refusal
from forum.bus import publish
from forum.errors import RateLimited, ValidationFailed


@dataclass(frozen=True)
class Verification:
    """What a followed email link did: ``signup`` (an account was made), ``email`` or ``email_change``."""

    kind: str
    account: Account


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
