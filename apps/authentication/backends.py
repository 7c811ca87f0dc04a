"""The authentication backend: every sign-in, the admin's included, goes through credentials_check."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from apps.authentication import services
from apps.authentication.models import User
from apps.authentication.network import client_ip


class CredentialsBackend(ModelBackend):
    """Username or email, case-insensitive, throttled per account and address (see services).

    A throttled attempt raises ``RateLimited``, which the error middleware answers with a 429 page, so
    the admin's login form is limited like the forum's own. Permissions are ModelBackend's.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None or password is None:
            return None
        try:
            account = services.credentials_check(
                login=username, password=password, ip=client_ip(request) if request else ""
            )
        except (services.InvalidCredentials, services.AccountDisabled):
            return None
        return User.objects.filter(pk=account.id).first()
