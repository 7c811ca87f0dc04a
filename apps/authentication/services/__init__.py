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

The code lives in one module per concern (accounts, checks, signup, signin, second_factor, passwords,
emails; what several share in ``_common``); this package re-exports its published names, so callers
import from ``apps.authentication.services`` alone.
"""

from __future__ import annotations

from apps.authentication.services._common import EMAIL_LINK_MAX_AGE as EMAIL_LINK_MAX_AGE
from apps.authentication.services._common import PASSWORD_MAX_LENGTH as PASSWORD_MAX_LENGTH
from apps.authentication.services._common import Account, AccountDisabled, Caller, InvalidLink
from apps.authentication.services.accounts import account_get, account_require_verified_email
from apps.authentication.services.checks import (
    AccountBanned,
    SignupRefused,
    signin_check_register,
    signup_check_register,
)
from apps.authentication.services.checks import SigninCheck as SigninCheck
from apps.authentication.services.checks import SignupCheck as SignupCheck
from apps.authentication.services.emails import (
    Verification,
    email_change_mail_send,
    email_change_request,
    email_changed_mail_send,
    email_verification_mail_send,
    email_verification_resend,
    email_verify,
)
from apps.authentication.services.passwords import (
    password_change,
    password_changed_mail_send,
    password_reset_check,
    password_reset_confirm,
    password_reset_mail_send,
    password_reset_request,
)
from apps.authentication.services.second_factor import (
    CodeUsed,
    InvalidChallenge,
    InvalidCode,
    TwoFactorChallenge,
    TwoFactorEnrolment,
    TwoFactorRequired,
    TwoFactorStatus,
    two_factor_backup_codes_regenerate,
    two_factor_challenge_create,
    two_factor_challenge_verify,
    two_factor_disable,
    two_factor_enrol_confirm,
    two_factor_enrol_start,
    two_factor_enrolment,
    two_factor_required,
    two_factor_status,
)
from apps.authentication.services.signin import (
    DeviceCookie,
    InvalidCredentials,
    credentials_check,
    signin_device_cookie,
)
from apps.authentication.services.signup import USERNAME_MAX_LENGTH as USERNAME_MAX_LENGTH
from apps.authentication.services.signup import USERNAME_MIN_LENGTH as USERNAME_MIN_LENGTH
from apps.authentication.services.signup import signup_mail_send, signup_request

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
