"""Prometheus metrics at /metrics."""

from django.http import HttpRequest, HttpResponse
from django_prometheus.exports import ExportToDjangoView


def metrics_view(request: HttpRequest) -> HttpResponse:
    return ExportToDjangoView(request)
