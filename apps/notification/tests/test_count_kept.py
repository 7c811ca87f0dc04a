"""The header's count of unread notifications, kept per member in Redis (forum.member_cache): no query
on a warm page, and a new notification, reading one or all, and notifications deleted with their post
change it on the member's next request."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.notification import services
from apps.notification.models import Notification

Web = Callable[[int | None], Client]

COUNT = re.compile(
    r'<span class="notification-bell__count" data-notification-count title="[^"]*"( hidden)?>(\d+)</span>'
)
COUNT_SQL = 'count(*) FROM "notification_notification"'


@pytest.fixture(autouse=True)
def kept(settings: Any) -> None:
    settings.KEPT_PARTS_SECONDS = 300


def shown(client: Client) -> tuple[int, bool]:
    """The count the header shows, and whether the page counted it in the database."""
    with CaptureQueriesContext(connection) as captured:
        html = client.get("/").content.decode()
    found = COUNT.search(html)
    assert found is not None
    counted = any(COUNT_SQL in query["sql"] for query in captured.captured_queries)
    return int(found.group(2)), counted


def notify(recipient: int, actor: int, post_id: int) -> None:
    services.notification_request(
        kind="thread.reply",
        recipient_ids=[recipient],
        source=f"test:{post_id}",
        actor_id=actor,
        params={"title": "Boats"},
    )
    Notification.objects.filter(source=f"test:{post_id}").update(post_id=post_id)


def test_a_new_notification_and_reading_it_change_the_count_at_once(
    alice: int, bob: int, web_as: Web, committed: Callable[[], AbstractContextManager[Any]]
) -> None:
    client = web_as(alice)
    assert shown(client) == (0, True)
    assert shown(client) == (0, False)  # kept
    with committed():
        notify(alice, bob, 1)
    assert shown(client) == (1, True)
    assert shown(client) == (1, False)
    with committed():
        notify(alice, bob, 2)
    assert shown(client) == (2, True)
    row = Notification.objects.get(recipient_id=alice, source="test:1")
    with committed():
        assert client.post(f"/notifications/{row.pk}/read/").status_code == 302
    assert shown(client) == (1, True)
    with committed():
        assert client.post("/notifications/read-all/").status_code == 302
    assert shown(client) == (0, True)
    assert shown(client) == (0, False)


def test_notifications_deleted_with_their_post_leave_the_count(
    alice: int, bob: int, web_as: Web, committed: Callable[[], AbstractContextManager[Any]]
) -> None:
    with committed():
        notify(alice, bob, 7)
    client = web_as(alice)
    assert shown(client)[0] == 1
    assert shown(client) == (1, False)
    with committed():
        services.post_deleted_forget(post_id=7)
    assert shown(client) == (0, True)
