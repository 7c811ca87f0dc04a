"""Attachments on posts: uploads by page and API, the count limit, and downloads only for who may see
the post (404 otherwise, whatever id is guessed)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.storage import Storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image
from rest_framework.test import APIClient

from apps.status.services import status_grant
from apps.thread import services
from apps.thread.models import PENDING_ATTACHMENTS_MAX, PostAttachment
from apps.thread.tests.conftest import Tree
from forum.testing.fixtures import local_upload_storages
from forum.tests.test_uploads import image_bytes
from forum.uploads import private_storage, store_upload

Api = Callable[[int | None], APIClient]


@pytest.fixture(autouse=True)
def local_media(settings: Any, tmp_path: Path) -> None:
    local_upload_storages(settings, tmp_path)


def png(name: str = "photo.png", size: tuple[int, int] = (40, 30)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, "#3a7").save(out, format="PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def pdf(name: str = "paper.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.4\n%%EOF\n", content_type="application/pdf")


def signed_in(django_user_model: Any, user_id: int) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.get(pk=user_id))
    return client


@pytest.fixture
def web(django_user_model: Any) -> Callable[[int | None], Client]:
    """A browser: downloads are pages, signed in by the session."""

    def make(user_id: int | None) -> Client:
        return Client() if user_id is None else signed_in(django_user_model, user_id)

    return make


Web = Callable[[int | None], Client]


def upload(api: Api, user_id: int, file: SimpleUploadedFile) -> Any:
    response = api(user_id).post("/api/v1/attachments", {"file": file}, format="multipart")
    assert response.status_code == 201, response.json()
    return response.json()


def body_of(response: Any) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else bytes(response.content)


def test_two_step_upload_through_the_api_then_download(
    api_as: Api, web: Web, tree: Tree, staff: int, other: int
) -> None:
    image = upload(api_as, staff, png())
    document = upload(api_as, staff, pdf())
    assert image["content_type"] == "image/png" and image["width"] == 40 and image["post_id"] is None
    assert image["thumbnail_url"] and document["thumbnail_url"] is None

    # Before a post takes them, the uploads are their uploader's alone.
    assert web(staff).get(image["url"]).status_code == 200
    assert web(other).get(image["url"]).status_code == 404

    response = api_as(staff).post(
        f"/api/v1/forums/{tree.general}/threads",
        {"title": "Pictures", "body": "See", "attachment_ids": [image["id"], document["id"]]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    thread_id = response.json()["id"]

    posts = api_as(other).get(f"/api/v1/threads/{thread_id}/posts").json()["posts"]
    assert [a["id"] for a in posts[0]["attachments"]] == [image["id"], document["id"]]
    downloaded = web(other).get(document["url"])
    assert downloaded.status_code == 200
    assert body_of(downloaded).startswith(b"%PDF-")
    assert downloaded["Content-Disposition"].startswith("attachment")
    thumbnail = web(None).get(image["thumbnail_url"])
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/webp"


def test_a_reply_takes_only_the_authors_own_waiting_uploads(
    api_as: Api, web: Web, tree: Tree, staff: int, other: int
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="T", body="B")
    someone_elses = upload(api_as, staff, pdf())
    refused = api_as(other).post(
        f"/api/v1/threads/{thread.id}/posts",
        {"body": "Mine now", "attachment_ids": [someone_elses["id"]]},
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "attachment_unknown"
    assert web(other).get(someone_elses["url"]).status_code == 404  # a guessed id shows nothing

    mine = upload(api_as, other, pdf())
    reply = api_as(other).post(
        f"/api/v1/threads/{thread.id}/posts", {"body": "Mine", "attachment_ids": [mine["id"]]}, format="json"
    )
    assert reply.status_code == 201
    again = api_as(other).post(
        f"/api/v1/threads/{thread.id}/posts", {"body": "Again", "attachment_ids": [mine["id"]]}, format="json"
    )
    assert again.status_code == 400  # on a post already


def test_the_count_is_limited_by_the_permission(api_as: Api, tree: Tree, staff: int, other: int) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="T", body="B")
    ids = [upload(api_as, other, pdf())["id"] for _ in range(4)]  # members may attach 3
    response = api_as(other).post(
        f"/api/v1/threads/{thread.id}/posts", {"body": "Many", "attachment_ids": ids}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_attachments"
    assert PostAttachment.objects.filter(pk__in=ids, post__isnull=True).count() == 4


def test_a_type_not_allowed_is_refused_with_a_clear_error(api_as: Api, other: int) -> None:
    program = SimpleUploadedFile("setup.png", b"MZ\x90\x00" + b"\x00" * 64)
    response = api_as(other).post("/api/v1/attachments", {"file": program}, format="multipart")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "file_type_not_allowed"
    assert "program" in response.json()["error"]["message"]
    missing = api_as(other).post("/api/v1/attachments", {}, format="multipart")
    assert missing.status_code == 400
    assert api_as(None).post("/api/v1/attachments", {"file": pdf()}, format="multipart").status_code in {
        401,
        403,
    }


def test_upload_with_the_reply_form_shows_a_thumbnail_and_a_link(
    django_user_model: Any, tree: Tree, staff: int, other: int
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="T", body="B")
    author = signed_in(django_user_model, other)
    response = author.post(
        f"/threads/{thread.id}/reply/", {"body": "With files", "attachments": [png("cat.png"), pdf("cv.pdf")]}
    )
    assert response.status_code == 302
    image, document = PostAttachment.objects.filter(uploader_id=other).order_by("id")
    page = author.get(f"/threads/{thread.id}/").content.decode()
    assert f'href="/attachments/{image.pk}/cat.png"' in page
    assert f'src="/attachments/{image.pk}/thumbnail/cat.png"' in page
    assert f'href="/attachments/{document.pk}/cv.pdf"' in page and "15\xa0bytes" in page

    # A refused file: the form says why, with its status, and nothing is kept.
    refused = author.post(
        f"/threads/{thread.id}/reply/",
        {"body": "Bad", "attachments": [pdf("fine.pdf"), SimpleUploadedFile("x.exe", b"MZ" + b"\0" * 20)]},
    )
    assert refused.status_code == 400 and "This file is a program" in refused.content.decode()
    assert PostAttachment.objects.filter(uploader_id=other).count() == 2


def test_upload_with_the_new_thread_form_and_the_limit_on_the_page(
    django_user_model: Any, tree: Tree, staff: int, other: int
) -> None:
    author = signed_in(django_user_model, other)
    too_many = author.post(
        f"/forums/{tree.general}/new/", {"title": "T", "body": "B", "attachments": [pdf() for _ in range(4)]}
    )
    assert too_many.status_code == 400 and "At most 3 attachments" in too_many.content.decode()
    assert not PostAttachment.objects.exists()
    created = signed_in(django_user_model, staff).post(
        f"/forums/{tree.general}/new/", {"title": "T", "body": "B", "attachments": [png()]}
    )
    assert created.status_code == 302
    assert PostAttachment.objects.get().post_id is not None


def test_no_download_from_a_forum_the_viewer_cannot_read(
    api_as: Api, web: Web, tree: Tree, staff: int, other: int
) -> None:
    status_grant(user_id=staff, status_code="agent", source="staff")
    attachment = upload(api_as, staff, png())
    services.thread_create(
        author_id=staff, forum_id=tree.exclusive, title="Secret", body="B", attachment_ids=[attachment["id"]]
    )
    assert web(staff).get(attachment["url"]).status_code == 200
    assert web(other).get(attachment["url"]).status_code == 404
    assert web(other).get(attachment["thumbnail_url"]).status_code == 404
    assert web(None).get(attachment["url"]).status_code == 404
    # The name in the address is only for the browser: another name finds nothing more.
    assert web(other).get(f"/attachments/{attachment['id']}/other.png").status_code == 404


def test_no_download_from_a_pending_thread_but_for_its_author_and_moderators(
    api_as: Api, web: Web, tree: Tree, member: int, other: int, staff: int
) -> None:
    attachment = upload(api_as, member, pdf())
    thread = services.thread_create(
        author_id=member, forum_id=tree.general, title="Waiting", body="B", attachment_ids=[attachment["id"]]
    )
    assert thread.state == "pending"
    assert web(member).get(attachment["url"]).status_code == 200
    assert web(staff).get(attachment["url"]).status_code == 200
    assert web(other).get(attachment["url"]).status_code == 404
    assert web(other).get("/attachments/999999999/x.pdf").status_code == 404


def test_a_deleted_posts_files_are_gone_for_readers(
    api_as: Api, web: Web, tree: Tree, staff: int, other: int
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="T", body="B")
    attachment = upload(api_as, other, pdf())
    post = services.post_create(
        author_id=other, thread_id=thread.id, body="R", attachment_ids=[attachment["id"]]
    )
    assert web(staff).get(attachment["url"]).status_code == 200
    services.post_delete(user_id=other, post_id=post.id)
    assert web(staff).get(attachment["url"]).status_code == 404


def test_uploads_waiting_for_a_post_are_capped_and_discarding_makes_room(api_as: Api, other: int) -> None:
    for _ in range(PENDING_ATTACHMENTS_MAX - 1):
        upload(api_as, other, pdf())
    last = upload(api_as, other, pdf())

    refused = api_as(other).post("/api/v1/attachments", {"file": pdf()}, format="multipart")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "too_many_pending_attachments"
    assert f"({PENDING_ATTACHMENTS_MAX})" in refused.json()["error"]["message"]
    assert PostAttachment.objects.filter(uploader_id=other).count() == PENDING_ATTACHMENTS_MAX

    assert services.attachments_discard(uploader_id=other, attachment_ids=[last["id"]]) == 1
    upload(api_as, other, pdf())


def test_discarded_uploads_lose_their_files(
    api_as: Api, other: int, django_capture_on_commit_callbacks: Any
) -> None:
    attachment = upload(api_as, other, png())
    row = PostAttachment.objects.get(pk=attachment["id"])
    storage: Storage = private_storage()
    assert storage.exists(row.storage_key) and storage.exists(row.thumbnail_key)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.attachments_discard(uploader_id=other, attachment_ids=[attachment["id"]]) == 1
    assert not storage.exists(row.storage_key) and not storage.exists(row.thumbnail_key)


def test_upload_and_download_on_s3(
    api_as: Api, web: Web, tree: Tree, staff: int, other: int, s3_private_storage: Storage
) -> None:
    attachment = upload(api_as, staff, png())
    row = PostAttachment.objects.get(pk=attachment["id"])
    assert s3_private_storage.exists(row.storage_key)
    services.thread_create(
        author_id=staff, forum_id=tree.general, title="T", body="B", attachment_ids=[attachment["id"]]
    )
    response = web(other).get(attachment["url"])
    assert response.status_code == 200
    with Image.open(io.BytesIO(body_of(response))) as image:
        assert image.size == (40, 30)


# --- Keeping an upload in an app's row ------------------------------------------------------------------


def test_store_upload_hands_the_row_fields_and_leaves_no_file_when_the_row_fails(
    settings: Any, tmp_path: Path
) -> None:
    local_upload_storages(settings, tmp_path)
    private = tmp_path / "private"
    kept = store_upload(SimpleUploadedFile("cat.png", image_bytes("PNG")), field_name="file", keep=dict)
    assert kept["original_name"] == "cat.png" and kept["content_type"] == "image/png"
    assert kept["width"] == 64 and kept["thumbnail_key"]
    assert (private / kept["storage_key"]).is_file() and (private / kept["thumbnail_key"]).is_file()

    def refuse(fields: dict[str, Any]) -> None:
        assert private_storage().exists(fields["storage_key"])
        raise RuntimeError("the row could not be written")

    before = sorted(str(path) for path in tmp_path.rglob("*") if path.is_file())
    with pytest.raises(RuntimeError):
        store_upload(SimpleUploadedFile("dog.png", image_bytes("PNG")), field_name="file", keep=refuse)
    assert sorted(str(path) for path in tmp_path.rglob("*") if path.is_file()) == before
