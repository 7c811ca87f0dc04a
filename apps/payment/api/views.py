"""API of the payment app: create an invoice for a product, read it, ask for a check, list one's own;
and the exchange rates fiat prices are converted at.

Members only. Someone else's invoice answers 404, as one that does not exist: an invoice's public id
is its only name, and nobody learns from the answer that another member's exists. Amounts are whole
satoshis (integers) in every answer.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
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
    fiat_currency = serializers.CharField(
        help_text='For a price in a fiat currency: its code (`USD`, ...); `""` for a price in satoshis.'
    )
    fiat_amount_cents = serializers.IntegerField(
        allow_null=True, help_text="The fiat price in hundredths (cents), or null."
    )
    fiat_rate = serializers.CharField(
        allow_null=True,
        help_text="The price of one bitcoin in `fiat_currency` when the invoice was made (an exact decimal "
        "string, never a float), or null. `amount_sats` = ceil(`fiat_amount_cents` × 10^6 / `fiat_rate`).",
    )
    paid_sats = serializers.IntegerField(help_text="Seen so far at the address, confirmed or not.")
    due_sats = serializers.IntegerField(help_text="What is left to pay, to the same address.")
    address = serializers.CharField(help_text="A fresh address of this invoice only.")
    network = serializers.CharField(help_text="`bitcoin`, `testnet`, `signet` or `regtest`.")
    bip21_uri = serializers.CharField(help_text="`bitcoin:` link for wallets and QR codes (what is due).")
    state = serializers.ChoiceField(choices=STATES)
    required_confirmations = serializers.IntegerField(help_text="Confirmations it settles after.")
    confirmations = serializers.IntegerField(
        help_text="The fewest confirmations among the payments seen, as the watcher last read them."
    )
    checkout_url = serializers.SerializerMethodField(help_text="Its checkout page on this site.")
    overpaid = serializers.BooleanField()
    late = serializers.BooleanField(help_text="Paid after the expiry (settled by rule within the grace).")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    settled_at = serializers.DateTimeField(allow_null=True)

    def get_product(self, invoice: services.InvoiceRef) -> str:
        return f"{invoice.product_app}:{invoice.product_code}"

    def get_checkout_url(self, invoice: services.InvoiceRef) -> str:
        return reverse("payment:checkout", args=[invoice.public_id])


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
        description="A new invoice at a fresh address for a product on sale, at its price now. A price "
        "in a fiat currency is converted at the stored exchange rate, which the invoice keeps. It "
        "expires unpaid after the configured time; partial payments to its address add up.",
        request=InputSerializer,
        responses={
            201: OutputSerializer,
            404: _error("No product on sale has this name."),
            409: _error(
                "The product is priced in a fiat currency whose exchange rate is missing or out of date "
                "(code `rate_unavailable`); try again later."
            ),
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


class RatesView(APIView):
    """Public: the rates are what any price on the forum is converted at, no secret."""

    permission_classes = [AllowAny]

    class OutputSerializer(serializers.Serializer[Any]):
        class Rate(serializers.Serializer[Any]):
            currency = serializers.CharField(help_text="`USD`, `EUR`, ...")
            fiat_per_btc = serializers.CharField(
                help_text="The price of one bitcoin in the currency, an exact decimal string."
            )
            # DRF's metaclass takes declared fields off the class: this hides no Field.source.
            source = serializers.ChoiceField(  # type: ignore[assignment]
                choices=["api", "admin"], help_text="Fetched from the rate API, or set by staff."
            )
            updated_at = serializers.DateTimeField()
            usable_until = serializers.DateTimeField(
                help_text="After this, invoices in the currency are refused until the rate is renewed."
            )
            usable = serializers.BooleanField()

        currencies = serializers.ListField(
            child=serializers.CharField(), help_text="The currencies prices may be given in."
        )
        rates = Rate(many=True)

    @extend_schema(
        tags=TAGS,
        summary="Exchange rates",
        description="The stored price of one bitcoin in each fiat currency (never fetched during the "
        "request): what a new invoice with a fiat price is converted at.",
        responses={200: OutputSerializer},
    )
    def get(self, request: Request) -> Response:
        body = {"currencies": list(settings.PAYMENT_FIAT_CURRENCIES), "rates": services.rates_current()}
        return Response(self.OutputSerializer(body).data)
