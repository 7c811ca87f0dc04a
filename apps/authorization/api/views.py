"""API of the authorization app: the signed-in member's effective permissions and quotas."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.authorization.permissions import PermissionKind, Role
from apps.authorization.services import permission_catalogue, permissions_for, quota_states


# Parts of the answer below; a module-level serializer's component is named after its class.
class EffectivePermission(serializers.Serializer[Any]):
    code = serializers.CharField()
    kind = serializers.ChoiceField(choices=[kind.value for kind in PermissionKind])
    description = serializers.CharField(help_text="In the language of the answer.")
    allowed = serializers.BooleanField(help_text="A flag that is set, or a limit or quota above zero.")
    limit = serializers.IntegerField(
        allow_null=True, help_text="For limits and quotas: the number; null means no limit. Null for flags."
    )


class QuotaStatus(serializers.Serializer[Any]):
    permission = serializers.CharField()
    limit = serializers.IntegerField(allow_null=True, help_text="Uses per period; null means no limit.")
    used = serializers.IntegerField(help_text="Uses within the last period (a rolling window).")
    remaining = serializers.IntegerField(allow_null=True, help_text="Null when there is no limit.")
    resets_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the next use comes back (the window moves past it); null if none used.",
    )
    period_seconds = serializers.IntegerField()


class MyPermissionsView(APIView):
    """What the signed-in member may do now: role, ban, statuses, every permission and every quota."""

    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer[Any]):
        user_id = serializers.IntegerField()
        role = serializers.ChoiceField(choices=[role.value for role in Role])
        banned = serializers.BooleanField()
        banned_until = serializers.DateTimeField(
            allow_null=True, help_text="Null with `banned`: until lifted."
        )
        statuses = serializers.ListField(
            child=serializers.CharField(), help_text="Codes of the statuses that grant permissions now."
        )
        permissions = EffectivePermission(many=True)
        quotas = QuotaStatus(many=True)

    @extend_schema(
        tags=["permissions"], summary="My permissions and quotas", responses={200: OutputSerializer}
    )
    def get(self, request: Request) -> Response:
        held = permissions_for(user_id=request.user.pk)
        permissions = []
        for info in permission_catalogue():
            value = held.values[info.code]
            permissions.append(
                {
                    "code": info.code,
                    "kind": info.kind.value,
                    "description": info.description,
                    "allowed": held.allows(info.code),
                    "limit": None if info.kind is PermissionKind.FLAG or value is None else int(value),
                }
            )
        body = {
            "user_id": held.user_id,
            "role": held.role.value if held.role else Role.USER.value,
            "banned": held.banned,
            "banned_until": held.banned_until,
            "statuses": list(held.statuses),
            "permissions": permissions,
            "quotas": quota_states(user_id=request.user.pk),
        }
        return Response(self.OutputSerializer(body).data)
