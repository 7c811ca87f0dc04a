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
from apps.authentication.sessions import device_cookie_set, device_of, session_start
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


def _code() -> serializers.CharField:
    return serializers.CharField(
        max_length=32,
        help_text="Six digits from the authenticator app, or an unused backup code (spaces and dashes "
        "are ignored).",
    )


class SigninOutput(serializers.Serializer[Any]):
    status = serializers.ChoiceField(
        choices=["signed_in", "two_factor_required"],
        help_text="`signed_in`: the session cookie is set, `account` says whose. `two_factor_required`: "
        "the password was right but the account has two-factor authentication on; no session yet. Send "
        "`challenge` with a code to `POST /auth/signin/two-factor` within `expires_in` seconds.",
    )
    account = AccountOutput(required=False, help_text="Only with `signed_in`.")
    challenge = serializers.CharField(
        required=False, help_text="Only with `two_factor_required`: opaque, single use."
    )
    expires_in = serializers.IntegerField(
        required=False, help_text="Only with `two_factor_required`: seconds the challenge stays good."
    )


class SigninView(APIView):
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer[Any]):
        login = serializers.CharField(
            max_length=254, help_text="Username or email address; case does not matter."
        )
        password = _password()

    @extend_schema(
        tags=TAGS,
        summary="Sign in",
        description=(
            "Starts a session (cookie), or, for an account with two-factor authentication, answers "
            "`two_factor_required` with a challenge for `POST /auth/signin/two-factor`. Wrong credentials "
            "answer `invalid_credentials`, whichever part was wrong. After 5 failures for one account "
            "(by its username and its address together; a name with no account is counted as typed), or "
            "20 from one address, in 15 minutes the answer is 429 until the window ends, whether or not "
            "the account exists. A completed sign-in sets a device cookie (HttpOnly); a browser that "
            "sends it back for the same account is held only by its own 5 failures, not by the lock that "
            "others' failures put on the account or its address. " + _CSRF
        ),
        request=InputSerializer,
        responses={
            200: SigninOutput,
            403: _error("The account is disabled (`account_disabled`), or the CSRF token is missing."),
            429: _THROTTLED,
            503: _error("Two-factor sign-in is unavailable for a moment (`unavailable`)."),
        },
    )
    def post(self, request: Request) -> Response:
        _enforce_csrf(request)
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        account = services.credentials_check(
            **given.validated_data, ip=caller_of(request).ip, device=device_of(request)
        )
        if services.two_factor_required(user_id=account.id):
            pending = services.two_factor_challenge_create(user_id=account.id)
            body = {
                "status": "two_factor_required",
                "challenge": pending.challenge,
                "expires_in": pending.expires_in,
            }
            return Response(SigninOutput(body).data)
        return _signed_in(request, account)


def _signed_in(request: Request, account: services.Account) -> Response:
    """The session, and the device cookie that lets this browser sign in while strangers' failures
    lock the account."""
    session_start(request._request, account.id)
    response = Response(SigninOutput({"status": "signed_in", "account": account}).data)
    device_cookie_set(response, account.id)
    return response


class SigninTwoFactorView(APIView):
    permission_classes = [AllowAny]

    class InputSerializer(serializers.Serializer[Any]):
        challenge = serializers.CharField(max_length=200, help_text="From `POST /auth/signin`.")
        code = _code()

    @extend_schema(
        tags=TAGS,
        summary="Sign in: the second factor",
        description=(
            "Finishes a sign-in that answered `two_factor_required`: starts the session and answers "
            "`signed_in`. A wrong code answers `invalid_code` (the challenge stays, up to 5 wrong codes); "
            "a code of a time step already used (a code is good once) answers `code_used`: wait for the "
            "next code; "
            "an unknown, used or expired challenge answers `two_factor_challenge_invalid` (sign in again). "
            "After 10 wrong codes for one account in 15 minutes the answer is 429. " + _CSRF
        ),
        request=InputSerializer,
        responses={
            200: SigninOutput,
            403: _error("The account is disabled (`account_disabled`), or the CSRF token is missing."),
            429: _THROTTLED,
            503: _error("Two-factor sign-in is unavailable for a moment (`unavailable`)."),
        },
    )
    def post(self, request: Request) -> Response:
        _enforce_csrf(request)
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        account = services.two_factor_challenge_verify(**given.validated_data, ip=caller_of(request).ip)
        return _signed_in(request, account)


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


# --- Two-factor authentication -----------------------------------------------------------------------------


class TwoFactorStatusOutput(serializers.Serializer[Any]):
    enabled = serializers.BooleanField(help_text="Whether signing in asks for a code.")
    enrolling = serializers.BooleanField(help_text="An app was added and waits for its first code.")
    backup_codes_left = serializers.IntegerField()


class TwoFactorEnrolmentOutput(serializers.Serializer[Any]):
    otpauth_uri = serializers.CharField(help_text="The `otpauth://totp/...` URI authenticator apps take.")
    key = serializers.CharField(help_text="The same key in base32, for typing into the app.")
    qr_svg = serializers.CharField(help_text="The URI as a QR code: an SVG document.")


class BackupCodesOutput(serializers.Serializer[Any]):
    backup_codes = serializers.ListField(
        child=serializers.CharField(), help_text="Ten single-use codes, shown only this once."
    )


class TwoFactorView(APIView):
    permission_classes = [IsAuthenticated]

    class DisableInputSerializer(serializers.Serializer[Any]):
        password = _password()
        code = _code()

    @extend_schema(
        tags=TAGS, summary="Two-factor authentication: status", responses={200: TwoFactorStatusOutput}
    )
    def get(self, request: Request) -> Response:
        return Response(TwoFactorStatusOutput(services.two_factor_status(user_id=_member_id(request))).data)

    @extend_schema(
        tags=TAGS,
        summary="Two-factor authentication: add an app",
        description=(
            "Starts (or starts over) adding an authenticator app: answers its key, as a URI and a QR code. "
            "Two-factor authentication is on once `POST /me/two-factor/confirm` took the app's first code."
        ),
        request=None,
        responses={
            201: TwoFactorEnrolmentOutput,
            409: _error("Two-factor authentication is on already (`two_factor_enabled`)."),
        },
    )
    def post(self, request: Request) -> Response:
        enrolment = services.two_factor_enrol_start(user_id=_member_id(request))
        return Response(TwoFactorEnrolmentOutput(enrolment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        tags=TAGS,
        summary="Two-factor authentication: turn off",
        description="Needs the password and a code (from the app, or a backup code).",
        request=DisableInputSerializer,
        responses={
            204: None,
            400: _error(
                "A field is missing, the password or the code (`invalid_code`) is not right, or two-factor "
                "authentication is off (`two_factor_disabled`)."
            ),
            429: _THROTTLED,
        },
    )
    def delete(self, request: Request) -> Response:
        given = self.DisableInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        services.two_factor_disable(
            user_id=_member_id(request), **given.validated_data, caller=caller_of(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class TwoFactorConfirmView(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        code = serializers.CharField(max_length=32, help_text="Six digits from the app just added.")

    @extend_schema(
        tags=TAGS,
        summary="Two-factor authentication: turn on",
        description="Takes the first code of the app added by `POST /me/two-factor`; answers backup codes.",
        request=InputSerializer,
        responses={200: BackupCodesOutput, 429: _THROTTLED},
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        codes = services.two_factor_enrol_confirm(
            user_id=_member_id(request), code=given.validated_data["code"], ip=caller_of(request).ip
        )
        return Response(BackupCodesOutput({"backup_codes": list(codes)}).data)


class TwoFactorBackupCodesView(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        code = _code()

    @extend_schema(
        tags=TAGS,
        summary="Two-factor authentication: new backup codes",
        description="Ten new codes replace the old ones, used or not.",
        request=InputSerializer,
        responses={200: BackupCodesOutput, 429: _THROTTLED},
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        codes = services.two_factor_backup_codes_regenerate(
            user_id=_member_id(request), code=given.validated_data["code"], ip=caller_of(request).ip
        )
        return Response(BackupCodesOutput({"backup_codes": list(codes)}).data)
