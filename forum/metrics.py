"""Prometheus metrics at /metrics: django-prometheus's, plus the forum's own read at scrape time.

What is exported:

- django-prometheus: requests, responses and latency by view name, method and status; database
  connections, queries and errors by alias (its database backend); cache and migration metrics.
- ``forum_http_request_duration_seconds{method,route,status}`` (``forum.request_context``): count and
  duration of requests by URL pattern, which django-prometheus labels only by view name.
- ``forum_outbox_pending_events`` and ``forum_outbox_oldest_pending_age_seconds``: the event backlog
  and how long its oldest undelivered row has waited, read from the database at scrape time.
- ``forum_database_connections{state}`` and ``forum_database_max_connections``: connections to the
  forum's PostgreSQL database by state, from ``pg_stat_activity``, against the server's limit.
- ``forum_celery_tasks_total{task,state}``: finished tasks by name and outcome (succeeded, failed,
  retried). Workers run in other processes and hosts, so each worker adds to a Redis hash that every
  web process reads; a Redis restart resets them, which Prometheus handles as a counter reset.
- Apps' own groups, added with ``register_source`` from their AppConfig.ready (the support app's SLA
  breaches: ``forum_support_sla_breached_tickets``, ``forum_support_sla_breaches``).
- ``forum_metrics_collector_up{collector}``: 0 when a source of the above could not be read.

Not public: the view answers 404 unless the client address (``REMOTE_ADDR``, never a forwarded
header, which a client can forge) is in ``METRICS_ALLOWED_NETWORKS``, and, when ``METRICS_TOKEN`` is
set, 401 unless the request carries it as a bearer token. Behind nginx every request comes from
nginx's address, so nginx must not pass /metrics on from the public side (``location = /metrics {
return 404; }``); Prometheus scrapes the application port directly.

With several server processes per container, set ``PROMETHEUS_MULTIPROC_DIR`` (prometheus_client's
multiprocess mode) so that a scrape sums every process and not just the one that answered.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import redis
from celery import signals
from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.backoff import NoBackoff
from redis.retry import Retry

from forum.models import OutboxEvent

__all__ = [
    "connect_celery_signals",
    "forum_collectors",
    "metrics_view",
    "record_task_outcome",
    "register_source",
    "task_counts",
    "task_counts_key",
]

logger = logging.getLogger(__name__)

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# --- Celery task outcomes, counted in Redis -------------------------------------------------------
_FIELD_SEPARATOR = "|"


def task_counts_key() -> str:
    """The Redis hash of task outcomes: field ``<task name>|<state>``, value the count."""
    return f"{settings.REDIS_KEY_PREFIX}:metrics:celery_tasks"


@functools.lru_cache(maxsize=4)
def _redis_client(url: str) -> redis.Redis:
    # Short timeouts and no retries: a task must not wait on a metric when Redis is slow or down.
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0))


def record_task_outcome(task_name: str, state: str) -> None:
    """Add one to the count of ``task_name`` finishing in ``state``; never raises."""
    try:
        _redis_client(settings.REDIS_URL).hincrby(
            task_counts_key(), f"{task_name}{_FIELD_SEPARATOR}{state}", 1
        )
    except redis.RedisError as error:
        logger.warning(
            "task outcome not counted", extra={"task": task_name, "state": state, "error": str(error)}
        )


def task_counts() -> dict[tuple[str, str], int]:
    """Every (task name, state) counted so far by any worker."""
    raw: dict[bytes, bytes] = _redis_client(settings.REDIS_URL).hgetall(task_counts_key())  # type: ignore[assignment]
    counts: dict[tuple[str, str], int] = {}
    for field, value in raw.items():
        task_name, _, state = field.decode().rpartition(_FIELD_SEPARATOR)
        counts[(task_name, state)] = int(value)
    return counts


def _task_name(sender: Any) -> str:
    return str(getattr(sender, "name", None) or sender or "unknown")


def _on_task_success(sender: Any = None, **kwargs: Any) -> None:
    record_task_outcome(_task_name(sender), "succeeded")


def _on_task_failure(sender: Any = None, **kwargs: Any) -> None:
    record_task_outcome(_task_name(sender), "failed")


def _on_task_retry(sender: Any = None, **kwargs: Any) -> None:
    record_task_outcome(_task_name(sender), "retried")


def connect_celery_signals() -> None:
    """Count task outcomes in the worker processes (called from ForumConfig.ready)."""
    signals.task_success.connect(_on_task_success, weak=False, dispatch_uid="forum.metrics.success")
    signals.task_failure.connect(_on_task_failure, weak=False, dispatch_uid="forum.metrics.failure")
    signals.task_retry.connect(_on_task_retry, weak=False, dispatch_uid="forum.metrics.retry")


# --- Read at scrape time ----------------------------------------------------------------------------
def _outbox_metrics() -> Iterator[Metric]:
    # clock_timestamp(), not now(): now() is the start of the transaction, which may be older.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), "
            "COALESCE(EXTRACT(EPOCH FROM clock_timestamp() - min(created_at)), 0) "
            f"FROM {OutboxEvent._meta.db_table} WHERE dispatched_at IS NULL"
        )
        pending, oldest_age = cursor.fetchone() or (0, 0)
    yield GaugeMetricFamily(
        "forum_outbox_pending_events", "Outbox events not yet handed to the broker.", value=pending
    )
    yield GaugeMetricFamily(
        "forum_outbox_oldest_pending_age_seconds",
        "Age of the oldest outbox event not yet handed to the broker (0 when there is none).",
        value=max(0.0, float(oldest_age)),
    )


def _database_connection_metrics() -> Iterator[Metric]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(state, 'unknown'), count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() GROUP BY 1"
        )
        by_state = cursor.fetchall()
        cursor.execute("SELECT current_setting('max_connections')::int")
        row = cursor.fetchone()
    connections = GaugeMetricFamily(
        "forum_database_connections",
        "Connections to the forum's database by state, from pg_stat_activity (all clients).",
        labels=["state"],
    )
    for state, count in by_state:
        connections.add_metric([state], count)
    yield connections
    yield GaugeMetricFamily(
        "forum_database_max_connections",
        "The database server's max_connections.",
        value=row[0] if row else 0,
    )


def _celery_task_metrics() -> Iterator[Metric]:
    tasks = CounterMetricFamily(
        "forum_celery_tasks",
        "Celery tasks that finished, by task name and outcome (succeeded, failed, retried).",
        labels=["task", "state"],
    )
    for (task_name, state), count in sorted(task_counts().items()):
        tasks.add_metric([task_name, state], count)
    yield tasks


class ForumCollector(Collector):
    """The forum's own metrics, read from their sources at each scrape.

    A source that cannot be read is reported by ``forum_metrics_collector_up`` and skipped, so that
    a database or Redis outage still leaves every other metric scrapeable.
    """

    sources: dict[str, Callable[[], Iterable[Metric]]] = {
        "outbox": _outbox_metrics,
        "database_connections": _database_connection_metrics,
        "celery_tasks": _celery_task_metrics,
    }

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "forum_metrics_collector_up",
            "1 when the source of a group of forum metrics could be read at this scrape.",
            labels=["collector"],
        )
        for name, source in self.sources.items():
            try:
                metrics = list(source())
            except Exception as error:  # noqa: BLE001 - one broken source must not fail the scrape
                logger.warning("metrics source failed", extra={"collector": name, "error": str(error)})
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from metrics
        yield up


def register_source(name: str, source: Callable[[], Iterable[Metric]]) -> None:
    """Add a group of metrics read at each scrape (an app's, from its AppConfig.ready: the kernel
    imports no app). ``source`` yields prometheus_client metric families; when it raises, the scrape
    goes on and ``forum_metrics_collector_up{collector=name}`` says 0. Registering a name again
    replaces its source."""
    ForumCollector.sources = {**ForumCollector.sources, name: source}


def forum_collectors() -> Collector:
    return ForumCollector()


class _Scrape(Collector):
    """What one scrape exports: the process's (or all processes') registry and the forum's own."""

    def __init__(self, *collectors: Any) -> None:
        self.collectors = collectors

    def collect(self) -> Iterable[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def _base_registry() -> Any:
    if settings.METRICS_MULTIPROCESS_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=settings.METRICS_MULTIPROCESS_DIR)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


# --- Access ---------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=8)
def _networks(configured: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    return tuple(ipaddress.ip_network(network, strict=False) for network in configured)


def client_allowed(remote_addr: str) -> bool:
    """Whether ``remote_addr`` lies in ``METRICS_ALLOWED_NETWORKS``; a malformed address never does."""
    try:
        address = ipaddress.ip_address(remote_addr)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in _networks(tuple(settings.METRICS_ALLOWED_NETWORKS)))


def _token_matches(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not client_allowed(request.META.get("REMOTE_ADDR", "")):
        raise Http404  # not "forbidden": the endpoint does not exist for the public
    if settings.METRICS_TOKEN and not _token_matches(request, settings.METRICS_TOKEN):
        response = HttpResponse("metrics need a bearer token\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    output = generate_latest(_Scrape(_base_registry(), forum_collectors()))
    return HttpResponse(output, content_type=CONTENT_TYPE_LATEST)
