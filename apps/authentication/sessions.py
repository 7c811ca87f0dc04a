"""Starting a signed-in session for an account, the one step after its credentials were accepted, and
the device cookie that a completed sign-in leaves in the browser."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from apps.authentication import selectors, services

# The backend a session records; it must be listed in AUTHENTICATION_BACKENDS.
SESSION_BACKEND = "apps.authentication.backends.CredentialsBackend"


def session_start(request: HttpRequest, account_id: int) -> None:
    """Sign ``account_id`` in on this request (a new session key, against fixation)."""
    user = selectors.user_get(user_id=account_id)
    if user is not None:
        login(request, user, backend=SESSION_BACKEND)


def device_of(request: HttpRequest) -> str:
    """The device cookie the browser sent, for ``services.credentials_check``; empty when none."""
    return request.COOKIES.get(str(settings.SIGNIN_DEVICE_COOKIE_NAME), "")


def device_cookie_set(response: HttpResponseBase, account_id: int) -> None:
    """Leave a new device cookie for ``account_id`` in the browser whose sign-in just completed."""
    cookie = services.signin_device_cookie(user_id=account_id)
    response.set_cookie(
        cookie.name,
        cookie.value,
        max_age=cookie.max_age,
        path="/",
        secure=cookie.secure,
        httponly=cookie.httponly,
        samesite=cookie.samesite,
    )
