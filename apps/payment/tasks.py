"""The chain watcher's periodic task (Celery beat, every PAYMENT_WATCH_SECONDS)."""

from __future__ import annotations

from celery import shared_task

from apps.payment.services import invoices_watch


@shared_task(name="payment.watch_invoices", ignore_result=True)
def watch_invoices() -> int:
    """Check open invoices against the chain; returns how many were checked (0 while backing off)."""
    return invoices_watch().checked
