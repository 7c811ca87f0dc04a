"""manage.py seed_forum: the demo forum (idempotent, pages render); --bench: test_bench_forum.py."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from apps.thread.management.commands import seed_forum
from apps.thread.models import Forum, Post, Reaction, Thread, ThreadState
from forum.testing.search import deliver_search_events


def _counts() -> dict[str, int]:
    return {
        "members": get_user_model().objects.count(),
        "forums": Forum.objects.count(),
        "threads": Thread.objects.count(),
        "posts": Post.objects.count(),
    }


def test_the_demo_seed_runs_twice_without_duplicating_and_the_pages_render(client: Client) -> None:
    out = io.StringIO()
    call_command("seed_forum", "--demo", stdout=out)
    assert "demo objects created" in out.getvalue()
    first = _counts()
    assert first["forums"] == len(seed_forum.DEMO_FORUMS)
    assert first["threads"] == len(seed_forum.DEMO_THREADS)

    again = io.StringIO()
    call_command("seed_forum", "--demo", stdout=again)
    assert "the demo forum is there" in again.getvalue()
    assert _counts() == first

    # One thread waits for a moderator; the others are public.
    waiting = [demo.title for demo in seed_forum.DEMO_THREADS if demo.waiting]
    assert list(Thread.objects.filter(state=ThreadState.PENDING).values_list("title", flat=True)) == waiting

    index = client.get("/")
    assert index.status_code == 200
    page = index.content.decode()
    assert "General discussion" in page and "Introductions" in page and "Agents only" not in page
    for thread in Thread.objects.filter(state=ThreadState.APPROVED).exclude(
        forum__read_permission__in=["forum.read_exclusive", "forum.read_extended"]
    ):
        assert client.get(f"/forums/{thread.forum_id}/").status_code == 200
        assert client.get(f"/threads/{thread.pk}/").status_code == 200
    # Reactions are there for a guest to see, counted on the posts.
    reacted = [demo for demo in seed_forum.DEMO_THREADS if demo.reactions]
    assert reacted
    for demo in reacted:
        thread = Thread.objects.get(title=demo.title)
        assert Reaction.objects.filter(post__thread=thread).count() == len(demo.reactions)
    welcome = Thread.objects.get(title="Welcome to the forum")
    assert 'class="reactions__count"' in client.get(f"/threads/{welcome.pk}/").content.decode()
    pending = Thread.objects.get(state=ThreadState.PENDING)
    assert client.get(f"/threads/{pending.pk}/").status_code == 404

    # The demo speaks Russian too: «форум» finds the Russian thread's three posts, each form marked.
    deliver_search_events()
    found = client.get("/search/", {"q": "форум"}).content.decode()
    assert "3 results" in found, found
    for form in ("форумы", "форумов", "форума"):
        assert f"<mark>{form}</mark>" in found, form

    # An Agent sees the exclusive section on the index.
    agent = Client()
    agent.force_login(get_user_model().objects.get(username="jonas"))
    assert "Agents only" in agent.get("/").content.decode()


def test_the_bench_seed_refuses_a_database_not_named_bench() -> None:
    with pytest.raises(CommandError, match="_bench"):
        call_command("seed_forum", "--bench", stdout=io.StringIO())
