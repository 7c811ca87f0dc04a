"""The forum tree as lists show it: counters and last posts rolled up from subforums, unread markers."""

from __future__ import annotations

from typing import Any

from django.test import Client

from apps.status.services import status_grant
from apps.thread import services
from apps.thread.tests.conftest import Tree
from apps.thread.tests.test_threads import Api, forum_row, public
from forum.tests.test_pages import Page


def test_subforums_roll_up_into_their_parents(api_as: Api, tree: Tree, member: int, staff: int) -> None:
    public(api_as, staff, tree.general, staff, title="Top")
    deep = public(api_as, staff, tree.subsub, staff, title="Deep")
    api_as(staff).post(f"/api/v1/threads/{deep['id']}/posts", {"body": "Deeper"})
    # Waiting in the queue: counted nowhere for anyone else.
    pending = api_as(member).post(
        f"/api/v1/forums/{tree.sub}/threads", {"title": "Wait", "body": "Please"}, format="json"
    )
    assert pending.json()["state"] == "pending"

    general = forum_row(api_as, member, tree.general)
    assert (general["thread_count"], general["post_count"]) == (1, 1)
    assert (general["total_thread_count"], general["total_post_count"]) == (2, 3)
    assert general["last_thread_id"] == deep["id"]
    assert general["last_thread_title"] == "Deep"
    sub = forum_row(api_as, member, tree.sub)
    assert (sub["total_thread_count"], sub["total_post_count"]) == (1, 2)
    subsub = forum_row(api_as, member, tree.subsub)
    assert (subsub["total_thread_count"], subsub["total_post_count"]) == (1, 2)


def test_a_subforum_the_reader_cannot_see_adds_nothing_to_its_parent(
    api_as: Api, tree: Tree, member: int, staff: int
) -> None:
    hidden = services.forum_create(
        name="Agents' corner", parent_id=tree.other, read_permission="forum.read_exclusive"
    ).id
    public(api_as, staff, tree.other, staff, title="Open")
    public(api_as, staff, hidden, staff, title="Secret plans")

    seen = forum_row(api_as, member, tree.other)
    assert seen["total_thread_count"] == 1
    assert seen["last_thread_title"] == "Open"
    status_grant(user_id=member, status_code="agent", source="staff")
    seen = forum_row(api_as, member, tree.other)
    assert seen["total_thread_count"] == 2
    assert seen["last_thread_title"] == "Secret plans"


def test_unread_markers_light_up_the_forum_and_its_parents(
    api_as: Api, tree: Tree, member: int, other: int, staff: int
) -> None:
    def unread(user_id: int | None) -> dict[int, bool]:
        forums = api_as(user_id).get("/api/v1/forums").json()["forums"]
        return {forum["id"]: forum["is_unread"] for forum in forums}

    assert not any(unread(other).values())
    thread = public(api_as, member, tree.subsub, staff)
    markers = unread(other)
    assert markers[tree.subsub] and markers[tree.sub] and markers[tree.general] and markers[tree.category]
    assert not markers[tree.other]
    assert not any(unread(None).values()), "guests have no read state"
    assert not unread(member)[tree.subsub], "the author has read what they wrote"

    api_as(other).get(f"/api/v1/threads/{thread['id']}/posts")
    assert not any(unread(other).values())
    api_as(member).post(f"/api/v1/threads/{thread['id']}/posts", {"body": "More"})
    assert unread(other)[tree.general]


def test_quiet_threads_count_as_read(
    api_as: Api, tree: Tree, member: int, other: int, staff: int, settings: Any
) -> None:
    public(api_as, member, tree.general, staff)
    settings.THREAD_UNREAD_DAYS = 0
    assert not forum_row(api_as, other, tree.general)["is_unread"]
    row = api_as(other).get(f"/api/v1/forums/{tree.general}/threads").json()["threads"][0]
    assert (row["is_new"], row["is_unread"]) == (False, False)


def _tree_items(client: Client, url: str, **headers: Any) -> Page:
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    return Page(response.content.decode())


def test_the_index_page_shows_totals_and_markers_in_the_readers_language(
    api_as: Api, client: Client, django_user_model: Any, tree: Tree, member: int, other: int, staff: int
) -> None:
    public(api_as, member, tree.subsub, staff, title="Deep dive")
    client.force_login(django_user_model.objects.get(pk=other))
    page = _tree_items(client, "/")
    assert "1 thread, 1 post" in " ".join(page.text.split())
    assert "Unread" in page.text
    assert "forum-tree__item--unread" in str(page.find("li"))
    assert "Deep dive" in page.text

    russian = " ".join(_tree_items(client, "/", **{"Accept-Language": "ru"}).text.split())
    assert "1 тема" in russian
    assert "Не прочитано" in russian


def test_a_forum_page_lists_its_subforums_with_their_totals(
    api_as: Api, client: Client, tree: Tree, staff: int
) -> None:
    public(api_as, staff, tree.subsub, staff, title="Deep dive")
    text = " ".join(_tree_items(client, f"/forums/{tree.general}/").text.split())
    assert "Introductions" in text
    assert "1 thread, 1 post" in text
    assert "Deep dive" in text
