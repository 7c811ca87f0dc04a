"""Bookmarks: one per member and post, with a note; the list shows only what the member may still see,
another member never sees them, and pages and API lists cost the same whatever they hold."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.status.services import status_grant
from apps.thread import selectors, services
from apps.thread.models import Bookmark, Thread, ThreadState
from apps.thread.tests.conftest import Tree
from forum.errors import Conflict, NotFound, ValidationFailed

Api = Callable[[int | None], APIClient]


def signed_in(django_user_model: Any, user_id: int) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.get(pk=user_id))
    return client


def listed(user_id: int) -> list[int]:
    page = selectors.bookmark_page(viewer=selectors.viewer_for(user_id=user_id))
    return [row.post_id for row in page.items]


@pytest.fixture
def thread(tree: Tree, staff: int) -> services.ThreadRef:
    return services.thread_create(author_id=staff, forum_id=tree.general, title="Harbour news", body="Ships")


@pytest.fixture
def post_id(thread: services.ThreadRef, staff: int) -> int:
    return services.post_create(author_id=staff, thread_id=thread.id, body="The tide is high today").id


# --- The services -------------------------------------------------------------------------------------


def test_bookmark_change_the_note_list_and_remove(
    thread: services.ThreadRef, post_id: int, member: int, staff: int
) -> None:
    assert thread.first_post_id is not None
    first = services.bookmark_set(user_id=member, post_id=thread.first_post_id)
    assert first.note == ""
    kept = services.bookmark_set(user_id=member, post_id=post_id, note="  read   later ")
    assert kept.note == "read later"
    # Again: one bookmark still, the note changed; no note given leaves it as it is.
    assert services.bookmark_set(user_id=member, post_id=post_id, note="tides").note == "tides"
    assert services.bookmark_set(user_id=member, post_id=post_id).note == "tides"
    assert Bookmark.objects.filter(user_id=member).count() == 2

    page = selectors.bookmark_page(viewer=selectors.viewer_for(user_id=member))
    assert [row.post_id for row in page.items] == [post_id, thread.first_post_id]  # newest first
    row = page.items[0]
    assert (row.thread_id, row.thread_title, row.author_id, row.position, row.note) == (
        thread.id,
        "Harbour news",
        staff,
        2,
        "tides",
    )
    assert row.excerpt == "The tide is high today" and row.author

    services.bookmark_remove(user_id=member, post_id=post_id)
    services.bookmark_remove(user_id=member, post_id=post_id)  # not kept any more: nothing happens
    assert listed(member) == [thread.first_post_id]


def test_a_long_post_shows_the_start_of_its_text(thread: services.ThreadRef, staff: int, member: int) -> None:
    long_post = services.post_create(author_id=staff, thread_id=thread.id, body="word " * 5000).id
    services.bookmark_set(user_id=member, post_id=long_post)
    excerpt = selectors.bookmark_page(viewer=selectors.viewer_for(user_id=member)).items[0].excerpt
    assert excerpt.startswith("word word") and excerpt.endswith("…")
    assert len(excerpt) == selectors.BOOKMARK_EXCERPT_LENGTH


def test_refusals(
    tree: Tree, thread: services.ThreadRef, post_id: int, member: int, other: int, staff: int
) -> None:
    with pytest.raises(ValidationFailed) as too_long:
        services.bookmark_set(user_id=member, post_id=post_id, note="n" * 201)
    assert "note" in too_long.value.fields
    assert services.bookmark_set(user_id=member, post_id=post_id, note="n" * 200).note == "n" * 200
    for missing in (2**62, 2**70, 0):
        with pytest.raises(NotFound):
            services.bookmark_set(user_id=member, post_id=missing)

    # In a forum the member may not read: as if it did not exist.
    status_grant(user_id=staff, status_code="agent", source="staff")
    hidden = services.thread_create(author_id=staff, forum_id=tree.exclusive, title="S", body="B")
    assert hidden.first_post_id is not None
    with pytest.raises(NotFound):
        services.bookmark_set(user_id=member, post_id=hidden.first_post_id)
    with pytest.raises(NotFound):
        services.bookmark_remove(user_id=member, post_id=hidden.first_post_id)

    # A thread awaiting moderation: its author sees it but cannot keep its posts (the list would not
    # show them); anybody else does not see it at all.
    pending = services.thread_create(author_id=member, forum_id=tree.general, title="Wait", body="B")
    assert pending.state == ThreadState.PENDING and pending.first_post_id is not None
    with pytest.raises(Conflict) as awaiting:
        services.bookmark_set(user_id=member, post_id=pending.first_post_id)
    assert awaiting.value.code == "thread_pending"
    with pytest.raises(NotFound):
        services.bookmark_set(user_id=other, post_id=pending.first_post_id)


def test_the_list_hides_what_the_member_can_no_longer_see_and_keeps_it(
    tree: Tree, thread: services.ThreadRef, post_id: int, member: int, staff: int
) -> None:
    moved = services.thread_create(author_id=staff, forum_id=tree.general, title="Moved", body="B")
    pending = services.thread_create(author_id=staff, forum_id=tree.general, title="Pending", body="B")
    gone = services.thread_create(author_id=staff, forum_id=tree.general, title="Gone", body="B")
    assert moved.first_post_id and pending.first_post_id and gone.first_post_id and thread.first_post_id
    for kept in (
        thread.first_post_id,
        post_id,
        moved.first_post_id,
        pending.first_post_id,
        gone.first_post_id,
    ):
        services.bookmark_set(user_id=member, post_id=kept)
    assert len(listed(member)) == 5

    services.post_delete(user_id=staff, post_id=post_id)  # a deleted post
    services.thread_move(moderator_id=staff, thread_id=moved.id, forum_id=tree.exclusive)  # out of sight
    services.thread_delete(moderator_id=staff, thread_id=gone.id)  # a deleted thread
    # No service sends an approved thread back to moderation; the list must still leave one out.
    Thread.objects.filter(pk=pending.id).update(state=ThreadState.PENDING)

    assert listed(member) == [thread.first_post_id]
    assert selectors.bookmark_page(viewer=selectors.viewer_for(user_id=member)).total == 1
    assert Bookmark.objects.filter(user_id=member).count() == 5  # hidden, not deleted

    # Back in sight, back in the list.
    services.thread_move(moderator_id=staff, thread_id=moved.id, forum_id=tree.general)
    assert listed(member) == [moved.first_post_id, thread.first_post_id]
    # A member who may read the forum it was moved to sees it there.
    status_grant(user_id=member, status_code="agent", source="staff")
    services.thread_move(moderator_id=staff, thread_id=moved.id, forum_id=tree.exclusive)
    assert listed(member) == [moved.first_post_id, thread.first_post_id]


def test_another_member_never_sees_my_bookmarks(
    post_id: int, member: int, other: int, api_as: Api, django_user_model: Any
) -> None:
    services.bookmark_set(user_id=member, post_id=post_id, note="my secret note")
    assert listed(other) == []
    assert api_as(other).get("/api/v1/bookmarks").json()["total"] == 0
    page = signed_in(django_user_model, other).get("/bookmarks/").content.decode()
    assert "my secret note" not in page and "Harbour news" not in page
    thread_page = signed_in(django_user_model, other).get(f"/posts/{post_id}/", follow=True).content.decode()
    assert "Remove bookmark" not in thread_page and 'value="add"' in thread_page
    # Removing "theirs" removes nothing of mine.
    assert api_as(other).delete(f"/api/v1/posts/{post_id}/bookmark").status_code == 204
    assert listed(member) == [post_id]


# --- The API ------------------------------------------------------------------------------------------


def test_the_api(api_as: Api, tree: Tree, post_id: int, member: int, staff: int) -> None:
    api = api_as(member)
    url = f"/api/v1/posts/{post_id}/bookmark"
    response = api.put(url, {"note": "later"}, format="json")
    assert response.status_code == 200
    assert response.json()["post_id"] == post_id and response.json()["note"] == "later"
    assert api.put(url, {}, format="json").json()["note"] == "later"
    assert api.put(url, {"note": "x" * 201}, format="json").status_code == 400

    listing = api.get("/api/v1/bookmarks").json()
    assert (listing["page"], listing["pages"], listing["total"]) == (1, 1, 1)
    item = listing["bookmarks"][0]
    assert item["post_id"] == post_id and item["note"] == "later" and item["url"] == f"/posts/{post_id}/"
    assert item["thread_title"] == "Harbour news" and item["excerpt"] == "The tide is high today"

    # The thread's posts say which ones the caller keeps.
    thread_id = item["thread_id"]
    posts = {
        post["id"]: post["bookmarked"]
        for post in api.get(f"/api/v1/threads/{thread_id}/posts").json()["posts"]
    }
    assert posts[post_id] is True and list(posts.values()).count(True) == 1
    guest_posts = api_as(None).get(f"/api/v1/threads/{thread_id}/posts").json()["posts"]
    assert {post["bookmarked"] for post in guest_posts} == {None}

    assert api.delete(url).status_code == 204
    assert api.get("/api/v1/bookmarks").json()["bookmarks"] == []

    # A post the caller may not see: 404, as one that does not exist.
    status_grant(user_id=staff, status_code="agent", source="staff")
    hidden = services.thread_create(author_id=staff, forum_id=tree.exclusive, title="S", body="B")
    for refused in (f"/api/v1/posts/{hidden.first_post_id}/bookmark", "/api/v1/posts/999999999/bookmark"):
        assert api.put(refused, {}, format="json").status_code == 404
        assert api.delete(refused).status_code == 404
        assert api.put(refused, {}, format="json").json()["error"]["code"] == "not_found"


def test_guests_are_refused_by_the_api(api_as: Api, post_id: int) -> None:
    guest = api_as(None)
    assert guest.get("/api/v1/bookmarks").status_code == 401
    assert guest.put(f"/api/v1/posts/{post_id}/bookmark", {}, format="json").status_code == 401
    assert guest.delete(f"/api/v1/posts/{post_id}/bookmark").status_code == 401
    assert guest.get("/api/v1/bookmarks").json()["error"]["code"] == "not_authenticated"


def test_the_addresses_with_a_trailing_slash_answer_alike_and_are_documented_once(
    api_as: Api, post_id: int, member: int, client: Client
) -> None:
    api = api_as(member)
    assert api.put(f"/api/v1/posts/{post_id}/bookmark/", {"note": "slash"}, format="json").status_code == 200
    assert api.get("/api/v1/bookmarks/").json()["bookmarks"][0]["note"] == "slash"
    assert api.delete(f"/api/v1/posts/{post_id}/bookmark/").status_code == 204
    paths = client.get("/api/schema/?format=json").json()["paths"]
    assert "/api/v1/bookmarks" in paths and "/api/v1/posts/{post_id}/bookmark" in paths
    assert "/api/v1/bookmarks/" not in paths and "/api/v1/posts/{post_id}/bookmark/" not in paths


# --- The pages ----------------------------------------------------------------------------------------


def test_the_button_under_a_post_works_without_javascript_and_with_htmx(
    django_user_model: Any, thread: services.ThreadRef, post_id: int, member: int
) -> None:
    browser = signed_in(django_user_model, member)
    page = browser.get(f"/threads/{thread.id}/").content.decode()
    assert page.count(f'action="/posts/{post_id}/bookmark/"') == 1
    assert page.count('class="bookmark-button"') == 2  # one per post

    pressed = browser.post(f"/posts/{post_id}/bookmark/", {"action": "add"})
    assert pressed.status_code == 302 and pressed["Location"] == f"/posts/{post_id}/"
    assert listed(member) == [post_id]
    page = browser.get(f"/threads/{thread.id}/").content.decode()
    assert page.count("Remove bookmark") == 1

    fragment = browser.post(
        f"/posts/{post_id}/bookmark/", {"action": "remove"}, headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200
    html = fragment.content.decode()
    assert html.strip().startswith('<form class="bookmark-button"') and 'value="add"' in html
    assert "<html" not in html
    assert listed(member) == []

    fragment = browser.post(f"/posts/{post_id}/bookmark/", {"action": "add"}, headers={"HX-Request": "true"})
    assert 'value="remove"' in fragment.content.decode() and listed(member) == [post_id]


def test_the_bookmarks_page_lists_edits_notes_and_removes(
    django_user_model: Any, client: Client, thread: services.ThreadRef, post_id: int, member: int
) -> None:
    assert thread.first_post_id is not None
    browser = signed_in(django_user_model, member)
    empty = browser.get("/bookmarks/")
    assert empty.status_code == 200 and "No bookmarks yet" in empty.content.decode()
    assert 'href="/bookmarks/"' in browser.get("/").content.decode()  # in the header's member menu

    services.bookmark_set(user_id=member, post_id=thread.first_post_id)
    services.bookmark_set(user_id=member, post_id=post_id, note="check the tide")
    page = browser.get("/bookmarks/").content.decode()
    assert page.index(f'href="/posts/{post_id}/"') < page.index(f'href="/posts/{thread.first_post_id}/"')
    assert "Harbour news" in page and "The tide is high today" in page and 'value="check the tide"' in page

    saved = browser.post(
        f"/posts/{post_id}/bookmark/", {"action": "add", "note": "new note", "next": "/bookmarks/?page=1"}
    )
    assert saved.status_code == 302 and saved["Location"] == "/bookmarks/?page=1"
    assert selectors.bookmark_page(viewer=selectors.viewer_for(user_id=member)).items[0].note == "new note"
    # Another site is never where the form sends the browser.
    away = browser.post(f"/posts/{post_id}/bookmark/", {"action": "remove", "next": "https://evil.example/"})
    assert away["Location"] == f"/posts/{post_id}/" and listed(member) == [thread.first_post_id]

    too_long = browser.post(f"/posts/{post_id}/bookmark/", {"action": "add", "note": "x" * 201})
    assert too_long.status_code == 400
    assert browser.post(f"/posts/{post_id}/bookmark/", {"action": "nonsense"}).status_code == 400

    # Guests are sent to sign in.
    assert client.get("/bookmarks/")["Location"].startswith("/accounts/")
    assert client.post(f"/posts/{post_id}/bookmark/", {"action": "add"})["Location"].startswith("/accounts/")


def test_a_post_the_member_may_not_see_is_a_404_on_the_page(
    django_user_model: Any, tree: Tree, staff: int, member: int
) -> None:
    status_grant(user_id=staff, status_code="agent", source="staff")
    hidden = services.thread_create(author_id=staff, forum_id=tree.exclusive, title="S", body="B")
    browser = signed_in(django_user_model, member)
    assert browser.post(f"/posts/{hidden.first_post_id}/bookmark/", {"action": "add"}).status_code == 404
    assert not Bookmark.objects.exists()


# --- Query counts -------------------------------------------------------------------------------------


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_bookmarks_page_and_api_cost_the_same_for_one_bookmark_or_a_full_page(
    django_user_model: Any,
    tree: Tree,
    member: int,
    make_member: Callable[..., int],
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    def keep_one() -> None:
        author = make_member(is_staff=True)
        made = services.thread_create(author_id=author, forum_id=tree.general, title="T", body="B")
        assert made.first_post_id is not None
        services.bookmark_set(user_id=member, post_id=made.first_post_id, note="n")

    browser = signed_in(django_user_model, member)
    api = APIClient()
    api.force_login(django_user_model.objects.get(pk=member))
    # The first request of a session records it; the ones measured are ordinary.
    browser.get("/")
    api.get("/api/v1/bookmarks")
    keep_one()
    one_page, one_api = _queries(browser, "/bookmarks/"), _queries(api, "/api/v1/bookmarks")
    for _number in range(selectors.BOOKMARKS_PER_PAGE + 4):
        keep_one()
    with django_assert_max_num_queries(one_page):
        page = browser.get("/bookmarks/").content.decode()
    assert page.count('class="bookmark-list__item"') == selectors.BOOKMARKS_PER_PAGE
    assert _queries(browser, "/bookmarks/?page=2") == one_page
    assert _queries(api, "/api/v1/bookmarks") == one_api
    assert len(api.get("/api/v1/bookmarks").json()["bookmarks"]) == selectors.BOOKMARKS_PER_PAGE


def test_the_thread_page_costs_the_same_with_one_bookmark_or_twenty(
    django_user_model: Any,
    tree: Tree,
    staff: int,
    member: int,
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    made = services.thread_create(author_id=staff, forum_id=tree.general, title="T", body="B")
    assert made.first_post_id is not None
    services.bookmark_set(user_id=member, post_id=made.first_post_id)
    services.draft_save(user_id=member, thread_id=made.id, body="half a reply")
    browser = signed_in(django_user_model, member)
    browser.get("/")
    one = _queries(browser, f"/threads/{made.id}/")
    for number in range(25):
        reply = services.post_create(author_id=staff, thread_id=made.id, body=f"Reply {number}")
        services.bookmark_set(user_id=member, post_id=reply.id)
    with django_assert_max_num_queries(one):
        page = browser.get(f"/threads/{made.id}/").content.decode()
    assert page.count("Remove bookmark") == 20 and "half a reply" in page
    assert _queries(browser, f"/threads/{made.id}/?page=2") == one
