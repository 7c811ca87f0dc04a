"""Token API: sign in for a JWT pair, rotate it, sign out (revoke its family).

Two transports, chosen by the client at sign-in with the header ``X-Token-Transport: cookie``:

- default, for any client: the tokens are in the JSON answer and travel back in ``Authorization:
  Bearer``;
- cookie, for the single-page app: the tokens are set as HttpOnly cookies (the refresh cookie only
  for ``/api/v1/auth/token/``) and left out of the answer, so that script on the page never holds
  them; calls then need the CSRF token on unsafe methods. A custom header cannot be sent by a plain
  form of another site, so no one can sign a visitor in to an account of theirs this way.

Refresh and sign-out take the refresh token from the body, or else from the cookie (then the CSRF
token is required and the answer sets or clears the cookies).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.middleware.csrf import get_token, rotate_token
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.authentication.services import (
    credentials_check,
    signin_device_cookie,
    two_factor_challenge_create,
    two_factor_challenge_verify,
    two_factor_required,
)
from apps.authorization.api.authentication import AccessCookieAuthentication, BearerTokenAuthentication
from apps.authorization.services import (
    ClientInfo,
    TokenPair,
    TokenRejected,
    access_token_grant,
    signin_complete,
    token_family_signout,
    token_refresh,
    token_signout,
)
from forum.client import client_device, client_ip
from forum.errors import ErrorSerializer, ValidationFailed, error_body

TAGS = ["tokens"]
TRANSPORT_HEADER = "X-Token-Transport"
COOKIE_TRANSPORT = "cookie"
_TOKEN_MAX_LENGTH = 4096

_TRANSPORT_PARAMETER = OpenApiParameter(
    TRANSPORT_HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    enum=[COOKIE_TRANSPORT],
    description="`cookie`: set the tokens as HttpOnly cookies and leave them out of the answer.",
)


class TokenPairOutput(serializers.Serializer[Any]):
    access = serializers.CharField(
        allow_null=True, help_text="The access token; null when it travels in a cookie."
    )
    refresh = serializers.CharField(
        allow_null=True, help_text="The refresh token; null when it travels in a cookie."
    )
    token_type = serializers.CharField(help_text="Always `Bearer`.")
    access_expires_at = serializers.DateTimeField()
    refresh_expires_at = serializers.DateTimeField(
        help_text="A refresh before then gives a new pair, whose refresh token lives as long again."
    )


class TwoFactorRequiredOutput(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=["two_factor_required"])
    challenge = serializers.CharField(help_text="Send it with the code to `/auth/token/two-factor`.")
    expires_in = serializers.IntegerField(help_text="Seconds the challenge stays valid.")


def _client(request: Request) -> ClientInfo:
    return ClientInfo(ip=client_ip(request), device=client_device(request))


def _cookie_kwargs() -> dict[str, Any]:
    return {
        "secure": settings.JWT_COOKIE_SECURE,
        "httponly": True,
        "samesite": settings.JWT_COOKIE_SAMESITE,
        "domain": settings.JWT_COOKIE_DOMAIN,
    }


def _set_cookies(response: Response, pair: TokenPair) -> None:
    lifetimes = settings.SIMPLE_JWT
    response.set_cookie(
        settings.JWT_ACCESS_COOKIE_NAME,
        pair.access,
        max_age=int(lifetimes["ACCESS_TOKEN_LIFETIME"].total_seconds()),
        path="/",
        **_cookie_kwargs(),
    )
    response.set_cookie(
        settings.JWT_REFRESH_COOKIE_NAME,
        pair.refresh,
        max_age=int(lifetimes["REFRESH_TOKEN_LIFETIME"].total_seconds()),
        path=settings.JWT_REFRESH_COOKIE_PATH,
        **_cookie_kwargs(),
    )


def clear_token_cookies(response: Response) -> None:
    kwargs = {"domain": settings.JWT_COOKIE_DOMAIN, "samesite": settings.JWT_COOKIE_SAMESITE}
    response.delete_cookie(settings.JWT_ACCESS_COOKIE_NAME, path="/", **kwargs)
    response.delete_cookie(settings.JWT_REFRESH_COOKIE_NAME, path=settings.JWT_REFRESH_COOKIE_PATH, **kwargs)


def _pair_response(pair: TokenPair, *, cookies: bool) -> Response:
    body = {
        "access": None if cookies else pair.access,
        "refresh": None if cookies else pair.refresh,
        "token_type": "Bearer",
        "access_expires_at": pair.access_expires_at,
        "refresh_expires_at": pair.refresh_expires_at,
    }
    response = Response(TokenPairOutput(body).data)
    if cookies:
        _set_cookies(response, pair)
    return response


def _refused(error: TokenRejected, *, clear: bool) -> Response:
    """A refused token's 401, clearing the cookies when they carried it (they are of no more use)."""
    response = Response(error_body(error.code, error.message), status=error.status, headers=error.headers)
    if clear:
        clear_token_cookies(response)
    return response


def _refresh_from(request: Request, given: str) -> tuple[str, bool]:
    """The refresh token of the body, or else of the cookie (which then needs the CSRF token)."""
    if given:
        return given, False
    cookie = request.COOKIES.get(settings.JWT_REFRESH_COOKIE_NAME, "")
    if cookie:
        AccessCookieAuthentication().enforce_csrf(request)
    return cookie, bool(cookie)


@method_decorator(sensitive_post_parameters("password"), name="dispatch")
class TokenObtainView(APIView):
    """Sign in with a username or email address and a password, for an access/refresh pair."""

    permission_classes = [AllowAny]
    # A stale token must not stand in the way of signing in again.
    authentication_classes: list[type[Any]] = []

    class InputSerializer(serializers.Serializer[Any]):
        login = serializers.CharField(max_length=254, help_text="Username or email address.")
        password = serializers.CharField(
            max_length=4096, trim_whitespace=False, style={"input_type": "password"}
        )

    @extend_schema(
        tags=TAGS,
        summary="Sign in for tokens",
        description="An account with two-factor authentication gets a challenge instead of tokens; "
        "the code and the challenge then go to `/auth/token/two-factor`.",
        parameters=[_TRANSPORT_PARAMETER],
        request=InputSerializer,
        responses={
            200: PolymorphicProxySerializer(
                component_name="TokenSignin",
                serializers=[TokenPairOutput, TwoFactorRequiredOutput],
                resource_type_field_name=None,
            ),
            400: OpenApiResponse(ErrorSerializer, description="`invalid_credentials`, or bad input."),
            403: OpenApiResponse(ErrorSerializer, description="`account_disabled`."),
            429: OpenApiResponse(ErrorSerializer, description="Too many failed attempts; see `Retry-After`."),
        },
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        account = credentials_check(
            login=given.validated_data["login"],
            password=given.validated_data["password"],
            ip=client_ip(request),
            # A browser (the single-page app) that signed in before is not locked out by strangers.
            device=request.COOKIES.get(settings.SIGNIN_DEVICE_COOKIE_NAME, ""),
        )
        if two_factor_required(user_id=account.id):
            # The password only proves half: no tokens until the code answers this challenge.
            pending = two_factor_challenge_create(user_id=account.id)
            body = {"status": "two_factor_required", "challenge": pending.challenge}
            body["expires_in"] = pending.expires_in
            return Response(TwoFactorRequiredOutput(body).data)
        return _signed_in(request, account.id)


def _signed_in(request: Request, user_id: int) -> Response:
    """The pair for a member whose sign-in is complete, in the body or (on request) in cookies."""
    pair = signin_complete(user_id=user_id, client=_client(request))
    cookies = request.headers.get(TRANSPORT_HEADER, "").strip().lower() == COOKIE_TRANSPORT
    if cookies:
        # A new CSRF token for the new sign-in (as a session sign-in gets), set in the answer's cookie.
        rotate_token(request)
        get_token(request)
    response = _pair_response(pair, cookies=cookies)
    if cookies:
        # Only for browsers (the cookie transport): the body transport sets no cookie at all.
        _set_device_cookie(response, user_id)
    return response


def _set_device_cookie(response: Response, user_id: int) -> None:
    """The device cookie of a completed sign-in (``authentication.services.signin_device_cookie``): a
    browser that sends it back is not locked out of the account by strangers' failures."""
    cookie = signin_device_cookie(user_id=user_id)
    response.set_cookie(
        cookie.name,
        cookie.value,
        max_age=cookie.max_age,
        path="/",
        secure=cookie.secure,
        httponly=cookie.httponly,
        samesite=cookie.samesite,
    )


class TokenTwoFactorView(APIView):
    """Finish a token sign-in with the code of the account's authenticator app or a backup code."""

    permission_classes = [AllowAny]
    authentication_classes: list[type[Any]] = []

    class InputSerializer(serializers.Serializer[Any]):
        challenge = serializers.CharField(max_length=200)
        code = serializers.CharField(max_length=32, help_text="Six digits, or a backup code.")

    @extend_schema(
        tags=TAGS,
        summary="Finish a token sign-in with a two-factor code",
        parameters=[_TRANSPORT_PARAMETER],
        request=InputSerializer,
        responses={
            200: TokenPairOutput,
            400: OpenApiResponse(
                ErrorSerializer, description="`invalid_code`, `two_factor_challenge_invalid`, or bad input."
            ),
            403: OpenApiResponse(ErrorSerializer, description="`account_disabled`."),
            429: OpenApiResponse(ErrorSerializer, description="Too many wrong codes; see `Retry-After`."),
        },
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        account = two_factor_challenge_verify(
            challenge=given.validated_data["challenge"],
            code=given.validated_data["code"],
            ip=client_ip(request),
        )
        return _signed_in(request, account.id)


class TokenRefreshView(APIView):
    """Rotate: the refresh token for a new pair. Each refresh token works once; using one twice ends
    the sign-in it belongs to (`token_reused`), since one of the two users was not its owner."""

    permission_classes = [AllowAny]
    authentication_classes: list[type[Any]] = []

    class InputSerializer(serializers.Serializer[Any]):
        refresh = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=_TOKEN_MAX_LENGTH,
            help_text="Leave out to use the refresh cookie (then send `X-CSRFToken`).",
        )

    @extend_schema(
        tags=TAGS,
        summary="Refresh tokens",
        request=InputSerializer,
        responses={
            200: TokenPairOutput,
            401: OpenApiResponse(
                ErrorSerializer,
                description="`token_expired`, `token_revoked`, `token_reused` (the family is revoked now), "
                "`token_not_valid` or `account_disabled`: sign in again.",
            ),
            403: OpenApiResponse(ErrorSerializer, description="The refresh cookie without the CSRF token."),
        },
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        refresh, from_cookie = _refresh_from(request, given.validated_data.get("refresh", ""))
        if not refresh:
            message = _("Give the refresh token, in the body or in its cookie.")
            raise ValidationFailed(message, fields={"refresh": [message]})
        try:
            pair = token_refresh(refresh=refresh, client=_client(request))
        except TokenRejected as error:
            return _refused(error, clear=from_cookie)
        return _pair_response(pair, cookies=from_cookie)


class TokenRevokeView(APIView):
    """Sign out: the sign-in's refresh and access tokens stop working, and the cookies are cleared.

    Takes the refresh token (body or cookie), or else the access token the call is made with (Bearer
    or cookie). An expired token signs out nothing (its sign-in is over already) and still answers 204.
    """

    permission_classes = [AllowAny]
    # Read here rather than by the authentication classes: an expired access token must not stop a
    # sign-out that brings its refresh token.
    authentication_classes: list[type[Any]] = []

    class InputSerializer(serializers.Serializer[Any]):
        refresh = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=_TOKEN_MAX_LENGTH,
            help_text="Leave out to use the refresh cookie, or the access token of the call.",
        )

    @extend_schema(
        tags=TAGS,
        summary="Sign out (revoke the tokens)",
        request=InputSerializer,
        responses={
            204: OpenApiResponse(description="Signed out; the token cookies are cleared."),
            401: OpenApiResponse(ErrorSerializer, description="The token is not one of ours."),
            403: OpenApiResponse(ErrorSerializer, description="A token cookie without the CSRF token."),
        },
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        refresh, from_cookie = _refresh_from(request, given.validated_data.get("refresh", ""))
        try:
            if refresh:
                token_signout(refresh=refresh)
            else:
                self._signout_by_access(request)
        except TokenRejected as error:
            return _refused(error, clear=from_cookie)
        response = Response(status=status.HTTP_204_NO_CONTENT)
        clear_token_cookies(response)
        return response

    def _signout_by_access(self, request: Request) -> None:
        header = BearerTokenAuthentication().get_header(request)
        if header is not None:
            raw = (BearerTokenAuthentication().get_raw_token(header) or b"").decode("latin-1")
        else:
            raw = request.COOKIES.get(settings.JWT_ACCESS_COOKIE_NAME, "")
            if raw:
                AccessCookieAuthentication().enforce_csrf(request)
        if not raw:
            message = _("Give the refresh token, in the body or in its cookie.")
            raise ValidationFailed(message, fields={"refresh": [message]})
        grant = access_token_grant(token=raw)
        if grant is not None:
            token_family_signout(user_id=grant.user_id, family_id=grant.family_id)
