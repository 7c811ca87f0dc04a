"""The composer on a dialog page in a real browser: Preview shows the message as the dialog renders it
(a mention of a participant linked), a picked file uploads into the dialog at once, and the message
sent shows it. A screenshot of the composer with its preview at 390 px goes to .artifacts/.

Django's live server (a thread of this process, on the test database) serves the pages and their
static files; Debian's Chromium is driven through Playwright.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from PIL import Image

from apps.dialog import services
from apps.dialog.tests.conftest import username
from forum.testing import browser as web

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    web.require_chromium(monkeypatch)
    with web.chromium() as browser:
        yield web.new_page(browser)


def artifacts() -> Path:
    folder = Path(os.environ.get("FORUM_TEST_ARTIFACTS") or Path(settings.BASE_DIR) / ".artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), "#37a").save(out, format="PNG")
    return out.getvalue()


def test_the_dialog_composer_previews_and_uploads(
    live_server: Any, browser_page: Any, django_user_model: Any, alice: int, bob: int
) -> None:
    from playwright.sync_api import expect

    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    origin = live_server.url
    session = Client()
    session.force_login(django_user_model.objects.get(pk=alice))
    page = browser_page
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": session.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": origin,
            }
        ]
    )
    page.goto(f"{origin}/dialogs/{dialog_id}/")
    form = page.locator("form[data-message-form]")
    composer = form.locator("[data-composer]")
    body = form.locator("textarea[name=body]")

    body.fill(f"Hello @{username(django_user_model, bob)}")
    body.evaluate("(area) => area.setSelectionRange(0, 5)")
    composer.get_by_role("button", name="Bold").click()
    composer.get_by_role("tab", name="Preview").click()
    panel = composer.get_by_role("tabpanel")
    expect(panel.locator("strong")).to_have_text("Hello")
    expect(panel.locator("a.mention")).to_have_count(1)
    page.set_viewport_size({"width": 390, "height": 844})
    box = composer.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    form.screenshot(path=str(artifacts() / "composer-dialog-preview-390.png"))

    composer.get_by_role("tab", name="Write").click()
    form.locator("input[name=attachments]").set_input_files(
        files=[{"name": "boat.png", "mimeType": "image/png", "buffer": png()}]
    )
    expect(composer.locator("li", has_text="boat.png").locator("input[name=attachment_ids]")).to_have_count(1)
    # The file went up through the API: the form's own input is empty, so it is not sent twice.
    assert form.locator("input[name=attachments]").evaluate("(input) => input.files.length") == 0

    form.get_by_role("button", name="Send", exact=True).click()
    message = page.locator("li.message", has_text="Hello")
    expect(message.locator(".message__body strong")).to_have_text("Hello")
    expect(message.locator(".attachments img")).to_have_attribute("alt", "boat.png")
