"""Internal API of the user app, for services split out of the forum: signed calls only.

Mounted under /internal/v1/ by config.urls; forum.internal_auth refuses unsigned calls. These endpoints
serve ``apps.user.services.users_brief``, so a service calls either the function or the URL and gets
the same answer.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from apps.user.services import USERS_BRIEF_MAX, user_brief, users_brief
from forum.internal_auth import InternalAPIView

# PostgreSQL's bigint: a larger id cannot name an account, and must not reach the query.
_MAX_ID = 2**63 - 1


class UserBriefOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    username = serializers.CharField()
    is_active = serializers.BooleanField()
    date_joined = serializers.DateTimeField()


class UserBriefView(InternalAPIView):
    """GET /internal/v1/users/<id>: one account, or 404."""

    def get(self, request: Request, user_id: int) -> Response:
        return Response(UserBriefOutput(user_brief(user_id=user_id)).data)


class UsersLookupView(InternalAPIView):
    """POST /internal/v1/users/lookup {"ids": [...]}: the accounts among the ids, in the order asked."""

    class InputSerializer(serializers.Serializer[Any]):
        ids = serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=_MAX_ID),
            allow_empty=True,
            max_length=USERS_BRIEF_MAX,
        )

    class OutputSerializer(serializers.Serializer[Any]):
        users = UserBriefOutput(many=True)

    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        briefs = users_brief(user_ids=given.validated_data["ids"])
        return Response(self.OutputSerializer({"users": briefs}).data)
