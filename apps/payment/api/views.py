"""API of the payment app: create an invoice for a product, read it, ask for a check, list one's own.

Members only. Someone else's invoice answers 404, as one that does not exist: an invoice's public id
is its only name, and nobody learns from the answer that another member's exists. Amounts are whole
satoshis (integers) in every answer.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.payment import services
from forum.api import PAGE_PARAMETER, page_asked
from forum.errors import ErrorSerializer, ValidationFailed
from forum.paging import page_as_asked

TAGS = ["payments"]
STATES = list(services.STATES)


def _member_id(request: Request) -> int:
    assert request.user.pk is not None, "IsAuthenticated lets only members in"
    return int(request.user.pk)


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


class Invoice(serializers.Serializer[Any]):
    """An invoice as its owner sees it (a module-level serializer: its component is ``Invoice``)."""

    id = serializers.CharField(source="public_id", help_text="The invoice's public id, not guessable.")
    product = serializers.SerializerMethodField(help_text="`<app>:<code>` of what it pays for.")
    product_ref = serializers.CharField(help_text="What the selling app asked to be given back.")
    title = serializers.CharField()
    amount_sats = serializers.IntegerField(help_text="The price, in whole satoshis.")
    paid_sats = serializers.IntegerField(help_text="Seen so far at the address, confirmed or not.")
    due_sats = serializers.IntegerField(help_text="What is left to pay, to the same address.")
    address = serializers.CharField(help_text="A fresh address of this invoice only.")
    network = serializers.CharField(help_text="`bitcoin`, `testnet`, `signet` or `regtest`.")
    bip21_uri = serializers.CharField(help_text="`bitcoin:` link for wallets and QR codes (what is due).")
    state = serializers.ChoiceField(choices=STATES)
    required_confirmations = serializers.IntegerField(help_text="Confirmations it settles after.")
    overpaid = serializers.BooleanField()
    late = serializers.BooleanField(help_text="Paid after the expiry (settled by rule within the grace).")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    settled_at = serializers.DateTimeField(allow_null=True)

    def get_product(self, invoice: services.InvoiceRef) -> str:
        return f"{invoice.product_app}:{invoice.product_code}"


class InvoiceCreateView(APIView):
    permission_classes = [IsAuthenticated]

    class InputSerializer(serializers.Serializer[Any]):
        product = serializers.CharField(max_length=151, help_text="`<app>:<code>`, as its app registered it.")
        ref = serializers.CharField(
            required=False, allow_blank=True, max_length=100, help_text="Given back to the selling app."
        )

    class OutputSerializer(Invoice):
        pass

    @extend_schema(
        tags=TAGS,
        summary="Make an invoice",
        description="A new invoice at a fresh address for a product on sale, at its price now. It "
        "expires unpaid after the configured time; partial payments to its address add up.",
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            404: _error("No product on sale has this name."),
            503: _error("Payments are not set up on this forum."),
        },
    )
    def post(self, request: Request) -> Response:
        given = self.InputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        app_label, colon, code = given.validated_data["product"].partition(":")
        if not colon or not app_label or not code:
            message = _("A product is named <app>:<code>.")
            raise ValidationFailed(message, fields={"product": [message]})
        invoice = services.invoice_create(
            member_id=_member_id(request),
            product_app=app_label,
            product_code=code,
            product_ref=given.validated_data.get("ref", ""),
        )
        return Response(self.OutputSerializer(invoice).data, status=201)


class InvoiceDetailView(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(Invoice):
        pass

    @extend_schema(
        tags=TAGS,
        summary="An invoice of the caller",
        description="Its state as the watcher last saw it; `POST .../check` reads the chain now.",
        responses={200: OutputSerializer, 404: _error("The caller has no invoice with this id.")},
    )
    def get(self, request: Request, public_id: str) -> Response:
        invoice = services.invoice_get(public_id=public_id, viewer_id=_member_id(request))
        return Response(self.OutputSerializer(invoice).data)


class InvoiceCheckView(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(Invoice):
        pass

    @extend_schema(
        tags=TAGS,
        summary="Check an invoice against the chain now",
        description="What a checkout page asks while it is open, between the watcher's rounds. "
        "Limited per member a minute (429 with `Retry-After` past it).",
        request=None,
        responses={
            200: OutputSerializer,
            404: _error("The caller has no invoice with this id."),
            429: _error("Too many checks in the last minute."),
            503: _error("The chain API cannot be read right now."),
        },
    )
    def post(self, request: Request, public_id: str) -> Response:
        invoice = services.invoice_check_for_member(public_id=public_id, viewer_id=_member_id(request))
        return Response(self.OutputSerializer(invoice).data)


class MyInvoicesView(APIView):
    permission_classes = [IsAuthenticated]

    class OutputSerializer(serializers.Serializer[Any]):
        page = serializers.IntegerField(source="number")
        pages = serializers.IntegerField()
        total = serializers.IntegerField()
        invoices = Invoice(many=True, source="items")

    @extend_schema(
        tags=TAGS,
        summary="The caller's invoices",
        description=f"Newest first, {services.INVOICES_PER_PAGE} a page.",
        parameters=[PAGE_PARAMETER],
        responses={200: OutputSerializer},
    )
    def get(self, request: Request) -> Response:
        asked = page_asked(request)
        page = services.invoices_page(member_id=_member_id(request), page=asked)
        return Response(self.OutputSerializer(page_as_asked(page, asked)).data)
