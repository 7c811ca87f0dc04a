"""Reactions: one per member and post, changeable, never to one's own post, counted per kind on the
post and per member as a score, right under concurrency."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from apps.status.services import status_grant
from apps.thread import services
from apps.thread.models import Post, Reaction, ThreadState
from apps.thread.tests.conftest import Tree
from forum.errors import Conflict, NotFound, ValidationFailed

Api = Callable[[int | None], APIClient]


@pytest.fixture
def post_id(tree: Tree, staff: int) -> int:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="T", body="B")
    assert thread.first_post_id is not None
    return thread.first_post_id


def test_react_change_and_take_back(
    post_id: int, staff: int, member: int, other: int, outbox: Callable[[str], list[dict[str, Any]]]
) -> None:
    assert services.reaction_set(user_id=member, post_id=post_id, kind="like").counts == {"like": 1}
    assert services.reaction_set(user_id=other, post_id=post_id, kind="like").counts == {"like": 2}
    changed = services.reaction_set(user_id=member, post_id=post_id, kind="wow")
    assert changed.counts == {"like": 1, "wow": 1} and changed.kind == "wow"
    services.reaction_set(user_id=member, post_id=post_id, kind="wow")  # the same again: no change
    assert services.reaction_scores_for(user_ids=[staff, member]) == {staff: 2, member: 0}

    events = outbox("thread.reaction_added")
    assert [(event["reactor_id"], event["kind"]) for event in events] == [
        (member, "like"),
        (other, "like"),
        (member, "wow"),
    ]
    assert events[0]["post_author_id"] == staff and events[0]["post_id"] == post_id

    assert services.reaction_clear(user_id=member, post_id=post_id).counts == {"like": 1}
    assert services.reaction_clear(user_id=member, post_id=post_id).counts == {"like": 1}
    assert services.reaction_scores_for(user_ids=[staff]) == {staff: 1}


def test_refusals(post_id: int, tree: Tree, staff: int, member: int, settings: Any) -> None:
    with pytest.raises(Conflict) as own:
        services.reaction_set(user_id=staff, post_id=post_id, kind="like")
    assert own.value.code == "own_post"
    with pytest.raises(ValidationFailed) as unknown:
        services.reaction_set(user_id=member, post_id=post_id, kind="shrug")
    assert "kind" in unknown.value.fields
    settings.THREAD_REACTION_KINDS = ["like", "shrug"]
    assert services.reaction_set(user_id=member, post_id=post_id, kind="shrug").counts == {"shrug": 1}
    with pytest.raises(NotFound):
        services.reaction_set(user_id=member, post_id=2**62, kind="like")

    status_grant(user_id=staff, status_code="agent", source="staff")
    hidden = services.thread_create(author_id=staff, forum_id=tree.exclusive, title="S", body="B")
    assert hidden.first_post_id is not None
    with pytest.raises(NotFound):
        services.reaction_set(user_id=member, post_id=hidden.first_post_id, kind="like")


def test_a_moderator_reacting_in_a_thread_awaiting_moderation_is_refused_like_anyone_else(
    tree: Tree, staff: int, member: int, api_as: Api, outbox: Callable[[str], list[dict[str, Any]]]
) -> None:
    pending = services.thread_create(author_id=member, forum_id=tree.general, title="Wait", body="B")
    assert pending.state == ThreadState.PENDING and pending.first_post_id is not None
    # The moderator sees the thread (to approve it), but may not react in it before it is approved.
    with pytest.raises(Conflict) as refused:
        services.reaction_set(user_id=staff, post_id=pending.first_post_id, kind="like")
    assert refused.value.code == "thread_pending"
    answer = api_as(staff).put(
        f"/api/v1/posts/{pending.first_post_id}/reaction", {"kind": "like"}, format="json"
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (409, "thread_pending")
    assert not Reaction.objects.filter(post_id=pending.first_post_id).exists()
    assert Post.objects.get(pk=pending.first_post_id).reaction_counts == {}
    assert outbox("thread.reaction_added") == []


def test_the_api(api_as: Api, post_id: int, staff: int, member: int) -> None:
    url = f"/api/v1/posts/{post_id}/reaction"
    response = api_as(member).put(url, {"kind": "love"}, format="json")
    assert response.status_code == 200
    assert response.json() == {"post_id": post_id, "kind": "love", "counts": {"love": 1}}
    assert api_as(staff).put(url, {"kind": "love"}, format="json").status_code == 409
    assert api_as(member).put(url, {"kind": "nope"}, format="json").status_code == 400
    assert api_as(member).put(url, {}, format="json").status_code == 400
    assert api_as(None).put(url, {"kind": "love"}, format="json").status_code in {401, 403}
    assert (
        api_as(member).put("/api/v1/posts/999999999/reaction", {"kind": "love"}, format="json").status_code
        == 404
    )
    thread_id = Post.objects.get(pk=post_id).thread_id
    posts = api_as(member).get(f"/api/v1/threads/{thread_id}/posts").json()["posts"]
    assert posts[0]["reaction_counts"] == {"love": 1} and posts[0]["my_reaction"] == "love"
    cleared = api_as(member).delete(url)
    assert cleared.status_code == 200 and cleared.json()["counts"] == {}


def test_the_page_forms_without_javascript(django_user_model: Any, post_id: int, member: int) -> None:
    client = Client()
    client.force_login(django_user_model.objects.get(pk=member))
    thread_id = Post.objects.get(pk=post_id).thread_id
    page = client.get(f"/threads/{thread_id}/").content.decode()
    assert f'action="/posts/{post_id}/react/"' in page and 'value="haha"' in page
    assert client.post(f"/posts/{post_id}/react/", {"kind": "haha"}).status_code == 302
    page = client.get(f"/threads/{thread_id}/").content.decode()
    assert 'value="haha" aria-pressed="true"' in page
    client.post(f"/posts/{post_id}/react/", {"kind": "haha"})  # pressed again: taken back
    assert not Reaction.objects.exists()
    assert client.post(f"/posts/{post_id}/react/", {"kind": "bogus"}).status_code == 400


@pytest.mark.django_db(transaction=True)
def test_concurrent_reactions_never_leave_a_wrong_count(
    post_id: int, staff: int, make_member: Callable[..., int]
) -> None:
    members = [make_member() for _ in range(8)]
    kinds = ["like", "love", "haha", "wow"]
    barrier = threading.Barrier(len(members))
    errors: list[BaseException] = []

    def react(index: int, user_id: int) -> None:
        try:
            barrier.wait(timeout=30)
            for step in range(6):
                if step == 4 and index % 3 == 0:
                    services.reaction_clear(user_id=user_id, post_id=post_id)
                else:
                    services.reaction_set(user_id=user_id, post_id=post_id, kind=kinds[(index + step) % 4])
        except BaseException as error:  # noqa: BLE001 - any failure in a worker is shown by the assertion below
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=react, args=pair) for pair in enumerate(members)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors

    rows = Counter(Reaction.objects.filter(post_id=post_id).values_list("kind", flat=True))
    assert Post.objects.get(pk=post_id).reaction_counts == dict(rows)
    assert sum(rows.values()) == len(members)
    assert services.reaction_scores_for(user_ids=[staff]) == {staff: len(members)}


def test_a_page_of_posts_shows_each_reader_their_own_reactions_and_bookmarks(
    post_id: int, staff: int, member: int, other: int
) -> None:
    from apps.thread import selectors

    thread_id = Post.objects.get(pk=post_id).thread_id
    reply = services.post_create(author_id=member, thread_id=thread_id, body="A reply").id
    services.reaction_set(user_id=member, post_id=post_id, kind="wow")
    services.reaction_set(user_id=other, post_id=reply, kind="like")
    services.bookmark_set(user_id=member, post_id=reply)

    def page(viewer: int | None) -> dict[int, tuple[str | None, bool | None, dict[str, int]]]:
        reader = selectors.viewer_for(user_id=viewer)
        thread = selectors.thread_row(viewer=reader, thread_id=thread_id)
        assert thread is not None
        posts = selectors.post_page(thread=thread, viewer_id=viewer).items
        return {
            post.id: (post.my_reaction, post.bookmarked, {r.kind: r.count for r in post.reactions if r.count})
            for post in posts
        }

    assert page(member) == {post_id: ("wow", False, {"wow": 1}), reply: (None, True, {"like": 1})}
    assert page(other) == {post_id: (None, False, {"wow": 1}), reply: ("like", False, {"like": 1})}
    assert page(None) == {post_id: (None, None, {"wow": 1}), reply: (None, None, {"like": 1})}


def test_reaction_labels_follow_the_active_language() -> None:
    from django.utils import translation

    from apps.thread.selectors import ReactionCount

    like = ReactionCount(kind="like", count=0, mine=False)
    with translation.override("en"):
        assert like.label == "Like"
    with translation.override("ru"):
        russian = like.label
        assert russian == translation.gettext("Like") and russian != "Like"
    with translation.override("en"):
        assert like.label == "Like"
