"""The dialog pages live, in a real browser against the real stack: a message arrives in the open
dialog and in the other member's list and badge, the visible tab sends its read receipt (so
``message_seen`` turns true and the writer's page says "Seen by"), "typing…" shows, and a tab whose
WebSocket server went away fetches what it missed once it is back, each message once and in order.

The stack is what production runs: the pages and the API on gunicorn (WSGI), the WebSocket gateway on
uvicorn (ASGI), and a Celery worker that pushes the dialog's events, on the test database, this test's
own queues and its own Redis keys.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from rest_framework.test import APIClient

from apps.dialog import services
from forum.testing import browser as web

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def stack(transactional_db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[web.Stack]:
    """The stack, with a worker on the dialog queue."""
    web.require_chromium(monkeypatch)
    with web.running_stack(tmp_path, queues=["dialog"]) as stack:
        yield stack


def member() -> tuple[int, str, str]:
    """A new member signed in through a database session: (user id, username, session key)."""
    user = get_user_model().objects.create_user(username=f"m{uuid.uuid4().hex[:10]}", password=None)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = django_settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    assert session.session_key is not None
    return user.pk, user.username, session.session_key


def api(user_id: int) -> APIClient:
    client = APIClient()
    client.force_authenticate(get_user_model().objects.get(pk=user_id))
    return client


def say(user_id: int, dialog_id: int, body: str) -> int:
    response = api(user_id).post(f"/api/v1/dialogs/{dialog_id}/messages", {"body": body}, format="json")
    assert response.status_code == 201, response.content
    message_id: int = response.json()["id"]
    return message_id


@pytest.mark.django_db(transaction=True)
def test_a_dialog_page_is_live_and_catches_up_after_a_drop(stack: web.Stack) -> None:
    from playwright.sync_api import expect

    alice_id, _alice_name, alice_session = member()
    bob_id, bob_name, bob_session = member()
    dialog_id = services.dialog_start(starter_id=alice_id, recipient_id=bob_id).id
    services.message_create(author_id=alice_id, dialog_id=dialog_id, body="Hello Bob")
    dialog_url = f"{stack.origin}/dialogs/{dialog_id}/"

    with web.chromium() as browser:
        bob = web.new_page(browser, origin=stack.origin, session_key=bob_session)
        bob.goto(dialog_url)
        alice_list = web.new_page(browser, origin=stack.origin, session_key=alice_session)
        alice_list.goto(f"{stack.origin}/dialogs/")
        for page in (bob, alice_list):
            expect(page.locator("body")).to_have_attribute("data-realtime", "connected")

        # A message written through the API appears in Bob's open dialog, and his visible tab
        # acknowledges it: message_seen (what notifications ask before mailing) turns true.
        first = say(alice_id, dialog_id, "Are you *there*?")
        expect(bob.locator(f"#message-{first} .message__body")).to_have_text("Are you there?")
        web.wait_for(
            lambda: services.message_seen(user_id=bob_id, dialog_id=dialog_id, message_id=first),
            what="Bob's read receipt",
        )

        # Bob's reply reaches Alice's list and her header's badge, without a reload.
        say(bob_id, dialog_id, "Right here")
        expect(alice_list.locator("[data-dialog-unread]")).to_have_text("1")
        expect(alice_list.locator("#dialog-list")).to_contain_text("Right here")

        # With the dialog open, Alice sees Bob read her next message, and Bob typing.
        alice = alice_list.context.new_page()
        alice.goto(dialog_url)
        expect(alice.locator("body")).to_have_attribute("data-realtime", "connected")
        expect(alice.locator("[data-dialog-unread]")).to_be_hidden()
        third = say(alice_id, dialog_id, "Good")
        expect(bob.locator(f"#message-{third}")).to_be_visible()
        expect(alice.locator("[data-seen-by]")).to_have_text(f"Seen by {bob_name}")
        bob.locator("textarea[name=body]").press_sequentially("typing something")
        expect(alice.locator("[data-typing]")).to_have_text(f"{bob_name} is typing…")

        # The WebSocket server goes away: what is written meanwhile reaches no socket. When it is
        # back, Bob's tab reconnects and fetches everything after its last message, once, in order.
        stack.stop_ws()
        expect(bob.locator("body")).to_have_attribute("data-realtime", "offline")
        missed = [say(alice_id, dialog_id, f"While you were away {n}") for n in range(3)]
        stack.start_ws()
        expect(bob.locator("body")).to_have_attribute("data-realtime", "connected")
        for message_id in missed:
            expect(bob.locator(f"#message-{message_id}")).to_have_count(1)
        ids = [int(value) for value in bob.locator("[data-message-id]").evaluate_all(
            "items => items.map(item => item.getAttribute('data-message-id'))"
        )]  # fmt: skip
        assert ids == sorted(ids) and len(ids) == len(set(ids)) == 7
        web.wait_for(
            lambda: services.message_seen(user_id=bob_id, dialog_id=dialog_id, message_id=missed[-1]),
            what="the read receipt after catching up",
        )


@pytest.mark.django_db(transaction=True)
def test_a_dialog_reads_as_a_conversation_and_enter_sends_as_the_member_chose(stack: web.Stack) -> None:
    """Bubbles, the member's own apart from the others'; a message arriving live on a new day comes
    after a "Today" separator; with Enter to send on, Enter sends and Shift+Enter starts a line; with it
    off, Enter starts a line and Ctrl+Enter sends."""
    import datetime

    from django.utils import timezone
    from playwright.sync_api import expect

    from apps.dialog.models import Message

    alice_id, _alice_name, alice_session = member()
    bob_id, bob_name, _bob_session = member()
    dialog_id = services.dialog_start(starter_id=alice_id, recipient_id=bob_id).id
    old = services.message_create(author_id=bob_id, dialog_id=dialog_id, body="Yesterday's news").id
    Message.objects.filter(pk=old).update(created_at=timezone.now() - datetime.timedelta(days=1))
    services.dialog_settings_set(user_id=alice_id, enter_sends=True)

    with web.chromium() as browser:
        page = web.new_page(browser, origin=stack.origin, session_key=alice_session)
        page.goto(f"{stack.origin}/dialogs/{dialog_id}/")
        expect(page.locator("body")).to_have_attribute("data-realtime", "connected")
        expect(page.locator(".messages__day")).to_have_text(["Yesterday"])
        expect(page.locator(f"#message-{old}")).to_have_class("message message--theirs")
        expect(page.locator("[data-send-hint]")).to_contain_text(
            "Enter sends, Shift+Enter starts a new line."
        )

        # Bob writes: his message arrives live, on a day of its own.
        live = say(bob_id, dialog_id, "Good morning")
        expect(page.locator(".messages__day")).to_have_text(["Yesterday", "Today"])
        arrived = page.locator(f"#message-{live}")
        expect(arrived).to_have_class("message message--theirs message--new")
        expect(arrived.locator(".message__author")).to_have_text(bob_name)
        assert page.locator("ol.messages > li").evaluate_all(
            "items => items.map(item => item.className)"
        ) == [
            "messages__day",
            "message message--theirs",
            "messages__day",
            "message message--theirs message--new",
        ]

        # Shift+Enter starts a line; Enter sends.
        box = page.locator("textarea[name=body]")
        box.click()
        box.press_sequentially("On my")
        box.press("Shift+Enter")
        box.press_sequentially("way")
        expect(box).to_have_value("On my\nway")
        box.press("Enter")
        mine = page.locator("li.message--mine", has_text="On my")
        expect(mine).to_have_count(1)
        expect(mine.locator(".message__body")).to_have_text(re.compile(r"On my\s+way"))

        # Off: Enter is a new line, Ctrl+Enter sends.
        web.backstage(lambda: services.dialog_settings_set(user_id=alice_id, enter_sends=False))
        page.goto(f"{stack.origin}/dialogs/{dialog_id}/")
        expect(page.locator("[data-send-hint]")).to_contain_text("Ctrl+Enter sends.")
        box = page.locator("textarea[name=body]")
        box.click()
        box.press_sequentially("Two")
        box.press("Enter")
        box.press_sequentially("lines")
        expect(box).to_have_value("Two\nlines")
        box.press("Control+Enter")
        expect(page.locator("li.message--mine", has_text="lines")).to_have_count(1)
