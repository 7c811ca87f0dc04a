"""The development chain as an Esplora HTTP API under /dev/esplora/ (development and tests only):
the endpoints the watcher reads, in Esplora's shapes, so that it talks to this exactly as to a
public Esplora, electrs or mempool.space."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from apps.payment import chain


def _available() -> None:
    if not settings.PAYMENT_DEV_CHAIN:
        raise Http404


@never_cache
@require_safe
def tip_height(request: HttpRequest) -> HttpResponse:
    _available()
    return HttpResponse(str(chain.tip_height()), content_type="text/plain")


@never_cache
@require_safe
def address_transactions(request: HttpRequest, address: str) -> JsonResponse:
    _available()
    return JsonResponse(chain.transactions_to(address), safe=False)


@never_cache
@require_safe
def transaction_detail(request: HttpRequest, txid: str) -> JsonResponse:
    _available()
    row = chain.transaction_by_id(txid)
    if row is None:
        raise Http404
    return JsonResponse(chain.transaction_json(row, chain.tip_height()))


@never_cache
@require_safe
def transaction_status(request: HttpRequest, txid: str) -> JsonResponse:
    _available()
    row = chain.transaction_by_id(txid)
    if row is None:
        raise Http404
    return JsonResponse(chain.transaction_json(row, chain.tip_height())["status"])


@never_cache
@require_safe
def transaction_hex(request: HttpRequest, txid: str) -> HttpResponse:
    _available()
    row = chain.transaction_by_id(txid)
    if row is None:
        raise Http404
    return HttpResponse(row.raw_hex, content_type="text/plain")


urlpatterns = [
    path("blocks/tip/height", tip_height),
    path("address/<str:address>/txs", address_transactions),
    path("tx/<str:txid>", transaction_detail),
    path("tx/<str:txid>/status", transaction_status),
    path("tx/<str:txid>/hex", transaction_hex),
]
