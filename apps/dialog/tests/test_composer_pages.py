"""The composer on the new-dialog and message-edit pages: the same partial as the dialog page, a plain
form without JavaScript (the recipients a plain input the member autocomplete builds on), the new
dialog's first message previewed before the dialog exists, and both pages in English and Russian."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings

from apps.dialog import services
from apps.dialog.models import BODY_MAX_LENGTH, Message, MessageAttachment
from apps.dialog.tests.conftest import Api, Web, username
from apps.dialog.tests.test_attachments import pdf, png


def form_of(page: str, marker: str) -> str:
    found = re.search(rf"<form[^>]*{marker}.*?</form>", page, re.S)
    assert found is not None, marker
    return found.group(0)


def new_preview(api: Api, user_id: int | None, body: str, recipients: str | None = None) -> Any:
    data = {"body": body} if recipients is None else {"body": body, "recipients": recipients}
    return api(user_id).post("/api/v1/dialogs/preview", data, format="json")


def test_the_new_dialog_page_has_the_composer_and_a_plain_recipients_field(
    web: Web, django_user_model: Any, alice: int, bob: int
) -> None:
    page = web(alice).get(f"/dialogs/new/?to={bob}").content.decode()
    form = form_of(page, "data-new-dialog-form")
    assert 'enctype="multipart/form-data"' in form
    # The recipients stay a plain text input with a stable name and id (the autocomplete's hook).
    recipients = re.search(r'<input type="text" name="recipients"[^>]*>', form)
    assert recipients is not None and 'id="id_recipients"' in recipients.group(0)
    assert f'value="{username(django_user_model, bob)}"' in recipients.group(0)
    assert "role=" not in recipients.group(0)
    assert re.search(r'<input type="text" name="title"[^>]*id="id_title"', form)
    composer = re.search(r"<div class=\"composer\" data-composer[^>]*>", form)
    assert composer is not None
    assert 'data-preview-url="/api/v1/dialogs/preview"' in composer.group(0)
    assert 'data-preview-fields="recipients"' in composer.group(0)
    # No dialog to upload into yet: the files go with the form, not through the upload API.
    assert "data-upload-url" not in composer.group(0)
    assert re.search(r'<textarea name="body"[^>]*id="id_body"', form)
    assert re.search(r'<input type="file" name="attachments" multiple', form)
    assert "data-composer-toolbar hidden" in form and "data-composer-tabs hidden" in form
    # The composer's assets bring the member autocomplete: loaded once, never twice.
    assert page.count("js/composer.js") == 1 and page.count("search/member-lookup.js") <= 1


def test_a_new_dialog_starts_with_files_through_the_plain_form(
    web: Web, django_user_model: Any, alice: int, bob: int
) -> None:
    names = username(django_user_model, bob)
    sent = web(alice).post(
        "/dialogs/new/", {"recipients": names, "body": "**Hello**", "attachments": [png(), pdf()]}
    )
    assert sent.status_code == 302
    message = Message.objects.get(body="**Hello**")
    assert "<strong>Hello</strong>" in message.body_html
    assert MessageAttachment.objects.filter(message=message).count() == 2

    refused = web(alice).post("/dialogs/new/", {"recipients": "", "body": "Kept words"})
    assert refused.status_code == 400
    form = form_of(refused.content.decode(), "data-new-dialog-form")
    assert "data-composer" in form and "Kept words</textarea>" in form
    assert 'class="errorlist' in form


def test_the_first_message_is_previewed_as_it_will_be_stored(
    api_as: Api, web: Web, django_user_model: Any, alice: int, bob: int, carol: int
) -> None:
    bob_name, carol_name = username(django_user_model, bob), username(django_user_model, carol)
    body = f"**Hi** @{bob_name} and @{carol_name} <script>x</script>"
    answer = new_preview(api_as, alice, body, recipients=f"@{bob_name}, nobody-here")
    assert answer.status_code == 200, answer.json()
    html = answer.json()["html"]
    # Only the member the dialog is for is linked: carol is named but not in it.
    assert html.count('class="mention"') == 1 and "<strong>Hi</strong>" in html
    assert "<script" not in html
    assert web(alice).post("/dialogs/new/", {"recipients": bob_name, "body": body}).status_code == 302
    assert html == Message.objects.get(author_id=alice).body_html
    # Without recipients nobody is linked; the dialog does not exist yet, so nothing else is read.
    assert 'class="mention"' not in new_preview(api_as, alice, body).json()["html"]


def test_the_new_dialog_preview_is_for_members_with_the_usual_limits(
    api_as: Api, settings: Any, alice: int
) -> None:
    assert new_preview(api_as, None, "Hi").status_code in (401, 403)
    too_long = new_preview(api_as, alice, "x" * (BODY_MAX_LENGTH + 1))
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "too_long"
    bad = api_as(alice).post("/api/v1/dialogs/preview", {"recipients": "x"}, format="json")
    assert bad.status_code == 400 and "body" in str(bad.json())
    settings.MARKUP_PREVIEW_PER_MINUTE = 2
    assert new_preview(api_as, alice, "one").status_code == 200
    assert api_as(alice).post("/api/v1/markup/preview", {"body": "two"}, format="json").status_code == 200
    refused = new_preview(api_as, alice, "three")
    assert refused.status_code == 429 and "Retry-After" in refused


def test_the_edit_page_has_the_composer_without_files(web: Web, alice: int, bob: int) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    message = services.message_create(author_id=alice, dialog_id=dialog_id, body="First words")
    page = web(alice).get(f"/dialogs/messages/{message.id}/edit/").content.decode()
    form = form_of(page, "data-message-edit-form")
    assert f'data-preview-url="/api/v1/dialogs/{dialog_id}/preview"' in form
    assert "First words</textarea>" in form and "data-composer-toolbar" in form
    # An edit changes the words only: no file input, no upload address.
    assert 'type="file"' not in form and "data-upload-url" not in form
    refused = web(alice).post(f"/dialogs/messages/{message.id}/edit/", {"body": ""})
    assert refused.status_code == 400 and "data-composer" in refused.content.decode()
    assert web(alice).post(f"/dialogs/messages/{message.id}/edit/", {"body": "_New_"}).status_code == 302
    assert "<em>New</em>" in Message.objects.get(pk=message.id).body_html


def test_both_pages_speak_russian(web: Web, alice: int, bob: int) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    message = services.message_create(author_id=alice, dialog_id=dialog_id, body="Hi")
    client = web(alice)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"
    for path in ("/dialogs/new/", f"/dialogs/messages/{message.id}/edit/"):
        page = client.get(path).content.decode()
        assert '<html lang="ru"' in page, path
        composer = re.search(r'<div class="composer".*?data-composer-toolbar', page, re.S)
        assert composer is not None, path
        for english in ('aria-label="Bold"', ">Preview<", "Rendering the preview", "Markdown, as in posts"):
            assert english not in page, (path, english)
