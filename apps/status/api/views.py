"""API of the status app: the catalogue of statuses and the signed-in member's grants."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.status.models import GrantSource
from apps.status.services import GrantState, status_catalogue, status_grants_of


@extend_schema_field(
    {
        "oneOf": [{"type": "boolean"}, {"type": "integer", "minimum": 0}],
        "nullable": True,
        "description": "A flag's true or false, or a limit's or quota's number; null means no limit.",
    }
)
class PermissionValueField(serializers.Field):  # type: ignore[type-arg]
    def to_representation(self, value: Any) -> Any:
        return value


# Parts of the answers below; a module-level serializer's component is named after its class.
class StatusPermission(serializers.Serializer[Any]):
    permission = serializers.CharField(help_text="Code of the permission, e.g. `thread.create_per_day`.")
    value = PermissionValueField()


class CatalogueStatus(serializers.Serializer[Any]):
    code = serializers.CharField()
    name = serializers.CharField(help_text="In the language of the answer.")
    description = serializers.CharField(help_text="In the language of the answer.")
    permissions = StatusPermission(many=True, help_text="What holding the status permits.")


class MemberStatusGrant(serializers.Serializer[Any]):
    grant_id = serializers.IntegerField()
    status = serializers.CharField(source="status_code", help_text="Code of the status.")
    status_name = serializers.CharField(help_text="In the language of the answer.")
    state = serializers.ChoiceField(choices=[state.value for state in GrantState])
    source = serializers.ChoiceField(choices=GrantSource.values)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(allow_null=True, help_text="Null: the status is for good.")
    revoked_at = serializers.DateTimeField(allow_null=True)
    expired_at = serializers.DateTimeField(allow_null=True)


class StatusCatalogueView(APIView):
    """The statuses members can hold, and what each one permits."""

    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer[Any]):
        statuses = CatalogueStatus(many=True)

    @extend_schema(tags=["statuses"], summary="The catalogue of statuses", responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        statuses = [
            {
                "code": status.code,
                "name": status.name,
                "description": status.description,
                "permissions": [
                    {"permission": code, "value": value} for code, value in sorted(status.permissions.items())
                ],
            }
            for status in status_catalogue()
        ]
        return Response(self.OutputSerializer({"statuses": statuses}).data)


class MyStatusGrantsView(APIView):
    """Every status grant of the signed-in member, newest first, with its state now."""

    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer[Any]):
        grants = MemberStatusGrant(many=True)

    @extend_schema(tags=["statuses"], summary="My status grants", responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        grants = status_grants_of(user_id=request.user.pk)
        return Response(self.OutputSerializer({"grants": grants}).data)
