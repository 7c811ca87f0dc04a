"""Every event kind the apps push over the WebSocket is the one the AsyncAPI document describes.

Members hold real sockets on a uvicorn process (the real Redis layer and test database). They act
through the apps' own services; the events those publish are handed to every subscriber the way a
worker runs them (the Celery task, called in this process), so the frames are built by the apps'
real handlers. Every frame received is validated against its message in forum/asyncapi.yaml, and
every event message the document lists must have been seen: a kind, a field or a type that changes
on either side fails here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from celery import current_app
from django.contrib.auth import get_user_model
from websockets.sync.client import ClientConnection

from apps.authorization.services import role_assign
from apps.dialog import services as dialog_services
from apps.notification import services as notification_services
from apps.payment import services as payment_services
from apps.support import services as support_services
from apps.thread import services as thread_services
from forum.asyncapi import asyncapi_document
from forum.bus import subscribers_of
from forum.models import OutboxEvent
from forum.testing import processes
from forum.testing.asyncapi import assert_documented
from forum.tests.test_realtime_gateway import (  # noqa: F401 - redis_prefix is a fixture
    RECEIVE_TIMEOUT,
    member,
    open_socket,
    redis_prefix,
    send,
    start_server,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def server(
    redis_prefix: str,  # noqa: F811 - the fixture imported above
    django_db_setup: None,
    django_db_blocker: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[processes.Child]:
    child = start_server(
        "asgi-events", redis_prefix, tmp_path_factory.mktemp("asyncapi-events"), django_db_blocker
    )
    yield child
    child.stop()


class Handlers:
    """Runs the subscribers of every event written to the outbox since the last call, in order, as
    the worker would (each subscriber's task, with its claim and its transaction)."""

    def __init__(self) -> None:
        self.handled: set[str] = set()

    def run(self) -> None:
        for row in OutboxEvent.objects.order_by("created_at", "id"):
            if str(row.id) in self.handled:
                continue
            self.handled.add(str(row.id))
            for subscriber in subscribers_of(row.name, row.version):
                current_app.tasks[subscriber.task_name](str(row.id), row.name, row.version, row.payload)


class Socket:
    """A member's open socket whose every frame is checked against the document."""

    def __init__(self, ws: ClientConnection, document: dict[str, Any]) -> None:
        self.ws = ws
        self.document = document
        self.kinds: set[str] = set()
        self.messages: set[str] = set()

    def next(self) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(self.ws.recv(timeout=RECEIVE_TIMEOUT))
        self.messages.add(assert_documented(self.document, frame))
        if frame["type"] == "event":
            self.kinds.add(frame["kind"])
        return frame

    def subscribe(self, topic: str) -> None:
        """Follows ``topic``: the answer comes after any event frames already on their way."""
        send(self.ws, {"type": "subscribe", "topic": topic})
        while (frame := self.next())["type"] == "event":
            pass
        assert frame == {"type": "subscribed", "topic": topic}, frame

    def until(self, *kinds: str) -> None:
        """Reads (and checks) frames until each of ``kinds`` has come."""
        while not set(kinds) <= self.kinds:
            self.next()


def test_the_frames_the_apps_push_are_the_documented_ones(server: processes.Child) -> None:
    document = asyncapi_document()
    handlers = Handlers()
    alice_id, alice_cookie = member()
    bob_id, bob_cookie = member()
    carol_id, _carol_cookie = member()
    staff_id = get_user_model().objects.create_user(username="events-staff", password=None, is_staff=True).pk
    category = thread_services.forum_create(name="Harbour", kind="category").id
    forum = thread_services.forum_create(name="Quay", parent_id=category).id

    with ExitStack() as stack:
        alice = Socket(stack.enter_context(open_socket(server, alice_cookie)), document)
        bob = Socket(stack.enter_context(open_socket(server, bob_cookie)), document)
        assert alice.next()["type"] == bob.next()["type"] == "ready"

        # The thread app's topic, and the notification app's frames to the member.
        thread = thread_services.thread_create(author_id=bob_id, forum_id=forum, title="Tides", body="Hi all")
        thread_services.thread_approve(moderator_id=staff_id, thread_id=thread.id)
        send(alice.ws, {"type": "subscribe", "topic": f"thread:{thread.id}"})
        assert alice.next()["type"] == "subscribed"
        handlers.run()

        reply = thread_services.post_create(author_id=alice_id, thread_id=thread.id, body="Hello @bob").id
        handlers.run()
        alice.until("post.created")
        bob.until("notification.new")  # the reply in his thread, the mention
        thread_services.post_edit(editor_id=alice_id, post_id=reply, body="Hello again @bob")
        handlers.run()
        alice.until("post.edited")
        thread_services.reaction_set(user_id=bob_id, post_id=reply, kind="like")
        handlers.run()
        alice.until("post.reactions")
        notification_services.notifications_mark_all_read(user_id=bob_id)
        handlers.run()
        bob.until("notification.read")
        thread_services.post_delete(user_id=alice_id, post_id=reply)
        handlers.run()
        alice.until("post.deleted")

        # The dialog app's frames, to each participant.
        crew = dialog_services.dialog_group_start(
            owner_id=alice_id, title="Crew", participant_ids=[bob_id]
        ).id
        handlers.run()
        bob.until("dialog.created")
        message = dialog_services.message_create(author_id=alice_id, dialog_id=crew, body="Ahoy").id
        handlers.run()
        bob.until("dialog.message_created")
        dialog_services.message_edit(editor_id=alice_id, message_id=message, body="Ahoy!")
        handlers.run()
        bob.until("dialog.message_edited")
        dialog_services.dialog_mark_read(user_id=bob_id, dialog_id=crew)
        handlers.run()
        alice.until("dialog.read")
        dialog_services.participants_add(owner_id=alice_id, dialog_id=crew, user_ids=[carol_id])
        handlers.run()
        bob.until("dialog.participants_changed")
        dialog_services.message_delete(user_id=alice_id, message_id=message)
        handlers.run()
        bob.until("dialog.message_deleted")

        # The admin app's queue count, to staff on modqueue:all, when a report changes it.
        dave_id, dave_cookie = member()
        role_assign(user_id=dave_id, role="support")
        dave = Socket(stack.enter_context(open_socket(server, dave_cookie)), document)
        assert dave.next()["type"] == "ready"
        dave.subscribe("modqueue:all")
        ticket = support_services.report_file(
            reporter_id=alice_id, target_kind="member", target_id=carol_id, reason="spam"
        ).ticket_id
        handlers.run()
        dave.until("moderation.queue_count")

        # The support app's ticket pages: the reporter's side and the staff's side.
        alice.subscribe(f"ticket:{ticket}")
        dave.subscribe(f"ticketstaff:{ticket}")
        support_services.report_resolve(actor_id=dave_id, ticket_id=ticket, outcome="no_action")
        handlers.run()
        alice.until("ticket.changed")
        dave.until("ticket.changed")

        # The payment app's checkout page, to the invoice's owner.
        payment_services.product_register(
            app_label="status", code="asyncapi-30", title="Agent, 30 days", price_sats=50_000
        )
        invoice = payment_services.invoice_create(
            member_id=alice_id, product_app="status", product_code="asyncapi-30"
        ).public_id
        alice.subscribe(f"invoice:{invoice}")
        payment_services.invoice_cancel(public_id=invoice, staff_id=dave_id, reason="Changed my mind")
        alice.until("invoice.changed")

    documented_events = {
        message["name"]
        for message in document["components"]["messages"].values()
        if message["payload"]["properties"]["type"].get("const") == "event"
    }
    seen = alice.kinds | bob.kinds | dave.kinds
    assert documented_events <= seen, documented_events - seen
