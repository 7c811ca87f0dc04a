"""Health checks: /health/live (the process answers) and /health/ready (its dependencies answer).

``ready`` checks the database (``SELECT 1``), Redis (``PING``) and the Celery broker (a connection)
at the same time, each bounded by ``CHECK_TIMEOUT`` seconds, and answers 200 when all pass or 503
naming each failing part and its error, so that an orchestrator stops sending traffic to a process
that could not serve it. ``live`` never touches a dependency: an outage of one must not get every
process restarted.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import Any

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import load_backend
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from kombu import Connection
from redis.backoff import NoBackoff
from redis.retry import Retry

__all__ = [
    "CHECKS",
    "CHECK_TIMEOUT",
    "DETAILS",
    "check_broker",
    "check_database",
    "check_redis",
    "live",
    "ready",
    "register_detail",
]

logger = logging.getLogger(__name__)

# Seconds one check may take. libpq counts its connect timeout in whole seconds, at least 2.
CHECK_TIMEOUT = 2


def check_database() -> None:
    """Open a connection of its own to the default database and run ``SELECT 1``.

    A connection of its own, made from a copy of the settings with a short connect timeout: the
    check runs in a worker thread, and must neither wait the full connect timeout of the application
    nor leave a thread-bound connection behind. With a connection pool configured, the copy shares
    the pool (Django keeps one pool per alias), so a probe borrows a connection instead of opening one.
    """
    settings_dict = copy.deepcopy(connections.settings[DEFAULT_DB_ALIAS])
    options = settings_dict.setdefault("OPTIONS", {})
    if not options.get("pool"):
        options["connect_timeout"] = CHECK_TIMEOUT
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, DEFAULT_DB_ALIAS)
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        wrapper.close()


def check_redis() -> None:
    """``PING`` the Redis of the cache and the Channels layer, without redis-py's retries."""
    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=CHECK_TIMEOUT,
        socket_timeout=CHECK_TIMEOUT,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        client.ping()
    finally:
        client.close()


def check_broker() -> None:
    """Connect to the Celery broker: one attempt and one immediate retry, each half the time."""
    with Connection(
        settings.CELERY_BROKER_URL,
        connect_timeout=CHECK_TIMEOUT / 2,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
    ) as broker:
        broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=CHECK_TIMEOUT)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "redis": check_redis,
    "broker": check_broker,
}

# Threads for the checks; a check that hangs past its timeout keeps its thread, not the response.
_executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="health")


def _timed(check: Callable[[], None]) -> float:
    started = time.perf_counter()
    check()
    return time.perf_counter() - started


def run_checks(checks: dict[str, Callable[[], None]]) -> dict[str, dict[str, Any]]:
    """Run ``checks`` at once; each answers ``{"status": "ok"|"error", ...}`` within the timeout."""
    futures = {name: _executor.submit(_timed, check) for name, check in checks.items()}
    deadline = time.monotonic() + CHECK_TIMEOUT + 0.5
    results: dict[str, dict[str, Any]] = {}
    for name, future in futures.items():
        try:
            seconds = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeoutError:
            future.cancel()
            results[name] = {"status": "error", "error": f"no answer within {CHECK_TIMEOUT}s"}
        except Exception as error:  # noqa: BLE001 - any failure of a dependency is reported, not raised
            results[name] = {"status": "error", "error": f"{type(error).__name__}: {error}".strip()}
        else:
            results[name] = {"status": "ok", "duration_ms": round(seconds * 1000, 1)}
    return results


# Apps' own figures shown under "details" (a payment watcher's lag, say), added with register_detail
# from their AppConfig.ready. They inform and never make the process unready: a lagging chain API is
# no reason to stop sending traffic to a web process.
DETAILS: dict[str, Callable[[], dict[str, Any]]] = {}


def register_detail(name: str, source: Callable[[], dict[str, Any]]) -> None:
    DETAILS[name] = source


def _details() -> dict[str, dict[str, Any]]:
    details: dict[str, dict[str, Any]] = {}
    for name, source in DETAILS.items():
        try:
            details[name] = source()
        except Exception as error:  # noqa: BLE001 - a detail that cannot be read is shown, not raised
            details[name] = {"error": f"{type(error).__name__}: {error}"}
    return details


@never_cache
@require_safe
def live(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    results = run_checks(CHECKS)
    failing = [name for name, result in results.items() if result["status"] != "ok"]
    if failing:
        logger.warning(
            "not ready: %s",
            ", ".join(failing),
            extra={"failing": failing, "errors": {name: results[name]["error"] for name in failing}},
        )
        return JsonResponse(
            {"status": "unavailable", "failing": failing, "checks": results},
            status=503,
        )
    return JsonResponse({"status": "ok", "checks": results, "details": _details()})
