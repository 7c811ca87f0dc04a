"""The authentication backend: every sign-in, the admin's included, goes through credentials_check."""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest
from django.utils.translation import gettext as _

from apps.authentication import selectors, services
from apps.authentication.models import User
from apps.authentication.network import client_ip
from apps.authentication.sessions import device_of
from forum import member_cache
from forum.member_cache import MEMBER_SCOPE


class CredentialsBackend(ModelBackend):
    """Username or email, case-insensitive, throttled per account and address (see services).

    A throttled attempt raises ``RateLimited``, which the error middleware answers with a 429 page, so
    the admin's login form is limited like the forum's own. An account with two-factor authentication
    is refused here (403): only the forum's sign-in asks for its code. Permissions are ModelBackend's.
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
            # The device cookie is honoured (a staff member's own browser is not locked out by
            # strangers), though the admin's login does not hand out new ones.
            account = services.credentials_check(
                login=username,
                password=password,
                ip=client_ip(request) if request else "",
                device=device_of(request) if request else "",
            )
        except (services.InvalidCredentials, services.AccountDisabled):
            return None
        if services.two_factor_required(user_id=account.id):
            # A form that knows only passwords (the admin's login) must not skip the second factor: the
            # refusal (403) says where to sign in instead; once signed in there, the admin opens.
            raise services.TwoFactorRequired(
                _("This account uses two-factor authentication: sign in on the forum's sign-in page.")
            )
        return User.objects.filter(pk=account.id).first()

    def get_user(self, user_id: Any) -> User | None:
        """The signed-in account of a request (every one a member makes): kept in Redis per member
        (``forum.member_cache``, moved by every save of the account: apps.py), else read in plain
        SQL (the ORM's ``get`` cost about three times the query). Inactive accounts are signed out,
        as by ModelBackend."""
        try:
            pk = int(user_id)
        except (TypeError, ValueError):
            return None
        if not 0 < pk < 2**63:
            return None
        row = member_cache.read(USER_PART, pk, lambda: selectors.user_row_by_id(user_id=pk))
        if row is not None and row[0] != _fields():
            row = selectors.user_row_by_id(user_id=pk)  # kept before the model changed
        user = None if row is None else selectors.user_from_row(row)
        return user if user is not None and self.user_can_authenticate(user) else None


# The account kept per member; its scope is moved by every save or deletion of the account (apps.py)
# and by the authorization app's changes of the member's role and access.
USER_PART = "authentication.user"
member_cache.register(USER_PART, MEMBER_SCOPE, member_cache.ALL_MEMBERS_SCOPE)


@functools.cache
def _fields() -> tuple[str, ...]:
    return tuple(field.attname for field in User._meta.concrete_fields)
