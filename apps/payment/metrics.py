"""The payment app's figures for /metrics and the /health/ready details: the watcher's lag and
failures, open invoices, the gap-limit warning, and exchange rates too old to make invoices."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from apps.payment.services import gap_limit_status, rates_current, watcher_status

logger = logging.getLogger(__name__)


def readiness_detail() -> dict[str, Any]:
    watcher = watcher_status()
    gap = gap_limit_status()
    warnings = []
    if watcher["behind"]:
        warnings.append("the chain watcher is behind")
    if gap["exceeded"]:
        warnings.append(
            f"{gap['unpaid_ahead']} unpaid addresses ahead of the last paid one, over the gap limit of "
            f"{gap['gap_limit']}: raise the wallet's gap limit or it will miss payments"
        )
    stale = [rate.currency for rate in rates_current() if not rate.usable]
    if stale:
        warnings.append(
            f"exchange rates out of date ({', '.join(stale)}): invoices in these currencies are refused"
        )
    for warning in warnings:
        logger.warning("payments: %s", warning)
    return {"watcher": watcher, "gap": gap, "stale_rates": stale, "warnings": warnings}


def payment_metrics() -> Iterator[Metric]:
    watcher = watcher_status()
    gap = gap_limit_status()
    lag = GaugeMetricFamily(
        "forum_payment_watcher_lag_seconds",
        "Seconds since the chain watcher last read the chain API (-1: never)",
    )
    lag.add_metric([], float(watcher["lag_seconds"]) if watcher["lag_seconds"] is not None else -1.0)  # type: ignore[arg-type]
    yield lag
    behind = GaugeMetricFamily(
        "forum_payment_watcher_behind", "1 when open invoices wait on a watcher that lags"
    )
    behind.add_metric([], 1.0 if watcher["behind"] else 0.0)
    yield behind
    failures = GaugeMetricFamily("forum_payment_watcher_failures", "Chain API failures in a row")
    failures.add_metric([], float(watcher["failures"]))  # type: ignore[arg-type]
    yield failures
    open_invoices = GaugeMetricFamily("forum_payment_open_invoices", "Invoices the watcher checks")
    open_invoices.add_metric([], float(watcher["open_invoices"]))  # type: ignore[arg-type]
    yield open_invoices
    ahead = GaugeMetricFamily(
        "forum_payment_unpaid_addresses_ahead", "Unpaid addresses after the last paid one"
    )
    ahead.add_metric([], float(gap["unpaid_ahead"]))
    yield ahead
