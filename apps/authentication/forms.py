"""Forms of the account pages: they check the shape of the input; the services judge the rest."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation
from django.utils.translation import gettext_lazy as _

from apps.authentication.services import PASSWORD_MAX_LENGTH, USERNAME_MAX_LENGTH

__all__ = [
    "EmailChangeForm",
    "PasswordChangeForm",
    "PasswordResetForm",
    "SetPasswordForm",
    "SigninForm",
    "SignupForm",
    "TwoFactorCodeForm",
    "TwoFactorDisableForm",
    "TwoFactorSigninForm",
]


def _password_field(label: Any, *, autocomplete: str, help_text: Any = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        strip=False,
        max_length=PASSWORD_MAX_LENGTH,
        help_text=help_text,
        widget=forms.PasswordInput(attrs={"autocomplete": autocomplete}),
    )


def _new_password_field(label: Any) -> forms.CharField:
    return _password_field(
        label,
        autocomplete="new-password",
        help_text=password_validation.password_validators_help_text_html(),
    )


class SignupForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=USERNAME_MAX_LENGTH,
        help_text=_("Shown with everything you write. Letters, digits and . _ - only."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    email = forms.CharField(
        label=_("Email address"),
        max_length=254,
        help_text=_("We send a link there to confirm it is yours. Nobody else sees it."),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = _new_password_field(_("Password"))


class SigninForm(forms.Form):
    login = forms.CharField(
        label=_("Username or email address"),
        max_length=254,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "autocapitalize": "none", "autofocus": True}
        ),
    )
    password = _password_field(_("Password"), autocomplete="current-password")


class PasswordResetForm(forms.Form):
    email = forms.CharField(
        label=_("Email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
    )


class SetPasswordForm(forms.Form):
    new_password = _new_password_field(_("New password"))


class PasswordChangeForm(forms.Form):
    current_password = _password_field(_("Current password"), autocomplete="current-password")
    new_password = _new_password_field(_("New password"))


class EmailChangeForm(forms.Form):
    new_email = forms.CharField(
        label=_("New email address"),
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = _password_field(
        _("Your password"),
        autocomplete="current-password",
        help_text=_("To make sure it is you who asks."),
    )


# Room for a code typed with spaces or dashes; anything longer is surely not one.
CODE_MAX_LENGTH = 32


def _code_field(*, autofocus: bool = False) -> forms.CharField:
    attrs: dict[str, Any] = {"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false"}
    if autofocus:
        attrs["autofocus"] = True
    return forms.CharField(
        label=_("Code"),
        max_length=CODE_MAX_LENGTH,
        help_text=_("The six digits your authenticator app shows, or one of your backup codes."),
        widget=forms.TextInput(attrs=attrs),
    )


class TwoFactorSigninForm(forms.Form):
    code = _code_field(autofocus=True)


class TwoFactorCodeForm(forms.Form):
    code = _code_field()


class TwoFactorDisableForm(forms.Form):
    password = _password_field(_("Your password"), autocomplete="current-password")
    code = _code_field()
