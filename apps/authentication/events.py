"""Facts the authentication app publishes: versioned, JSON-serializable frozen dataclasses.

Imports only the standard library and forum.events (checked by import-linter). Events that lead to an
email carry the language of the request that caused them (the mail is written in it) and the origin
its links point at (``https://forum.example.com``).
"""

from __future__ import annotations

from forum.events import Event, event

__all__ = [
    "AccountChanged",
    "AccountCreated",
    "EmailChangeRequested",
    "EmailChanged",
    "EmailVerificationRequested",
    "PasswordChanged",
    "PasswordResetRequested",
    "SignupRequested",
]


@event("authentication.signup_requested", version=1)
class SignupRequested(Event):
    """Someone asked for an account; the address gets a link, or word that it has an account already."""

    pending_signup_id: int
    language: str
    origin: str


@event("authentication.account_created", version=1)
class AccountCreated(Event):
    """A sign-up was confirmed by its email link: the account exists, its address is verified."""

    user_id: int
    username: str


@event("authentication.account_changed", version=1)
class AccountChanged(Event):
    """Staff created, changed or deleted an account (the Django admin). ``fields`` names what changed
    of what other apps show or search of an account (``username``, ``first_name``, ``last_name``,
    ``is_active``: False for a closed account), or is ``("created",)`` or ``("deleted",)``.
    Subscribers read the account's current state, not the event's."""

    user_id: int
    fields: tuple[str, ...]


@event("authentication.password_reset_requested", version=1)
class PasswordResetRequested(Event):
    """A reset link was asked for this address; whether an account has it is decided by the handler."""

    email: str
    language: str
    origin: str


@event("authentication.password_changed", version=1)
class PasswordChanged(Event):
    """The password changed (by its owner, or through a reset link); every other session has ended."""

    user_id: int
    by_reset: bool
    language: str
    origin: str


@event("authentication.email_verification_requested", version=1)
class EmailVerificationRequested(Event):
    """A member asked for a new link to confirm the address already on the account."""

    user_id: int
    language: str
    origin: str


@event("authentication.email_change_requested", version=1)
class EmailChangeRequested(Event):
    """A member asked to move the account to ``new_email``; it changes once the link sent there is used."""

    user_id: int
    new_email: str
    language: str
    origin: str


@event("authentication.email_changed", version=1)
class EmailChanged(Event):
    """The account's address changed; the old address is told, in case it was not its owner's doing."""

    user_id: int
    old_email: str
    new_email: str
    language: str
    origin: str
