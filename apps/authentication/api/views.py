"""Accounts API: sign up, sign in and out, passwords, addresses and the caller's own account.

Sessions for now (a cookie, like the pages); a token sign-in will answer beside ``account`` in the same
reply. The calls that start a session (sign-in, and confirming a sign-up) check the CSRF token even for
an anonymous caller, so that no other site can sign a visitor in to an account of its choosing.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import logout, update_session_auth_hash
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.authentication import selectors, services, texts
from apps.authentication.network import caller_of
from apps.authentication.sessions import session_start
from forum.errors import ErrorSerializer

TAGS = ["accounts"]


def _password() -> serializers.CharField:
    return serializers.CharField(
        style={"input_type": "password"}, trim_whitespace=False, max_length=services.PASSWORD_MAX_LENGTH
    )


def _member_id(request: Request) -> int:
    user_id = request.user.pk
    assert user_id is not None, "IsAuthenticated lets only members in"
    return int(user_id)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


_THROTTLED = _error("Too many attempts; `Retry-After` says how many seconds to wait.")
_CSRF = (
    "Send the CSRF token (header `X-CSRFToken`, from the `csrftoken` cookie), as for any call in a session."
)


class AccountOutput(serializers.Serializer[Any]):
    """A member's own account, as only they see it."""

    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.CharField(help_text="Empty for accounts made by staff without one.")
    email_verified = serializers.BooleanField(
        help_text="Whether the address is confirmed; some actions answer `email_unverified` until it is."
    )
    is_staff = serializers.BooleanField()
    date_joined = serializers.DateTimeField()


class DetailOutput(serializers.Serializer[Any]):
    detail = serializers.CharField(help_text="What happens next, for people.")


def _enforce_csrf(request: Request) -> None:
    # DRF checks CSRF only for callers already signed in by session; these calls start a session.
    SessionAuthentication().enforce_csrf(request)


class SignupView(APIView):
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer[Any]):
        username = serializers.CharField(
            max_length=150, help_text="3 to 30 letters, digits, `.`, `_` or `-`."
        )
        email = serializers.CharField(max_length=254)
        password = _password()

    @extend_schema(
        tags=TAGS,
        summary="Sign up",
        description=(
            "Mails a link to the address; the account exists once the link is followed "
            "(`POST /auth/email/verify`). The answer is the same whether or not the address has an "
            "account already (its owner is told by mail), so it tells nobody who has one. A taken "
            "username is refused: usernames are public."
        ),
        request=InputSerializer,
        responses={202: DetailOutput, 429: _THROTTLED},
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        services.signup_request(**given.validated_data, caller=caller_of(request))
        detail = texts.signup_sent(email=given.validated_data["email"])
        return Response(DetailOutput({"detail": detail}).data, status=status.HTTP_202_ACCEPTED)


class SigninView(APIView):
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer[Any]):
        login = serializers.CharField(
            max_length=254, help_text="Username or email address; case does not matter."
        )
        password = _password()

    class OutputSerializer(serializers.Serializer[Any]):
        status = serializers.CharField(
            help_text="`signed_in`: the session cookie is set. Other steps (a second factor) may be added."
        )
        account = AccountOutput()

    @extend_schema(
        tags=TAGS,
        summary="Sign in",
        description=(
            "Starts a session (cookie). Wrong credentials answer `invalid_credentials`, whichever part was "
            "wrong. After 5 failures for one name, or 20 from one address, in 15 minutes the answer is 429 "
            "until the window ends, whether or not the account exists. " + _CSRF
        ),
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            403: _error("The account is disabled (`account_disabled`), or the CSRF token is missing."),
            429: _THROTTLED,
        },
    )
    def post(self, request: Request) -> Response:
        _enforce_csrf(request)
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        account = services.credentials_check(**given.validated_data, ip=caller_of(request).ip)
        # The second-factor step goes here, answering another `status` before any session starts.
        session_start(request._request, account.id)
        return Response(self.OutputSerializer({"status": "signed_in", "account": account}).data)


class SignoutView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(tags=TAGS, summary="Sign out", request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeView(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        current_password = _password()
        new_password = _password()

    @extend_schema(
        tags=TAGS,
        summary="Change the password",
        description="This session stays signed in; every other session of the account ends.",
        request=InputSerializer,
        responses={204: None, 429: _THROTTLED},
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        services.password_change(
            user_id=_member_id(request), **given.validated_data, caller=caller_of(request)
        )
        user = selectors.user_get(user_id=_member_id(request))
        if user is not None:
            update_session_auth_hash(request._request, user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordResetView(APIView):
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer[Any]):
        email = serializers.CharField(max_length=254)

    @extend_schema(
        tags=TAGS,
        summary="Ask for a password reset link",
        description="Always 202 with the same body, whether or not an account has the address.",
        request=InputSerializer,
        responses={202: DetailOutput, 429: _THROTTLED},
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        services.password_reset_request(email=given.validated_data["email"], caller=caller_of(request))
        detail = texts.password_reset_sent()
        return Response(DetailOutput({"detail": detail}).data, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmView(APIView):
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer[Any]):
        token = serializers.CharField(max_length=1000, help_text="The last part of the mailed link's path.")
        new_password = _password()

    @extend_schema(
        tags=TAGS,
        summary="Set a new password with a reset link",
        description="Does not sign in. A used or expired link answers `invalid_link`.",
        request=InputSerializer,
        responses={204: None},
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        services.password_reset_confirm(**given.validated_data, caller=caller_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailChangeView(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        new_email = serializers.CharField(max_length=254)
        password = _password()

    @extend_schema(
        tags=TAGS,
        summary="Change the email address",
        description=(
            "Mails a link to the new address; the account moves there when it is followed. Needs the "
            "password. An address that has an account already is not refused here (its owner is told)."
        ),
        request=InputSerializer,
        responses={202: DetailOutput, 429: _THROTTLED},
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        services.email_change_request(
            user_id=_member_id(request), **given.validated_data, caller=caller_of(request)
        )
        detail = texts.email_change_sent(email=given.validated_data["new_email"])
        return Response(DetailOutput({"detail": detail}).data, status=status.HTTP_202_ACCEPTED)


class EmailVerifyView(APIView):
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer[Any]):
        token = serializers.CharField(max_length=2000, help_text="The last part of the mailed link's path.")

    class OutputSerializer(serializers.Serializer[Any]):
        kind = serializers.ChoiceField(
            choices=["signup", "email", "email_change"],
            help_text="What the link did: made the account, confirmed the address, or moved to a new one.",
        )
        signed_in = serializers.BooleanField(help_text="True after a sign-up: the new account is signed in.")
        account = AccountOutput()

    @extend_schema(
        tags=TAGS,
        summary="Follow a mailed link",
        description=(
            "Confirms a sign-up (the account is made and signed in), an address, or a change of address. "
            + _CSRF
        ),
        request=InputSerializer,
        responses={200: OutputSerializer, 403: _error("The CSRF token is missing.")},
    )
    def post(self, request: Request) -> Response:
        _enforce_csrf(request)
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        done = services.email_verify(token=given.validated_data["token"], caller=caller_of(request))
        signed_in = done.kind == "signup"
        if signed_in:
            session_start(request._request, done.account.id)
        body = {"kind": done.kind, "signed_in": signed_in, "account": done.account}
        return Response(self.OutputSerializer(body).data)


class EmailResendView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        summary="Mail a new link to confirm the address",
        request=None,
        responses={
            202: DetailOutput,
            400: _error("The address is confirmed already (`already_verified`), or there is none."),
            429: _THROTTLED,
        },
    )
    def post(self, request: Request) -> Response:
        services.email_verification_resend(user_id=_member_id(request), caller=caller_of(request))
        detail = texts.email_verification_sent()
        return Response(DetailOutput({"detail": detail}).data, status=status.HTTP_202_ACCEPTED)


class MeView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAGS, summary="The caller's own account", responses={200: AccountOutput})
    def get(self, request: Request) -> Response:
        return Response(AccountOutput(services.account_get(user_id=_member_id(request))).data)
