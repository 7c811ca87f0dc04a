"""Against the real services: a ticket's page is live for both sides (frames through the Redis layer
to sockets held on a uvicorn process), internal notes reach only the staff's side, and nobody else
subscribes; and with the Celery worker down, a report is filed and resolved all the same while the
notifications it causes wait, and arrive once a worker runs."""

from __future__ import annotations

import contextlib
import copy
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.db import close_old_connections
from django.test import Client
from django.test.utils import override_settings
from rest_framework.test import APIClient
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from apps.authorization.services import role_assign
from apps.support.models import Ticket
from forum import bus
from forum.models import OutboxEvent, ProcessedEvent
from forum.testing import processes

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# A safety net so that a broken path fails the test instead of hanging it; never an assertion.
RECEIVE_TIMEOUT = 30.0


def wait_until(condition: Callable[[], bool], *, what: str, timeout: float = 60.0) -> None:
    """Poll ``condition``, each time on a fresh connection so that it sees what the worker committed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        close_old_connections()
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def member(*, role: str = "user") -> tuple[int, str]:
    """A new member signed in through a database session: (user id, Cookie header)."""
    user = get_user_model().objects.create_user(username=f"m{uuid.uuid4().hex[:12]}", password=None)
    if role != "user":
        role_assign(user_id=user.pk, role=role)
        user.refresh_from_db()
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return user.pk, f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def browser(user_id: int) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(pk=user_id))
    return client


def api(user_id: int) -> APIClient:
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(pk=user_id))
    return client


def reported_member() -> int:
    """A member to report (a member rather than a post: transactional tests empty the tables, the
    seeded statuses and topics with them, and a post would need a Reader to skip premoderation)."""
    return int(get_user_model().objects.create_user(username=f"a{uuid.uuid4().hex[:12]}", password=None).pk)


@pytest.fixture(scope="module")
def server(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[processes.Child]:
    """A uvicorn process on this run's own Redis prefix (the pages' sends happen after commit, in the
    request: no worker needed)."""
    prefix = processes.unique_prefix()
    layers: dict[str, Any] = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["prefix"] = f"{prefix}:asgi"
    log_dir = tmp_path_factory.mktemp("support-live")
    with override_settings(FORUM_QUEUE_PREFIX=prefix, REDIS_KEY_PREFIX=prefix, CHANNEL_LAYERS=layers):
        with django_db_blocker.unblock():
            env = processes.child_env(REDIS_KEY_PREFIX=prefix, FORUM_QUEUE_PREFIX=prefix, LOG_FORMAT="plain")
        port = processes.free_port()
        child = processes.start_child(
            "asgi",
            [
                str(processes.BIN_DIR / "uvicorn"),
                "config.asgi:application",
                "--host=127.0.0.1",
                f"--port={port}",
                "--lifespan=off",
                "--timeout-graceful-shutdown=5",
            ],
            env=env,
            log_dir=log_dir,
            port=port,
        )
        try:
            yield child
        finally:
            child.stop()


@contextlib.contextmanager
def tab(server: processes.Child, cookie: str, user_id: int) -> Iterator[ClientConnection]:
    with connect(
        f"ws://127.0.0.1:{server.port}/ws/",
        additional_headers={"Cookie": cookie},
        origin=Origin(f"http://127.0.0.1:{server.port}"),
        open_timeout=RECEIVE_TIMEOUT,
        close_timeout=2,
    ) as ws:
        ready = receive(ws)
        assert (ready["type"], ready["user_id"]) == ("ready", user_id)
        yield ws


def receive(ws: ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(ws.recv(timeout=RECEIVE_TIMEOUT))
    return frame


def subscribe(ws: ClientConnection, topic: str) -> dict[str, Any]:
    ws.send(json.dumps({"type": "subscribe", "topic": topic}))
    while True:
        frame = receive(ws)
        if frame["type"] != "event":
            return frame


def next_event(ws: ClientConnection) -> dict[str, Any]:
    while True:
        frame = receive(ws)
        if frame["type"] == "event":
            return frame


def test_a_ticket_page_is_live_for_both_sides_and_notes_stay_with_staff(server: processes.Child) -> None:
    reporter, reporter_cookie = member()
    stranger, stranger_cookie = member()
    staff, staff_cookie = member(role="support")
    filed = api(reporter).post(
        "/api/v1/support/reports",
        {"target_kind": "member", "target_id": reported_member(), "reason": "spam"},
        format="json",
    )
    assert filed.status_code == 201
    ticket_id = filed.json()["ticket_id"]
    topic, staff_topic = f"ticket:{ticket_id}", f"ticketstaff:{ticket_id}"
    page = browser(reporter).get(f"/support/tickets/{ticket_id}/")
    assert f'data-topics="{topic}"' in page.content.decode()

    with (
        tab(server, reporter_cookie, reporter) as reporter_tab,
        tab(server, staff_cookie, staff) as staff_tab,
        tab(server, stranger_cookie, stranger) as stranger_tab,
    ):
        assert subscribe(reporter_tab, topic) == {"type": "subscribed", "topic": topic}
        assert subscribe(reporter_tab, staff_topic)["code"] == "forbidden"
        assert subscribe(staff_tab, topic)["type"] == "subscribed"
        assert subscribe(staff_tab, staff_topic)["type"] == "subscribed"
        for refused in (topic, staff_topic, f"ticket:{ticket_id + 1000}", "ticket:abc"):
            assert subscribe(stranger_tab, refused)["code"] == "forbidden"

        note = api(staff).post(
            f"/api/v1/support/tickets/{ticket_id}/messages",
            {"body": "Known spammer", "internal": True},
            format="json",
        )
        assert note.status_code == 201
        frame = next_event(staff_tab)
        assert (frame["topic"], frame["kind"], frame["payload"]) == (
            staff_topic,
            "ticket.changed",
            {"ticket_id": ticket_id, "change": "note"},
        )

        resolved = api(staff).post(
            f"/api/v1/support/tickets/{ticket_id}/resolve", {"outcome": "action_taken"}, format="json"
        )
        assert resolved.status_code == 200
        # The reporter's first frame is the resolution: the note never reached their side.
        frame = next_event(reporter_tab)
        assert (frame["topic"], frame["payload"]) == (topic, {"ticket_id": ticket_id, "change": "state"})
        # What the page then fetches says how it ended, and nothing of the note.
        live = browser(reporter).get(f"/support/tickets/{ticket_id}/live/").content.decode()
        assert "took action" in live and "Known spammer" not in live


def test_with_the_worker_down_a_report_is_kept_and_its_notifications_follow_when_it_returns(
    settings: Any, redis_namespace: str, django_db_blocker: Any, tmp_path: Any
) -> None:
    # Queues of this test alone: nothing another test left on the shared ones runs first.
    settings.FORUM_QUEUE_PREFIX = processes.unique_prefix()
    reporter, _cookie = member()
    staff, _staff_cookie = member(role="support")
    worker: processes.Child | None = None
    try:
        # No worker runs: the report and its ticket are stored and shown all the same.
        filed = api(reporter).post(
            "/api/v1/support/reports",
            {"target_kind": "member", "target_id": reported_member(), "reason": "abuse"},
            format="json",
        )
        assert filed.status_code == 201
        ticket_id = filed.json()["ticket_id"]
        assert Ticket.objects.get(pk=ticket_id).assignee_id == staff  # the round robin
        queue = api(staff).get("/api/v1/support/queue?kind=report").json()
        assert [row["id"] for row in queue["tickets"]] == [ticket_id]
        resolved = api(staff).post(
            f"/api/v1/support/tickets/{ticket_id}/resolve", {"outcome": "no_action"}, format="json"
        )
        assert resolved.status_code == 200
        assert (
            api(reporter).get(f"/api/v1/support/tickets/{ticket_id}").json()["ticket"]["state"] == "resolved"
        )

        # What it causes waits: the requests are in the outbox, no handler ran, nobody is notified.
        requested = list(
            OutboxEvent.objects.filter(name="notification.requested").values_list("id", flat=True)
        )
        assert len(requested) == 2  # assigned to staff; the outcome to the reporter
        assert not ProcessedEvent.objects.filter(event_id__in=requested).exists()
        for user_id in (reporter, staff):
            assert api(user_id).get("/api/v1/notifications").json()["total"] == 0

        # The worker returns; the sweep sends whatever never reached the broker.
        with django_db_blocker.unblock():
            env = processes.child_env(EVENT_HANDLER_RETRY_BACKOFF="1")
        worker = processes.start_child(
            "worker",
            processes.celery_worker_command(queues=["forum", "notification", "support"], concurrency=1),
            env=env,
            log_dir=tmp_path,
        )
        bus.sweep_outbox(min_age_seconds=0)

        def kinds(user_id: int) -> list[str]:
            return [
                item["kind"] for item in api(user_id).get("/api/v1/notifications").json()["notifications"]
            ]

        wait_until(lambda: kinds(reporter) == ["support.report_resolved"], what="the reporter's notification")
        wait_until(lambda: kinds(staff) == ["support.ticket_assigned"], what="the assignee's notification")
        assert ProcessedEvent.objects.filter(event_id__in=requested).count() == 2
    finally:
        if worker is not None:
            worker.stop()
