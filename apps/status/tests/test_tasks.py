"""The periodic expiry: scheduled every minute with Celery beat, and doing its work when run."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from celery import current_app
from django.conf import settings

from apps.status import tasks
from apps.status.services import status_grant
from forum.testing.fixtures import Clock

pytestmark = pytest.mark.django_db


def test_the_expiry_is_scheduled_every_minute() -> None:
    entries = [
        entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if entry["task"] == "status.expire_grants"
    ]
    assert [entry["schedule"] for entry in entries] == [60.0]
    # The worker and beat import every app's tasks module (config.celery's autodiscovery); so does this test.
    assert tasks.expire_grants.name == "status.expire_grants" and "status.expire_grants" in current_app.tasks


def test_the_task_expires_what_is_due(
    make_member: Callable[..., int], clock: Clock, outbox: Callable[[str], list[dict[str, Any]]]
) -> None:
    member = make_member()
    granted = status_grant(
        user_id=member,
        status_code="agent",
        source="purchase",
        ends_at=clock.now + datetime.timedelta(hours=1),
    )
    clock.move(hours=2)
    result = tasks.expire_grants.apply()
    assert result.get() == 1
    assert [event["grant_id"] for event in outbox("status.expired")] == [granted.grant_id]
