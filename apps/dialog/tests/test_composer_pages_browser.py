"""The composer on the new-dialog and message-edit pages in a real browser: the toolbar formats, the
Preview shows the message as it will be stored (on the new-dialog page before the dialog exists, a
mention of the member in "To" linked), a file dropped on the new dialog's composer goes with the form,
and axe-core finds no serious violation and nothing scrolls sideways at 1280 and 390 px, in English and
Russian. Screenshots of both pages at both widths go to .artifacts/.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from PIL import Image

from apps.dialog import services
from apps.dialog.models import Message, MessageAttachment
from apps.dialog.tests.conftest import username
from forum.testing import browser as web
from forum.testing import pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = (("desktop", pages.DESKTOP), ("phone", pages.PHONE))


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    web.require_chromium(monkeypatch)
    with web.chromium() as browser:
        yield web.new_page(browser)


def signed_in(page: Any, origin: str, member: Any) -> None:
    session = Client()
    session.force_login(member)
    cookie = session.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": origin}])


def speaking(page: Any, origin: str, language: str) -> None:
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": origin}])


def png_bytes() -> list[int]:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "#a73").save(out, format="PNG")
    return list(out.getvalue())


def read_well(page: Any, where: str) -> None:
    assert pages.axe_violations(page) == [], where
    assert pages.overflow(page) is None, where


def test_the_new_dialog_composer_formats_previews_takes_a_dropped_file_and_passes_axe(
    live_server: Any, browser_page: Any, django_user_model: Any, alice: int, bob: int, carol: int
) -> None:
    from playwright.sync_api import expect

    origin, page = live_server.url, browser_page
    signed_in(page, origin, django_user_model.objects.get(pk=alice))
    bob_name, carol_name = username(django_user_model, bob), username(django_user_model, carol)

    for language in ("en", "ru"):
        speaking(page, origin, language)
        for size_name, size in SIZES:
            page.set_viewport_size(size)
            page.goto(f"{origin}/dialogs/new/?to={bob}")
            expect(page.locator("[data-composer-toolbar]")).to_be_visible()
            read_well(page, f"new dialog {language} {size_name}")
            pages.screenshot(page, f"dialog-new-{language}-{size_name}")

    speaking(page, origin, "en")
    page.set_viewport_size(pages.DESKTOP)
    page.goto(f"{origin}/dialogs/new/")
    form = page.locator("form[data-new-dialog-form]")
    composer = form.locator("[data-composer]")
    form.locator("#id_recipients").fill(bob_name)
    body = form.locator("textarea[name=body]")
    body.fill(f"Hello @{bob_name} and @{carol_name}")
    body.evaluate("(area) => area.setSelectionRange(0, 5)")
    composer.get_by_role("button", name="Bold").click()
    expect(body).to_have_value(f"**Hello** @{bob_name} and @{carol_name}")
    body.evaluate("(area) => area.setSelectionRange(area.value.length, area.value.length)")
    composer.get_by_role("button", name="List").click()
    expect(body).to_have_value(f"- **Hello** @{bob_name} and @{carol_name}")

    composer.get_by_role("tab", name="Preview").click()
    panel = composer.get_by_role("tabpanel")
    expect(panel.locator("li strong")).to_have_text("Hello")
    # Only the member in "To" is linked, as the stored message will have it.
    expect(panel.locator("a.mention")).to_have_count(1)
    expect(panel.locator("a.mention")).to_have_text(f"@{bob_name}")
    for size_name, size in SIZES:
        page.set_viewport_size(size)
        read_well(page, f"new dialog preview {size_name}")
    pages.screenshot(page, "dialog-new-preview-phone")
    page.set_viewport_size(pages.DESKTOP)

    # A file dropped on the composer joins the form's file input (no dialog to upload into yet).
    composer.get_by_role("tab", name="Write").click()
    composer.evaluate(
        """(root, bytes) => {
            const files = new DataTransfer();
            files.items.add(new File([new Uint8Array(bytes)], "sea.png", { type: "image/png" }));
            const drop = { dataTransfer: files, bubbles: true, cancelable: true };
            root.dispatchEvent(new DragEvent("drop", drop));
        }""",
        png_bytes(),
    )
    assert form.locator("input[name=attachments]").evaluate("(input) => input.files.length") == 1
    form.get_by_role("button", name="Send", exact=True).click()
    message = page.locator("li.message", has_text="Hello")
    expect(message.locator(".message__body li strong")).to_have_text("Hello")
    expect(message.locator(".attachments img")).to_have_attribute("alt", "sea.png")
    stored = Message.objects.get(author_id=alice)
    assert stored.body_html.count('class="mention"') == 1
    assert MessageAttachment.objects.filter(message=stored).count() == 1


def test_the_edit_composer_formats_previews_and_passes_axe(
    live_server: Any, browser_page: Any, django_user_model: Any, alice: int, bob: int
) -> None:
    from playwright.sync_api import expect

    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    message_id = services.message_create(author_id=alice, dialog_id=dialog_id, body="See the boats").id
    origin, page = live_server.url, browser_page
    signed_in(page, origin, django_user_model.objects.get(pk=alice))

    for language in ("en", "ru"):
        speaking(page, origin, language)
        for size_name, size in SIZES:
            page.set_viewport_size(size)
            page.goto(f"{origin}/dialogs/messages/{message_id}/edit/")
            expect(page.locator("[data-composer-toolbar]")).to_be_visible()
            read_well(page, f"edit {language} {size_name}")
            pages.screenshot(page, f"dialog-message-edit-{language}-{size_name}")

    speaking(page, origin, "en")
    page.set_viewport_size(pages.PHONE)
    page.goto(f"{origin}/dialogs/messages/{message_id}/edit/")
    form = page.locator("form[data-message-edit-form]")
    composer = form.locator("[data-composer]")
    body = form.locator("textarea[name=body]")
    body.evaluate("(area) => area.setSelectionRange(8, 13)")
    composer.get_by_role("button", name="Italic").click()
    body.evaluate("(area) => { area.focus(); area.setSelectionRange(4, 7); }")
    composer.get_by_role("button", name="Code").click()
    expect(body).to_have_value("See `the` _boats_")
    composer.get_by_role("tab", name="Preview").click()
    panel = composer.get_by_role("tabpanel")
    expect(panel.locator("em")).to_have_text("boats")
    expect(panel.locator("code")).to_have_text("the")
    for size_name, size in SIZES:
        page.set_viewport_size(size)
        read_well(page, f"edit preview {size_name}")
    form.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(f"#message-{message_id} .message__body em")).to_have_text("boats")
