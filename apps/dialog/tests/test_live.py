"""Live dialogs end to end: a message written through the API travels through the outbox, RabbitMQ and a
real Celery worker (the dialog app's own handlers) and the Redis layer to the sockets that participants
hold on a uvicorn process; read receipts and edits follow the same way; "typing…" whispers go between
participants only, and a non-participant's subscription to the dialog's topic is refused."""

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
from django.test.utils import override_settings
from rest_framework.test import APIClient
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from apps.dialog import services
from forum.testing import processes

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# A safety net so that a broken path fails the test instead of hanging it; never an assertion.
RECEIVE_TIMEOUT = 30.0


def wait_until(condition: Callable[[], bool], *, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def stack(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[processes.Child, processes.Child]]:
    """A uvicorn process and a Celery worker on this run's own dialog queue and Redis prefix."""
    prefix = processes.unique_prefix()
    layers: dict[str, Any] = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["prefix"] = f"{prefix}:asgi"
    log_dir = tmp_path_factory.mktemp("dialog-live")
    with override_settings(FORUM_QUEUE_PREFIX=prefix, REDIS_KEY_PREFIX=prefix, CHANNEL_LAYERS=layers):
        with django_db_blocker.unblock():
            env = processes.child_env(REDIS_KEY_PREFIX=prefix, FORUM_QUEUE_PREFIX=prefix, LOG_FORMAT="plain")
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
            processes.celery_worker_command(queues=["dialog"], concurrency=1),
            env=env,
            log_dir=log_dir,
        )
        try:
            wait_until(lambda: "ready" in worker.log(), what="the worker to be ready")
            yield server, worker
        finally:
            worker.stop()
            server.stop()


def member() -> tuple[int, str]:
    """A new member signed in through a database session: (user id, Cookie header)."""
    user = get_user_model().objects.create_user(username=f"m{uuid.uuid4().hex[:12]}", password=None)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return user.pk, f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def api(user_id: int) -> APIClient:
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(pk=user_id))
    return client


@contextlib.contextmanager
def tab(server: processes.Child, cookie: str, user_id: int) -> Iterator[ClientConnection]:
    """An open tab: a socket past its ``ready`` frame."""
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


def next_event(ws: ClientConnection, kind: str, **match: Any) -> dict[str, Any]:
    """The payload of the next event frame of ``kind`` whose payload has the values of ``match``.
    Frames of changes made before the tab opened may still come first: the worker is asynchronous."""
    while True:
        frame = receive(ws)
        if frame["type"] != "event" or frame["kind"] != kind:
            continue
        payload: dict[str, Any] = frame["payload"]
        if all(payload.get(name) == value for name, value in match.items()):
            return payload


def answer(ws: ClientConnection) -> dict[str, Any]:
    """The next frame that is not a pushed event (the dialog's creation may still be on its way)."""
    while True:
        frame = receive(ws)
        if frame["type"] != "event":
            return frame


def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    ws.send(json.dumps(message))


def test_a_message_reaches_every_open_tab_of_every_participant_through_the_worker(
    stack: tuple[processes.Child, processes.Child],
) -> None:
    server, _worker = stack
    alice_id, alice_cookie = member()
    bob_id, bob_cookie = member()
    dialog_id = services.dialog_start(starter_id=alice_id, recipient_id=bob_id).id
    earlier = services.message_create(author_id=bob_id, dialog_id=dialog_id, body="earlier")

    with (
        tab(server, bob_cookie, bob_id) as bob_list,
        tab(server, bob_cookie, bob_id) as bob_dialog,
        tab(server, alice_cookie, alice_id) as alice_tab,
    ):
        created = api(alice_id).post(
            f"/api/v1/dialogs/{dialog_id}/messages", {"body": "Hello *there*"}, format="json"
        )
        assert created.status_code == 201
        message_id = created.json()["id"]

        # Bob's two tabs (the list, not the dialog: no subscription needed) and Alice's own tab.
        for ws, unread, badge in ((bob_list, 1, 1), (bob_dialog, 1, 1), (alice_tab, 0, 0)):
            payload = next_event(ws, "dialog.message_created", message_id=message_id)
            assert payload["dialog_id"] == dialog_id
            assert payload["previous_message_id"] == earlier.id
            assert payload["author_id"] == alice_id and payload["html"] == "<p>Hello <em>there</em></p>\n"
            assert (payload["unread_count"], payload["unread_dialogs"]) == (unread, badge)

        # Bob's visible tab sends its read receipt: Alice's tab learns it ("seen by"), and
        # message_seen (what notifications ask before mailing) turns true.
        assert not services.message_seen(user_id=bob_id, dialog_id=dialog_id, message_id=message_id)
        read = api(bob_id).post(
            f"/api/v1/dialogs/{dialog_id}/read", {"message_id": message_id}, format="json"
        )
        assert read.status_code == 200
        assert services.message_seen(user_id=bob_id, dialog_id=dialog_id, message_id=message_id)
        seen = next_event(alice_tab, "dialog.read", user_id=bob_id)
        assert (seen["user_id"], seen["message_id"]) == (bob_id, message_id)
        badge = next_event(bob_list, "dialog.read", user_id=bob_id)
        assert (badge["unread_count"], badge["unread_dialogs"]) == (0, 0)

        edited = api(alice_id).patch(
            f"/api/v1/dialogs/{dialog_id}/messages/{message_id}", {"body": "Hello **all**"}, format="json"
        )
        assert edited.status_code == 200
        change = next_event(bob_dialog, "dialog.message_edited")
        assert change["message_id"] == message_id and change["html"] == "<p>Hello <strong>all</strong></p>\n"

        assert api(alice_id).delete(f"/api/v1/dialogs/{dialog_id}/messages/{message_id}").status_code == 204
        assert next_event(bob_dialog, "dialog.message_deleted")["message_id"] == message_id


def test_only_participants_subscribe_to_a_dialogs_topic_and_whisper_typing(
    stack: tuple[processes.Child, processes.Child],
) -> None:
    server, _worker = stack
    alice_id, alice_cookie = member()
    bob_id, bob_cookie = member()
    carol_id, carol_cookie = member()
    dialog_id = services.dialog_start(starter_id=alice_id, recipient_id=bob_id).id
    topic = f"dialog:{dialog_id}"

    with (
        tab(server, alice_cookie, alice_id) as alice,
        tab(server, bob_cookie, bob_id) as bob,
        tab(server, carol_cookie, carol_id) as carol,
    ):
        # Carol's subscription is refused exactly as one to a dialog that does not exist.
        for refused_topic in (topic, f"dialog:{dialog_id + 1000}", "dialog:abc"):
            send(carol, {"type": "subscribe", "topic": refused_topic})
            refused = answer(carol)
            assert (refused["type"], refused["code"], refused["topic"]) == (
                "error",
                "forbidden",
                refused_topic,
            )
        send(carol, {"type": "whisper", "topic": topic, "kind": "typing", "payload": {}})
        assert answer(carol)["code"] == "not_subscribed"

        for ws in (alice, bob):
            send(ws, {"type": "subscribe", "topic": topic})
            assert answer(ws) == {"type": "subscribed", "topic": topic}
        send(bob, {"type": "whisper", "topic": topic, "kind": "typing", "payload": {}})
        assert answer(alice) == {
            "type": "whisper",
            "topic": topic,
            "kind": "typing",
            "sender_id": bob_id,
            "payload": {},
        }
        # Never stored: a whisper leaves nothing behind in the dialog.
        assert api(alice_id).get(f"/api/v1/dialogs/{dialog_id}/messages").json()["messages"] == []


def test_a_tab_that_was_offline_fetches_what_it_missed_after_its_last_message(
    stack: tuple[processes.Child, processes.Child],
) -> None:
    server, _worker = stack
    alice_id, _alice_cookie = member()
    bob_id, bob_cookie = member()
    dialog_id = services.dialog_start(starter_id=alice_id, recipient_id=bob_id).id
    last_seen = services.message_create(author_id=alice_id, dialog_id=dialog_id, body="before the drop").id
    # Bob's tab is offline while these are written...
    missed = [
        services.message_create(author_id=alice_id, dialog_id=dialog_id, body=f"m{n}").id for n in range(3)
    ]
    with tab(server, bob_cookie, bob_id) as bob:
        # ...and one more arrives live once it is back: its previous id is not the tab's last one,
        # so the tab asks for everything after its last message and gets each one once.
        api(alice_id).post(f"/api/v1/dialogs/{dialog_id}/messages", {"body": "live"}, format="json")
        live = next_event(bob, "dialog.message_created", author_id=alice_id, previous_message_id=missed[-1])
        assert live["previous_message_id"] == missed[-1] != last_seen
        page = api(bob_id).get(f"/api/v1/dialogs/{dialog_id}/messages", {"after": last_seen}).json()
        assert [m["id"] for m in page["messages"]] == [*missed, live["message_id"]]
        assert page["has_after"] is False
