"""Sign-up: checking the details of a new account and mailing the link that makes it."""

from __future__ import annotations

import re

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.authentication import selectors, throttles
from apps.authentication.events import SignupRequested
from apps.authentication.models import PendingSignup, User
from apps.authentication.services._common import (
    EMAIL_LINK_MAX_AGE,
    Caller,
    _clean_email,
    _link,
    _mail_allowed,
    _minutes,
    _password_problems,
    _send,
    _verify_link,
)
from apps.authentication.services.checks import _signup_refusal
from forum.bus import publish
from forum.errors import RateLimited, ValidationFailed

USERNAME_MIN_LENGTH = 3
USERNAME_MAX_LENGTH = 30
# Letters and digits of any script, "_", "." and "-". No "@": an address never reads as a username.
_USERNAME_PATTERN = re.compile(r"[\w.-]+")


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
