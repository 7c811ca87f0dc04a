"""The dialogs-and-notifications issue end to end, in two browsers (two members) against the real
stack, everything through the pages:

1. Ada writes to Bruno from his profile's "Message" button; with the dialog open, Bruno sees "ada is
   typing…" while she types, before her message arrives, and then the message, without a reload;
2. Ada mentions @bruno in a reply in a public thread: the bell on Bruno's open page counts it live,
   and its dropdown shows the mention;
3. Bruno blocks Ada with the dialog's "Block" button: Ada's next message is refused with "You cannot
   message this member." and is not stored.

The stack (forum/testing/browser.py) is what production runs: gunicorn for the pages, uvicorn for
the WebSocket gateway, and a Celery worker on the dialog and notification queues, all on the test
database, this test's own queues and its own Redis keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.dialog import services as dialogs
from apps.thread import services as threads
from forum.testing import browser as web

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "Amber-Lighthouse-Meadow-52"

# A test-side record of the topics the page's socket subscribed to (realtime.js emits
# forum:subscribed): a whisper reaches only subscribers, so the test waits for both pages first.
RECORD_SUBSCRIPTIONS = """
window.subscribedTopics = [];
document.addEventListener("forum:subscribed", function (event) {
  window.subscribedTopics.push(event.detail.topic);
});
"""


@pytest.fixture
def stack(transactional_db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[web.Stack]:
    """The stack, with a worker on the dialog queue (live messages) and the notification queue
    (the mention, and the bell's count)."""
    web.require_chromium(monkeypatch)
    # The bell counts the mention alone: a notice of an unseen dialog message would wait an hour.
    with web.running_stack(
        tmp_path,
        queues=["dialog", "notification"],
        EMAIL_URL="dummymail://",
        NOTIFICATION_DIALOG_DELAY_SECONDS="3600",
    ) as stack:
        yield stack


@pytest.mark.django_db(transaction=True)
def test_typing_then_a_live_message_a_live_mention_on_the_bell_and_a_block_stops_the_writer(
    stack: web.Stack, django_user_model: Any
) -> None:
    from playwright.sync_api import Page, expect

    origin = stack.origin
    sam = django_user_model.objects.create_user(username="sam", password=PASSWORD, is_staff=True).pk
    ada_id = django_user_model.objects.create_user(username="ada", password=PASSWORD).pk
    bruno_id = django_user_model.objects.create_user(username="bruno", password=PASSWORD).pk
    general = threads.forum_create(name="General", kind="forum").id
    thread = threads.thread_create(author_id=sam, forum_id=general, title="Harbour news", body="Welcome!")

    def subscribed(page: Page, topic: str) -> None:
        page.wait_for_function("topic => window.subscribedTopics.includes(topic)", arg=topic)

    with web.chromium() as browser:
        ada = web.new_page(browser)
        bruno = web.new_page(browser)
        for page in (ada, bruno):
            page.context.add_init_script(script=RECORD_SUBSCRIPTIONS)

        # 1. Ada starts the dialog from Bruno's profile; Bruno opens it.
        web.sign_in(ada, origin, "ada", PASSWORD, f"/members/{bruno_id}/")
        ada.locator(".profile__actions").get_by_role("link", name="Message", exact=True).click()
        ada.wait_for_url(f"{origin}/dialogs/new/?to={bruno_id}")
        expect(ada.locator("input[name=recipients]")).to_have_value("bruno")
        ada.locator("textarea[name=body]").fill("Hello Bruno")
        ada.locator("main form").get_by_role("button", name="Send", exact=True).click()
        ada.wait_for_url(re.compile(re.escape(origin) + r"/dialogs/\d+/#message-\d+$"))
        dialog_id = int(re.findall(r"/dialogs/(\d+)/", ada.url)[0])
        dialog_path = f"/dialogs/{dialog_id}/"
        topic = f"dialog:{dialog_id}"

        web.sign_in(bruno, origin, "bruno", PASSWORD, dialog_path)
        messages = bruno.locator("[data-messages]")
        expect(messages).to_contain_text("Hello Bruno")
        for page in (ada, bruno):
            expect(page.locator("body")).to_have_attribute("data-realtime", "connected")
            subscribed(page, topic)
        web.mark(bruno)

        # Ada types: Bruno sees "typing…" while her message is not there yet.
        typing = bruno.locator("[data-typing]")
        expect(typing).to_be_hidden()
        ada.locator("textarea[name=body]").press_sequentially("Are you coming tonight?")
        expect(typing).to_have_text("ada is typing…")
        expect(messages.locator("[data-message-id]", has_text="Are you coming tonight?")).to_have_count(0)

        # She sends: the message arrives in Bruno's open page, which was not reloaded.
        ada.locator("form[data-message-form]").get_by_role("button", name="Send", exact=True).click()
        ada.wait_for_url(re.compile(re.escape(origin + dialog_path) + r"#message-\d+$"))
        arrived = messages.locator("[data-message-id]", has_text="Are you coming tonight?")
        expect(arrived).to_have_count(1)
        expect(typing).to_be_hidden()  # the message ends the hint
        assert web.stayed(bruno)

        # 2. Ada mentions Bruno in a reply: the bell on Bruno's open page counts it live.
        count = bruno.locator("[data-notification-count]")
        expect(count).to_be_hidden()
        ada.goto(f"{origin}/threads/{thread.id}/")
        reply_form = ada.locator("form[action$='/reply/']")
        reply_form.locator("textarea[name=body]").fill("@bruno the harbour opens at nine.")
        reply_form.get_by_role("button", name="Reply", exact=True).click()
        ada.wait_for_url(re.compile(re.escape(f"{origin}/threads/{thread.id}/") + r"#post-\d+$"))
        expect(count).to_have_text("1")
        expect(count).to_be_visible()
        assert web.stayed(bruno)

        bruno.locator(".notification-bell__link").click()
        dropdown = bruno.locator("#notification-dropdown")
        expect(dropdown).to_be_visible()
        expect(dropdown).to_contain_text("ada mentioned you in “Harbour news”")
        assert web.stayed(bruno)

        # 3. Bruno blocks Ada from the dialog; her next message there is refused and not stored.
        bruno.locator(".dialog-section").get_by_role("button", name="Block ada", exact=True).click()
        bruno.wait_for_url(f"{origin}{dialog_path}")
        expect(bruno.locator("main")).to_contain_text("You have blocked this member")
        assert dialogs.block_exists(user_id=bruno_id, blocked_id=ada_id)

        ada.goto(f"{origin}{dialog_path}")
        ada.locator("textarea[name=body]").fill("Why not?")
        ada.locator("form[data-message-form]").get_by_role("button", name="Send", exact=True).click()
        expect(ada.locator("form[data-message-form]")).to_contain_text("You cannot message this member.")
        expect(ada.locator("[data-messages]")).not_to_contain_text("Why not?")

        reader = APIClient()
        reader.force_authenticate(django_user_model.objects.get(pk=bruno_id))
        stored = reader.get(f"/api/v1/dialogs/{dialog_id}/messages")
        assert stored.status_code == 200, stored.content
        bodies = [message["body"] for message in stored.json()["messages"]]
        assert bodies == ["Hello Bruno", "Are you coming tonight?"]
