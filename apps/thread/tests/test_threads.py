"""Threads through the API and the services, as members, guests and moderators see them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from apps.status.services import status_grant
from apps.thread import services
from apps.thread.models import PostEdit
from apps.thread.tests.conftest import Tree
from forum.errors import Conflict, Forbidden, ValidationFailed

Api = Callable[[int | None], APIClient]


def start(api: Api, user_id: int, forum_id: int, title: str = "Hello", body: str = "First words") -> Any:
    response = api(user_id).post(
        f"/api/v1/forums/{forum_id}/threads", {"title": title, "body": body}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def public(api: Api, author: int, forum_id: int, staff: int, **given: str) -> Any:
    thread = start(api, author, forum_id, **given)
    if thread["state"] == "pending":
        assert api(staff).post(f"/api/v1/threads/{thread['id']}/approve").status_code == 200
    return thread


def forum_row(api: Api, user_id: int | None, forum_id: int) -> dict[str, Any]:
    forums = api(user_id).get("/api/v1/forums").json()["forums"]
    return next(forum for forum in forums if forum["id"] == forum_id)


def thread_ids(api: Api, user_id: int | None, forum_id: int) -> list[int]:
    response = api(user_id).get(f"/api/v1/forums/{forum_id}/threads")
    assert response.status_code == 200
    return [thread["id"] for thread in response.json()["threads"]]


# --- The tree -----------------------------------------------------------------------------------------


def test_the_tree_is_ordered_and_nests_three_levels_below_a_category(api_as: Api, tree: Tree) -> None:
    forums = api_as(None).get("/api/v1/forums").json()["forums"]
    assert [(forum["name"], forum["depth"]) for forum in forums] == [
        ("Community", 0),
        ("General", 1),
        ("Introductions", 2),
        ("Long stories", 3),
        ("Other", 1),
    ]
    assert forums[1]["description"] == "Anything goes."


def test_an_exclusive_forum_is_seen_only_with_the_agent_status(api_as: Api, tree: Tree, member: int) -> None:
    assert tree.exclusive not in [
        forum["id"] for forum in api_as(member).get("/api/v1/forums").json()["forums"]
    ]
    assert api_as(member).get(f"/api/v1/forums/{tree.exclusive}/threads").status_code == 404
    refused = api_as(member).post(
        f"/api/v1/forums/{tree.exclusive}/threads", {"title": "Hi", "body": "there"}, format="json"
    )
    assert refused.status_code == 404

    status_grant(user_id=member, status_code="agent", source="staff")

    assert tree.exclusive in [forum["id"] for forum in api_as(member).get("/api/v1/forums").json()["forums"]]
    assert api_as(member).get(f"/api/v1/forums/{tree.exclusive}/threads").status_code == 200
    start(api_as, member, tree.exclusive)


def test_threads_are_started_in_forums_not_categories(api_as: Api, tree: Tree, member: int) -> None:
    response = api_as(member).post(f"/api/v1/forums/{tree.category}/threads", {"title": "Hi", "body": "x"})
    assert response.status_code == 400
    assert "forum_id" in response.json()["error"]["fields"]


def test_guests_may_read_but_not_post(api_as: Api, tree: Tree) -> None:
    assert api_as(None).get(f"/api/v1/forums/{tree.general}/threads").status_code == 200
    response = api_as(None).post(f"/api/v1/forums/{tree.general}/threads", {"title": "Hi", "body": "there"})
    assert response.status_code == 401


def test_bad_input_is_a_clear_400(api_as: Api, tree: Tree, member: int) -> None:
    response = api_as(member).post(f"/api/v1/forums/{tree.general}/threads", {"title": "  ", "body": ""})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"title", "body"}
    assert (
        api_as(member).post("/api/v1/threads/999999999999999999999/posts", {"body": "x"}).status_code == 404
    )
    refused = api_as(member).get(f"/api/v1/forums/{tree.general}/threads?page=abc")
    assert (refused.status_code, list(refused.json()["error"]["fields"])) == (400, ["page"])


# --- Premoderation ------------------------------------------------------------------------------------


def test_a_members_thread_waits_unseen_until_approved(
    api_as: Api, tree: Tree, member: int, other: int, staff: int, outbox: Any
) -> None:
    thread = start(api_as, member, tree.general, title="Pending one", body="Hi @someone")
    assert thread["state"] == "pending"

    # The author and the moderators see it ...
    assert thread_ids(api_as, member, tree.general) == [thread["id"]]
    assert thread_ids(api_as, staff, tree.general) == [thread["id"]]
    assert api_as(member).get(f"/api/v1/threads/{thread['id']}/posts").status_code == 200
    queue = api_as(staff).get("/api/v1/moderation/threads").json()
    assert [row["id"] for row in queue["threads"]] == [thread["id"]]
    # ... nobody else does: not in lists, counters, the index, nor by its id.
    for viewer in (other, None):
        assert thread_ids(api_as, viewer, tree.general) == []
        assert api_as(viewer).get(f"/api/v1/threads/{thread['id']}").status_code == 404
        assert api_as(viewer).get(f"/api/v1/threads/{thread['id']}/posts").status_code == 404
        row = forum_row(api_as, viewer, tree.general)
        assert (row["thread_count"], row["post_count"], row["last_thread_id"]) == (0, 0, None)
    assert api_as(other).get("/api/v1/moderation/threads").status_code == 403
    assert api_as(other).post(f"/api/v1/threads/{thread['id']}/posts", {"body": "x"}).status_code == 404
    # No replies before approval, and no event for anyone to act on.
    refused = api_as(member).post(f"/api/v1/threads/{thread['id']}/posts", {"body": "more"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "thread_pending")
    assert outbox("thread.created") == [] and outbox("thread.post_created") == []

    assert api_as(other).post(f"/api/v1/threads/{thread['id']}/approve").status_code == 403
    approved = api_as(staff).post(f"/api/v1/threads/{thread['id']}/approve")
    assert approved.json()["state"] == "approved"

    assert thread_ids(api_as, other, tree.general) == [thread["id"]]
    row = forum_row(api_as, None, tree.general)
    assert (row["thread_count"], row["post_count"], row["last_thread_id"]) == (1, 1, thread["id"])
    assert row["last_thread_title"] == "Pending one"
    assert outbox("thread.approved") == [
        {"thread_id": thread["id"], "forum_id": tree.general, "author_id": member, "approved_by": staff}
    ]
    assert outbox("thread.created") == [
        {
            "thread_id": thread["id"],
            "forum_id": tree.general,
            "author_id": member,
            "title": "Pending one",
            "first_post_id": thread["first_post_id"],
        }
    ]
    assert [event["post_id"] for event in outbox("thread.post_created")] == [thread["first_post_id"]]
    assert api_as(staff).get("/api/v1/moderation/threads").json()["threads"] == []


def test_a_rejected_thread_tells_its_author_why_and_stays_hidden(
    api_as: Api, tree: Tree, member: int, other: int, staff: int, outbox: Any
) -> None:
    thread = start(api_as, member, tree.general)
    assert api_as(staff).post(f"/api/v1/threads/{thread['id']}/reject", {"reason": ""}).status_code == 400
    response = api_as(staff).post(f"/api/v1/threads/{thread['id']}/reject", {"reason": "Off topic"})
    assert response.json()["state"] == "rejected"
    assert outbox("thread.rejected") == [
        {
            "thread_id": thread["id"],
            "forum_id": tree.general,
            "author_id": member,
            "rejected_by": staff,
            "reason": "Off topic",
        }
    ]
    assert api_as(member).get(f"/api/v1/threads/{thread['id']}").json()["rejection_reason"] == "Off topic"
    assert api_as(other).get(f"/api/v1/threads/{thread['id']}").status_code == 404
    assert forum_row(api_as, other, tree.general)["thread_count"] == 0
    again = api_as(staff).post(f"/api/v1/threads/{thread['id']}/reject", {"reason": "Twice"})
    assert again.status_code == 409


def test_members_who_skip_premoderation_publish_at_once(
    api_as: Api, tree: Tree, member: int, other: int, outbox: Any
) -> None:
    status_grant(user_id=member, status_code="reader", source="staff")
    thread = start(api_as, member, tree.general)
    assert thread["state"] == "approved"
    assert thread_ids(api_as, other, tree.general) == [thread["id"]]
    assert [event["thread_id"] for event in outbox("thread.created")] == [thread["id"]]


# --- Quota --------------------------------------------------------------------------------------------


def test_the_daily_thread_limit_comes_from_the_engine(api_as: Api, tree: Tree, member: int) -> None:
    for number in range(3):
        start(api_as, member, tree.general, title=f"Thread {number}")
    refused = api_as(member).post(f"/api/v1/forums/{tree.general}/threads", {"title": "Four", "body": "x"})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert refused["X-Quota-Resets-At"]
    assert refused.json()["error"]["code"] == "rate_limited"

    status_grant(user_id=member, status_code="agent", source="staff")  # ten a day
    start(api_as, member, tree.general, title="Four")


def test_a_refused_thread_does_not_use_the_quota(api_as: Api, tree: Tree, member: int) -> None:
    for _attempt in range(4):
        assert (
            api_as(member)
            .post(f"/api/v1/forums/{tree.category}/threads", {"title": "x", "body": "y"})
            .status_code
            == 400
        )
    for number in range(3):
        start(api_as, member, tree.general, title=f"Thread {number}")


def test_a_reply_refused_inside_its_transaction_gives_its_quota_use_back(
    api_as: Api, tree: Tree, member: int, staff: int
) -> None:
    """The use is written in the reply's transaction: an attachment that is not the author's, found
    only there, rolls both back."""
    from apps.authorization.services import quota_remaining
    from apps.thread.models import Post

    thread = public(api_as, member, tree.general, staff)
    before = quota_remaining(user_id=member, permission="post.create_per_day").remaining
    posts = Post.objects.count()
    with pytest.raises(ValidationFailed):
        services.post_create(author_id=member, thread_id=thread["id"], body="Look", attachment_ids=[987654])
    assert quota_remaining(user_id=member, permission="post.create_per_day").remaining == before
    assert Post.objects.count() == posts
    services.post_create(author_id=member, thread_id=thread["id"], body="Look again")
    assert quota_remaining(user_id=member, permission="post.create_per_day").remaining == before - 1


# --- Replies, closing, editing, deleting --------------------------------------------------------------


def test_a_closed_thread_refuses_replies_except_from_moderators(
    api_as: Api, tree: Tree, member: int, other: int, staff: int, outbox: Any
) -> None:
    thread = public(api_as, member, tree.general, staff)
    assert api_as(other).post(f"/api/v1/threads/{thread['id']}/close").status_code == 403
    assert api_as(staff).post(f"/api/v1/threads/{thread['id']}/close").json()["closed"] is True
    assert outbox("thread.closed") == [
        {"thread_id": thread["id"], "forum_id": tree.general, "closed_by": staff}
    ]

    refused = api_as(other).post(f"/api/v1/threads/{thread['id']}/posts", {"body": "Let me in"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "thread_closed")
    assert (
        api_as(staff).post(f"/api/v1/threads/{thread['id']}/posts", {"body": "Closing note"}).status_code
        == 201
    )

    api_as(staff).post(f"/api/v1/threads/{thread['id']}/reopen")
    assert api_as(other).post(f"/api/v1/threads/{thread['id']}/posts", {"body": "Now"}).status_code == 201


def test_a_reply_is_published_with_its_payload_and_counted(
    api_as: Api, tree: Tree, member: int, other: int, staff: int, outbox: Any
) -> None:
    thread = public(api_as, member, tree.general, staff)
    reply = api_as(other).post(f"/api/v1/threads/{thread['id']}/posts", {"body": "A reply"}).json()
    assert reply["position"] == 2
    assert outbox("thread.post_created")[-1] == {
        "post_id": reply["id"],
        "thread_id": thread["id"],
        "forum_id": tree.general,
        "author_id": other,
        "position": 2,
        "mentioned_ids": [],
        "quoted_ids": [],
        "quoted_post_ids": [],
    }
    row = forum_row(api_as, None, tree.general)
    assert (row["thread_count"], row["post_count"], row["last_post_id"]) == (1, 2, reply["id"])
    assert api_as(None).get(f"/api/v1/threads/{thread['id']}").json()["reply_count"] == 1


def test_members_edit_their_posts_within_the_window_and_moderators_at_any_time(
    api_as: Api, tree: Tree, member: int, other: int, staff: int, clock: Any, outbox: Any, settings: Any
) -> None:
    settings.THREAD_POST_EDIT_WINDOW_MINUTES = 30
    thread = public(api_as, member, tree.general, staff)
    post_id = thread["first_post_id"]
    assert api_as(other).patch(f"/api/v1/posts/{post_id}", {"body": "Not mine"}).status_code == 403
    assert api_as(member).patch(f"/api/v1/posts/{post_id}", {"body": "Better words"}).status_code == 200
    assert outbox("thread.post_edited") == [
        {
            "post_id": post_id,
            "thread_id": thread["id"],
            "author_id": member,
            "editor_id": member,
            "mentioned_ids": [],
        }
    ]

    clock.move(minutes=31)
    late = api_as(member).patch(f"/api/v1/posts/{post_id}", {"body": "Too late"})
    assert (late.status_code, late.json()["error"]["code"]) == (403, "edit_window_over")
    assert api_as(staff).patch(f"/api/v1/posts/{post_id}", {"body": "Moderated"}).status_code == 200

    posts = api_as(None).get(f"/api/v1/threads/{thread['id']}/posts").json()["posts"]
    assert posts[0]["body"] == "Moderated" and posts[0]["edited_at"] is not None
    assert list(PostEdit.objects.filter(post_id=post_id).values_list("body_before", "editor_id")) == [
        ("First words", member),
        ("Better words", staff),
    ]


def test_deleting_a_reply_hides_it_and_keeps_counters_right(
    api_as: Api, tree: Tree, member: int, other: int, staff: int, outbox: Any
) -> None:
    thread = public(api_as, member, tree.general, staff)
    first = api_as(other).post(f"/api/v1/threads/{thread['id']}/posts", {"body": "One"}).json()
    last = api_as(other).post(f"/api/v1/threads/{thread['id']}/posts", {"body": "Two"}).json()
    assert api_as(member).delete(f"/api/v1/posts/{last['id']}").status_code == 403
    assert api_as(other).delete(f"/api/v1/posts/{last['id']}").status_code == 204
    assert api_as(other).delete(f"/api/v1/posts/{thread['first_post_id']}").status_code == 403
    assert api_as(staff).delete(f"/api/v1/posts/{thread['first_post_id']}").status_code == 400

    posts = api_as(None).get(f"/api/v1/threads/{thread['id']}/posts").json()["posts"]
    assert [post["id"] for post in posts] == [thread["first_post_id"], first["id"]]
    row = forum_row(api_as, None, tree.general)
    assert (row["post_count"], row["last_post_id"]) == (2, first["id"])
    assert outbox("thread.post_deleted") == [
        {
            "post_id": last["id"],
            "thread_id": thread["id"],
            "forum_id": tree.general,
            "author_id": other,
            "deleted_by": other,
        }
    ]
    # A new reply takes a fresh position: links to positions stay good.
    again = api_as(other).post(f"/api/v1/threads/{thread['id']}/posts", {"body": "Three"}).json()
    assert again["position"] == 4


def test_moving_a_thread_moves_its_counts(
    api_as: Api, tree: Tree, member: int, staff: int, outbox: Any
) -> None:
    thread = public(api_as, member, tree.general, staff)
    api_as(staff).post(f"/api/v1/threads/{thread['id']}/posts", {"body": "Reply"})
    assert (
        api_as(member).post(f"/api/v1/threads/{thread['id']}/move", {"forum_id": tree.other}).status_code
        == 403
    )
    assert (
        api_as(staff).post(f"/api/v1/threads/{thread['id']}/move", {"forum_id": tree.category}).status_code
        == 400
    )
    assert api_as(staff).post(f"/api/v1/threads/{thread['id']}/move", {"forum_id": 10**12}).status_code == 404
    moved = api_as(staff).post(f"/api/v1/threads/{thread['id']}/move", {"forum_id": tree.other})
    assert moved.json()["forum_id"] == tree.other

    general, other_forum = forum_row(api_as, None, tree.general), forum_row(api_as, None, tree.other)
    assert (general["thread_count"], general["post_count"], general["last_post_id"]) == (0, 0, None)
    assert (other_forum["thread_count"], other_forum["post_count"]) == (1, 2)
    assert outbox("thread.moved") == [
        {
            "thread_id": thread["id"],
            "from_forum_id": tree.general,
            "to_forum_id": tree.other,
            "moved_by": staff,
        }
    ]


def test_deleting_a_thread_takes_it_out_of_lists_and_counts(
    api_as: Api, tree: Tree, member: int, staff: int, other: int
) -> None:
    thread = public(api_as, member, tree.general, staff)
    assert api_as(member).delete(f"/api/v1/threads/{thread['id']}/delete").status_code == 403
    assert api_as(staff).delete(f"/api/v1/threads/{thread['id']}/delete").status_code == 204
    assert thread_ids(api_as, other, tree.general) == []
    assert api_as(other).get(f"/api/v1/threads/{thread['id']}").status_code == 404
    assert forum_row(api_as, None, tree.general)["thread_count"] == 0


def test_pinned_threads_come_first_then_the_latest_activity(
    api_as: Api, tree: Tree, staff: int, other: int
) -> None:
    first = public(api_as, staff, tree.general, staff, title="First")
    second = public(api_as, staff, tree.general, staff, title="Second")
    third = public(api_as, staff, tree.general, staff, title="Third")
    api_as(other).post(f"/api/v1/threads/{first['id']}/posts", {"body": "Bump"})
    api_as(staff).post(f"/api/v1/threads/{second['id']}/pin")
    assert thread_ids(api_as, other, tree.general) == [second["id"], first["id"], third["id"]]


def test_new_and_unread_markers_follow_the_reader(
    api_as: Api, tree: Tree, member: int, other: int, staff: int
) -> None:
    thread = public(api_as, member, tree.general, staff)

    def marker() -> tuple[bool, bool]:
        row = api_as(other).get(f"/api/v1/forums/{tree.general}/threads").json()["threads"][0]
        return row["is_new"], row["is_unread"]

    assert marker() == (True, False)
    api_as(other).get(f"/api/v1/threads/{thread['id']}/posts")
    assert marker() == (False, False)
    api_as(member).post(f"/api/v1/threads/{thread['id']}/posts", {"body": "News"})
    assert marker() == (False, True)
    posts = api_as(other).get(f"/api/v1/threads/{thread['id']}/posts").json()["posts"]
    assert [post["is_unread"] for post in posts] == [False, True]
    assert marker() == (False, False)


# --- The services, directly ---------------------------------------------------------------------------


def test_services_refuse_with_application_errors(tree: Tree, member: int, staff: int) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="T", body="B")
    with pytest.raises(Forbidden):
        services.thread_close(moderator_id=member, thread_id=thread.id)
    with pytest.raises(Conflict):
        services.thread_approve(moderator_id=staff, thread_id=thread.id)
    with pytest.raises(ValidationFailed):
        services.forum_create(
            name="Too deep", parent_id=services.forum_create(name="L4", parent_id=tree.subsub).id
        )


def test_a_reply_names_whom_it_mentions_and_quotes(
    api_as: Api, tree: Tree, member: int, other: int, staff: int, outbox: Any, django_user_model: Any
) -> None:
    thread = public(api_as, member, tree.general, staff, body="Original **words**")
    member_name = django_user_model.objects.get(pk=member).username
    staff_name = django_user_model.objects.get(pk=staff).username
    hidden = start(api_as, other, tree.general, title="Hidden")  # pending: others may not quote it
    body = (
        f"Hi @{staff_name.upper()} and @nobody\n\n"
        f"[quote=post:{thread['first_post_id']}]\nOriginal\n[/quote]\n\n"
        f"[quote=post:{hidden['first_post_id']}]\nsecret\n[/quote]"
    )
    reply = api_as(member).post(f"/api/v1/threads/{thread['id']}/posts", {"body": body}).json()
    event = outbox("thread.post_created")[-1]
    assert event["post_id"] == reply["id"]
    assert event["mentioned_ids"] == [staff]
    assert event["quoted_post_ids"] == [thread["first_post_id"]]
    assert event["quoted_ids"] == []  # the author quoting themselves is nobody to tell
    posts = api_as(None).get(f"/api/v1/threads/{thread['id']}/posts").json()["posts"]
    assert "<strong>words</strong>" in posts[0]["body_html"]
    assert f'data-user-id="{staff}"' in posts[1]["body_html"] and member_name in posts[1]["body_html"]
