"""The payment app's periodic tasks (Celery beat): the chain watcher, every PAYMENT_WATCH_SECONDS, and
the exchange rates, every PAYMENT_RATE_FETCH_SECONDS when PAYMENT_RATE_URL is set."""

from __future__ import annotations

import logging

from celery import shared_task

from apps.payment.rates import RateError
from apps.payment.services import invoices_watch, rates_refresh

logger = logging.getLogger(__name__)


@shared_task(name="payment.watch_invoices", ignore_result=True)
def watch_invoices() -> int:
    """Check open invoices against the chain; returns how many were checked (0 while backing off)."""
    return invoices_watch().checked


@shared_task(name="payment.fetch_rates", ignore_result=True)
def fetch_rates() -> int:
    """Store the rates PAYMENT_RATE_URL gives; returns how many. A failure is logged, not retried: the
    next beat tries again, and meanwhile the stored rates age until fiat invoices are refused."""
    try:
        return len(rates_refresh())
    except RateError as error:
        logger.warning("the exchange rate API failed: %s", error)
        return 0
