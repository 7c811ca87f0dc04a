"""Subscribers of the authentication app: its own events, which send the mail a request asked for.

Each runs in a Celery worker after the request's transaction committed, so no mail goes out for a
change that rolled back, and a slow mail server never holds a page up.
"""

from __future__ import annotations

from apps.authentication import services
from apps.authentication.events import (
    EmailChanged,
    EmailChangeRequested,
    EmailVerificationRequested,
    PasswordChanged,
    PasswordResetRequested,
    SignupRequested,
)
from forum.bus import subscribe


@subscribe(SignupRequested, name="authentication.on_signup_requested")
def on_signup_requested(event: SignupRequested) -> None:
    services.signup_mail_send(
        pending_signup_id=event.pending_signup_id, language=event.language, origin=event.origin
    )


@subscribe(PasswordResetRequested, name="authentication.on_password_reset_requested")
def on_password_reset_requested(event: PasswordResetRequested) -> None:
    services.password_reset_mail_send(email=event.email, language=event.language, origin=event.origin)


@subscribe(PasswordChanged, name="authentication.on_password_changed")
def on_password_changed(event: PasswordChanged) -> None:
    services.password_changed_mail_send(
        user_id=event.user_id, by_reset=event.by_reset, language=event.language, origin=event.origin
    )


@subscribe(EmailVerificationRequested, name="authentication.on_email_verification_requested")
def on_email_verification_requested(event: EmailVerificationRequested) -> None:
    services.email_verification_mail_send(user_id=event.user_id, language=event.language, origin=event.origin)


@subscribe(EmailChangeRequested, name="authentication.on_email_change_requested")
def on_email_change_requested(event: EmailChangeRequested) -> None:
    services.email_change_mail_send(
        user_id=event.user_id, new_email=event.new_email, language=event.language, origin=event.origin
    )


@subscribe(EmailChanged, name="authentication.on_email_changed")
def on_email_changed(event: EmailChanged) -> None:
    services.email_changed_mail_send(
        user_id=event.user_id,
        old_email=event.old_email,
        new_email=event.new_email,
        language=event.language,
        origin=event.origin,
    )
