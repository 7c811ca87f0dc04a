"""Searching posts and threads from the outside (the page and the API): what is found, and never
anything from a forum the searcher cannot read, a thread waiting for moderation or a deleted post:
not in hits, not in counts, not in snippets. The same viewers as the thread pages' tests: another
member, a guest, a member without the Agent status."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from typing import Any

from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.status.services import status_grant
from apps.thread import services
from apps.thread.tests.conftest import Tree
from forum.testing.search import deliver_search_events

Api = Callable[[int | None], APIClient]


def signed_in(django_user_model: Any, user_id: int | None) -> Client:
    client = Client()
    if user_id is not None:
        client.force_login(django_user_model.objects.get(pk=user_id))
    return client


def world(tree: Tree, staff: int, member: int) -> dict[str, int]:
    """A public thread with a reply, one in the Agents-only forum, one waiting for moderation and a
    deleted reply, all about lighthouses."""
    status_grant(user_id=staff, status_code="agent", source="staff")
    public = services.thread_create(
        author_id=staff, forum_id=tree.sub, title="Lighthouse keepers", body="Keepers wrote logs"
    )
    reply = services.post_create(author_id=staff, thread_id=public.id, body="My lighthouse had a foghorn")
    secret = services.thread_create(
        author_id=staff,
        forum_id=tree.exclusive,
        title="Lighthouse cipher",
        body="Classified lighthouse notes",
    )
    pending = services.thread_create(
        author_id=member,
        forum_id=tree.general,
        title="Lighthouse pending",
        body="Unmoderated lighthouse words",
    )
    gone = services.post_create(author_id=staff, thread_id=public.id, body="Withdrawn lighthouse remark")
    services.post_delete(user_id=staff, post_id=gone.id)
    deliver_search_events()
    return {
        "public": public.id,
        "public_first": public.first_post_id or 0,
        "reply": reply.id,
        "secret": secret.id,
        "secret_first": secret.first_post_id or 0,
        "pending": pending.id,
        "gone": gone.id,
    }


def results(api: APIClient, **params: Any) -> dict[str, Any]:
    response = api.get("/api/v1/search", params)
    assert response.status_code == 200, response.content
    return dict(response.json())


def test_members_guests_and_non_agents_find_only_what_they_may_read(
    api_as: Api,
    django_user_model: Any,
    tree: Tree,
    staff: int,
    member: int,
    other: int,
    make_member: Callable[..., int],
) -> None:
    ids = world(tree, staff, member)
    agent = make_member()
    status_grant(user_id=agent, status_code="agent", source="staff")
    for viewer in (None, member, other):
        posts = results(api_as(viewer), q="lighthouse", kind="post", counts="thread")
        threads = results(api_as(viewer), q="lighthouse", kind="thread")
        assert [hit["id"] for hit in posts["results"]] == [ids["reply"]]
        assert [hit["id"] for hit in threads["results"]] == [ids["public"]]
        assert posts["counts"]["post"] == posts["total"] == 1 and posts["counts"]["thread"] == 1
        # Neither words nor titles of what the viewer may not read, anywhere in the answer.
        for answer in (posts, threads):
            text = str(answer)
            for word in ("cipher", "Classified", "pending", "Unmoderated", "Withdrawn"):
                assert word not in text
        page = signed_in(django_user_model, viewer).get("/search/", {"q": "lighthouse", "kind": "thread"})
        assert page.status_code == 200
        html = page.content.decode()
        assert "Lighthouse keepers" in html.replace("<mark>", "").replace("</mark>", "")
        for word in ("cipher", "Classified", "pending", "Unmoderated", "Withdrawn"):
            assert word not in html
    agent_threads = results(api_as(agent), q="lighthouse", kind="thread")
    assert sorted(hit["id"] for hit in agent_threads["results"]) == sorted([ids["public"], ids["secret"]])
    # A forum the viewer may not read is not a choice: 400, nothing told about it.
    refused = api_as(member).get("/api/v1/search", {"q": "lighthouse", "forum": tree.exclusive})
    assert refused.status_code == 400 and refused.json()["error"]["fields"]["forum"]


def test_a_forum_filter_takes_its_subforums_and_a_title_ranks_above_a_body(
    api_as: Api, tree: Tree, staff: int
) -> None:
    in_body = services.thread_create(
        author_id=staff, forum_id=tree.subsub, title="Ships", body="A lighthouse"
    )
    in_title = services.thread_create(author_id=staff, forum_id=tree.other, title="Lighthouse", body="Ships")
    deliver_search_events()
    everything = results(api_as(None), q="lighthouse", kind="thread")
    assert [hit["id"] for hit in everything["results"]] == [in_title.id, in_body.id]
    general = results(api_as(None), q="lighthouse", kind="thread", forum=tree.general)
    assert [hit["id"] for hit in general["results"]] == [in_body.id]
    by_date = results(api_as(None), q="lighthouse", kind="thread", sort="date")
    assert [hit["id"] for hit in by_date["results"]] == [in_title.id, in_body.id]
    call_command("search_reindex", "--app", "user", stdout=StringIO(), stderr=StringIO())  # members
    by_author = results(api_as(None), q="ships", kind="post", author=django_username(staff))
    assert by_author["total"] == 1
    unknown = api_as(None).get("/api/v1/search", {"q": "ships", "author": "nobody-at-all"})
    assert unknown.status_code == 400 and "author" in unknown.json()["error"]["fields"]


def django_username(user_id: int) -> str:
    from django.contrib.auth import get_user_model

    return str(get_user_model().objects.get(pk=user_id).get_username())


def test_a_post_cannot_inject_markup_into_its_snippet(
    api_as: Api, django_user_model: Any, tree: Tree, staff: int
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="Lamps", body="Plain lamp")
    services.post_create(
        author_id=staff,
        thread_id=thread.id,
        body='`<script>alert("lamp")</script>` and <img src=x onerror=alert(1)> lamp',
    )
    deliver_search_events()
    answer = results(api_as(None), q="lamp", kind="post")
    for hit in answer["results"]:
        assert "<script" not in hit["snippet_html"] and "<img" not in hit["snippet_html"]
    html = signed_in(django_user_model, None).get("/search/", {"q": "lamp"}).content.decode()
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "<mark>lamp</mark>" in html


def test_bad_input_is_a_400_or_a_form_error(api_as: Api, django_user_model: Any, tree: Tree) -> None:
    for params in (
        {"page": "0"},
        {"date_from": "yesterday"},
        {"kind": "secrets"},
        {"q": "x" * 201},
        {"date_from": "2026-02-02", "date_to": "2026-01-01"},
        {"forum": "abc"},
    ):
        response = api_as(None).get("/api/v1/search", {"q": "lamp", **params})
        assert response.status_code == 400, params
        assert response.json()["error"]["fields"]
        if "page" in params:  # pages read a bad ?page= as the first (forum.paging)
            continue
        page = signed_in(django_user_model, None).get("/search/", {"q": "lamp", **params})
        assert page.status_code == 200 and 'class="field-error"' in page.content.decode(), params
    messages = api_as(None).get("/api/v1/search", {"q": "lamp", "kind": "message"})
    assert messages.status_code == 400


def test_the_results_page_costs_the_same_queries_for_one_hit_or_twenty(
    django_user_model: Any, tree: Tree, staff: int, member: int
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="Beacon", body="beacon one")
    deliver_search_events()
    client = signed_in(django_user_model, member)
    client.get("/search/", {"q": "beacon"})  # warm the caches a first request fills

    def cost() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/search/", {"q": "beacon"}).status_code == 200
        return len(queries)

    few = cost()
    for number in range(25):
        author = staff if number % 2 else member
        services.post_create(author_id=author, thread_id=thread.id, body=f"beacon reply {number}")
    deliver_search_events()
    assert cost() == few
