"""Attachments changed on post edit (page and API) under the rules of posting, and the periodic
deletion of uploads that no post took; on local disk and on S3 (SeaweedFS)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from celery import current_app
from django.conf import settings as django_settings
from django.core.files.storage import Storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.thread import services, tasks
from apps.thread.models import PostAttachment, PostEdit
from apps.thread.tests.conftest import Tree
from apps.thread.tests.test_attachments import pdf, png, signed_in, upload
from forum.testing.fixtures import Clock, local_upload_storages
from forum.uploads import private_storage

Api = Callable[[int | None], APIClient]


@pytest.fixture(params=["disk", "s3"])
def storage(request: pytest.FixtureRequest, settings: Any, tmp_path: Path) -> Storage:
    """The attachments' (private) storage for the test: a folder of its own, or a bucket of the test S3."""
    if request.param == "s3":
        s3: Storage = request.getfixturevalue("s3_private_storage")
        return s3
    local_upload_storages(settings, tmp_path)
    return private_storage()


@pytest.fixture
def disk(settings: Any, tmp_path: Path) -> Storage:
    local_upload_storages(settings, tmp_path)
    return private_storage()


def keys(attachment_id: int) -> tuple[str, str]:
    row = PostAttachment.objects.get(pk=attachment_id)
    return row.storage_key, row.thumbnail_key


def stored(storage: Storage, *names: str) -> list[bool]:
    return [storage.exists(name) for name in names if name]


def reply_with(api: Api, user_id: int, thread_id: int, ids: list[int]) -> int:
    response = api(user_id).post(
        f"/api/v1/threads/{thread_id}/posts", {"body": "With files", "attachment_ids": ids}, format="json"
    )
    assert response.status_code == 201, response.json()
    return int(response.json()["id"])


def attachment_ids_of(api: Api, thread_id: int, post_id: int) -> list[int]:
    posts = api(None).get(f"/api/v1/threads/{thread_id}/posts").json()["posts"]
    return [item["id"] for post in posts if post["id"] == post_id for item in post["attachments"]]


def edit(api: Api, user_id: int, post_id: int, **data: Any) -> Any:
    return api(user_id).patch(f"/api/v1/posts/{post_id}", data, format="json")


# --- Editing through the API --------------------------------------------------------------------------


def test_an_edit_adds_and_removes_attachments_and_the_removed_files_go(
    api_as: Api,
    tree: Tree,
    staff: int,
    other: int,
    storage: Storage,
    outbox: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="T", body="B")
    old = upload(api_as, other, png("old.png"))["id"]
    kept = upload(api_as, other, pdf("kept.pdf"))["id"]
    post_id = reply_with(api_as, other, thread.id, [old, kept])
    new = upload(api_as, other, pdf("new.pdf"))["id"]
    old_keys = keys(old)
    assert stored(storage, *old_keys) == [True, True]

    with django_capture_on_commit_callbacks(execute=True):
        response = edit(api_as, other, post_id, attachment_ids=[new], remove_attachment_ids=[old])
    assert response.status_code == 200, response.json()

    assert attachment_ids_of(api_as, thread.id, post_id) == [kept, new]
    assert not PostAttachment.objects.filter(pk=old).exists()
    assert stored(storage, *old_keys) == [False, False]  # the file and its thumbnail
    assert stored(storage, *keys(new)) == [True]
    # The history says what changed, the text too (unchanged here: the body was left out).
    history = PostEdit.objects.get(post_id=post_id)
    assert (history.body_before, history.editor_id) == ("With files", other)
    assert history.attachments_added == [{"id": new, "name": "new.pdf"}]
    assert history.attachments_removed == [{"id": old, "name": "old.png"}]
    assert [event["post_id"] for event in outbox("thread.post_edited")] == [post_id]
    posts = api_as(None).get(f"/api/v1/threads/{thread.id}/posts").json()["posts"]
    assert posts[1]["body"] == "With files" and posts[1]["edited_at"] is not None


def test_the_count_limit_holds_for_the_post_after_the_edit(
    api_as: Api, tree: Tree, staff: int, other: int, disk: Storage
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="T", body="B")
    first, second = (upload(api_as, other, pdf())["id"] for _ in range(2))
    post_id = reply_with(api_as, other, thread.id, [first, second])
    more = [upload(api_as, other, pdf())["id"] for _ in range(2)]

    refused = edit(api_as, other, post_id, body="More files", attachment_ids=more)  # 4 > 3 for members
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "too_many_attachments"
    assert attachment_ids_of(api_as, thread.id, post_id) == [first, second]
    assert PostAttachment.objects.filter(pk__in=more, post__isnull=True).count() == 2
    assert not PostEdit.objects.exists()

    # One out, two in: three, which is allowed.
    swapped = edit(api_as, other, post_id, attachment_ids=more, remove_attachment_ids=[first])
    assert swapped.status_code == 200, swapped.json()
    assert attachment_ids_of(api_as, thread.id, post_id) == [second, *more]


def test_only_the_editors_own_waiting_uploads_and_the_posts_own_attachments(
    api_as: Api, tree: Tree, staff: int, other: int, member: int, disk: Storage
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="T", body="B")
    on_post = upload(api_as, other, pdf())["id"]
    post_id = reply_with(api_as, other, thread.id, [on_post])
    someone_elses = upload(api_as, member, pdf())["id"]
    elsewhere = upload(api_as, staff, pdf())["id"]
    staff_post = services.post_create(
        author_id=staff, thread_id=thread.id, body="Mine", attachment_ids=[elsewhere]
    ).id

    for data in (
        {"attachment_ids": [someone_elses]},  # another member's upload
        {"attachment_ids": [on_post]},  # on a post already
        {"attachment_ids": [999_999_999]},
        {"remove_attachment_ids": [elsewhere]},  # on another post
        {"remove_attachment_ids": [someone_elses]},
        {"remove_attachment_ids": [999_999_999]},
    ):
        refused = edit(api_as, other, post_id, **data)
        assert refused.status_code == 404, data
        assert refused.json()["error"]["code"] == "attachment_unknown"
    assert PostAttachment.objects.get(pk=someone_elses).post_id is None
    assert PostAttachment.objects.get(pk=elsewhere).post_id == staff_post
    assert attachment_ids_of(api_as, thread.id, post_id) == [on_post]

    # A valid id beside a bad one changes nothing either.
    mine = upload(api_as, other, pdf())["id"]
    mixed = edit(api_as, other, post_id, attachment_ids=[mine], remove_attachment_ids=[on_post, elsewhere])
    assert mixed.status_code == 404
    assert attachment_ids_of(api_as, thread.id, post_id) == [on_post]
    assert PostAttachment.objects.get(pk=mine).post_id is None

    bad = edit(api_as, other, post_id, attachment_ids=["x"])
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"


def test_the_edit_window_and_the_moderators_rules_apply(
    api_as: Api,
    tree: Tree,
    staff: int,
    other: int,
    member: int,
    clock: Clock,
    settings: Any,
    disk: Storage,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.THREAD_POST_EDIT_WINDOW_MINUTES = 30
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="T", body="B")
    attached = upload(api_as, other, png())["id"]
    post_id = reply_with(api_as, other, thread.id, [attached])

    not_mine = edit(api_as, member, post_id, remove_attachment_ids=[attached])
    assert not_mine.status_code == 403
    clock.move(minutes=31)
    late_upload = upload(api_as, other, pdf())["id"]
    late = edit(api_as, other, post_id, attachment_ids=[late_upload])
    assert (late.status_code, late.json()["error"]["code"]) == (403, "edit_window_over")
    late = edit(api_as, other, post_id, remove_attachment_ids=[attached])
    assert (late.status_code, late.json()["error"]["code"]) == (403, "edit_window_over")
    assert PostAttachment.objects.get(pk=late_upload).post_id is None

    # A moderator may at any time, and attaches uploads of their own.
    files = keys(attached)
    moderators = upload(api_as, staff, pdf())["id"]
    with django_capture_on_commit_callbacks(execute=True):
        moderated = edit(
            api_as, staff, post_id, attachment_ids=[moderators], remove_attachment_ids=[attached]
        )
    assert moderated.status_code == 200, moderated.json()
    assert attachment_ids_of(api_as, thread.id, post_id) == [moderators]
    assert stored(disk, *files) == [False, False]
    assert PostEdit.objects.get(post_id=post_id).editor_id == staff


# --- Editing on the page ------------------------------------------------------------------------------


def test_the_edit_page_removes_ticked_attachments_and_adds_files(
    django_user_model: Any,
    api_as: Api,
    tree: Tree,
    staff: int,
    other: int,
    storage: Storage,
    django_capture_on_commit_callbacks: Any,
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="T", body="B")
    gone = upload(api_as, other, png("gone.png"))["id"]
    kept = upload(api_as, other, pdf("kept.pdf"))["id"]
    post_id = reply_with(api_as, other, thread.id, [gone, kept])
    author = signed_in(django_user_model, other)

    form = author.get(f"/posts/{post_id}/edit/").content.decode()
    assert 'enctype="multipart/form-data"' in form
    assert f'name="remove_attachment_ids" value="{gone}"' in form and "gone.png" in form
    assert f'name="remove_attachment_ids" value="{kept}"' in form and "kept.pdf" in form
    assert 'type="file" name="attachments"' in form

    files = keys(gone)
    with django_capture_on_commit_callbacks(execute=True):
        saved = author.post(
            f"/posts/{post_id}/edit/",
            {"body": "Now with a cat", "remove_attachment_ids": [gone], "attachments": [png("cat.png")]},
        )
    assert saved.status_code == 302
    added = PostAttachment.objects.get(post_id=post_id, original_name="cat.png")
    assert attachment_ids_of(api_as, thread.id, post_id) == [kept, added.pk]
    assert stored(storage, *files) == [False, False]
    assert stored(storage, added.storage_key, added.thumbnail_key) == [True, True]
    page = author.get(f"/threads/{thread.id}/").content.decode()
    assert "Now with a cat" in page and f'href="/attachments/{added.pk}/cat.png"' in page
    assert "gone.png" not in page


def test_the_edit_page_refuses_too_many_and_keeps_nothing_it_uploaded(
    django_user_model: Any, api_as: Api, tree: Tree, staff: int, other: int, member: int, disk: Storage
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="T", body="B")
    attached = [upload(api_as, other, pdf())["id"] for _ in range(2)]
    post_id = reply_with(api_as, other, thread.id, attached)
    author = signed_in(django_user_model, other)

    too_many = author.post(f"/posts/{post_id}/edit/", {"body": "B", "attachments": [pdf(), pdf()]})
    assert too_many.status_code == 400
    assert "At most 3 attachments" in too_many.content.decode()
    assert not PostAttachment.objects.filter(post__isnull=True).exists()  # the two uploads went again
    assert attachment_ids_of(api_as, thread.id, post_id) == attached

    # A box ticked for an attachment of another post (a forged form) is refused the same way.
    elsewhere = upload(api_as, staff, pdf())["id"]
    services.post_create(author_id=staff, thread_id=thread.id, body="Mine", attachment_ids=[elsewhere])
    forged = author.post(
        f"/posts/{post_id}/edit/", {"body": "B", "remove_attachment_ids": [elsewhere], "attachments": [pdf()]}
    )
    assert forged.status_code == 400  # not one of the choices the form offers
    assert PostAttachment.objects.filter(pk=elsewhere).exists()
    assert not PostAttachment.objects.filter(post__isnull=True).exists()

    # Another member's post: the page answers with the reason, and the upload is gone again.
    refused = signed_in(django_user_model, staff).get(f"/posts/{post_id}/edit/")
    assert refused.status_code == 200  # moderators may; a plain member may not:
    member_page = signed_in(django_user_model, member).post(
        f"/posts/{post_id}/edit/", {"body": "Mine now", "attachments": [pdf()]}
    )
    assert member_page.status_code == 403
    assert "You may change only your own posts." in member_page.content.decode()
    assert not PostAttachment.objects.filter(uploader_id=member).exists()


def test_the_edit_form_of_a_post_one_may_not_change_is_refused_like_its_submission(
    django_user_model: Any, tree: Tree, staff: int, member: int, other: int, clock: Clock, settings: Any
) -> None:
    settings.THREAD_POST_EDIT_WINDOW_MINUTES = 30
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="T", body="B")
    reply = services.post_create(author_id=member, thread_id=thread.id, body="The text of mine")

    # Another member's post: the form is refused, and its text is not shown.
    refused = signed_in(django_user_model, other).get(f"/posts/{reply.id}/edit/")
    assert refused.status_code == 403
    page = refused.content.decode()
    assert "You may change only your own posts." in page
    assert "The text of mine" not in page

    # The author may, within the window; after it, the form is refused as its submission is.
    author = signed_in(django_user_model, member)
    assert author.get(f"/posts/{reply.id}/edit/").status_code == 200
    clock.move(minutes=31)
    late = author.get(f"/posts/{reply.id}/edit/")
    assert late.status_code == 403
    assert "The text of mine" not in late.content.decode()
    assert signed_in(django_user_model, staff).get(f"/posts/{reply.id}/edit/").status_code == 200


def test_the_edit_page_runs_the_same_queries_for_one_attachment_and_many(
    django_user_model: Any, api_as: Api, tree: Tree, staff: int, disk: Storage
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="T", body="B")
    one = reply_with(api_as, staff, thread.id, [upload(api_as, staff, pdf())["id"]])
    many = reply_with(api_as, staff, thread.id, [upload(api_as, staff, pdf())["id"] for _ in range(6)])
    author = signed_in(django_user_model, staff)
    author.get("/")  # the first request of a session records it; the ones measured are ordinary
    counts = []
    for post_id in (one, many):
        with CaptureQueriesContext(connection) as queries:
            assert author.get(f"/posts/{post_id}/edit/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- Uploads no post took -----------------------------------------------------------------------------


def test_the_cleanup_is_scheduled_every_hour() -> None:
    entries = [
        entry
        for entry in django_settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "thread.delete_orphan_uploads"
    ]
    assert [entry["schedule"] for entry in entries] == [3600.0]
    assert tasks.delete_orphan_uploads.name in current_app.tasks
    assert django_settings.THREAD_UPLOAD_ORPHAN_HOURS == 24


def test_the_cleanup_deletes_only_old_uploads_that_no_post_took(
    api_as: Api, tree: Tree, staff: int, other: int, clock: Clock, storage: Storage
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="T", body="B")
    orphan = upload(api_as, other, png())["id"]
    on_post = upload(api_as, other, png())["id"]
    on_deleted_post = upload(api_as, other, pdf())["id"]
    reply_with(api_as, other, thread.id, [on_post])
    deleted_post = reply_with(api_as, other, thread.id, [on_deleted_post])
    services.post_delete(user_id=staff, post_id=deleted_post)
    clock.move(hours=25)
    recent = upload(api_as, other, pdf())["id"]
    orphan_files = keys(orphan)
    kept = [on_post, on_deleted_post, recent]
    kept_files = [name for pk in kept for name in keys(pk) if name]

    assert tasks.delete_orphan_uploads.apply().get() == 1
    assert not PostAttachment.objects.filter(pk=orphan).exists()
    assert stored(storage, *orphan_files) == [False, False]
    assert set(PostAttachment.objects.values_list("pk", flat=True)) == set(kept)
    assert all(stored(storage, *kept_files))
    assert tasks.delete_orphan_uploads.apply().get() == 0  # a second run finds nothing

    # The recent one goes once it is old enough too.
    clock.move(hours=25)
    assert tasks.delete_orphan_uploads.apply().get() == 1
    assert set(PostAttachment.objects.values_list("pk", flat=True)) == {on_post, on_deleted_post}


def test_the_cleanup_follows_the_setting_and_works_in_batches(
    api_as: Api, other: int, clock: Clock, settings: Any, disk: Storage
) -> None:
    settings.THREAD_UPLOAD_ORPHAN_HOURS = 48
    ids = [upload(api_as, other, pdf())["id"] for _ in range(5)]
    files = [keys(pk)[0] for pk in ids]
    clock.move(hours=25)
    assert services.attachments_delete_orphans() == 0
    clock.move(hours=24)
    assert services.attachments_delete_orphans(batch_size=2) == 5
    assert not PostAttachment.objects.exists()
    assert stored(disk, *files) == [False] * 5


def test_the_cleanup_finishes_what_a_failed_run_left(
    api_as: Api, other: int, clock: Clock, disk: Storage
) -> None:
    orphan = upload(api_as, other, png())["id"]
    storage_key, thumbnail_key = keys(orphan)
    disk.delete(storage_key)  # as if a run had deleted the file and then failed before the row
    clock.move(hours=25)
    assert services.attachments_delete_orphans() == 1
    assert not PostAttachment.objects.exists() and stored(disk, thumbnail_key) == [False]


# --- Translations -------------------------------------------------------------------------------------


def test_upload_refusals_are_translated(api_as: Api, other: int, disk: Storage) -> None:
    client = api_as(other)
    cases = [
        (b"", "Файл пуст."),
        (b"MZ\x90\x00" + b"\x00" * 64, "Этот файл — программа; принимаются: "),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "Изображение повреждено или не является настоящим файлом PNG."),
    ]
    for content, expected in cases:
        response = client.post(
            "/api/v1/attachments",
            {"file": SimpleUploadedFile("f.png", content)},
            format="multipart",
            HTTP_ACCEPT_LANGUAGE="ru",
        )
        assert response.status_code == 400
        assert response.json()["error"]["message"].startswith(expected), response.json()
