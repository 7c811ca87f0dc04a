"""Pages of the status app: the shop of statuses (/shop/) and the one-click renewal of a bought grant.

Buying is a POST form (no JavaScript needed): it asks the payment app for an invoice and sends the
member to its checkout page. Guests see the shop with a sign-in link instead of the buttons.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.status import services
from forum.errors import ApplicationError


def _viewer_id(request: HttpRequest) -> int | None:
    return int(request.user.pk) if request.user.is_authenticated and request.user.pk is not None else None


def _page(request: HttpRequest, *, status: int = 200) -> HttpResponse:
    context = {"statuses": services.shop_catalogue(viewer_id=_viewer_id(request))}
    return render(request, "status/shop.html", context, status=status)


@never_cache
def shop(request: HttpRequest) -> HttpResponse:
    return _page(request)


def _plan_id(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 12 else None


@never_cache
@login_required
@require_POST
def buy(request: HttpRequest) -> HttpResponse:
    viewer_id = _viewer_id(request)
    assert viewer_id is not None, "login_required lets only members in"
    plan_id = _plan_id(request.POST.get("plan"))
    if plan_id is None:
        messages.error(request, _("Choose a plan."))
        return _page(request, status=400)
    try:
        invoice = services.plan_buy(user_id=viewer_id, plan_id=plan_id)
    except ApplicationError as error:
        messages.error(request, error.message)
        return _page(request, status=error.status)
    return redirect(invoice.checkout_url)


@never_cache
@login_required
def renew(request: HttpRequest, grant_id: int) -> HttpResponse:
    """GET: what renewing buys, with one button; POST: the invoice, then its checkout page."""
    viewer_id = _viewer_id(request)
    assert viewer_id is not None, "login_required lets only members in"
    plan = services.plan_renewal_of(user_id=viewer_id, grant_id=grant_id)
    if request.method == "POST":
        try:
            invoice = services.plan_renew(user_id=viewer_id, grant_id=grant_id)
        except ApplicationError as error:
            messages.error(request, error.message)
            return render(request, "status/renew.html", {"plan": plan}, status=error.status)
        return redirect(invoice.checkout_url)
    return render(request, "status/renew.html", {"plan": plan})
