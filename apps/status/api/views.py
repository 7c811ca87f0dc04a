"""API of the status app: the catalogue of statuses, the signed-in member's grants, and the plans on sale."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.status.models import GrantSource
from apps.status.services import GrantState, plan_buy, shop_catalogue, status_catalogue, status_grants_of
from forum.errors import ErrorSerializer


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


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


class PlanGives(serializers.Serializer[Any]):
    permission = serializers.CharField(source="code", help_text="Code of the permission.")
    description = serializers.CharField(help_text="What it allows, in the language of the answer.")
    value = PermissionValueField()


class PlanOnSale(serializers.Serializer[Any]):
    id = serializers.IntegerField(source="plan_id")
    days = serializers.IntegerField(allow_null=True, help_text="Null: the status is for good.")
    price_sats = serializers.IntegerField(
        allow_null=True, help_text="Whole satoshis; null when priced in a currency."
    )
    price_fiat_cents = serializers.IntegerField(
        allow_null=True, help_text="Hundredths of `currency`; turned into satoshis when the invoice is made."
    )
    currency = serializers.CharField(help_text="ISO 4217 code of a currency price; empty for satoshis.")


class ShopEntry(serializers.Serializer[Any]):
    code = serializers.CharField()
    name = serializers.CharField(help_text="In the language of the answer.")
    description = serializers.CharField(help_text="In the language of the answer.")
    gives = PlanGives(many=True, help_text="What holding the status permits, from the permission registry.")
    plans = PlanOnSale(many=True)


class StatusPlansView(APIView):
    """The statuses on sale, what each gives, and their plans (open to anyone)."""

    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer[Any]):
        statuses = ShopEntry(many=True)

    @extend_schema(tags=["statuses"], summary="Status plans on sale", responses={200: OutputSerializer})
    def get(self, request: Request) -> Response:
        return Response(self.OutputSerializer({"statuses": shop_catalogue(viewer_id=None)}).data)


class StatusPlanBuyView(APIView):
    """Buy a plan: a new invoice for it, paid on its checkout page (or through the invoice API)."""

    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer[Any]):
        invoice_id = serializers.CharField(help_text="The invoice's id for `/api/v1/invoices/<id>`.")
        plan_id = serializers.IntegerField()
        amount_sats = serializers.IntegerField(help_text="Whole satoshis.")
        checkout_url = serializers.CharField(help_text="The page where the member pays it.")

    @extend_schema(
        tags=["statuses"],
        summary="Buy a status plan",
        request=None,
        responses={
            201: OutputSerializer,
            404: _error("No plan on sale has this id."),
            409: _error("A timed plan of a status the member holds for good."),
            503: _error("Payments are not set up on this forum."),
        },
    )
    def post(self, request: Request, plan_id: int) -> Response:
        assert request.user.pk is not None, "IsAuthenticated lets only members in"
        invoice = plan_buy(user_id=int(request.user.pk), plan_id=plan_id)
        return Response(self.OutputSerializer(invoice).data, status=201)
