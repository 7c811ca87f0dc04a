"""The support app's metrics at /metrics, read at each scrape (registered with forum.metrics)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from apps.support.services import sla_breaches


def sla_metrics() -> Iterator[Metric]:
    breaches = sla_breaches()
    now = GaugeMetricFamily(
        "forum_support_sla_breached_tickets",
        "Open support tickets past an SLA target now, by target (first_response, resolution).",
        labels=["target"],
    )
    now.add_metric(["first_response"], breaches.first_response_open)
    now.add_metric(["resolution"], breaches.resolution_open)
    yield now
    ever = GaugeMetricFamily(
        "forum_support_sla_breaches",
        "Support tickets that missed an SLA target, open or not, by target (first_response, resolution).",
        labels=["target"],
    )
    ever.add_metric(["first_response"], breaches.first_response_total)
    ever.add_metric(["resolution"], breaches.resolution_total)
    yield ever
