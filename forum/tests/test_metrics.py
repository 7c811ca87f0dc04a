"""/metrics: request, database, outbox and Celery task metrics, and who may read them."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from pytest_django.fixtures import Settings

from forum.models import OutboxEvent
from forum.testing import processes
from forum.testing.observability_app import worker as observed
from forum.testing.observability_app.tasks import ECHO_TASK, FAIL_TASK, echo, fail
from forum.testing.processes import free_port


def scrape(client: Client, **extra: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of /metrics, keyed by name and labels; the text must parse as Prometheus format."""
    response = client.get("/metrics", **extra)
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def pending_row(*, age: datetime.timedelta, dispatched: bool = False) -> OutboxEvent:
    now = timezone.now()
    return OutboxEvent.objects.create(
        name="testing_observability.pinged",
        version=1,
        payload={"marker": uuid.uuid4().hex},
        created_at=now - age,
        dispatched_at=now if dispatched else None,
    )


@pytest.mark.django_db
def test_outbox_backlog_and_age_of_the_oldest_undelivered_event(client: Client) -> None:
    empty = scrape(client)
    assert value(empty, "forum_outbox_pending_events") == 0
    assert value(empty, "forum_outbox_oldest_pending_age_seconds") == 0

    pending_row(age=datetime.timedelta(hours=1))
    pending_row(age=datetime.timedelta(minutes=1))
    pending_row(age=datetime.timedelta(days=2), dispatched=True)  # delivered: not backlog

    samples = scrape(client)
    assert value(samples, "forum_outbox_pending_events") == 2
    # The hour-old row, read a moment later: at least an hour, and far less than the delivered row.
    assert 3600 <= value(samples, "forum_outbox_oldest_pending_age_seconds") < 3600 + 300
    assert value(samples, "forum_metrics_collector_up", collector="outbox") == 1


@pytest.mark.django_db
def test_requests_are_counted_and_timed_by_route_and_status(client: Client) -> None:
    live = {"method": "GET", "route": "/health/live", "status": "200"}
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    before = scrape(client)

    client.get("/health/live")
    client.get("/health/live")
    client.get(f"/no-such-page-{uuid.uuid4().hex}")

    after = scrape(client)
    count = "forum_http_request_duration_seconds_count"
    assert value(after, count, **live) - value(before, count, **live) == 2
    assert value(after, count, **unmatched) - value(before, count, **unmatched) == 1
    assert value(after, "forum_http_request_duration_seconds_bucket", le="+Inf", **live) == value(
        after, count, **live
    )
    # django-prometheus's own, labelled by view name.
    by_view = {"status": "200", "view": "health-live", "method": "GET"}
    assert value(after, "django_http_responses_total_by_status_view_method_total", **by_view) >= 2


@pytest.mark.django_db
def test_database_connections_are_exported(client: Client) -> None:
    samples = scrape(client)

    assert value(samples, "django_db_new_connections_total", alias="default", vendor="postgresql") >= 1
    ours = sum(v for (name, _), v in samples.items() if name == "forum_database_connections")
    assert ours >= 1  # at least the connection that asked
    assert value(samples, "forum_database_max_connections") >= ours
    assert value(samples, "forum_metrics_collector_up", collector="database_connections") == 1


@pytest.mark.django_db
def test_a_source_that_is_down_is_reported_and_the_rest_still_scraped(
    client: Client, settings: Settings
) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"

    samples = scrape(client)

    assert value(samples, "forum_metrics_collector_up", collector="celery_tasks") == 0
    assert value(samples, "forum_metrics_collector_up", collector="outbox") == 1


@pytest.mark.django_db
def test_metrics_are_refused_outside_the_allowed_networks(client: Client, settings: Settings) -> None:
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "fd00::/8"]

    for outsider in ["192.0.2.10", "2001:db8::1", "not-an-address", ""]:
        assert client.get("/metrics", REMOTE_ADDR=outsider).status_code == 404, outsider
    for insider in ["10.1.2.3", "::ffff:10.1.2.3", "fd00::5"]:
        assert client.get("/metrics", REMOTE_ADDR=insider).status_code == 200, insider


@pytest.mark.django_db
def test_a_configured_token_is_required(client: Client, settings: Settings) -> None:
    settings.METRICS_TOKEN = "scrape-secret"

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic scrape-secret").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200


# --- Celery task outcomes from a real worker --------------------------------------------------------
@pytest.fixture(scope="module")
def worker(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[processes.Child]:
    with django_db_blocker.unblock(), observed.running_worker(tmp_path_factory.mktemp("worker")) as child:
        yield child


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_task_outcomes_counted_by_the_worker_appear_in_metrics(
    client: Client, worker: processes.Child
) -> None:
    succeeded = {"task": ECHO_TASK, "state": "succeeded"}
    failed = {"task": FAIL_TASK, "state": "failed"}
    before = scrape(client)

    echo.delay("counted")
    echo.delay("counted again")
    fail.delay("on purpose")

    def counted() -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
        samples = scrape(client)
        done = value(samples, "forum_celery_tasks_total", **succeeded) - value(
            before, "forum_celery_tasks_total", **succeeded
        )
        return samples if done >= 2 and value(samples, "forum_celery_tasks_total", **failed) >= 1 else None

    after = observed.wait_until(counted, what="the worker's task counts", child=worker)
    total = "forum_celery_tasks_total"
    assert value(after, total, **succeeded) - value(before, total, **succeeded) == 2
    assert value(after, total, **failed) - value(before, total, **failed) == 1
    assert value(after, total, task=FAIL_TASK, state="succeeded") == 0
    assert value(after, "forum_metrics_collector_up", collector="celery_tasks") == 1
