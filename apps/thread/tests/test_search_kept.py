"""Identical searches kept (forum.search.service.run, docs/search.md "Kept results"): the same words
asked again with the same reading rights cost no statement, yet a new, edited, hidden or deleted post
is searched for at once, and two viewers who may read different forums never share an answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.status.services import status_grant
from apps.thread import services
from apps.thread.tests.conftest import Tree
from forum.testing.search import deliver_search_events

pytestmark = pytest.mark.usefixtures("kept_parts")


@pytest.fixture
def indexed(django_capture_on_commit_callbacks: Any) -> Callable[[], None]:
    """The search handlers run, and their commits' callbacks too (what moves the index's version)."""

    def deliver() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            deliver_search_events()

    return deliver


def signed_in(django_user_model: Any, user_id: int) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.get(pk=user_id))
    return client


def searches(queries: CaptureQueriesContext) -> int:
    return sum("forum_searchdocument" in query["sql"] for query in queries.captured_queries)


def page(client: Client, **params: str) -> str:
    response = client.get("/search/", params)
    assert response.status_code == 200
    return response.content.decode().replace("<mark>", "").replace("</mark>", "")


def test_a_search_asked_again_is_kept_and_a_new_post_is_found_at_once(
    django_user_model: Any, tree: Tree, staff: int, member: int, indexed: Callable[[], None]
) -> None:
    thread = services.thread_create(
        author_id=staff, forum_id=tree.general, title="Lighthouses", body="Keepers of lighthouses"
    )
    indexed()
    client = signed_in(django_user_model, member)
    assert "Keepers of lighthouses" in page(client, q="lighthouses")
    with CaptureQueriesContext(connection) as again:
        assert "Keepers of lighthouses" in page(client, q="lighthouses")
    assert searches(again) == 0  # kept: no statement on the index

    reply = services.post_create(author_id=staff, thread_id=thread.id, body="Foghorns beside lighthouses")
    indexed()
    with CaptureQueriesContext(connection) as after:
        html = page(client, q="lighthouses")
    assert searches(after) == 1 and "Foghorns beside lighthouses" in html
    api = client.get("/api/v1/search", {"q": "lighthouses", "kind": "post"}).json()
    assert reply.id in [hit["id"] for hit in api["results"]]

    services.post_edit(editor_id=staff, post_id=reply.id, body="Foghorns beside the pier")
    indexed()
    assert "Foghorns" not in page(client, q="lighthouses")

    lantern = services.post_create(author_id=staff, thread_id=thread.id, body="Lanterns in lighthouses")
    indexed()
    assert "Lanterns in lighthouses" in page(client, q="lighthouses")
    services.post_delete(user_id=staff, post_id=lantern.id)
    indexed()
    assert "Lanterns" not in page(client, q="lighthouses")


def test_viewers_who_read_different_forums_never_share_a_kept_answer(
    django_user_model: Any,
    tree: Tree,
    staff: int,
    member: int,
    make_member: Callable[..., int],
    indexed: Callable[[], None],
) -> None:
    status_grant(user_id=staff, status_code="agent", source="staff")
    services.thread_create(author_id=staff, forum_id=tree.sub, title="Open lighthouse", body="Open words")
    services.thread_create(
        author_id=staff, forum_id=tree.exclusive, title="Lighthouse cipher", body="Classified words"
    )
    indexed()
    agent = make_member()
    status_grant(user_id=agent, status_code="agent", source="staff")
    # The agent first, then a member who may not read the Agents-only forum, then the agent again.
    assert "Lighthouse cipher" in page(signed_in(django_user_model, agent), q="lighthouse", kind="thread")
    plain = page(signed_in(django_user_model, member), q="lighthouse", kind="thread")
    assert "Open lighthouse" in plain and "cipher" not in plain and "1 thread" in plain
    assert "Lighthouse cipher" in page(signed_in(django_user_model, agent), q="lighthouse", kind="thread")
    api = signed_in(django_user_model, member).get("/api/v1/search", {"q": "lighthouse", "kind": "thread"})
    assert "cipher" not in api.content.decode() and api.json()["total"] == 1


def test_the_kept_page_carries_each_members_own_header(
    django_user_model: Any, tree: Tree, staff: int, member: int, other: int, indexed: Callable[[], None]
) -> None:
    services.thread_create(
        author_id=staff, forum_id=tree.general, title="Lighthouses", body="Keepers of lighthouses"
    )
    indexed()
    for user_id in (member, other, member):
        html = page(signed_in(django_user_model, user_id), q="lighthouses")
        names = [
            f'<span class="user-name">{django_user_model.objects.get(pk=pk).get_username()}</span>'
            for pk in (member, other)
        ]
        assert [name in html for name in names] == [user_id == member, user_id == other]
        assert "Keepers" in html
