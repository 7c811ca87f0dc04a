"""DRF authentication by access token: the Bearer header (any client) and the HttpOnly cookie (the SPA).

Both check the token's family (one query that also loads the account, instead of simplejwt's own), so
a signed-out or reused family's access tokens stop at once. Absent credentials are not an error here:
the next class is asked, and a caller with none stays anonymous. The Bearer class comes first in
DEFAULT_AUTHENTICATION_CLASSES, so DRF answers such a caller, where members only may call, 401 with
``WWW-Authenticate: Bearer realm="api"``; a member whose credentials are good but not enough gets 403.
A token that is sent but refused answers 401 with its code (``token_expired``, ``token_revoked``...)
and ``WWW-Authenticate: Bearer``, which tells a client to refresh.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication

# Only the token module of this app, not its services: DRF imports this module while it defines
# APIView, so nothing imported here may import rest_framework.views (services do, through forum.errors).
from apps.authorization import tokens
from apps.authorization.tokens import AccessGrant, TokenRejected


class TokenRefused(exceptions.APIException):
    """A refused token, as DRF raises it from an authenticator: 401 whatever class comes first.

    Not an ``AuthenticationFailed``: DRF turns those into 403 when the first class names no
    WWW-Authenticate scheme (a view that lists only the session, say), and a client must tell
    "refresh" (401) from "not allowed" (403).
    """

    status_code = 401
    default_code = "token_not_valid"

    def __init__(self, error: TokenRejected) -> None:
        super().__init__(detail=error.message, code=error.code)
        self.auth_header = error.headers.get("WWW-Authenticate", "Bearer")


def _authenticate(raw: str) -> tuple[Any, AccessGrant]:
    try:
        return tokens.access_user(raw)
    except TokenRejected as error:
        raise TokenRefused(error) from None


class BearerTokenAuthentication(JWTAuthentication):
    """``Authorization: Bearer <access token>``; the token's family must not be revoked."""

    def authenticate(self, request: Request) -> tuple[Any, AccessGrant] | None:  # type: ignore[override]
        header = self.get_header(request)
        if header is None:
            return None
        raw = self.get_raw_token(header)
        if raw is None:
            return None
        return _authenticate(raw.decode("latin-1"))


class AccessCookieAuthentication(BaseAuthentication):
    """The access-token cookie of the SPA; unsafe methods need the CSRF token, as with the session.

    A cookie is sent by the browser whoever made the page that calls, so (like DRF's
    SessionAuthentication) every POST, PUT, PATCH and DELETE must carry the ``X-CSRFToken`` header.
    """

    def authenticate(self, request: Request) -> tuple[Any, AccessGrant] | None:
        raw = request.COOKIES.get(settings.JWT_ACCESS_COOKIE_NAME)
        if not raw:
            return None
        user, grant = _authenticate(raw)
        self.enforce_csrf(request)
        return user, grant

    def enforce_csrf(self, request: Request) -> None:
        """PermissionDenied (403) for an unsafe method without the CSRF token: the session's own check."""
        SessionAuthentication().enforce_csrf(request)


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "apps.authorization.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token from `POST /api/v1/auth/token`; 401 with `token_expired` "
            "means: refresh it (`POST /api/v1/auth/token/refresh`).",
        }


class AccessCookieScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "apps.authorization.api.authentication.AccessCookieAuthentication"
    name = "accessCookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.JWT_ACCESS_COOKIE_NAME,
            "description": "The HttpOnly access-token cookie set by `POST /api/v1/auth/token` with "
            "`X-Token-Transport: cookie`. Unsafe methods also need the `X-CSRFToken` header "
            "(the `csrftoken` cookie's value).",
        }
