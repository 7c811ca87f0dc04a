"""Django admin of payments: products (registered by the apps that sell them) and invoices.

Invoices are read-only: their state moves by the watcher, or by staff through the "settle" and "cancel"
actions, which ask for a reason and call the services, so that the reason lands in the invoice's
history and the events (``payment.invoice_settled`` once, ``_expired``) are published as for the
watcher. Products are created by their apps (``services.product_register``); staff may only take one
off sale here, since the app would overwrite a changed title or price the next time it registers it.
Exchange rates: staff set the price of one bitcoin in a currency (``services.rate_set``); when
PAYMENT_RATE_URL is set, the rates the task fetches from it show here too (and replace staff's).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Q, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.payment import rates
from apps.payment.models import ExchangeRate, Invoice, InvoiceEvent, Payment, Product
from apps.payment.services import (
    gap_limit_status,
    invoice_cancel,
    invoice_settle_manually,
    rate_set,
    rate_usable_until,
)
from forum.errors import ApplicationError

REASON_MAX_LENGTH = 500


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "app_label",
        "code",
        "title",
        "price_sats",
        "price_fiat_cents",
        "fiat_currency",
        "active",
        "updated_at",
    ]
    list_filter = ["app_label", "active", "fiat_currency"]
    search_fields = ["app_label", "code", "title"]
    fields = [
        "app_label",
        "code",
        "title",
        "price_sats",
        "price_fiat_cents",
        "fiat_currency",
        "return_url",
        "active",
        "updated_at",
    ]
    readonly_fields = [
        "app_label",
        "code",
        "title",
        "price_sats",
        "price_fiat_cents",
        "fiat_currency",
        "return_url",
        "updated_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the selling apps register their products

    def has_delete_permission(self, request: HttpRequest, obj: Product | None = None) -> bool:
        return False  # invoices name products; taking one off sale is "active"


class ExchangeRateForm(ModelForm):  # type: ignore[type-arg]
    currency = forms.ChoiceField(label=_("Currency"), choices=())
    fiat_per_btc = forms.CharField(
        label=_("Price of one bitcoin"),
        max_length=30,
        help_text=_("In the currency, e.g. 67187.34. Invoices in this currency use it from now on."),
    )

    class Meta:
        model = ExchangeRate
        fields = ["currency", "fiat_per_btc"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(code, code) for code in settings.PAYMENT_FIAT_CURRENCIES]  # type: ignore[attr-defined]
        if self.instance.pk:
            self.fields["currency"].disabled = True

    def clean_fiat_per_btc(self) -> Decimal:
        try:
            return rates.parse_one(self.cleaned_data["fiat_per_btc"])
        except rates.RateError:
            raise forms.ValidationError(_("A rate is the price of one bitcoin, a positive number.")) from None


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Rates staff set, or the rate API's (source): saving goes through ``services.rate_set``, which
    validates the rate as an exact decimal and stamps the time and the staff member."""

    form = ExchangeRateForm
    list_display = ["currency", "fiat_per_btc", "source", "updated_at", "updated_by", "usable"]
    list_select_related = ["updated_by"]
    readonly_fields = ["source", "updated_at", "updated_by"]

    @admin.display(boolean=True, description=_("usable"))
    def usable(self, obj: ExchangeRate) -> bool:
        return timezone.now() <= rate_usable_until(source=obj.source, updated_at=obj.updated_at)

    def get_fields(self, request: HttpRequest, obj: ExchangeRate | None = None) -> list[Any]:
        return ["currency", "fiat_per_btc", *(["source", "updated_at", "updated_by"] if obj else [])]

    def save_model(self, request: HttpRequest, obj: ExchangeRate, form: Any, change: bool) -> None:
        try:
            saved = rate_set(
                currency=form.cleaned_data["currency"] if not change else obj.currency,
                fiat_per_btc=form.cleaned_data["fiat_per_btc"],
                staff_id=int(request.user.pk or 0) or None,
            )
        except ApplicationError as error:
            self.message_user(request, error.message, messages.ERROR)
            return
        obj.pk = ExchangeRate.objects.get(currency=saved.currency).pk

    def has_delete_permission(self, request: HttpRequest, obj: ExchangeRate | None = None) -> bool:
        return bool(request.user.has_perm("payment.delete_exchangerate"))


class FlaggedFilter(admin.SimpleListFilter):
    title = _("flagged")
    parameter_name = "flagged"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("any", _("Overpaid or late")), ("overpaid", _("Overpaid")), ("late", _("Late"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> QuerySet[Invoice]:
        if self.value() == "any":
            return queryset.filter(Q(overpaid=True) | Q(late=True))
        if self.value() == "overpaid":
            return queryset.filter(overpaid=True)
        if self.value() == "late":
            return queryset.filter(late=True)
        return queryset


class ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PaymentInline(ReadOnlyInline):
    model = Payment
    fields = readonly_fields = ("txid", "vout", "amount_sats", "block_height", "seen_at", "gone_at")
    verbose_name_plural = _("payments seen")


class InvoiceEventInline(ReadOnlyInline):
    model = InvoiceEvent
    fields = readonly_fields = ("created_at", "kind", "state", "detail", "actor")
    verbose_name_plural = _("history")

    def get_queryset(self, request: HttpRequest) -> QuerySet[InvoiceEvent]:
        return super().get_queryset(request).select_related("actor")


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=REASON_MAX_LENGTH, widget=forms.Textarea)


_INVOICE_FIELDS = (
    "public_id",
    "member",
    "product_app",
    "product_code",
    "product_ref",
    "title",
    "amount_sats",
    "paid_sats",
    "address",
    "derivation_index",
    "network",
    "required_confirmations",
    "state",
    "overpaid",
    "late",
    "created_at",
    "expires_at",
    "settled_at",
    "checked_at",
)


@admin.register(Invoice)
class InvoiceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "public_id",
        "member",
        "title",
        "amount_sats",
        "paid_sats",
        "state",
        "overpaid",
        "late",
        "created_at",
    ]
    list_filter = ["state", FlaggedFilter, "product_app", "network"]
    list_select_related = ["member"]
    search_fields = ["=public_id", "=address", "member__username"]
    date_hierarchy = "created_at"
    fields = _INVOICE_FIELDS
    readonly_fields = _INVOICE_FIELDS
    inlines = [PaymentInline, InvoiceEventInline]
    actions = ["settle", "cancel"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # members make invoices at checkout or through the API

    def has_change_permission(self, request: HttpRequest, obj: Invoice | None = None) -> bool:
        # The change page shows the invoice read-only; the actions need the view permission and
        # the explicit "change" codename checked in them.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Invoice | None = None) -> bool:
        return False  # an invoice is a record of money received

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        gap = gap_limit_status()
        if gap["exceeded"] and request.method == "GET":
            self.message_user(
                request,
                ngettext(
                    "%(ahead)d unpaid address follows the last paid one, more than the gap limit of "
                    "%(limit)d that wallets scan: raise the gap limit of the wallet that holds the keys, "
                    "or it will not see payments to the newest addresses.",
                    "%(ahead)d unpaid addresses follow the last paid one, more than the gap limit of "
                    "%(limit)d that wallets scan: raise the gap limit of the wallet that holds the keys, "
                    "or it will not see payments to the newest addresses.",
                    int(gap["unpaid_ahead"]),
                )
                % {"ahead": gap["unpaid_ahead"], "limit": gap["gap_limit"]},
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

    def _may_decide(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("payment.change_invoice"))

    def _with_reason(
        self,
        request: HttpRequest,
        queryset: QuerySet[Invoice],
        *,
        action: str,
        title: str,
        explanation: str,
        button: str,
    ) -> str | TemplateResponse:
        """The reason the staff member gave, or the page that asks for it."""
        form = ReasonForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            return str(form.cleaned_data["reason"])
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "explanation": explanation,
            "button": button,
            "action": action,
            "invoices": queryset.select_related("member"),
            "form": form,
            "opts": self.model._meta,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "payment/admin/reason.html", context)

    @admin.action(description=_("Settle the selected invoices (with a reason)"))
    def settle(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> HttpResponse | None:
        if not self._may_decide(request):
            self.message_user(request, _("You may not settle invoices."), messages.ERROR)
            return None
        reason = self._with_reason(
            request,
            queryset,
            action="settle",
            title=str(_("Settle the selected invoices")),
            explanation=str(
                _(
                    "The selling apps fulfil what a settled invoice pays for. "
                    "Say why these are settled by hand."
                )
            ),
            button=str(_("Settle")),
        )
        if not isinstance(reason, str):
            return reason
        self._apply(request, queryset, reason, invoice_settle_manually, _("Settled: %(count)d."))
        return None

    @admin.action(description=_("Cancel the selected invoices (with a reason)"))
    def cancel(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> HttpResponse | None:
        if not self._may_decide(request):
            self.message_user(request, _("You may not cancel invoices."), messages.ERROR)
            return None
        reason = self._with_reason(
            request,
            queryset,
            action="cancel",
            title=str(_("Cancel the selected invoices")),
            explanation=str(_("A cancelled invoice is closed as expired. Say why.")),
            button=str(_("Cancel the invoices")),
        )
        if not isinstance(reason, str):
            return reason
        self._apply(request, queryset, reason, invoice_cancel, _("Cancelled: %(count)d."))
        return None

    def _apply(
        self, request: HttpRequest, queryset: QuerySet[Invoice], reason: str, service: Any, done_text: Any
    ) -> None:
        done = 0
        for public_id in queryset.values_list("public_id", flat=True):
            try:
                service(public_id=public_id, staff_id=int(request.user.pk or 0), reason=reason)
                done += 1
            except ApplicationError as error:
                self.message_user(request, f"{public_id}: {error.message}", messages.WARNING)
        if done:
            self.message_user(request, done_text % {"count": done}, messages.SUCCESS)
