"""API of the frame app: the catalogue, the caller's frames, buying one (an invoice to pay at the
checkout page), and wearing one or none. Amounts are whole satoshis; refusals are the one JSON error
shape (403 ``holders_only``, 404, 409 ``frame_owned`` or ``sold_out``, 503 ``payments_unavailable``)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.frame import services
from forum.errors import ErrorSerializer

TAGS = ["frames"]
REFUSALS = ["", "guest", "owned", "holders_only", "sold_out"]


def _member_id(request: Request) -> int:
    assert request.user.pk is not None, "IsAuthenticated lets only members in"
    return int(request.user.pk)


def _viewer_id(request: Request) -> int | None:
    return int(request.user.pk) if request.user.is_authenticated and request.user.pk is not None else None


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


class Frame(serializers.Serializer[Any]):
    """A frame of the catalogue (a module-level serializer: its component is ``Frame``)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    image_url = serializers.CharField(help_text="Its picture: square, the avatar fills its middle 80%.")
    price_sats = serializers.IntegerField(help_text="The price, in whole satoshis.")
    left = serializers.IntegerField(
        allow_null=True, help_text="How many are left of a limited edition; null: unlimited."
    )
    holders_only_status = serializers.CharField(
        help_text="Only holders of this status (its code) may buy it; empty: anyone."
    )
    active = serializers.BooleanField(help_text="On sale.")


class CatalogueEntry(serializers.Serializer[Any]):
    frame = Frame()
    owned = serializers.BooleanField()
    equipped = serializers.BooleanField(help_text="The caller wears it.")
    can_buy = serializers.BooleanField()
    refusal = serializers.ChoiceField(
        choices=REFUSALS, help_text="Why the caller may not buy it; empty when they may."
    )


class FrameListView(APIView):
    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer[Any]):
        frames = CatalogueEntry(many=True)

    @extend_schema(
        tags=TAGS,
        summary="The frames on sale",
        description="In the catalogue's order, with what the caller owns and wears (guests may list them).",
        responses={200: OutputSerializer},
    )
    def get(self, request: Request) -> Response:
        entries = services.frame_catalogue(viewer_id=_viewer_id(request))
        return Response(self.OutputSerializer({"frames": entries}).data)


class MyFramesView(APIView):
    permission_classes = [IsAuthenticated]

    class OwnedSerializer(serializers.Serializer[Any]):
        frame = Frame()
        source = serializers.ChoiceField(choices=["bought", "granted"])
        equipped = serializers.BooleanField()
        since = serializers.DateTimeField()

    @extend_schema(
        tags=TAGS,
        summary="The caller's frames",
        description="Every frame the caller owns, bought or granted, oldest first; at most one is worn.",
        responses={200: OwnedSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        owned = services.frames_owned(member_id=_member_id(request))
        return Response(self.OwnedSerializer(owned, many=True).data)


class FrameBuyView(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer[Any]):
        invoice_id = serializers.CharField(
            help_text="The payment app's invoice (`GET /api/v1/invoices/<id>`)."
        )
        checkout_url = serializers.CharField(help_text="The page where the member pays it.")
        frame_id = serializers.IntegerField()
        amount_sats = serializers.IntegerField()
        reused = serializers.BooleanField(help_text="The caller's invoice for this frame still open or paid.")

    @extend_schema(
        tags=TAGS,
        summary="Buy a frame",
        description="Makes an invoice for the frame (or answers the caller's invoice for it still open "
        "or paid, with 200). The frame is the caller's once the invoice is settled.",
        request=None,
        responses={
            201: OutputSerializer,
            200: OutputSerializer,
            403: _error("The frame is only for holders of a status the caller lacks (`holders_only`)."),
            404: _error("No frame on sale has this id."),
            409: _error("The caller owns it (`frame_owned`), or it is sold out (`sold_out`)."),
            503: _error("Payments are not set up on this forum."),
        },
    )
    def post(self, request: Request, frame_id: int) -> Response:
        purchase = services.frame_buy(member_id=_member_id(request), frame_id=frame_id)
        return Response(self.OutputSerializer(purchase).data, status=200 if purchase.reused else 201)


class WornFrameView(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        frame_id = serializers.IntegerField(min_value=1, help_text="One of the caller's frames.")

    class OutputSerializer(serializers.Serializer[Any]):
        frame_id = serializers.IntegerField()
        name = serializers.CharField()
        image_url = serializers.CharField()

    @extend_schema(
        tags=TAGS,
        summary="Wear a frame",
        description="The caller wears this frame of theirs, and no other.",
        request=InputSerializer,
        responses={200: OutputSerializer, 404: _error("The caller does not own this frame.")},
    )
    def put(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        worn = services.frame_equip(member_id=_member_id(request), frame_id=given.validated_data["frame_id"])
        return Response(self.OutputSerializer(worn).data)

    @extend_schema(
        tags=TAGS,
        summary="Wear no frame",
        description="Takes off the caller's frame, if they wear one.",
        request=None,
        responses={204: None},
    )
    def delete(self, request: Request) -> Response:
        services.frame_unequip(member_id=_member_id(request))
        return Response(status=204)
