"""Attachments on dialog messages: uploaded through the kernel's upload code into a dialog, sent with a
message, and downloaded only by the dialog's participants (404 for anyone else, staff included,
whatever id or name is guessed)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from apps.dialog import services
from apps.dialog.models import MessageAttachment
from apps.dialog.tests.conftest import Api, Web
from forum.uploads import private_storage


def png(name: str = "photo.png") -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "#3a7").save(out, format="PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def pdf(name: str = "paper.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.4\n%%EOF\n", content_type="application/pdf")


def body_of(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else bytes(response.content)


def upload(api: Api, user_id: int, dialog_id: int, file: SimpleUploadedFile) -> dict[str, Any]:
    response = api(user_id).post(
        f"/api/v1/dialogs/{dialog_id}/attachments", {"file": file}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    result: dict[str, Any] = response.json()
    return result


def test_a_file_sent_in_a_dialog_is_for_its_participants_only(
    api_as: Api, web: Web, alice: int, bob: int, carol: int, superuser: int
) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    image = upload(api_as, alice, dialog_id, png())
    document = upload(api_as, alice, dialog_id, pdf())
    assert image["thumbnail_url"] and document["thumbnail_url"] is None and image["message_id"] is None

    # Waiting for a message, an upload is its uploader's alone, even inside the dialog.
    assert web(alice).get(image["url"]).status_code == 200
    assert web(bob).get(image["url"]).status_code == 404

    sent = api_as(alice).post(
        f"/api/v1/dialogs/{dialog_id}/messages",
        {"body": "Look", "attachment_ids": [image["id"], document["id"]]},
        format="json",
    )
    assert sent.status_code == 201, sent.json()
    [message] = api_as(bob).get(f"/api/v1/dialogs/{dialog_id}/messages").json()["messages"]
    assert [a["id"] for a in message["attachments"]] == [image["id"], document["id"]]

    downloaded = web(bob).get(document["url"])
    assert downloaded.status_code == 200 and body_of(downloaded).startswith(b"%PDF-")
    assert downloaded["Content-Disposition"].startswith("attachment")
    thumbnail = web(bob).get(image["thumbnail_url"])
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/webp"

    # Anyone else: the same 404 as for a file that does not exist, with any name in the URL.
    gone = f"/dialogs/attachments/{document['id'] + 1000}/paper.pdf"
    for outsider in (carol, superuser, None):
        for url in (
            image["url"],
            image["thumbnail_url"],
            document["url"],
            f"/dialogs/attachments/{document['id']}/x.pdf",
        ):
            assert web(outsider).get(url).status_code == 404, (outsider, url)
        assert web(outsider).get(gone).status_code == 404


def test_outsiders_cannot_upload_into_a_dialog_nor_take_someone_elses_upload(
    api_as: Api, alice: int, bob: int, carol: int
) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    refused = api_as(carol).post(
        f"/api/v1/dialogs/{dialog_id}/attachments", {"file": pdf()}, format="multipart"
    )
    assert refused.status_code == 404

    alices = upload(api_as, alice, dialog_id, pdf())
    taken = api_as(bob).post(
        f"/api/v1/dialogs/{dialog_id}/messages",
        {"body": "mine", "attachment_ids": [alices["id"]]},
        format="json",
    )
    assert taken.status_code == 400 and taken.json()["error"]["code"] == "attachment_unknown"

    # An upload waiting in one dialog does not travel to another.
    other = services.dialog_start(starter_id=alice, recipient_id=carol).id
    moved = api_as(alice).post(
        f"/api/v1/dialogs/{other}/messages", {"body": "here", "attachment_ids": [alices["id"]]}, format="json"
    )
    assert moved.status_code == 400


def test_attachments_per_message_come_from_the_permission_engine(api_as: Api, alice: int, bob: int) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    ids = [upload(api_as, alice, dialog_id, pdf(f"p{n}.pdf"))["id"] for n in range(6)]
    too_many = api_as(alice).post(
        f"/api/v1/dialogs/{dialog_id}/messages", {"body": "files", "attachment_ids": ids}, format="json"
    )
    assert too_many.status_code == 400 and too_many.json()["error"]["code"] == "too_many_attachments"
    assert (
        api_as(alice)
        .post(
            f"/api/v1/dialogs/{dialog_id}/messages",
            {"body": "files", "attachment_ids": ids[:5]},
            format="json",
        )
        .status_code
        == 201
    )


def test_a_deleted_message_takes_its_files_with_it(
    api_as: Api, web: Web, alice: int, bob: int, django_capture_on_commit_callbacks: Any, tmp_path: Path
) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    document = upload(api_as, alice, dialog_id, pdf())
    message = services.message_create(
        author_id=alice, dialog_id=dialog_id, body="f", attachment_ids=[document["id"]]
    )
    key = MessageAttachment.objects.get(pk=document["id"]).storage_key
    assert private_storage().exists(key)
    with django_capture_on_commit_callbacks(execute=True):
        services.message_delete(user_id=alice, message_id=message.id)
    assert not private_storage().exists(key)
    assert web(alice).get(document["url"]).status_code == 404
    assert not MessageAttachment.objects.filter(pk=document["id"]).exists()


def test_a_refused_file_is_a_clear_error(api_as: Api, alice: int, bob: int) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    program = SimpleUploadedFile("setup.exe", b"MZ\x90\x00" + b"\x00" * 64)
    response = api_as(alice).post(
        f"/api/v1/dialogs/{dialog_id}/attachments", {"file": program}, format="multipart"
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "file_type_not_allowed"
    assert not MessageAttachment.objects.exists()


def test_uploads_no_message_took_are_deleted_after_a_while(
    api_as: Api, alice: int, bob: int, clock: Any, settings: Any
) -> None:
    settings.DIALOG_UPLOAD_ORPHAN_HOURS = 24
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    kept = upload(api_as, alice, dialog_id, pdf("kept.pdf"))
    services.message_create(author_id=alice, dialog_id=dialog_id, body="f", attachment_ids=[kept["id"]])
    waiting = upload(api_as, alice, dialog_id, pdf("waiting.pdf"))
    key = MessageAttachment.objects.get(pk=waiting["id"]).storage_key
    assert services.attachments_delete_orphans() == 0
    clock.move(hours=25)
    assert services.attachments_delete_orphans(batch_size=1) == 1
    assert not private_storage().exists(key)
    assert list(MessageAttachment.objects.values_list("pk", flat=True)) == [kept["id"]]
