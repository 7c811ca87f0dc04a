"""The composer's server side for dialog messages: the preview (rendered as the message would be, for
participants only, with the posts' budget), taking an upload back, and the message form that takes the
uploads the composer made beforehand (``attachment_ids``) while still working without JavaScript."""

from __future__ import annotations

import re
from typing import Any

from apps.dialog import services
from apps.dialog.models import BODY_MAX_LENGTH, Message, MessageAttachment
from apps.dialog.tests.conftest import Api, Web, username
from apps.dialog.tests.test_attachments import pdf, png, upload


def preview(api: Api, user_id: int | None, dialog_id: int, body: str) -> Any:
    return api(user_id).post(f"/api/v1/dialogs/{dialog_id}/preview", {"body": body}, format="json")


def test_the_preview_is_the_html_the_message_gets(
    api_as: Api, django_user_model: Any, alice: int, bob: int, carol: int
) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    # A mention links only to a participant (bob), not to carol, who is not in the dialog.
    bob_name, carol_name = username(django_user_model, bob), username(django_user_model, carol)
    body = f"**Hi** @{bob_name} and @{carol_name} <script>x</script>"
    answer = preview(api_as, alice, dialog_id, body)
    assert answer.status_code == 200, answer.json()
    html = answer.json()["html"]
    sent = services.message_create(author_id=alice, dialog_id=dialog_id, body=body)
    assert html == Message.objects.get(pk=sent.id).body_html
    assert html.count('class="mention"') == 1 and "<strong>Hi</strong>" in html
    assert "<script" not in html and "&lt;script&gt;" in html


def test_the_preview_is_for_participants_only(api_as: Api, alice: int, bob: int, carol: int) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    assert preview(api_as, carol, dialog_id, "Hi").status_code == 404
    assert preview(api_as, None, dialog_id, "Hi").status_code in (401, 403)


def test_a_text_longer_than_a_message_is_refused_with_400(api_as: Api, alice: int, bob: int) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    answer = preview(api_as, alice, dialog_id, "x" * (BODY_MAX_LENGTH + 1))
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "too_long"


def test_post_and_message_previews_share_one_budget(api_as: Api, settings: Any, alice: int, bob: int) -> None:
    settings.MARKUP_PREVIEW_PER_MINUTE = 2
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    assert preview(api_as, alice, dialog_id, "one").status_code == 200
    assert api_as(alice).post("/api/v1/markup/preview", {"body": "two"}, format="json").status_code == 200
    refused = preview(api_as, alice, dialog_id, "three")
    assert refused.status_code == 429 and "Retry-After" in refused


def test_an_upload_is_taken_back_only_in_its_own_dialog_by_its_uploader(
    api_as: Api, alice: int, bob: int, carol: int
) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    elsewhere = services.dialog_start(starter_id=alice, recipient_id=carol).id
    mine = upload(api_as, alice, dialog_id, png())
    route = f"/api/v1/dialogs/{dialog_id}/attachments/{mine['id']}"
    assert api_as(bob).delete(route).status_code == 404
    assert api_as(alice).delete(f"/api/v1/dialogs/{elsewhere}/attachments/{mine['id']}").status_code == 404
    assert MessageAttachment.objects.filter(pk=mine["id"]).exists()
    assert api_as(alice).delete(route).status_code == 204
    assert not MessageAttachment.objects.filter(pk=mine["id"]).exists()


def test_the_message_form_works_without_javascript_and_takes_uploads_made_beforehand(
    api_as: Api, web: Web, alice: int, bob: int
) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    page = web(alice).get(f"/dialogs/{dialog_id}/").content.decode()
    form = re.search(r"<form[^>]*data-message-form.*?</form>", page, re.S)
    assert form is not None
    assert re.search(r'<textarea name="body"[^>]*id="id_body"', form.group(0))
    assert re.search(r'<input type="file" name="attachments" multiple', form.group(0))
    assert f'data-preview-url="/api/v1/dialogs/{dialog_id}/preview"' in form.group(0)

    plain = web(alice).post(f"/dialogs/{dialog_id}/send/", {"body": "Plain", "attachments": [pdf()]})
    assert plain.status_code == 302
    assert MessageAttachment.objects.filter(message__body="Plain").count() == 1

    ready = upload(api_as, alice, dialog_id, png())
    refused = web(alice).post(
        f"/dialogs/{dialog_id}/send/", {"body": "", "attachment_ids": [str(ready["id"])]}
    )
    assert refused.status_code == 400
    assert re.search(rf'name="attachment_ids" value="{ready["id"]}" checked', refused.content.decode())
    sent = web(alice).post(
        f"/dialogs/{dialog_id}/send/", {"body": "Look", "attachment_ids": [str(ready["id"])]}
    )
    assert sent.status_code == 302
    assert MessageAttachment.objects.get(pk=ready["id"]).message_id == Message.objects.get(body="Look").pk
