"""Account pages: sign up, sign in and out, forgotten password, email links, and the settings area.

Every page is a plain form that works without JavaScript; the services do the work and their refusals
come back as form errors (400, 403 or 429 with Retry-After), never as a 500.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from apps.authentication import forms, selectors, services, texts
from apps.authentication.network import caller_of
from apps.authentication.sessions import device_cookie_set, device_of, session_start
from forum.errors import ApplicationError
from forum.forms import add_application_error

_SENSITIVE = ("password", "current_password", "new_password", "code")
# The session of a visitor between the password and the code: the challenge and where to go after.
_TWO_FACTOR_SESSION_KEY = "authentication_two_factor"


def _posted(request: HttpRequest) -> QueryDict | None:
    """The form data of a POST (even an empty one, which must show "required"), else None: unbound."""
    return request.POST if request.method == "POST" else None


def _member_id(request: HttpRequest) -> int:
    user_id = request.user.pk
    assert user_id is not None, "login_required lets only members in"
    return int(user_id)


def _next_url(request: HttpRequest) -> str:
    """Where to go after signing in: the ``next`` asked for, when it stays on this site."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return str(settings.LOGIN_REDIRECT_URL)


def _refused(
    request: HttpRequest, template: str, context: dict[str, Any], form: Form, error: ApplicationError
) -> HttpResponse:
    """The page again, with the service's refusal on its form and the refusal's status and headers."""
    add_application_error(form, error)
    response = render(request, template, context, status=error.status)
    for name, value in error.headers.items():
        response[name] = value
    return response


def _credentials_accepted(request: HttpRequest, account: services.Account, next_url: str) -> HttpResponse:
    """The password was right: start the session and go on, or first ask for the second factor.

    For an account with two-factor sign-in on, the session (still anonymous) keeps only the challenge,
    which ends in five minutes, and where to go; the code page finishes with ``_signed_in``.
    """
    if services.two_factor_required(user_id=account.id):
        pending = services.two_factor_challenge_create(user_id=account.id)
        request.session[_TWO_FACTOR_SESSION_KEY] = {"challenge": pending.challenge, "next": next_url}
        return redirect("authentication:signin-two-factor")
    return _signed_in(request, account.id, next_url)


def _signed_in(request: HttpRequest, account_id: int, next_url: str) -> HttpResponse:
    """The sign-in is complete: the session, and the device cookie that lets this browser sign in to
    the account while strangers' failures lock it."""
    session_start(request, account_id)
    response = HttpResponseRedirect(next_url)
    device_cookie_set(response, account_id)
    return response


# --- Sign up, sign in, sign out -------------------------------------------------------------------------


@never_cache
@sensitive_post_parameters(*_SENSITIVE)
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("authentication:settings")
    form = forms.SignupForm(_posted(request))
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        try:
            services.signup_request(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
                caller=caller_of(request),
            )
        except ApplicationError as error:
            return _refused(request, "authentication/signup.html", context, form, error)
        messages.success(request, texts.signup_sent(email=form.cleaned_data["email"]))
        return redirect("authentication:signup-sent")
    return render(request, "authentication/signup.html", context, status=400 if form.errors else 200)


def signup_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "authentication/signup_sent.html")


@never_cache
@sensitive_post_parameters(*_SENSITIVE)
def signin(request: HttpRequest) -> HttpResponse:
    next_url = _next_url(request)
    form = forms.SigninForm(_posted(request))
    context = {"form": form, "next": next_url}
    if request.method == "POST" and form.is_valid():
        try:
            account = services.credentials_check(
                login=form.cleaned_data["login"],
                password=form.cleaned_data["password"],
                ip=caller_of(request).ip,
                device=device_of(request),
            )
        except ApplicationError as error:
            return _refused(request, "authentication/signin.html", context, form, error)
        return _credentials_accepted(request, account, next_url)
    return render(request, "authentication/signin.html", context, status=400 if form.errors else 200)


@never_cache
@sensitive_post_parameters(*_SENSITIVE)
def signin_two_factor(request: HttpRequest) -> HttpResponse:
    """The second step of signing in: a code from the authenticator app, or a backup code."""
    template = "authentication/signin_two_factor.html"
    pending = request.session.get(_TWO_FACTOR_SESSION_KEY)
    if not isinstance(pending, dict) or not isinstance(pending.get("challenge"), str):
        messages.info(request, _("Sign in with your password first."))
        return redirect("authentication:signin")
    form = forms.TwoFactorSigninForm(_posted(request))
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        try:
            account = services.two_factor_challenge_verify(
                challenge=pending["challenge"], code=form.cleaned_data["code"], ip=caller_of(request).ip
            )
        except ApplicationError as error:
            if isinstance(error, (services.InvalidChallenge, services.AccountDisabled)):
                request.session.pop(_TWO_FACTOR_SESSION_KEY, None)
                context["restart"] = True
            return _refused(request, template, context, form, error)
        request.session.pop(_TWO_FACTOR_SESSION_KEY, None)
        return _signed_in(request, account.id, str(pending.get("next") or settings.LOGIN_REDIRECT_URL))
    return render(request, template, context, status=400 if form.errors else 200)


@never_cache
def signout(request: HttpRequest) -> HttpResponse:
    """GET asks (a link must not sign anyone out); POST signs out."""
    if request.method == "POST":
        was_signed_in = request.user.is_authenticated
        logout(request)
        if was_signed_in:
            messages.info(request, _("You signed out."))
        return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "authentication/signout.html")


# --- Forgotten password ----------------------------------------------------------------------------------


@never_cache
def password_reset(request: HttpRequest) -> HttpResponse:
    form = forms.PasswordResetForm(_posted(request))
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        try:
            services.password_reset_request(email=form.cleaned_data["email"], caller=caller_of(request))
        except ApplicationError as error:
            return _refused(request, "authentication/password_reset.html", context, form, error)
        return redirect("authentication:password-reset-sent")
    return render(request, "authentication/password_reset.html", context, status=400 if form.errors else 200)


def password_reset_sent(request: HttpRequest) -> HttpResponse:
    return render(request, "authentication/password_reset_sent.html", {"detail": texts.password_reset_sent()})


@never_cache
@sensitive_post_parameters(*_SENSITIVE)
def password_reset_confirm(request: HttpRequest, token: str) -> HttpResponse:
    template = "authentication/password_reset_confirm.html"
    try:
        account = services.password_reset_check(token=token)
    except ApplicationError as error:
        return render(request, template, {"link_error": error.message}, status=error.status)
    form = forms.SetPasswordForm(_posted(request))
    context = {"form": form, "account": account}
    if request.method == "POST" and form.is_valid():
        try:
            services.password_reset_confirm(
                token=token, new_password=form.cleaned_data["new_password"], caller=caller_of(request)
            )
        except ApplicationError as error:
            return _refused(request, template, context, form, error)
        messages.success(request, _("Your password is changed. Sign in with the new one."))
        return redirect("authentication:signin")
    return render(request, template, context, status=400 if form.errors else 200)


# --- Email links -----------------------------------------------------------------------------------------


@never_cache
def verify(request: HttpRequest, token: str) -> HttpResponse:
    """A link from a mail. GET only shows a button: mail scanners that open links must not act on them."""
    template = "authentication/verify.html"
    if request.method != "POST":
        return render(request, template, {"token": token})
    try:
        done = services.email_verify(token=token, caller=caller_of(request))
    except ApplicationError as error:
        return render(request, template, {"token": token, "error": error.message}, status=error.status)
    if done.kind == "signup":
        # A new account has no second factor yet: following the link signs it in.
        session_start(request, done.account.id)
        messages.success(
            request, _("Welcome, %(username)s! Your account is ready.") % {"username": done.account.username}
        )
        return redirect(settings.LOGIN_REDIRECT_URL)
    if done.kind == "email_change":
        messages.success(request, _("Your email address is now %(email)s.") % {"email": done.account.email})
    else:
        messages.success(request, _("Your email address is confirmed."))
    signed_in_here = request.user.is_authenticated and request.user.pk == done.account.id
    return redirect("authentication:settings" if signed_in_here else settings.LOGIN_REDIRECT_URL)


# --- Settings --------------------------------------------------------------------------------------------


def _settings_page(
    request: HttpRequest,
    *,
    password_form: forms.PasswordChangeForm | None = None,
    email_form: forms.EmailChangeForm | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HttpResponse:
    context = {
        "account": services.account_get(user_id=_member_id(request)),
        "two_factor": services.two_factor_status(user_id=_member_id(request)),
        "password_form": password_form or forms.PasswordChangeForm(),
        "email_form": email_form or forms.EmailChangeForm(),
    }
    response = render(request, "authentication/settings.html", context, status=status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@never_cache
@login_required
def account_settings(request: HttpRequest) -> HttpResponse:
    return _settings_page(request)


@never_cache
@login_required
@sensitive_post_parameters(*_SENSITIVE)
def password_change(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("authentication:settings")
    form = forms.PasswordChangeForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, password_form=form, status=400)
    try:
        services.password_change(
            user_id=_member_id(request),
            current_password=form.cleaned_data["current_password"],
            new_password=form.cleaned_data["new_password"],
            caller=caller_of(request),
        )
    except ApplicationError as error:
        add_application_error(form, error)
        return _settings_page(request, password_form=form, status=error.status, headers=error.headers)
    # This session stays; every other one ends, since its password hash no longer matches.
    user = selectors.user_get(user_id=_member_id(request))
    if user is not None:
        update_session_auth_hash(request, user)
    messages.success(request, _("Your password is changed."))
    return HttpResponseRedirect(reverse("authentication:settings") + "#password")


@never_cache
@login_required
@sensitive_post_parameters(*_SENSITIVE)
def email_change(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("authentication:settings")
    form = forms.EmailChangeForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, email_form=form, status=400)
    try:
        services.email_change_request(
            user_id=_member_id(request),
            new_email=form.cleaned_data["new_email"],
            password=form.cleaned_data["password"],
            caller=caller_of(request),
        )
    except ApplicationError as error:
        add_application_error(form, error)
        return _settings_page(request, email_form=form, status=error.status, headers=error.headers)
    messages.success(request, texts.email_change_sent(email=form.cleaned_data["new_email"]))
    return HttpResponseRedirect(reverse("authentication:settings") + "#email")


@never_cache
@login_required
def email_verification_resend(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("authentication:settings")
    try:
        services.email_verification_resend(user_id=_member_id(request), caller=caller_of(request))
    except ApplicationError as error:
        messages.error(request, error.message)
        return _settings_page(request, status=error.status, headers=error.headers)
    messages.success(request, texts.email_verification_sent())
    return HttpResponseRedirect(reverse("authentication:settings") + "#email")


# --- Two-factor authentication -----------------------------------------------------------------------------


def _two_factor_page(
    request: HttpRequest,
    *,
    confirm_form: forms.TwoFactorCodeForm | None = None,
    codes_form: forms.TwoFactorCodeForm | None = None,
    disable_form: forms.TwoFactorDisableForm | None = None,
    error: ApplicationError | None = None,
) -> HttpResponse:
    member_id = _member_id(request)
    context = {
        "status": services.two_factor_status(user_id=member_id),
        "enrolment": services.two_factor_enrolment(user_id=member_id),
        "confirm_form": confirm_form or forms.TwoFactorCodeForm(),
        "codes_form": codes_form or forms.TwoFactorCodeForm(),
        "disable_form": disable_form or forms.TwoFactorDisableForm(),
    }
    status = 200
    if error is not None:
        status = error.status
    elif any(form is not None and form.errors for form in (confirm_form, codes_form, disable_form)):
        status = 400
    response = render(request, "authentication/two_factor.html", context, status=status)
    for name, value in (error.headers if error is not None else {}).items():
        response[name] = value
    return response


def _backup_codes_page(request: HttpRequest, codes: tuple[str, ...], *, first: bool) -> HttpResponse:
    # Answered to the POST itself, not kept for a redirect: the codes are never stored where they show.
    return render(request, "authentication/two_factor_codes.html", {"codes": codes, "first": first})


@never_cache
@login_required
def two_factor(request: HttpRequest) -> HttpResponse:
    return _two_factor_page(request)


@never_cache
@login_required
def two_factor_start(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("authentication:two-factor")
    try:
        services.two_factor_enrol_start(user_id=_member_id(request))
    except ApplicationError as error:
        messages.error(request, error.message)
        return _two_factor_page(request, error=error)
    return HttpResponseRedirect(reverse("authentication:two-factor") + "#enrol")


@never_cache
@login_required
@sensitive_post_parameters(*_SENSITIVE)
def two_factor_confirm(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("authentication:two-factor")
    form = forms.TwoFactorCodeForm(request.POST)
    if not form.is_valid():
        return _two_factor_page(request, confirm_form=form)
    try:
        codes = services.two_factor_enrol_confirm(
            user_id=_member_id(request), code=form.cleaned_data["code"], ip=caller_of(request).ip
        )
    except ApplicationError as error:
        add_application_error(form, error)
        return _two_factor_page(request, confirm_form=form, error=error)
    messages.success(request, _("Two-factor authentication is on."))
    return _backup_codes_page(request, codes, first=True)


@never_cache
@login_required
@sensitive_post_parameters(*_SENSITIVE)
def two_factor_backup_codes(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("authentication:two-factor")
    form = forms.TwoFactorCodeForm(request.POST)
    if not form.is_valid():
        return _two_factor_page(request, codes_form=form)
    try:
        codes = services.two_factor_backup_codes_regenerate(
            user_id=_member_id(request), code=form.cleaned_data["code"], ip=caller_of(request).ip
        )
    except ApplicationError as error:
        add_application_error(form, error)
        return _two_factor_page(request, codes_form=form, error=error)
    return _backup_codes_page(request, codes, first=False)


@never_cache
@login_required
@sensitive_post_parameters(*_SENSITIVE)
def two_factor_disable(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("authentication:two-factor")
    form = forms.TwoFactorDisableForm(request.POST)
    if not form.is_valid():
        return _two_factor_page(request, disable_form=form)
    try:
        services.two_factor_disable(
            user_id=_member_id(request),
            password=form.cleaned_data["password"],
            code=form.cleaned_data["code"],
            caller=caller_of(request),
        )
    except ApplicationError as error:
        add_application_error(form, error)
        return _two_factor_page(request, disable_form=form, error=error)
    messages.success(request, _("Two-factor authentication is off."))
    return redirect("authentication:two-factor")
