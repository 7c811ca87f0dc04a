"""Replies held for premoderation, from the outside: a member whose permissions say their posts are
premoderated (the engine's restriction, as an escalation sets it) replies; the reply is theirs and
the moderators' to see until a moderator approves it, counted, announced and delivered nowhere
before; approval makes it an ordinary new reply, rejection deletes it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.authorization.services import AccessRestriction, access_restrictions_set
from apps.thread import services
from apps.thread.models import REASON_MAX_LENGTH, Forum, MemberScore, Post, Thread
from apps.thread.tests.conftest import Tree
from forum.errors import ValidationFailed
from forum.models import OutboxEvent

Api = Callable[[int | None], APIClient]


def premoderated(user_id: int) -> None:
    """What an escalation's "premoderate" sanction does, through the engine."""
    access_restrictions_set(
        user_id=user_id,
        restrictions=[
            AccessRestriction(
                code="premoderate", denied=("thread.skip_premoderation", "post.skip_premoderation")
            )
        ],
    )


def web(user_id: int | None) -> Client:
    client = Client()
    if user_id is not None:
        client.force_login(get_user_model().objects.get(pk=user_id))
    return client


def public_thread(tree: Tree, staff: int) -> int:
    return services.thread_create(author_id=staff, forum_id=tree.general, title="Kettles", body="Opening").id


def events() -> list[str]:
    return list(OutboxEvent.objects.order_by("created_at", "id").values_list("name", flat=True))


def test_a_held_reply_is_seen_by_its_author_and_moderators_only(
    api_as: Api, tree: Tree, staff: int, member: int, other: int
) -> None:
    thread = public_thread(tree, staff)
    premoderated(member)
    before = events()
    answer = web(member).post(f"/threads/{thread}/reply/", {"body": "Held words about kettles"})
    # Straight to the page where the reply is listed (its last page), not through its permalink.
    assert (answer.status_code, answer["Location"]) == (
        302,
        f"/threads/{thread}/#post-{Post.objects.latest('id').pk}",
    )
    mine = web(member).get(answer["Location"]).content.decode()
    assert "Held words about kettles" in mine and "Awaiting approval" in mine

    # Nothing announced: no post_created (no notification, mention, live push, search, cache change).
    assert events()[len(before) :] == ["thread.post_held"]
    for viewer in (other, None):
        assert "Held words" not in web(viewer).get(f"/threads/{thread}/").content.decode()
        posts = api_as(viewer).get(f"/api/v1/threads/{thread}/posts").json()
        assert posts["total"] == 1 and posts["held"] == []
        assert [post["body"] for post in posts["posts"]] == ["Opening"]
        row = api_as(viewer).get(f"/api/v1/forums/{tree.general}/threads").json()["threads"][0]
        assert row["reply_count"] == 0
    assert (
        api_as(other).get(f"/api/v1/forums/{tree.general}/threads").json()["threads"][0]["is_unread"] is False
    )

    (held,) = api_as(member).get(f"/api/v1/threads/{thread}/posts").json()["held"]
    assert held["body"] == "Held words about kettles" and held["held"] is True
    moderator_view = api_as(staff).get(f"/api/v1/threads/{thread}/posts").json()
    assert [post["id"] for post in moderator_view["held"]] == [held["id"]]
    assert "Held words about kettles" in web(staff).get(f"/threads/{thread}/").content.decode()
    # Counted nowhere: the thread, its forum, the author's post count.
    assert Thread.objects.get(pk=thread).post_count == 1
    assert Forum.objects.get(pk=tree.general).post_count == 1
    assert not MemberScore.objects.filter(user_id=member, post_count__gt=0).exists()

    # Another member cannot reach it by any door: permalink, fragment, quote, reaction, bookmark.
    post_id = held["id"]
    assert web(other).get(f"/posts/{post_id}/").status_code == 404
    assert web(other).get(f"/posts/{post_id}/fragment/").status_code == 404
    assert web(None).get(f"/posts/{post_id}/").status_code == 404
    assert api_as(other).put(f"/api/v1/posts/{post_id}/reaction", {"kind": "like"}).status_code == 404
    assert api_as(other).put(f"/api/v1/posts/{post_id}/bookmark", {}).status_code == 404
    assert api_as(member).put(f"/api/v1/posts/{post_id}/bookmark", {}).status_code == 409
    assert api_as(other).get(f"/api/v1/posts/{post_id}").status_code == 404
    assert api_as(member).get(f"/api/v1/posts/{post_id}").json()["held"] is True
    assert api_as(staff).get(f"/api/v1/posts/{post_id}").status_code == 200


def test_approval_makes_it_an_ordinary_new_reply(
    api_as: Api, tree: Tree, staff: int, member: int, other: int, django_user_model: Any
) -> None:
    thread = public_thread(tree, staff)
    premoderated(member)
    name = django_user_model.objects.get(pk=other).username
    written = events()
    held = services.post_create(author_id=member, thread_id=thread, body=f"Hello @{name}")
    assert held.held
    # A public reply written meanwhile takes the next position; the held one does not keep it.
    meanwhile = services.post_create(author_id=staff, thread_id=thread, body="Meanwhile")
    assert meanwhile.position == 2
    assert events()[len(written) :] == ["thread.post_held", "thread.post_created"]

    before = events()
    answer = api_as(staff).post(f"/api/v1/posts/{held.id}/approve")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["held"] is False and answer.json()["position"] == 3
    assert events()[len(before) :] == ["thread.post_approved", "thread.post_created"]
    posts = api_as(other).get(f"/api/v1/threads/{thread}/posts").json()
    assert [post["position"] for post in posts["posts"]] == [1, 2, 3] and posts["held"] == []
    assert posts["posts"][2]["body"] == f"Hello @{name}"
    assert Thread.objects.get(pk=thread).post_count == 3
    assert Forum.objects.get(pk=tree.general).post_count == 3
    assert MemberScore.objects.get(user_id=member).post_count == 1
    # Approved once: a second approval or a rejection is a conflict.
    assert api_as(staff).post(f"/api/v1/posts/{held.id}/approve").status_code == 409
    assert api_as(staff).post(f"/api/v1/posts/{held.id}/reject", {"reason": "late"}).status_code == 409


def test_rejection_deletes_it_and_only_moderators_moderate(
    api_as: Api, tree: Tree, staff: int, member: int, other: int
) -> None:
    thread = public_thread(tree, staff)
    premoderated(member)
    held = services.post_create(author_id=member, thread_id=thread, body="Buy my kettles")
    for outsider in (member, other):
        assert api_as(outsider).post(f"/api/v1/posts/{held.id}/approve").status_code == 403
        assert api_as(outsider).post(f"/api/v1/posts/{held.id}/reject", {"reason": "x"}).status_code == 403
        assert api_as(outsider).get("/api/v1/moderation/posts").status_code == 403
    assert api_as(None).get("/api/v1/moderation/posts").status_code in (401, 403)

    queue = api_as(staff).get("/api/v1/moderation/posts").json()
    assert queue["total"] == 1
    (row,) = queue["posts"]
    assert (row["id"], row["thread_id"], row["forum_id"], row["author_id"]) == (
        held.id,
        thread,
        tree.general,
        member,
    )
    assert (row["thread_title"], row["forum_name"], row["excerpt"]) == (
        "Kettles",
        "General",
        "Buy my kettles",
    )

    refused = api_as(staff).post(f"/api/v1/posts/{held.id}/reject", {"reason": "  "}, format="json")
    assert refused.status_code == 400 and "reason" in refused.json()["error"]["fields"]
    assert api_as(staff).post("/api/v1/posts/999999999/approve").status_code == 404
    before = events()
    answer = api_as(staff).post(f"/api/v1/posts/{held.id}/reject", {"reason": "Advertising"}, format="json")
    assert answer.status_code == 200
    assert events()[len(before) :] == ["thread.post_rejected"]
    assert api_as(staff).get("/api/v1/moderation/posts").json()["total"] == 0
    assert api_as(member).get(f"/api/v1/threads/{thread}/posts").json()["held"] == []
    assert "Buy my kettles" not in web(member).get(f"/threads/{thread}/").content.decode()
    assert api_as(staff).post(f"/api/v1/posts/{held.id}/approve").status_code == 404
    # Never public: it cannot be restored into the thread.
    assert web(staff).get(f"/posts/{held.id}/").status_code == 404


def test_the_author_may_withdraw_it_and_nothing_is_counted(
    api_as: Api, tree: Tree, staff: int, member: int
) -> None:
    thread = public_thread(tree, staff)
    services.post_create(author_id=staff, thread_id=thread, body="Second")
    premoderated(member)
    held = services.post_create(author_id=member, thread_id=thread, body="Second thoughts")
    before = events()
    assert api_as(member).delete(f"/api/v1/posts/{held.id}").status_code == 204
    assert events()[len(before) :] == []
    assert Thread.objects.get(pk=thread).post_count == 2
    assert api_as(staff).get("/api/v1/moderation/posts").json()["total"] == 0


def test_members_who_skip_premoderation_publish_at_once(tree: Tree, staff: int, member: int) -> None:
    thread = public_thread(tree, staff)
    reply = services.post_create(author_id=member, thread_id=thread, body="Straight out")
    assert not reply.held and reply.position == 2
    assert "thread.post_created" in events()


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_thread_page_runs_the_same_queries_however_many_replies_are_held(
    tree: Tree, staff: int, member: int, make_member: Callable[..., int]
) -> None:
    thread = public_thread(tree, staff)
    premoderated(member)
    services.post_create(author_id=member, thread_id=thread, body="Held one")
    moderator, author = web(staff), web(member)
    for client in (moderator, author):
        client.get(f"/threads/{thread}/")  # the first request of a session records it
    few = {
        "staff": _queries(moderator, f"/threads/{thread}/"),
        "author": _queries(author, f"/threads/{thread}/"),
    }
    for number in range(4):
        writer = make_member()
        premoderated(writer)
        services.post_create(author_id=writer, thread_id=thread, body=f"Held {number}")
        services.post_create(author_id=member, thread_id=thread, body=f"Mine {number}")
    page = moderator.get(f"/threads/{thread}/").content.decode()
    assert page.count("Awaiting approval") == 9
    assert _queries(moderator, f"/threads/{thread}/") == few["staff"]
    assert _queries(author, f"/threads/{thread}/") == few["author"]
    assert web(member).get(f"/threads/{thread}/").content.decode().count("Awaiting approval") == 5


def test_guests_cached_pages_stay_until_the_reply_is_approved(
    tree: Tree,
    staff: int,
    member: int,
    settings: Any,
    redis_namespace: str,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.PAGE_CACHE_SECONDS = 300

    def guest_page() -> tuple[bool, str]:
        response = Client().get(f"/threads/{thread}/")
        assert response.status_code == 200
        return response.get("X-Page-Cache") == "hit", response.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        thread = public_thread(tree, staff)
    premoderated(member)
    guest_page()
    with django_capture_on_commit_callbacks(execute=True):
        held = services.post_create(author_id=member, thread_id=thread, body="Held for the guests")
    hit, html = guest_page()
    assert hit and "Held for the guests" not in html  # nothing a guest sees changed
    with django_capture_on_commit_callbacks(execute=True):
        services.post_approve(moderator_id=staff, post_id=held.id)
    hit, html = guest_page()
    assert not hit and "Held for the guests" in html


def test_a_rejection_reason_is_one_line_and_not_too_long(tree: Tree, staff: int, member: int) -> None:
    thread = public_thread(tree, staff)
    premoderated(member)
    held = services.post_create(author_id=member, thread_id=thread, body="Buy my kettles")
    with pytest.raises(ValidationFailed) as too_long:
        services.post_reject(moderator_id=staff, post_id=held.id, reason="x" * (REASON_MAX_LENGTH + 1))
    assert "reason" in too_long.value.fields
    with pytest.raises(ValidationFailed):
        services.post_reject(moderator_id=staff, post_id=held.id, reason=" \n\t ")

    services.post_reject(moderator_id=staff, post_id=held.id, reason="  Plain\n\nadvertising ")
    assert Post.objects.get(pk=held.id).rejection_reason == "Plain advertising"
