"""The moderation queue's count in the staff header, from the outside: staff read "Moderation (N)"
(threads awaiting premoderation and open reports), members and guests never see it and pay no query
for it, a staff page costs the same however much waits, and a change pushes the new count on the
staff-only live topic, which nobody else may subscribe to."""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.admin import queue_count
from apps.admin.queue_count import queue_topic_check
from apps.admin.tests.conftest import Api, Handler, Web
from apps.support.services import report_file, report_resolve
from apps.thread.services import forum_create, thread_approve, thread_create
from forum.realtime.topics import topic_group
from forum.testing import processes

COUNT = re.compile(r"Moderation <span>\(<span data-moderation-count>(\d+)</span>\)</span>")


class Listener:
    """A subscriber to a topic's Redis pub/sub channel, as a server process holding a socket of the
    topic is: what a send puts on the wire."""

    def __init__(self, topic: str) -> None:
        self.layer = get_channel_layer()
        self.client = redis.Redis.from_url(settings.REDIS_URL)
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(self.layer.group_channel(topic_group(topic)))

    def payloads(self, count: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + 15  # a safety net, never an assertion
        while len(found) < count and time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=0.5)
            if message is not None:
                frame = json.loads(self.layer.deserialize(message["data"])["text"])
                found.append({"kind": frame["kind"], **frame["payload"]})
        return found

    def close(self) -> None:
        self.pubsub.close()
        self.client.close()


@pytest.fixture
def listener(settings: Any) -> Iterator[Callable[[str], Listener]]:
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["prefix"] = f"{processes.unique_prefix()}:asgi"
    settings.CHANNEL_LAYERS = layers
    made: list[Listener] = []

    def make(topic: str) -> Listener:
        made.append(Listener(topic))
        return made[-1]

    yield make
    for item in made:
        item.close()


def _forum() -> int:
    category = forum_create(name="Community", kind="category", position=1).id
    return forum_create(name="General", parent_id=category, position=1).id


def _count(page: str) -> int | None:
    found = COUNT.search(page)
    return None if found is None else int(found.group(1))


def test_staff_read_the_count_members_and_guests_never(
    web: Web, api_as: Api, support: int, admin: int, member: int, other: int
) -> None:
    forum = _forum()
    thread_create(author_id=member, forum_id=forum, title="Waiting for a moderator", body="Words")
    public = thread_create(author_id=other, forum_id=forum, title="Public thread", body="Words").id
    thread_approve(moderator_id=support, thread_id=public)
    report_file(reporter_id=member, target_kind="thread", target_id=public, reason="spam")
    assert _count(web(support).get("/warnings/").content.decode()) == 2
    assert _count(web(admin).get("/warnings/").content.decode()) == 2
    assert api_as(support).get("/api/v1/moderation/queue/count").json() == {"count": 2}
    for viewer in (member, other):
        page = web(viewer).get("/warnings/").content.decode()
        assert _count(page) is None and "data-moderation-count" not in page
        assert api_as(viewer).get("/api/v1/moderation/queue/count").status_code == 404
    assert "data-moderation-count" not in web(None).get("/").content.decode()
    assert queue_topic_check(support, "all") and queue_topic_check(admin, "all")
    assert not queue_topic_check(member, "all") and not queue_topic_check(support, "other")


def test_members_pay_no_query_and_staff_a_fixed_number(
    web: Web, support: int, member: int, make_member: Callable[..., int]
) -> None:
    forum = _forum()
    with CaptureQueriesContext(connection) as member_page:
        web(member).get("/warnings/")
    touched = " ".join(query["sql"] for query in member_page.captured_queries)
    assert "support_ticket" not in touched and "thread_thread" not in touched
    client = web(support)
    client.get("/warnings/")  # the count is kept from here on
    with CaptureQueriesContext(connection) as few:
        first = client.get("/warnings/").content.decode()
    for number in range(5):
        thread_create(author_id=make_member(), forum_id=forum, title=f"Pending thread {number}", body="Hi")
    with CaptureQueriesContext(connection) as many:
        client.get("/warnings/")
    assert len(many.captured_queries) == len(few.captured_queries)
    assert _count(first) == 0


def test_a_change_pushes_the_new_count_to_staff(
    support: int,
    member: int,
    other: int,
    handle: Handler,
    listener: Callable[[str], Listener],
    django_capture_on_commit_callbacks: Any,
) -> None:
    forum = _forum()
    public = thread_create(author_id=other, forum_id=forum, title="Public thread", body="Words").id
    thread_approve(moderator_id=support, thread_id=public)
    pending = thread_create(author_id=member, forum_id=forum, title="Waiting", body="Words").id
    watching = listener("modqueue:all")
    with django_capture_on_commit_callbacks(execute=True):
        handle()  # the approval counts the queue: one pending thread
    ticket = report_file(reporter_id=member, target_kind="thread", target_id=public, reason="spam").ticket_id
    with django_capture_on_commit_callbacks(execute=True):
        handle()
    thread_approve(moderator_id=support, thread_id=pending)
    with django_capture_on_commit_callbacks(execute=True):
        handle()
    report_resolve(actor_id=support, ticket_id=ticket, outcome="no_action")
    with django_capture_on_commit_callbacks(execute=True):
        handle()
    pushed = watching.payloads(4)
    assert [item["count"] for item in pushed] == [1, 2, 1, 0]
    assert {item["kind"] for item in pushed} == {"moderation.queue_count"}


@pytest.mark.django_db(transaction=True)  # the refresh counts from its own thread's connection
def test_refreshes_take_turns_so_an_older_count_never_lands_after_a_newer_one(
    support: int, member: int, listener: Callable[[str], Listener]
) -> None:
    # A refresh that counted before a change committed must not store or push its count after the
    # refresh that counted the change. While one holds the turn, another waits; it then counts what
    # is committed by then, and the last count pushed is the true one.
    forum = forum_create(name="Turns").id
    thread = thread_create(author_id=member, forum_id=forum, title="Turns", body="spam").id
    report_file(reporter_id=support, target_kind="thread", target_id=thread, reason="spam")
    ears = listener(queue_count.TOPIC)
    holding, release = threading.Event(), threading.Event()

    def older() -> None:
        with queue_count._turn():
            holding.set()
            release.wait(10)

    first = threading.Thread(target=older)
    first.start()
    assert holding.wait(10)
    counted: list[int] = []
    second = threading.Thread(target=lambda: counted.append(queue_count.queue_count_refresh()))
    second.start()
    second.join(0.5)
    assert second.is_alive(), "the refresh did not wait for the turn held by another"
    release.set()
    first.join(10)
    second.join(10)
    connection.close()
    # The member's first thread waits for premoderation, and it is reported: two in the queue.
    assert counted == [2]
    assert ears.payloads(1)[-1]["count"] == 2
