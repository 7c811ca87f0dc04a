"""The composer's server side for posts: the preview (rendered as the post would be, sanitized, members
only, bounded in size and rate), taking an upload back, and the page forms that take the uploads the
composer made beforehand (``attachment_ids``) while still working as plain forms without JavaScript."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.thread import services
from apps.thread.models import BODY_MAX_LENGTH, Post, PostAttachment
from apps.thread.tests.conftest import Tree
from apps.thread.tests.test_attachments import pdf, png, upload
from forum.testing.fixtures import local_upload_storages

Api = Callable[[int | None], APIClient]
PREVIEW = "/api/v1/markup/preview"


@pytest.fixture(autouse=True)
def local_media(settings: Any, tmp_path: Path) -> None:
    local_upload_storages(settings, tmp_path)


@pytest.fixture
def web(django_user_model: Any) -> Callable[[int], Client]:
    def make(user_id: int) -> Client:
        client = Client()
        client.force_login(django_user_model.objects.get(pk=user_id))
        return client

    return make


Web = Callable[[int], Client]


def preview(api: Api, user_id: int | None, body: str) -> Any:
    return api(user_id).post(PREVIEW, {"body": body}, format="json")


# --- The preview ------------------------------------------------------------------------------------


def test_the_preview_is_the_html_the_post_gets(
    api_as: Api, django_user_model: Any, tree: Tree, staff: int, member: int
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="Harbour", body="Hello")
    assert thread.first_post_id is not None
    staff_name = django_user_model.objects.get(pk=staff).username
    body = (
        f"[quote=post:{thread.first_post_id}]\nHello\n[/quote]\n\n"
        f"**Bold**, _italic_, `code` and @{staff_name}, see [the harbour](https://example.com).\n\n"
        "- one\n- two\n\n> said before"
    )
    answer = preview(api_as, member, body)
    assert answer.status_code == 200, answer.json()
    html = answer.json()["html"]
    # The very HTML the post is stored with once sent: quote resolved, mention linked, all of it.
    post = services.post_create(author_id=member, thread_id=thread.id, body=body)
    assert html == Post.objects.get(pk=post.id).body_html
    assert 'class="quote"' in html and f'data-post-id="{thread.first_post_id}"' in html
    assert 'class="mention"' in html and "<strong>Bold</strong>" in html and "<li>one</li>" in html


def test_the_preview_resolves_quotes_only_of_posts_the_writer_may_see(
    api_as: Api, tree: Tree, staff: int, member: int
) -> None:
    hidden = services.thread_create(author_id=staff, forum_id=tree.exclusive, title="Secret", body="Psst")
    body = f"[quote=post:{hidden.first_post_id}]\nPsst\n[/quote]"
    assert f'data-post-id="{hidden.first_post_id}"' in preview(api_as, staff, body).json()["html"]
    html = preview(api_as, member, body).json()["html"]
    assert "<blockquote>" in html and "data-post-id" not in html


def test_the_preview_is_sanitized(api_as: Api, member: int) -> None:
    answer = preview(
        api_as, member, '<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror="y">'
    )
    html = answer.json()["html"]
    assert answer.status_code == 200
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html


def test_the_preview_is_for_members_only(api_as: Api) -> None:
    answer = preview(api_as, None, "Hi")
    assert answer.status_code in (401, 403)
    assert answer.json()["error"]["code"] == "not_authenticated"


def test_a_text_longer_than_a_post_is_refused_with_400(api_as: Api, member: int) -> None:
    answer = preview(api_as, member, "x" * (BODY_MAX_LENGTH + 1))
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/json"
    error = answer.json()["error"]
    assert error["code"] == "too_long" and "body" in error["fields"]
    assert preview(api_as, member, "x" * BODY_MAX_LENGTH).status_code == 200


def test_previews_are_rate_limited_per_member(api_as: Api, settings: Any, member: int, other: int) -> None:
    settings.MARKUP_PREVIEW_PER_MINUTE = 2
    assert preview(api_as, member, "one").status_code == 200
    assert preview(api_as, member, "two").status_code == 200
    refused = preview(api_as, member, "three")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    # Someone else's budget is their own.
    assert preview(api_as, other, "one").status_code == 200


# --- Taking an upload back --------------------------------------------------------------------------


def test_an_upload_not_yet_on_a_post_can_be_taken_back_by_its_uploader_only(
    api_as: Api, tree: Tree, staff: int, member: int, other: int
) -> None:
    mine = upload(api_as, member, png())
    assert api_as(other).delete(f"/api/v1/attachments/{mine['id']}").status_code == 404
    assert PostAttachment.objects.filter(pk=mine["id"]).exists()
    assert api_as(member).delete(f"/api/v1/attachments/{mine['id']}").status_code == 204
    assert not PostAttachment.objects.filter(pk=mine["id"]).exists()
    assert api_as(member).delete(f"/api/v1/attachments/{mine['id']}").status_code == 404

    # One on a post stays: it goes only with an edit of the post.
    sent = upload(api_as, member, pdf())
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="T", body="B")
    services.post_create(author_id=member, thread_id=thread.id, body="With", attachment_ids=[sent["id"]])
    assert api_as(member).delete(f"/api/v1/attachments/{sent['id']}").status_code == 404
    assert PostAttachment.objects.filter(pk=sent["id"]).exists()


# --- The page forms ---------------------------------------------------------------------------------


def test_without_javascript_the_reply_form_is_a_plain_textarea_and_file_input(
    web: Web, tree: Tree, staff: int, member: int
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="Harbour", body="Hello")
    page = web(member).get(f"/threads/{thread.id}/").content.decode()
    form = re.search(r'<form class="post-form".*?</form>', page, re.S)
    assert form is not None
    html = form.group(0)
    assert re.search(r'<textarea name="body"[^>]*id="id_body"', html)
    assert re.search(r'<input type="file" name="attachments" multiple', html)
    # What needs the script is hidden until it runs.
    assert re.search(r'role="toolbar"[^>]*hidden', html) and re.search(r'role="tablist"[^>]*hidden', html)
    assert 'data-preview-url="/api/v1/markup/preview"' in html

    # Sent as it is, text and file, it is a reply with its attachment.
    sent = web(member).post(f"/threads/{thread.id}/reply/", {"body": "Plain reply", "attachments": [png()]})
    assert sent.status_code == 302
    post = Post.objects.get(thread_id=thread.id, body="Plain reply")
    assert list(PostAttachment.objects.filter(post=post).values_list("original_name", flat=True)) == [
        "photo.png"
    ]


def test_a_reply_takes_the_uploads_made_beforehand_with_its_files(
    api_as: Api, web: Web, tree: Tree, staff: int, member: int
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="Harbour", body="Hello")
    ready = upload(api_as, member, pdf("notes.pdf"))
    sent = web(member).post(
        f"/threads/{thread.id}/reply/",
        {"body": "With both", "attachment_ids": [str(ready["id"])], "attachments": [png()]},
    )
    assert sent.status_code == 302, sent.content.decode()
    post = Post.objects.get(thread_id=thread.id, body="With both")
    names = set(PostAttachment.objects.filter(post=post).values_list("original_name", flat=True))
    assert names == {"notes.pdf", "photo.png"}


def test_a_refused_reply_keeps_the_uploads_made_beforehand_on_the_form(
    api_as: Api, web: Web, tree: Tree, staff: int, member: int
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="Harbour", body="Hello")
    ready = upload(api_as, member, pdf())
    refused = web(member).post(
        f"/threads/{thread.id}/reply/", {"body": "   ", "attachment_ids": [str(ready["id"])]}
    )
    assert refused.status_code == 400
    page = refused.content.decode()
    assert re.search(rf'<input type="checkbox" name="attachment_ids" value="{ready["id"]}" checked>', page)
    assert PostAttachment.objects.filter(pk=ready["id"], post__isnull=True).exists()

    # Sent again from that form, the upload goes with the post.
    sent = web(member).post(
        f"/threads/{thread.id}/reply/", {"body": "Now", "attachment_ids": [str(ready["id"])]}
    )
    assert sent.status_code == 302
    assert PostAttachment.objects.get(pk=ready["id"]).post_id is not None


def test_someone_elses_upload_id_refuses_the_reply(
    api_as: Api, web: Web, tree: Tree, staff: int, member: int, other: int
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="Harbour", body="Hello")
    theirs = upload(api_as, other, pdf())
    refused = web(member).post(
        f"/threads/{thread.id}/reply/", {"body": "Mine?", "attachment_ids": [str(theirs["id"])]}
    )
    assert refused.status_code == 400
    assert "not one of your uploads" in refused.content.decode()
    assert not Post.objects.filter(body="Mine?").exists()
    assert PostAttachment.objects.get(pk=theirs["id"]).post_id is None
    bad = web(member).post(f"/threads/{thread.id}/reply/", {"body": "Odd", "attachment_ids": ["x"]})
    assert bad.status_code == 400 and not Post.objects.filter(body="Odd").exists()


def test_a_new_thread_and_an_edit_take_uploads_made_beforehand(
    api_as: Api, web: Web, tree: Tree, member: int
) -> None:
    first = upload(api_as, member, png("first.png"))
    created = web(member).post(
        f"/forums/{tree.general}/new/",
        {"title": "With a picture", "body": "Look", "attachment_ids": [str(first["id"])]},
    )
    assert created.status_code == 302, created.content.decode()
    post = Post.objects.get(body="Look")
    assert PostAttachment.objects.get(pk=first["id"]).post_id == post.pk

    page = web(member).get(f"/posts/{post.pk}/edit/").content.decode()
    assert (
        re.search(r'<textarea name="body"[^>]*id="id_body"', page)
        and 'data-upload-url="/api/v1/attachments"' in page
    )
    second = upload(api_as, member, pdf("second.pdf"))
    edited = web(member).post(
        f"/posts/{post.pk}/edit/", {"body": "Look again", "attachment_ids": [str(second["id"])]}
    )
    assert edited.status_code == 302, edited.content.decode()
    names = set(PostAttachment.objects.filter(post=post).values_list("original_name", flat=True))
    assert names == {"first.png", "second.pdf"}
