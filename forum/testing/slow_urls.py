"""URL map of the graceful-shutdown test: a request that takes its time, and the liveness check.

A server started with ``FORUM_ROOT_URLCONF=forum.testing.slow_urls`` serves only this; production
serves ``config.urls``, which never includes it.
"""

from __future__ import annotations

import logging
import time

from django.http import HttpRequest, HttpResponse
from django.urls import path

from forum import health

logger = logging.getLogger(__name__)

SLOW_STARTED = "slow request started"
SLOW_FINISHED = "slow request finished"
# Large enough that the response goes out in several writes, so a cut-off shows as a short body.
BODY_SIZE = 256 * 1024


def slow(request: HttpRequest) -> HttpResponse:
    """Logs that it started (the test waits for that line), sleeps, then answers a large body."""
    seconds = min(float(request.GET.get("seconds", "2")), 30.0)
    logger.info(SLOW_STARTED, extra={"seconds": seconds})
    time.sleep(seconds)
    logger.info(SLOW_FINISHED)
    return HttpResponse(b"x" * BODY_SIZE + b"\nend\n", content_type="text/plain")


urlpatterns = [
    path("_test/slow", slow, name="test-slow"),
    path("health/live", health.live, name="health-live"),
]
