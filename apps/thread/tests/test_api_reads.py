"""The API's reads of one post and of one member's threads and posts: only what the thread pages would
show the caller, at a fixed number of queries; and the exact paging of the thread app's lists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.status.services import status_grant
from apps.thread.services import (
    bookmark_set,
    post_create,
    post_delete,
    reaction_set,
    thread_approve,
    thread_create,
)
from apps.thread.tests.conftest import Tree

Api = Callable[[int | None], APIClient]


def error_of(response: Any) -> dict[str, Any]:
    assert response["Content-Type"].startswith("application/json")
    error: dict[str, Any] = response.json()["error"]
    return error


@pytest.fixture
def agent(make_member: Callable[..., int]) -> int:
    """A member who may read the exclusive forum."""
    user_id = make_member()
    status_grant(user_id=user_id, status_code="agent", source="staff")
    return user_id


@pytest.fixture
def writings(tree: Tree, member: int, other: int, staff: int) -> dict[str, int]:
    """What ``member`` wrote: a public thread with a reply, a pending thread, a thread in the
    exclusive forum, a deleted reply, and a reply in someone else's thread."""
    status_grant(user_id=member, status_code="agent", source="staff")  # may write in the exclusive forum
    public = thread_create(author_id=member, forum_id=tree.general, title="Public harbour", body="opening")
    thread_approve(moderator_id=staff, thread_id=public.id)
    reply = post_create(author_id=member, thread_id=public.id, body="a reply about lighthouses")
    gone = post_create(author_id=member, thread_id=public.id, body="a reply taken back")
    post_delete(user_id=member, post_id=gone.id)
    pending = thread_create(
        author_id=member, forum_id=tree.general, title="Waiting tide", body="pending body"
    )
    secret = thread_create(author_id=member, forum_id=tree.exclusive, title="Agents cove", body="secret body")
    thread_approve(moderator_id=staff, thread_id=secret.id)
    theirs = thread_create(author_id=staff, forum_id=tree.other, title="Staff notes", body="by staff")
    elsewhere = post_create(author_id=member, thread_id=theirs.id, body="a reply elsewhere")
    assert public.first_post_id and pending.first_post_id and secret.first_post_id
    return {
        "public": public.id,
        "public_first": public.first_post_id,
        "reply": reply.id,
        "gone": gone.id,
        "pending": pending.id,
        "pending_first": pending.first_post_id,
        "secret": secret.id,
        "secret_first": secret.first_post_id,
        "elsewhere": elsewhere.id,
        "theirs": theirs.id,
    }


# --- One post --------------------------------------------------------------------------------------------


def test_one_post_as_its_thread_page_shows_it(
    api_as: Api, writings: dict[str, int], member: int, other: int
) -> None:
    reaction_set(user_id=other, post_id=writings["reply"], kind="like")
    bookmark_set(user_id=other, post_id=writings["reply"])
    guest = api_as(None).get(f"/api/v1/posts/{writings['reply']}")
    assert guest.status_code == 200
    body = guest.json()
    assert body["id"] == writings["reply"] and body["thread_id"] == writings["public"]
    assert body["thread_title"] == "Public harbour" and body["author_id"] == member
    assert "lighthouses" in body["body"] and "lighthouses" in body["body_html"]
    assert body["reaction_counts"] == {"like": 1}
    assert (body["my_reaction"], body["bookmarked"], body["is_unread"]) == (None, None, False)
    theirs = api_as(other).get(f"/api/v1/posts/{writings['reply']}").json()
    assert (theirs["my_reaction"], theirs["bookmarked"]) == ("like", True)


@pytest.mark.parametrize(
    ("post", "allowed"),
    [
        ("gone", set()),
        ("pending_first", {"member", "staff"}),
        ("secret_first", {"member", "agent", "staff"}),
    ],
)
def test_a_post_the_caller_may_not_see_is_not_found(
    api_as: Api,
    writings: dict[str, int],
    member: int,
    other: int,
    staff: int,
    agent: int,
    post: str,
    allowed: set[str],
) -> None:
    callers = {"guest": None, "other": other, "member": member, "agent": agent, "staff": staff}
    for name, user_id in callers.items():
        response = api_as(user_id).get(f"/api/v1/posts/{writings[post]}")
        if name in allowed:
            assert response.status_code == 200, name
        else:
            assert response.status_code == 404, name
            assert error_of(response)["code"] == "not_found"


def test_an_unknown_post_is_not_found_and_writing_still_needs_a_member(
    api_as: Api, writings: dict[str, int]
) -> None:
    for post_id in (999_999_999, 2**63 + 5):
        assert error_of(api_as(None).get(f"/api/v1/posts/{post_id}"))["code"] == "not_found"
    refused = api_as(None).patch(f"/api/v1/posts/{writings['reply']}", {"body": "mine now"}, format="json")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == 'Bearer realm="api"'


# --- A member's threads and posts ------------------------------------------------------------------------


def test_a_members_lists_show_each_caller_what_the_thread_pages_would(
    api_as: Api, writings: dict[str, int], member: int, other: int, staff: int, agent: int
) -> None:
    def threads(viewer: int | None) -> list[str]:
        response = api_as(viewer).get(f"/api/v1/members/{member}/threads")
        assert response.status_code == 200
        body = response.json()
        assert body["total"] == len(body["threads"])
        return [thread["title"] for thread in body["threads"]]

    def posts(viewer: int | None) -> set[int]:
        response = api_as(viewer).get(f"/api/v1/members/{member}/posts")
        assert response.status_code == 200
        body = response.json()
        assert body["total"] == len(body["posts"])
        return {post["id"] for post in body["posts"]}

    # Newest first.
    assert threads(None) == ["Public harbour"]
    assert threads(other) == ["Public harbour"]
    assert threads(agent) == ["Agents cove", "Public harbour"]
    assert threads(member) == ["Agents cove", "Waiting tide", "Public harbour"]  # their own pending one
    assert threads(staff) == ["Agents cove", "Waiting tide", "Public harbour"]  # moderators see it

    public = {writings["public_first"], writings["reply"], writings["elsewhere"]}
    assert posts(None) == public
    assert posts(agent) == public | {writings["secret_first"]}
    assert posts(member) == public | {writings["secret_first"], writings["pending_first"]}
    assert writings["gone"] not in posts(staff)


def test_a_members_posts_carry_their_threads_and_the_callers_marks(
    api_as: Api, writings: dict[str, int], member: int, other: int
) -> None:
    bookmark_set(user_id=other, post_id=writings["elsewhere"])
    reaction_set(user_id=other, post_id=writings["elsewhere"], kind="like")
    body = api_as(other).get(f"/api/v1/members/{member}/posts").json()
    newest = body["posts"][0]
    assert newest["id"] == writings["elsewhere"]
    assert (newest["thread_id"], newest["thread_title"]) == (writings["theirs"], "Staff notes")
    assert (newest["my_reaction"], newest["bookmarked"], newest["reaction_counts"]) == (
        "like",
        True,
        {"like": 1},
    )
    assert [post["created_at"] for post in body["posts"]] == sorted(
        (post["created_at"] for post in body["posts"]), reverse=True
    )
    # In a thread awaiting moderation, as on its page: no bookmark to offer.
    own = api_as(member).get(f"/api/v1/members/{member}/posts").json()["posts"]
    assert next(post for post in own if post["id"] == writings["pending_first"])["bookmarked"] is None


def test_an_unknown_member_is_not_found(api_as: Api, tree: Tree) -> None:
    for kind in ("threads", "posts"):
        response = api_as(None).get(f"/api/v1/members/999999999/{kind}")
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"


def queries_of(client: APIClient, url: str) -> tuple[int, dict[str, Any]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response.json()


def test_a_members_lists_cost_the_same_whatever_their_pages_hold(
    api_as: Api, tree: Tree, other: int, staff: int
) -> None:
    reader = api_as(other)

    def write(count: int) -> None:
        # By a moderator: their threads need no approval and no quota stops them.
        for number in range(count):
            thread = thread_create(author_id=staff, forum_id=tree.general, title=f"T{number}", body="b")
            reply = post_create(author_id=staff, thread_id=thread.id, body=f"reply {number}")
            reaction_set(user_id=other, post_id=reply.id, kind="like")
            bookmark_set(user_id=other, post_id=reply.id)

    write(1)
    threads_one, body = queries_of(reader, f"/api/v1/members/{staff}/threads")
    assert len(body["threads"]) == 1
    posts_one, body = queries_of(reader, f"/api/v1/members/{staff}/posts")
    assert len(body["posts"]) == 2
    write(24)
    threads_full, body = queries_of(reader, f"/api/v1/members/{staff}/threads")
    assert len(body["threads"]) == 25
    posts_full, body = queries_of(reader, f"/api/v1/members/{staff}/posts")
    assert len(body["posts"]) == 20
    assert (threads_full, posts_full) == (threads_one, posts_one)
    # The caller's permissions, the member, the forums, the count, the rows (with read marks), the
    # names; posts add the attachments, the caller's reactions and bookmarks.
    assert threads_full <= 6 and posts_full <= 9


# --- Paging ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["abc", "0", "-1", "", "1.5", "1000001", "99999999999999999999"])
def test_a_page_that_is_no_page_number_is_a_400_naming_the_field(
    api_as: Api, writings: dict[str, int], member: int, staff: int, page: str
) -> None:
    urls = [
        "/api/v1/forums/{forum}/threads",
        "/api/v1/threads/{public}/posts",
        "/api/v1/bookmarks",
        "/api/v1/moderation/threads",
        "/api/v1/members/{member}/threads",
        "/api/v1/members/{member}/posts",
    ]
    forum = api_as(staff).get(f"/api/v1/threads/{writings['public']}").json()["forum_id"]
    for url in urls:
        response = api_as(staff).get(url.format(forum=forum, member=member, **writings), {"page": page})
        assert response.status_code == 400, url
        error = error_of(response)
        assert (error["code"], list(error["fields"])) == ("invalid", ["page"]), url


def test_a_page_past_the_end_is_empty_and_still_counts(
    api_as: Api, writings: dict[str, int], member: int, staff: int
) -> None:
    posts = api_as(member).get(f"/api/v1/threads/{writings['public']}/posts", {"page": 999})
    assert posts.status_code == 200
    # Past the end: nothing, not even the replies awaiting approval the last page lists.
    assert posts.json() | {"posts": None} == {"page": 999, "pages": 1, "total": 2, "posts": None, "held": []}
    assert posts.json()["posts"] == []
    threads = api_as(None).get(f"/api/v1/members/{member}/threads", {"page": 2}).json()
    assert (threads["page"], threads["total"], threads["threads"]) == (2, 1, [])
    assert api_as(None).get(f"/api/v1/members/{member}/threads", {"page": 1}).json()["threads"]
