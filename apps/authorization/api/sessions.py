"""Sessions API: where the member is signed in (site sessions and API sign-ins), and ending them."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth import logout
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.authorization.api.tokens import clear_token_cookies
from apps.authorization.services import (
    AccessGrant,
    CurrentSession,
    session_end,
    sessions_end_others,
    sessions_list,
)

TAGS = ["sessions"]


def current_of(request: Request) -> CurrentSession:
    """What the call itself is signed in by: its session, or its token's family."""
    if isinstance(request.successful_authenticator, SessionAuthentication):
        return CurrentSession(session_key=request.session.session_key)
    if isinstance(request.auth, AccessGrant):
        return CurrentSession(family_id=request.auth.family_id)
    return CurrentSession()


def _member_id(request: Request) -> int:
    user_id = request.user.pk
    assert user_id is not None, "IsAuthenticated lets only members in"
    return int(user_id)


class SessionOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(
        choices=["web", "token"], help_text="`web`: a browser session of the site; `token`: an API sign-in."
    )
    device = serializers.CharField(help_text="The client's User-Agent as it signed in (or last seen).")
    ip = serializers.IPAddressField(allow_null=True, help_text="The address it was last seen from.")
    created_at = serializers.DateTimeField(help_text="When it signed in.")
    last_seen_at = serializers.DateTimeField(help_text="Last use, to the minute.")
    current = serializers.BooleanField(help_text="Whether this call is made with it.")


class MySessionsView(APIView):
    """Where I am signed in: the session or token of this call first, then the most recently seen."""

    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer[Any]):
        sessions = SessionOutput(many=True)

    @extend_schema(tags=TAGS, summary="My sessions", responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        rows = sessions_list(user_id=_member_id(request), current=current_of(request))
        return Response(self.OutputSerializer({"sessions": rows}).data)


class MySessionView(APIView):
    """End one of my sessions: a site session is deleted, an API sign-in revoked; both are signed out."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        summary="End a session",
        responses={
            204: OpenApiResponse(description="Ended. Ending the call's own session signs it out."),
        },
    )
    def delete(self, request: Request, session_id: uuid.UUID) -> Response:
        current = current_of(request)
        was_current = session_end(user_id=_member_id(request), session_id=session_id, current=current)
        response = Response(status=status.HTTP_204_NO_CONTENT)
        if was_current and current.session_key is not None:
            # Signed out like the sign-out page does: the session is over, its cookie not saved again.
            logout(request._request)
        elif was_current:
            clear_token_cookies(response)
        return response


class EndOtherSessionsView(APIView):
    """Sign out everywhere else: every session and API sign-in but the one of this call."""

    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer[Any]):
        ended = serializers.IntegerField(help_text="How many sessions were ended.")

    @extend_schema(
        tags=TAGS, summary="End my other sessions", request=None, responses={200: OutputSerializer}
    )
    def post(self, request: Request) -> Response:
        ended = sessions_end_others(user_id=_member_id(request), current=current_of(request))
        return Response(self.OutputSerializer({"ended": ended}).data)
