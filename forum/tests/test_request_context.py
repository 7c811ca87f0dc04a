"""X-Request-ID: taken or made, returned, and carried through Celery into a real worker's log lines."""

from __future__ import annotations

import datetime
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from forum import bus
from forum.events import event_payload
from forum.models import OutboxEvent
from forum.request_context import bind_request_id, current_request_id
from forum.testing import processes
from forum.testing.observability_app import worker as observed
from forum.testing.observability_app.tasks import ECHO_TASK, Pinged, echo

GENERATED = re.compile(r"^[0-9a-f]{32}$")


def test_a_request_without_an_id_gets_a_new_one(client: Client) -> None:
    first = client.get("/health/live")["X-Request-ID"]
    second = client.get("/health/live")["X-Request-ID"]

    assert GENERATED.match(first) and GENERATED.match(second)
    assert first != second


def test_a_sane_request_id_is_kept_and_returned(client: Client) -> None:
    response = client.get("/health/live", HTTP_X_REQUEST_ID="edge-7f3a.42:retry")
    assert response["X-Request-ID"] == "edge-7f3a.42:retry"


@pytest.mark.parametrize("given", ["has space", "x" * 65, "semi;colon", "<script>", "", "naïve"])
def test_an_unsafe_request_id_is_replaced(client: Client, given: str) -> None:
    response = client.get("/health/live", HTTP_X_REQUEST_ID=given)

    assert response["X-Request-ID"] != given
    assert GENERATED.match(response["X-Request-ID"])


def test_a_task_binds_the_request_id_of_its_message_and_restores_the_callers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = bind_request_id("caller-request")
    try:
        with caplog.at_level(logging.INFO, logger="forum.testing.observability_app.tasks"):
            echo.apply(args=["eager"], headers={"request_id": "message-request"})
        assert current_request_id() == "caller-request"
    finally:
        bind_request_id(None)
        del token

    [record] = [record for record in caplog.records if record.getMessage() == "echo eager"]
    assert record.bound_request_id == "message-request"


# --- With a real worker -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def worker(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[processes.Child]:
    with django_db_blocker.unblock(), observed.running_worker(tmp_path_factory.mktemp("worker")) as child:
        yield child


def marker() -> str:
    return uuid.uuid4().hex[:12]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_worker_logs_a_task_with_the_request_id_that_sent_it(worker: processes.Child) -> None:
    mark = marker()
    token = bind_request_id(f"req-{mark}")
    try:
        result = echo.delay(mark)
    finally:
        bind_request_id(None)
        del token

    line = observed.wait_for_line(worker, what="the task's log line", message=f"echo {mark}")
    assert line["request_id"] == f"req-{mark}"
    # Celery 5.7 (message protocol 2) exposes a custom header as an attribute of task.request.
    assert line["header_request_id"] == f"req-{mark}"
    assert line["bound_request_id"] == f"req-{mark}"
    assert (line["task_name"], line["task_id"]) == (ECHO_TASK, result.id)
    # Celery's own line for the task carries it too.
    succeeded = observed.wait_for_line(
        worker, what="Celery's success line", logger="celery.app.trace", task_id=result.id
    )
    assert succeeded["request_id"] == f"req-{mark}"
    assert "succeeded" in succeeded["message"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_event_published_in_a_request_is_handled_under_its_request_id(worker: processes.Child) -> None:
    mark = marker()
    token = bind_request_id(f"req-{mark}")
    try:
        with transaction.atomic():
            bus.publish(Pinged(marker=mark))
    finally:
        bind_request_id(None)
        del token

    line = observed.wait_for_line(worker, what="the handler's log line", message=f"pinged {mark}")
    assert line["request_id"] == f"req-{mark}"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_event_sent_later_by_the_sweep_keeps_the_request_id_it_was_published_with(
    worker: processes.Child,
) -> None:
    mark = marker()
    pinged = Pinged(marker=mark)
    OutboxEvent.objects.create(
        name=pinged.name,
        version=pinged.version,
        payload=event_payload(pinged),
        request_id=f"origin-{mark}",
        created_at=timezone.now() - datetime.timedelta(minutes=5),
    )
    token = bind_request_id(f"sweeper-{mark}")  # the sweep runs in a context of its own
    try:
        assert bus.sweep_outbox(min_age_seconds=0) == 1
    finally:
        bind_request_id(None)
        del token

    line = observed.wait_for_line(worker, what="the handler's log line", message=f"pinged {mark}")
    assert line["request_id"] == f"origin-{mark}"
