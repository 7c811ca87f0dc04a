"""manage.py seed_forum: the demo forum (idempotent, pages render) and the bulk bench seed's counters."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count
from django.test import Client

from apps.thread.management.commands import seed_forum
from apps.thread.models import Forum, MemberScore, Post, ReadMark, Thread, ThreadState


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
    pending = Thread.objects.get(state=ThreadState.PENDING)
    assert client.get(f"/threads/{pending.pk}/").status_code == 404

    # An Agent sees the exclusive section on the index.
    agent = Client()
    agent.force_login(get_user_model().objects.get(username="jonas"))
    assert "Agents only" in agent.get("/").content.decode()


def test_the_bench_seed_refuses_a_database_not_named_bench() -> None:
    with pytest.raises(CommandError, match="_bench"):
        call_command("seed_forum", "--bench", stdout=io.StringIO())


def test_the_bulk_seed_computes_the_counters_the_services_would_keep(client: Client, settings: Any) -> None:
    sizes = seed_forum.BenchSizes(forums=4, threads=30, posts=400, members=12, big_thread_posts=45)
    member_ids = seed_forum.bench_members(count=sizes.members, password_hash="!unusable")
    assert seed_forum.bench_members(count=sizes.members, password_hash="!unusable") == member_ids
    seed_forum.bench_seed(sizes=sizes, member_ids=member_ids, stdout=io.StringIO())

    assert Thread.objects.count() == sizes.threads
    assert Post.objects.count() == sizes.posts
    assert Forum.objects.filter(kind="forum").count() == sizes.forums
    assert ReadMark.objects.filter(user_id=member_ids[0]).exists()
    for thread in Thread.objects.all():
        posts = Post.objects.filter(thread=thread).order_by("position")
        assert thread.post_count == posts.count() == thread.last_position
        assert thread.first_post_id == posts.first().pk  # type: ignore[union-attr]
        last = posts.last()
        assert last is not None and thread.last_post_id == last.pk and thread.last_poster_id == last.author_id
    for forum in Forum.objects.filter(kind="forum"):
        public = Thread.objects.filter(forum=forum, state=ThreadState.APPROVED)
        assert forum.thread_count == public.count()
        assert forum.post_count == sum(thread.post_count for thread in public)
        latest = public.order_by("-last_post_at", "-id").first()
        assert forum.last_thread_id == (latest.pk if latest else None)
    counted = Post.objects.filter(thread__state=ThreadState.APPROVED).values("author_id")
    expected = {row["author_id"]: row["posts"] for row in counted.annotate(posts=Count("pk"))}
    assert dict(MemberScore.objects.filter(post_count__gt=0).values_list("user_id", "post_count")) == expected

    seed_forum.bench_member_statuses(member_ids[0])
    targets = seed_forum.bench_targets(member_id=member_ids[0], member_username="bench-0001")
    big = Thread.objects.get(pk=targets.thread_id)
    assert big.post_count == sizes.big_thread_posts and targets.thread_last_page == 3
    assert targets.reply_thread_ids and targets.thread_id not in targets.reply_thread_ids
    assert client.get("/").status_code == 200
    assert client.get(f"/forums/{targets.forum_id}/").status_code == 200
    last_page = client.get(f"/threads/{targets.thread_id}/?page={targets.thread_last_page}")
    assert last_page.status_code == 200 and f"post-{big.last_post_id}" in last_page.content.decode()
