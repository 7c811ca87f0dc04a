"""The thread admin for staff: a thread's page shows its posts; posts are searched, hidden and restored
there through the services (counters, events, the guests' cached pages), and named, never numbered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.authorization.services import role_assign
from apps.thread import services
from apps.thread.models import Forum, Post, Thread
from apps.thread.tests.conftest import Tree

Outbox = Callable[[str], list[dict[str, Any]]]
POSTS = "/admin/thread/post/"


@pytest.fixture
def moderator(make_member: Callable[..., int]) -> int:
    """A member of the support role: the Django admin's Support group, and ``thread.moderate``."""
    user_id = make_member()
    role_assign(user_id=user_id, role="support")
    return user_id


@pytest.fixture
def admin_client(moderator: int, django_user_model: Any) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.get(pk=moderator))
    return client


@pytest.fixture
def name(django_user_model: Any) -> Callable[[int], str]:
    return lambda user_id: str(django_user_model.objects.get(pk=user_id).username)


def public_thread(
    author: int, forum_id: int, title: str = "Gardening tips", body: str = "Opening words"
) -> int:
    role_assign(user_id=author, role="support")  # published at once, without premoderation
    return services.thread_create(author_id=author, forum_id=forum_id, title=title, body=body).id


def test_a_thread_page_lists_its_posts_by_author_name(
    admin_client: Client, tree: Tree, make_member: Callable[..., int], name: Callable[[int], str]
) -> None:
    author, replier = make_member(), make_member()
    thread_id = public_thread(author, tree.general)
    services.post_create(author_id=replier, thread_id=thread_id, body="Tomatoes like the sun")

    page = admin_client.get(f"/admin/thread/thread/{thread_id}/change/")

    assert page.status_code == 200
    html = " ".join(page.content.decode().split())
    assert "Opening words" in html and "Tomatoes like the sun" in html
    for author_id in (author, replier):  # the inline's author column
        assert f'<td class="field-author_name"> <p>{name(author_id)}</p> </td>' in html
    assert f"{POSTS}?thread__id__exact={thread_id}" in html
    # The thread's posts, listed from the link: the same two.
    listed = admin_client.get(POSTS, {"thread__id__exact": thread_id}).content.decode()
    assert "Tomatoes like the sun" in listed and "Opening words" in listed


def test_posts_are_found_by_text_author_name_and_thread_title(
    admin_client: Client, tree: Tree, make_member: Callable[..., int], name: Callable[[int], str]
) -> None:
    author, replier = make_member(), make_member()
    roses = public_thread(author, tree.general, title="Roses", body="Pruning in spring")
    services.post_create(author_id=replier, thread_id=roses, body="Aphids everywhere")
    public_thread(author, tree.general, title="Cucumbers", body="Watering daily")

    def found(term: str) -> str:
        response = admin_client.get(POSTS, {"q": term})
        assert response.status_code == 200
        return response.content.decode()

    by_text = found("aphids")
    assert "Aphids everywhere" in by_text and "Pruning in spring" not in by_text
    by_author = found(name(replier))
    assert "Aphids everywhere" in by_author and "Watering daily" not in by_author
    by_title = found("cucumbers")
    assert "Watering daily" in by_title and "Aphids everywhere" not in by_title


def test_hiding_and_restoring_a_post_goes_through_the_services(
    admin_client: Client,
    tree: Tree,
    moderator: int,
    make_member: Callable[..., int],
    outbox: Outbox,
    committed: Callable[[], Any],
    settings: Any,
    name: Callable[[int], str],
) -> None:
    settings.PAGE_CACHE_SECONDS = 300  # the guests' pages are cached: hiding must let them go
    author, replier = make_member(), make_member()
    with committed():
        thread_id = public_thread(author, tree.general)
        reply = services.post_create(author_id=replier, thread_id=thread_id, body="Slugs ate my lettuce")
    guest = Client()
    assert "Slugs ate my lettuce" in guest.get(f"/threads/{thread_id}/").content.decode()
    assert Client().get(f"/threads/{thread_id}/").get("X-Page-Cache") == "hit"

    with committed():
        hidden = admin_client.post(
            POSTS, {"action": "hide_posts", "_selected_action": [str(reply.id)]}, follow=True
        )

    assert hidden.status_code == 200
    assert f"Hidden: #2 by {name(replier)} in “Gardening tips”." in hidden.content.decode()
    assert "Slugs ate my lettuce" not in guest.get(f"/threads/{thread_id}/").content.decode()
    assert Thread.objects.get(pk=thread_id).post_count == 1
    assert Forum.objects.get(pk=tree.general).post_count == 1
    assert [(e["post_id"], e["deleted_by"]) for e in outbox("thread.post_deleted")] == [(reply.id, moderator)]
    listed = admin_client.get(POSTS, {"visibility": "hidden"}).content.decode()
    assert "Slugs ate my lettuce" in listed and f"by {name(moderator)}" in listed

    with committed():
        restored = admin_client.post(
            POSTS, {"action": "restore_posts", "_selected_action": [str(reply.id)]}, follow=True
        )

    assert f"Restored: #2 by {name(replier)} in “Gardening tips”." in restored.content.decode()
    assert "Slugs ate my lettuce" in guest.get(f"/threads/{thread_id}/").content.decode()
    assert Thread.objects.get(pk=thread_id).post_count == 2
    assert Forum.objects.get(pk=tree.general).post_count == 2
    assert outbox("thread.post_restored") == [
        {
            "post_id": reply.id,
            "thread_id": thread_id,
            "forum_id": tree.general,
            "author_id": replier,
            "position": 2,
            "restored_by": moderator,
        }
    ]
    assert Post.objects.get(pk=reply.id).deleted_by_id is None


def test_what_the_services_refuse_is_told_by_name(
    admin_client: Client,
    tree: Tree,
    make_member: Callable[..., int],
    outbox: Outbox,
    name: Callable[[int], str],
) -> None:
    author = make_member()
    label = f"#1 by {name(author)} in “Gardening tips”"
    thread_id = public_thread(author, tree.general)
    first = Post.objects.get(thread_id=thread_id, position=1)

    refused = admin_client.post(
        POSTS, {"action": "hide_posts", "_selected_action": [str(first.pk)]}, follow=True
    )
    text = refused.content.decode()
    assert f"{label}: The opening post goes only with its thread." in text
    again = admin_client.post(
        POSTS, {"action": "restore_posts", "_selected_action": [str(first.pk)]}, follow=True
    )
    assert f"Not hidden, left as it was: {label}." in again.content.decode()
    assert Post.objects.get(pk=first.pk).deleted_at is None
    assert outbox("thread.post_deleted") == [] and outbox("thread.post_restored") == []


def _queries(client: Client, url: str, **params: Any) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params).status_code == 200
    return len(captured)


def test_the_post_list_and_a_thread_page_do_not_grow_a_query_per_row(
    admin_client: Client, tree: Tree, make_member: Callable[..., int]
) -> None:
    author = make_member()
    thread_id = public_thread(author, tree.general)

    def reply_and_hide(number: int) -> None:
        writer = make_member()
        post = services.post_create(author_id=writer, thread_id=thread_id, body=f"Reply {number}")
        services.post_delete(user_id=writer, post_id=post.id)  # hidden by its own author

    reply_and_hide(0)
    # The session's first request records it, and the first thread page fills Django's content-type
    # cache: the requests measured are ordinary ones.
    admin_client.get(POSTS)
    admin_client.get(f"/admin/thread/thread/{thread_id}/change/")
    list_one = _queries(admin_client, POSTS)
    thread_one = _queries(admin_client, f"/admin/thread/thread/{thread_id}/change/")
    for number in range(1, 30):
        if number % 3:
            services.post_create(author_id=make_member(), thread_id=thread_id, body=f"Reply {number}")
        else:
            reply_and_hide(number)

    assert _queries(admin_client, POSTS) == list_one
    assert _queries(admin_client, POSTS, q="Reply") == _queries(admin_client, POSTS, q="Reply 0")
    assert _queries(admin_client, f"/admin/thread/thread/{thread_id}/change/") == thread_one
