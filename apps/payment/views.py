"""Pages of the payment app: an invoice's checkout page (live), the member's invoices and receipts.

Members only (guests go to the sign-in page); someone else's invoice answers the 404 page, exactly as
one that does not exist. Every page works without JavaScript: the checkout page shows the expiry as a
time and has a "Check now" button. With it, static/payment/checkout.js counts down, follows the
invoice's topic over the WebSocket (``invoice:<id>``) and asks for a check now and then while the
invoice is open, swapping the live part of the page in from /live/.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.payment import services
from forum.errors import ApplicationError
from forum.paging import page_number
from forum.qr import qr_svg

# How often an open checkout page asks for a check (each is two reads of the chain API); within
# PAYMENT_CHECKS_PER_MINUTE with room for the member's own "Check now".
CHECK_EVERY_SECONDS = 20


def _member_id(request: HttpRequest) -> int:
    assert request.user.pk is not None, "login_required lets only members in"
    return int(request.user.pk)


def _live_context(invoice: services.InvoiceRef) -> dict[str, Any]:
    now = timezone.now()
    grace_end = invoice.expires_at + datetime.timedelta(minutes=settings.PAYMENT_LATE_GRACE_MINUTES)
    payable = invoice.is_open and invoice.due_sats > 0 and now <= invoice.expires_at
    context: dict[str, Any] = {
        "invoice": invoice,
        "payable": payable,
        "underpaid": invoice.state != "settled" and 0 < invoice.paid_sats < invoice.amount_sats,
        "within_grace": invoice.state == "expired" and now <= grace_end,
        "grace_end": grace_end,
        "check_every": CHECK_EVERY_SECONDS if invoice.is_open else 0,
    }
    if payable:
        context["bip21"] = invoice.bip21_uri
        context["qr"] = qr_svg(
            invoice.bip21_uri,
            css_class="checkout-qr__code",
            label=_("QR code of the payment: %(amount)s to %(address)s")
            % {"amount": invoice.due_btc, "address": invoice.address},
        )
    return context


@never_cache
@login_required
def checkout(request: HttpRequest, public_id: str) -> HttpResponse:
    invoice = services.invoice_get(public_id=public_id, viewer_id=_member_id(request))
    context = _live_context(invoice)
    context["live_topic"] = f"{services.LIVE_TOPIC}:{invoice.public_id}"
    return render(request, "payment/checkout.html", context)


@never_cache
@login_required
def checkout_live(request: HttpRequest, public_id: str) -> HttpResponse:
    """The live part of the checkout page alone, for checkout.js to swap in."""
    invoice = services.invoice_get(public_id=public_id, viewer_id=_member_id(request))
    return render(request, "payment/_checkout_live.html", _live_context(invoice))


def _wants_fragment(request: HttpRequest) -> bool:
    return request.headers.get("X-Requested-With") == "checkout"


@never_cache
@login_required
@require_POST
def checkout_check(request: HttpRequest, public_id: str) -> HttpResponse:
    """Read the chain for the invoice now (rate-limited per member). The button of the page answers
    with the page again; checkout.js gets the live part, or the error's status with an empty body."""
    viewer_id = _member_id(request)
    try:
        invoice = services.invoice_check_for_member(public_id=public_id, viewer_id=viewer_id)
    except ApplicationError as error:
        if error.status == 404:
            raise
        if _wants_fragment(request):
            response = HttpResponse(status=error.status)
            for name, value in error.headers.items():
                response[name] = value
            return response
        messages.error(request, error.message)
        return redirect(reverse("payment:checkout", args=[public_id]))
    if _wants_fragment(request):
        return render(request, "payment/_checkout_live.html", _live_context(invoice))
    return redirect(reverse("payment:checkout", args=[public_id]))


@never_cache
@login_required
def invoice_list(request: HttpRequest) -> HttpResponse:
    page = services.invoices_page(member_id=_member_id(request), page=page_number(request.GET.get("page")))
    return render(request, "payment/invoices.html", {"page": page})


@never_cache
@login_required
def receipt(request: HttpRequest, public_id: str) -> HttpResponse:
    found = services.invoice_receipt(public_id=public_id, viewer_id=_member_id(request))
    return render(request, "payment/receipt.html", {"invoice": found.invoice, "payments": found.payments})
