"""Checks other apps add to every sign-in and sign-up (moderation's bans), and the refusals they make."""

from __future__ import annotations

from collections.abc import Callable

from forum.errors import Forbidden


class AccountBanned(Forbidden):
    code = "account_banned"


class SignupRefused(Forbidden):
    code = "signup_refused"


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
