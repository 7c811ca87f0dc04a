"""Member profiles: the public page, the edit form, avatars, the API, and profiles_for."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from PIL import Image

from apps.status.services import status_grant
from apps.user.services import (
    avatar_set,
    member_activity_source_register,
    member_profile,
    profile_source_get,
    profile_update,
    profiles_for,
)
from apps.user.tests.conftest import FakeActivity, activity_item
from forum.errors import ValidationFailed


def png_bytes(size: tuple[int, int] = (400, 300), colour: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def upload(data: bytes, name: str) -> io.BytesIO:
    file = io.BytesIO(data)
    file.name = name
    return file


@pytest.fixture
def alice(make_member: Callable[..., int]) -> int:
    return make_member()


@pytest.fixture
def bob(make_member: Callable[..., int]) -> int:
    return make_member()


def signed_in(user_id: int) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(pk=user_id))
    return client


# --- The public page -----------------------------------------------------------------------------------


def test_guest_sees_the_public_profile(client: Client, alice: int, activity: FakeActivity) -> None:
    profile_update(
        user_id=alice, bio="I like **owls**.<script>alert(1)</script>", website="https://owls.example/"
    )
    status_grant(user_id=alice, status_code="agent", source="staff")
    activity.threads[alice] = [activity_item(1, "Owls at night")]
    activity.posts[alice] = [activity_item(2, "Owls at night", excerpt="They hoot.")]

    answer = client.get(f"/members/{alice}/")

    assert answer.status_code == 200
    page = answer.content.decode()
    username = member_profile(user_id=alice).username
    assert f'<h1 id="profile-name">{username}</h1>' in page
    assert "<strong>owls</strong>" in page
    assert "<script>alert(1)</script>" not in page
    assert 'href="https://owls.example/" rel="nofollow ugc noopener"' in page
    assert 'data-status="agent"' in page
    assert 'data-frame-slot="profile"' in page
    assert "Owls at night" in page and "They hoot." in page
    assert "Reaction score" in page and ">7<" in page
    assert "Edit your profile" not in page
    # The source was asked for what a guest may see.
    assert ("threads", None, alice, 1, 5) in activity.calls
    assert ("posts", None, alice, 1, 5) in activity.calls


def test_member_and_owner_views_pass_the_viewer(alice: int, bob: int, activity: FakeActivity) -> None:
    as_bob = signed_in(bob).get(f"/members/{alice}/").content.decode()
    as_alice = signed_in(alice).get(f"/members/{alice}/").content.decode()

    assert "Edit your profile" not in as_bob
    assert "Edit your profile" in as_alice
    assert ("threads", bob, alice, 1, 5) in activity.calls
    assert ("posts", alice, alice, 1, 5) in activity.calls


def test_only_what_the_source_allows_the_viewer_is_listed(
    client: Client, alice: int, bob: int, activity: FakeActivity
) -> None:
    """The thread app's source decides visibility per viewer; the page adds nothing of its own."""

    class PerViewer(FakeActivity):
        def member_threads(self, *, viewer_id: int | None, author_id: int, page: int, per_page: int) -> Any:
            items = [activity_item(1, "Public thread")]
            if viewer_id == author_id:
                items.append(activity_item(2, "Premoderated thread"))
            return self._page(items, page, per_page)

    previous = member_activity_source_register(PerViewer())
    try:
        guest = client.get(f"/members/{alice}/threads/").content.decode()
        other = signed_in(bob).get(f"/members/{alice}/threads/").content.decode()
        owner = signed_in(alice).get(f"/members/{alice}/threads/").content.decode()
    finally:
        member_activity_source_register(previous)

    for page in (guest, other):
        assert "Public thread" in page
        assert "Premoderated thread" not in page
    assert "Premoderated thread" in owner


def test_threads_and_posts_pages_are_paginated(client: Client, alice: int, activity: FakeActivity) -> None:
    activity.posts[alice] = [activity_item(n, f"Thread {n}", excerpt=f"post {n}") for n in range(1, 46)]

    first = client.get(f"/members/{alice}/posts/")
    third = client.get(f"/members/{alice}/posts/?page=3")
    nonsense = client.get(f"/members/{alice}/posts/?page=x9")

    assert first.status_code == third.status_code == nonsense.status_code == 200
    assert "Page 1 of 3" in first.content.decode() and "post 20<" in first.content.decode()
    assert "Page 3 of 3" in third.content.decode() and "post 45<" in third.content.decode()
    assert ("posts", None, alice, 1, 20) in activity.calls


def test_without_an_activity_source_the_profile_still_shows(
    client: Client, alice: int, no_activity: None
) -> None:
    answer = client.get(f"/members/{alice}/")
    threads = client.get(f"/members/{alice}/threads/")

    assert answer.status_code == 200
    assert "—" in answer.content.decode()  # counters not available
    assert threads.status_code == 200
    assert "not available yet" in threads.content.decode()


@pytest.mark.parametrize("path", ["/members/{id}/", "/members/{id}/threads/", "/members/{id}/posts/"])
def test_unknown_member_is_404(client: Client, path: str) -> None:
    assert client.get(path.format(id=987654)).status_code == 404
    assert client.get(path.format(id=2**70)).status_code == 404


# --- Editing -------------------------------------------------------------------------------------------


def test_edit_page_needs_a_member(client: Client) -> None:
    answer = client.get("/accounts/profile/")

    assert answer.status_code == 302
    assert answer["Location"].startswith("/accounts/signin/")


def test_edit_saves_the_profile(alice: int) -> None:
    client = signed_in(alice)
    answer = client.post(
        "/accounts/profile/",
        {"bio": "# Hello", "signature": "_bye_", "website": "http://example.com/me", "location": " Oslo  "},
    )

    assert answer.status_code == 302
    source = profile_source_get(user_id=alice)
    assert (source.bio, source.signature, source.website, source.location) == (
        "# Hello",
        "_bye_",
        "http://example.com/me",
        "Oslo",
    )
    assert "<h3>Hello</h3>" in member_profile(user_id=alice).bio_html
    assert "Your profile is saved." in client.get("/accounts/profile/").content.decode()


@pytest.mark.parametrize(
    "website",
    ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,hi", "ftp://example.com", "example.com"],
)
def test_edit_refuses_a_website_that_is_not_http(alice: int, website: str) -> None:
    answer = signed_in(alice).post("/accounts/profile/", {"bio": "kept?", "website": website})

    assert answer.status_code == 400
    assert "Enter a web address starting with http:// or https://." in answer.content.decode()
    assert profile_source_get(user_id=alice).bio == ""  # nothing saved


def test_service_refuses_texts_too_long(alice: int) -> None:
    with pytest.raises(ValidationFailed) as refused:
        profile_update(user_id=alice, signature="x" * 501)

    assert refused.value.fields == {"signature": ["At most 500 characters."]}


# --- Avatars -------------------------------------------------------------------------------------------


def test_avatar_upload_serves_a_webp_thumbnail(client: Client, alice: int, tmp_path: Path) -> None:
    member = signed_in(alice)
    answer = member.post("/accounts/profile/avatar/", {"avatar": upload(png_bytes(), "me.png")})

    assert answer.status_code == 302
    url = member_profile(user_id=alice).avatar_url
    assert url.startswith(f"/members/{alice}/avatar/") and url.endswith(".webp")
    served = client.get(url)  # a guest: avatars are public
    assert served.status_code == 200
    assert served["Content-Type"] == "image/webp"
    body = b"".join(served.streaming_content)  # type: ignore[attr-defined]
    with Image.open(io.BytesIO(body)) as image:
        assert image.format == "WEBP"
        assert max(image.size) <= 320
    # The page shows it; an old version of the URL leads to the current one.
    assert url in client.get(f"/members/{alice}/").content.decode()
    stale = client.get(f"/members/{alice}/avatar/0123abcd.webp")
    assert stale.status_code == 302 and stale["Location"] == url
    assert list(tmp_path.rglob("avatars/*/*/*"))  # stored under avatars/, not attachments/
    assert not list(tmp_path.rglob("attachments"))


def test_new_avatar_deletes_the_old_files(
    alice: int, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        avatar_set(user_id=alice, file=upload(png_bytes(colour="red"), "a.png"), filename="a.png")
    with django_capture_on_commit_callbacks(execute=True):
        avatar_set(user_id=alice, file=upload(png_bytes(colour="blue"), "b.png"), filename="b.png")

    assert len([path for path in tmp_path.rglob("*") if path.is_file()]) == 2  # one image, one thumbnail


@pytest.mark.parametrize(
    ("data", "name"),
    [(b"just some text", "me.png"), (b"%PDF-1.4\n%...", "me.jpg"), (b"MZ\x90\x00binary", "me.gif")],
)
def test_avatar_upload_refuses_what_is_not_an_image(
    alice: int, data: bytes, name: str, tmp_path: Path
) -> None:
    answer = signed_in(alice).post("/accounts/profile/avatar/", {"avatar": upload(data, name)})

    assert answer.status_code == 400
    assert "accepted are: JPEG, PNG, GIF, WebP." in answer.content.decode()
    assert member_profile(user_id=alice).avatar_url == ""
    assert not [path for path in tmp_path.rglob("*") if path.is_file()]


def test_avatar_upload_refuses_a_damaged_image_and_a_large_file(alice: int) -> None:
    member = signed_in(alice)
    damaged = member.post("/accounts/profile/avatar/", {"avatar": upload(png_bytes()[:60], "a.png")})
    large = member.post(
        "/accounts/profile/avatar/",
        {"avatar": upload(b"\x89PNG\r\n\x1a\n" + b"\0" * 2 * 1024 * 1024, "a.png")},
    )

    assert damaged.status_code == 400
    assert large.status_code == 413
    assert "larger than 2 MB" in large.content.decode()


def test_avatar_remove(client: Client, alice: int) -> None:
    avatar_set(user_id=alice, file=upload(png_bytes(), "a.png"), filename="a.png")
    url = member_profile(user_id=alice).avatar_url

    assert signed_in(alice).post("/accounts/profile/avatar/delete/").status_code == 302

    assert member_profile(user_id=alice).avatar_url == ""
    assert client.get(url).status_code == 404
    assert signed_in(alice).get("/accounts/profile/avatar/delete/").status_code == 405


def test_avatar_of_unknown_member_is_404(client: Client, alice: int) -> None:
    assert client.get(f"/members/{alice}/avatar/abc.webp").status_code == 404
    assert client.get(f"/members/{2**70}/avatar/abc.webp").status_code == 404


# --- profiles_for --------------------------------------------------------------------------------------


def _cards_queries(user_ids: list[int]) -> int:
    with CaptureQueriesContext(connection) as queries:
        cards = profiles_for(user_ids=user_ids)
    assert set(cards) == set(user_ids)
    return len(queries)


def test_profiles_for_query_count_does_not_grow(make_member: Callable[..., int]) -> None:
    ids = [make_member() for _ in range(20)]
    for number, user_id in enumerate(ids):
        profile_update(user_id=user_id, signature=f"sig **{number}**")
        status_grant(user_id=user_id, status_code="agent" if number % 2 else "reader", source="staff")
    for user_id in ids[:3]:
        avatar_set(user_id=user_id, file=upload(png_bytes(), "a.png"), filename="a.png")

    one = _cards_queries(ids[:1])
    twenty = _cards_queries(ids)

    assert one == twenty <= 3  # accounts with profiles in one, then the badges, then the frames worn
    cards = profiles_for(user_ids=[*ids, 999_999])
    assert cards[ids[1]].signature_html == "<p>sig <strong>1</strong></p>\n"
    assert [badge.code for badge in cards[ids[1]].badges] == ["agent"]
    assert cards[ids[0]].avatar_url and not cards[ids[5]].avatar_url
    assert 999_999 not in cards
    joined = dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "date_joined"))
    assert {user_id: card.date_joined for user_id, card in cards.items()} == joined


def test_profiles_for_member_without_profile_row(alice: int) -> None:
    card = profiles_for(user_ids=[alice])[alice]

    assert (card.avatar_url, card.signature_html, card.badges) == ("", "", ())
    assert card.profile_url == f"/members/{alice}/"


# --- API -----------------------------------------------------------------------------------------------


def test_api_member_profile(client: Client, alice: int, activity: FakeActivity) -> None:
    profile_update(user_id=alice, bio="*hi*", website="https://a.example/")

    answer = client.get(f"/api/v1/members/{alice}")
    missing = client.get("/api/v1/members/987654")

    assert answer.status_code == 200
    body = answer.json()
    assert body["id"] == alice
    assert body["bio_html"] == "<p><em>hi</em></p>\n"
    assert body["website"] == "https://a.example/"
    assert body["counters"] == {"post_count": 0, "reaction_score": 7}
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_api_patch_profile(client: Client, alice: int) -> None:
    member = signed_in(alice)

    refused = member.patch(
        "/api/v1/me/profile", {"website": "javascript:alert(1)"}, content_type="application/json"
    )
    saved = member.patch("/api/v1/me/profile", {"signature": "**me**"}, content_type="application/json")
    guest = client.patch("/api/v1/me/profile", {"bio": "x"}, content_type="application/json")

    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_website"
    assert "website" in refused.json()["error"]["fields"]
    assert saved.status_code == 200
    assert saved.json()["signature"] == "**me**"
    assert profiles_for(user_ids=[alice])[alice].signature_html == "<p><strong>me</strong></p>\n"
    assert guest.status_code in {401, 403}


def test_api_avatar_put_and_delete(client: Client, alice: int) -> None:
    member = signed_in(alice)

    put = member.put(
        "/api/v1/me/avatar",
        data=_multipart({"avatar": ("me.png", png_bytes())}),
        content_type="multipart/form-data; boundary=BoUnDaRy",
    )
    not_image = member.put(
        "/api/v1/me/avatar",
        data=_multipart({"avatar": ("me.png", b"plain words")}),
        content_type="multipart/form-data; boundary=BoUnDaRy",
    )

    assert put.status_code == 200
    url = put.json()["avatar_url"]
    assert client.get(url).status_code == 200
    assert not_image.status_code == 400
    assert not_image.json()["error"]["code"] == "file_type_not_allowed"
    assert member.delete("/api/v1/me/avatar").status_code == 204
    assert client.get(url).status_code == 404
    assert client.delete("/api/v1/me/avatar").status_code in {401, 403}


def _multipart(files: dict[str, tuple[str, bytes]]) -> bytes:
    parts = []
    for field, (name, data) in files.items():
        parts.append(
            b"--BoUnDaRy\r\n"
            + f'Content-Disposition: form-data; name="{field}"; filename="{name}"\r\n'.encode()
            + b"Content-Type: application/octet-stream\r\n\r\n"
            + data
            + b"\r\n"
        )
    return b"".join(parts) + b"--BoUnDaRy--\r\n"


def test_profile_pages_speak_russian(alice: int, no_activity: None) -> None:
    member = signed_in(alice)

    page = member.get(f"/members/{alice}/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    edit = member.get("/accounts/profile/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()

    assert "Изменить профиль" in page and "Рейтинг реакций" in page
    assert "Показывается под вашими сообщениями. Markdown, не более 500 символов." in edit
