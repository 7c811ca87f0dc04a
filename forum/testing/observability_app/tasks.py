"""Tasks that log a line (so tests can read the request id a worker bound) or fail on purpose."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task

from forum.bus import subscribe
from forum.events import Event, event
from forum.request_context import current_request_id

logger = logging.getLogger(__name__)

ECHO_TASK = "testing_observability.echo"
FAIL_TASK = "testing_observability.fail"
PINGED_HANDLER = "testing_observability.on_pinged"


@shared_task(name=ECHO_TASK, bind=True, ignore_result=True)
def echo(task: Any, marker: str) -> str:
    """Log ``marker`` with what the worker bound and what the message header says."""
    logger.info(
        "echo %s",
        marker,
        extra={
            "marker": marker,
            "bound_request_id": current_request_id(),
            "header_request_id": getattr(task.request, "request_id", None),
            "custom_headers": task.request.headers,
        },
    )
    return marker


class ExpectedFailure(RuntimeError):
    """Raised by the failing test task."""


@shared_task(name=FAIL_TASK, ignore_result=True)
def fail(marker: str) -> None:
    raise ExpectedFailure(marker)


@event("testing_observability.pinged", version=1)
class Pinged(Event):
    marker: str


@subscribe(Pinged, name=PINGED_HANDLER, max_retries=0)
def on_pinged(pinged: Pinged) -> None:
    logger.info("pinged %s", pinged.marker, extra={"marker": pinged.marker})
