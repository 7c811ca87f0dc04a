"""Live notifications end to end: a reply written through the thread app's services, or a dialog
message left unseen, travels through the outbox, RabbitMQ and a real Celery worker (this app's
handlers, and the dialog check scheduled with its countdown) and the Redis layer to the socket the
member holds on a uvicorn process, as a ``notification.new`` frame with the unread count."""

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
from django.test.utils import override_settings
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from apps.dialog import services as dialogs
from apps.notification import services
from apps.notification.models import Notification
from apps.thread import services as threads
from forum.testing import processes

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# A safety net so that a broken path fails the test instead of hanging it; never an assertion.
RECEIVE_TIMEOUT = 30.0


def wait_until(condition: Callable[[], bool], *, what: str, timeout: float = 60.0, db: bool = True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if db:  # each look at the database sees what the worker committed since
            close_old_connections()
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def stack(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[processes.Child, processes.Child]]:
    """A uvicorn process and a Celery worker on this run's own notification queue and Redis prefix;
    dialog messages are checked three seconds after they are written."""
    prefix = processes.unique_prefix()
    layers: dict[str, Any] = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["prefix"] = f"{prefix}:asgi"
    log_dir = tmp_path_factory.mktemp("notification-live")
    with override_settings(FORUM_QUEUE_PREFIX=prefix, REDIS_KEY_PREFIX=prefix, CHANNEL_LAYERS=layers):
        with django_db_blocker.unblock():
            env = processes.child_env(
                REDIS_KEY_PREFIX=prefix,
                FORUM_QUEUE_PREFIX=prefix,
                LOG_FORMAT="plain",
                NOTIFICATION_DIALOG_DELAY_SECONDS="3",
                EMAIL_URL="dummymail://",
            )
        port = processes.free_port()
        server = processes.start_child(
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
        worker = processes.start_child(
            "worker",
            processes.celery_worker_command(queues=["notification"], concurrency=1),
            env=env,
            log_dir=log_dir,
        )
        try:
            wait_until(lambda: "ready" in worker.log(), what="the worker to be ready", db=False)
            yield server, worker
        finally:
            worker.stop()
            server.stop()


def member(*, staff: bool = False) -> tuple[int, str]:
    """A member signed in through a database session (staff start threads without premoderation)."""
    user = get_user_model().objects.create_user(
        username=f"m{uuid.uuid4().hex[:12]}", password=None, is_staff=staff
    )
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return user.pk, f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


@contextlib.contextmanager
def open_socket(server: processes.Child, cookie: str) -> Iterator[ClientConnection]:
    """A member's socket past its ``ready`` frame: joined to their personal group."""
    with connect(
        f"ws://127.0.0.1:{server.port}/ws/",
        additional_headers={"Cookie": cookie},
        origin=Origin(f"http://127.0.0.1:{server.port}"),
        open_timeout=RECEIVE_TIMEOUT,
        close_timeout=2,
    ) as ws:
        assert receive(ws)["type"] == "ready"
        yield ws


def receive(ws: ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(ws.recv(timeout=RECEIVE_TIMEOUT))
    return frame


def notification_frame(ws: ClientConnection) -> dict[str, Any]:
    """The next notification frame (other apps' frames to the member are passed over)."""
    while True:
        frame = receive(ws)
        if frame.get("type") == "event" and str(frame.get("kind", "")).startswith("notification."):
            return frame


def test_a_reply_reaches_the_watchers_socket_through_the_worker(
    stack: tuple[processes.Child, processes.Child],
) -> None:
    server, _worker = stack
    forum_id = threads.forum_create(name=f"Forum {uuid.uuid4().hex[:6]}", kind="forum").id
    alice, alice_cookie = member(staff=True)
    bob, _bob_cookie = member()
    thread = threads.thread_create(author_id=alice, forum_id=forum_id, title="Boats", body="Hello")
    services.watch_set(user_id=alice, target="thread", target_id=thread.id)
    with open_socket(server, alice_cookie) as ws:
        reply = threads.post_create(author_id=bob, thread_id=thread.id, body="I like boats")
        frame = notification_frame(ws)
    row = Notification.objects.get(recipient_id=alice, post_id=reply.id)
    assert frame == {
        "type": "event",
        "kind": "notification.new",
        "payload": {"id": row.pk, "kind": "thread.reply", "unread_count": 1},
    }


def test_an_unseen_dialog_message_is_notified_after_the_delay_and_a_seen_one_is_not(
    stack: tuple[processes.Child, processes.Child],
) -> None:
    server, _worker = stack
    alice, alice_cookie = member()
    bob, _bob_cookie = member()
    carol, _carol_cookie = member()
    dialog = dialogs.dialog_group_start(owner_id=bob, title="Trip", participant_ids=[alice, carol])
    with open_socket(server, alice_cookie) as ws:
        message = dialogs.message_create(author_id=bob, dialog_id=dialog.id, body="Are you there?")
        dialogs.dialog_mark_read(user_id=carol, dialog_id=dialog.id)  # Carol saw it at once
        frame = notification_frame(ws)
    assert frame["payload"]["kind"] == "dialog.message"
    [row] = Notification.objects.filter(recipient_id=alice)
    assert row.params["message_id"] == message.id
    # Carol's check ran in the same task, before Alice's frame was sent.
    assert not Notification.objects.filter(recipient_id=carol).exists()
