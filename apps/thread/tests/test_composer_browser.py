"""The composer (static/js/composer.js) in a real browser on the thread page: the toolbar and its
shortcuts put Markdown around the selection (and the draft is saved as if typed), Preview shows the
server's rendering, a pasted image uploads and can be taken back, a dropped one shows its progress
while a send waits for it, and the reply then shows the attachment. Screenshots of the composer with
its preview, at 1280 and 390 px, go to .artifacts/ (FORUM_TEST_ARTIFACTS overrides) for a person to
look at.

Django's live server (a thread of this process, on the test database) serves the pages and their
static files; Debian's Chromium is driven through Playwright.
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from PIL import Image

from apps.thread import services
from apps.thread.models import Draft, PostAttachment
from apps.thread.tests.conftest import Tree
from forum.testing import browser as web
from forum.testing.fixtures import local_upload_storages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Builds a File from base64 and hands it to the page as a drop on the composer or a paste into it.
GIVE_FILE = """([kind, name, data]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type: "image/png" }));
  if (kind === "drop") {
    const target = document.querySelector("[data-composer]");
    for (const type of ["dragenter", "dragover", "drop"]) {
      target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: transfer }));
    }
  } else {
    const event = new ClipboardEvent("paste", { bubbles: true, cancelable: true, clipboardData: transfer });
    document.getElementById("id_body").dispatchEvent(event);
  }
}"""


def artifacts() -> Path:
    folder = Path(os.environ.get("FORUM_TEST_ARTIFACTS") or Path(settings.BASE_DIR) / ".artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def png_base64(colour: str) -> str:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path) -> Iterator[Any]:
    local_upload_storages(settings, tmp_path)
    web.require_chromium(monkeypatch)
    with web.chromium() as browser:
        yield web.new_page(browser)


def test_the_composer_formats_previews_and_uploads(
    live_server: Any, browser_page: Any, django_user_model: Any, tree: Tree, staff: int, member: int
) -> None:
    from playwright.sync_api import expect

    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="Harbour news", body="Hi")
    origin = live_server.url
    session = Client()
    session.force_login(django_user_model.objects.get(pk=member))
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": session.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": origin,
            }
        ]
    )
    page.goto(f"{origin}/threads/{thread.id}/")
    form = page.locator("form[data-draft-url]")
    composer = form.locator("[data-composer]")
    body = form.locator("textarea[name=body]")
    toolbar = composer.get_by_role("toolbar", name="Formatting")
    expect(toolbar).to_be_visible()

    # The Bold button wraps the selection; Ctrl+I does italics; the draft is saved as if typed.
    body.fill("Hello world")
    body.evaluate("(area) => area.setSelectionRange(6, 11)")
    toolbar.get_by_role("button", name="Bold").click()
    expect(body).to_have_value("Hello **world**")
    assert body.evaluate("(area) => area.value.slice(area.selectionStart, area.selectionEnd)") == "world"
    body.evaluate("(area) => area.setSelectionRange(0, 5)")
    body.press("Control+i")
    expect(body).to_have_value("_Hello_ **world**")
    body.press("End")
    body.press("Enter")
    body.press_sequentially("first line")
    toolbar.get_by_role("button", name="List").click()
    expect(body).to_have_value("_Hello_ **world**\n- first line")
    # The toolbar is one Tab stop; the arrows go from button to button.
    toolbar.get_by_role("button", name="Bold").focus()
    page.keyboard.press("ArrowRight")
    expect(toolbar.get_by_role("button", name="Italic")).to_be_focused()
    expect(form.locator("[data-draft-status]")).to_have_text("Draft saved")
    web.wait_for(
        lambda: Draft.objects.filter(user_id=member, thread_id=thread.id, body=body.input_value()).exists(),
        what="the draft with the toolbar's changes",
    )

    # Preview: the server's rendering, in a proper tab panel.
    preview_tab = composer.get_by_role("tab", name="Preview")
    preview_tab.click()
    expect(preview_tab).to_have_attribute("aria-selected", "true")
    panel = composer.get_by_role("tabpanel")
    expect(panel.locator("strong")).to_have_text("world")
    expect(panel.locator("em")).to_have_text("Hello")
    expect(panel.locator("li")).to_have_text("first line")
    expect(body).to_be_hidden()

    section = page.locator("section[aria-labelledby=reply-title]")
    section.screenshot(path=str(artifacts() / "composer-preview-1280.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    expect(panel.locator("strong")).to_have_text("world")
    box = composer.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    section.screenshot(path=str(artifacts() / "composer-preview-390.png"))
    page.set_viewport_size({"width": 1280, "height": 900})

    # Back to writing with the arrow key, as tabs go.
    preview_tab.focus()
    page.keyboard.press("ArrowLeft")
    expect(composer.get_by_role("tab", name="Write")).to_have_attribute("aria-selected", "true")
    expect(body).to_be_visible()

    # A pasted image uploads at once, and Remove takes it back on the server.
    page.evaluate(GIVE_FILE, ["paste", "pasted.png", png_base64("#a37")])
    pasted = composer.locator("li", has_text="pasted.png")
    expect(pasted.locator("input[type=hidden][name=attachment_ids]")).to_have_count(1)
    expect(pasted.locator("img")).to_have_count(1)
    section.screenshot(path=str(artifacts() / "composer-write-1280.png"))
    pasted_id = int(pasted.locator("input[name=attachment_ids]").input_value())
    pasted.get_by_role("button", name="Remove pasted.png").click()
    expect(pasted).to_have_count(0)
    web.wait_for(
        lambda: not PostAttachment.objects.filter(pk=pasted_id).exists(), what="the upload taken back"
    )

    # A dropped image, held on its way: a progress bar shows, and a send meanwhile waits for it.
    held: list[Any] = []
    page.route("**/api/v1/attachments", lambda route: held.append(route))
    page.evaluate(GIVE_FILE, ["drop", "harbour.png", png_base64("#3a7")])
    progress = composer.get_by_role("progressbar", name="Uploading harbour.png")
    expect(progress).to_be_visible()
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the upload never left the page"
    web.mark(page)
    form.get_by_role("button", name="Reply", exact=True).click()
    expect(composer.get_by_role("status")).to_have_text("Sending as soon as the files are uploaded…")
    assert web.stayed(page)
    held[0].continue_()
    page.unroute("**/api/v1/attachments")

    # Let through, it goes with the reply, which carries it and nothing else.
    reply = page.locator("li.post", has_text="first line")
    expect(reply.locator(".attachments img")).to_have_count(1)
    expect(reply.locator(".attachments img")).to_have_attribute("alt", "harbour.png")
    expect(reply.locator("strong")).to_have_text("world")
    assert not Draft.objects.filter(user_id=member, thread_id=thread.id).exists()
