"""The status badges on a member's thread page, kept by the status app (``status_badges_kept``): each
author shows their own, a revocation shows at once and a timed grant's badge goes at its end with no
task running. Here, not in apps/status/tests: the thread is made through the thread app, which the
status app's package may not import."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.status.services import status_grant, status_revoke
from apps.thread.services import forum_create, post_create, thread_approve, thread_create
from forum.testing.fixtures import Clock

pytestmark = pytest.mark.django_db

GRANTS_SQL = '"status_statusgrant"'
Committed = Callable[[], AbstractContextManager[Any]]


@pytest.fixture(autouse=True)
def kept_parts(settings: Any, english: None, redis_namespace: str) -> Iterator[None]:
    settings.KEPT_PARTS_SECONDS = 300
    yield


def _post_html(html: str, post_id: int) -> str:
    start = html.rindex("<li", 0, html.index(f'id="post-{post_id}"'))
    return html[start : html.index("</footer>", start)]


def test_the_thread_page_shows_each_authors_badges_as_they_change(
    make_member: Callable[..., int], clock: Clock, committed: Committed
) -> None:
    alice, bob, reader, staff = make_member(), make_member(), make_member(), make_member(is_staff=True)
    with committed():
        forum = forum_create(name="General", description="Anything goes.").id
        made = thread_create(author_id=alice, forum_id=forum, title="Harbour news", body="Opening")
        thread_approve(moderator_id=staff, thread_id=made.id)
        reply = post_create(author_id=bob, thread_id=made.id, body="A reply about the harbour")
        agent = status_grant(user_id=alice, status_code="agent", source="staff")
        status_grant(
            user_id=bob,
            status_code="reader",
            source="purchase",
            ends_at=clock.now + datetime.timedelta(minutes=5),
        )
    client = Client()
    client.force_login(get_user_model().objects.get(pk=reader))
    url = f"/threads/{made.id}/"

    def shown() -> tuple[str, str]:
        html = client.get(url).content.decode()
        return _post_html(html, int(made.first_post_id or 0)), _post_html(html, reply.id)

    for read in range(2):  # built, then kept
        with CaptureQueriesContext(connection) as captured:
            first, second = shown()
        assert 'data-status="agent"' in first and 'data-status="reader"' not in first
        assert 'data-status="reader"' in second and 'data-status="agent"' not in second
        if read:
            assert not [query for query in captured.captured_queries if GRANTS_SQL in query["sql"]]

    with committed():
        status_revoke(grant_id=agent.grant_id)
    first, second = shown()
    assert "data-status=" not in first and 'data-status="reader"' in second

    clock.move(minutes=5)  # Bob's grant ends; no task runs
    first, second = shown()
    assert "data-status=" not in first and "data-status=" not in second
