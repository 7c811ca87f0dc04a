"""What a reply costs the database, and where its form sends the browser (docs/architecture.md,
"Posting a reply")."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.authorization.services import permission_scope, permissions_for
from apps.thread import selectors, services
from apps.thread.models import Draft, MemberScore, Post, ReadMark, Thread
from apps.thread.tests.conftest import Tree
from forum.models import OutboxEvent

# The quota's lock, then its count and use in one statement; the thread, locked with its forum, with
# the read permissions of the forums above it; the reply with everything it changes; its event. With
# the member's permissions loaded (the request's middleware has them by then).
REPLY_QUERIES = 5


def web(user_id: int) -> Client:
    client = Client()
    client.force_login(get_user_model().objects.get(pk=user_id))
    return client


def public_thread(tree: Tree, staff: int) -> int:
    return services.thread_create(author_id=staff, forum_id=tree.general, title="Kettles", body="Opening").id


def reply_statements(member: int, thread: int, body: str) -> list[str]:
    with permission_scope():
        permissions_for(user_id=member)
        with CaptureQueriesContext(connection) as captured:
            services.post_create(author_id=member, thread_id=thread, body=body)
    # The savepoints are the test's own transaction around everything (a request has none).
    return [query["sql"] for query in captured.captured_queries if "SAVEPOINT" not in query["sql"]]


def test_a_reply_costs_the_same_few_queries_whatever_the_member_has_written_before(
    tree: Tree, staff: int, member: int
) -> None:
    thread = public_thread(tree, staff)
    first = reply_statements(member, thread, "First words")
    assert len(first) == REPLY_QUERIES, first
    assert sum("forum_outboxevent" in sql for sql in first) == 1

    # A draft of the next reply, a read mark and a count to move: the same statements again.
    services.draft_save(user_id=member, thread_id=thread, body="Second wo")
    second = reply_statements(member, thread, "Second words")
    assert len(second) == REPLY_QUERIES, second

    # And everything they wrote, as the services that read it find it.
    last = Post.objects.filter(thread_id=thread).latest("position")
    assert (last.body, last.position, last.author_id, last.held) == ("Second words", 3, member, False)
    assert not Draft.objects.filter(user_id=member, thread_id=thread).exists()
    assert ReadMark.objects.get(user_id=member, thread_id=thread).last_read_position == 3
    assert MemberScore.objects.get(user_id=member).post_count == 2
    row = Thread.objects.get(pk=thread)
    assert (row.post_count, row.last_position, row.last_post_id, row.last_poster_id) == (
        3,
        3,
        last.pk,
        member,
    )
    assert row.forum.last_post_id == last.pk
    assert OutboxEvent.objects.filter(name="thread.post_created", payload__post_id=last.pk).count() == 1


def test_a_refused_reply_writes_nothing_and_keeps_its_quota_use(tree: Tree, staff: int, member: int) -> None:
    from apps.authorization.services import quota_remaining
    from forum.errors import NotFound

    thread = public_thread(tree, staff)
    services.thread_delete(moderator_id=staff, thread_id=thread)
    before = quota_remaining(user_id=member, permission="post.create_per_day").remaining
    with pytest.raises(NotFound):
        services.post_create(author_id=member, thread_id=thread, body="Too late")
    assert quota_remaining(user_id=member, permission="post.create_per_day").remaining == before
    assert not Post.objects.filter(author_id=member).exists()


def test_a_reply_is_refused_where_the_member_may_not_see_or_post_as_before(
    tree: Tree, staff: int, member: int, other: int
) -> None:
    """The forum and the forums above it are read with the locked thread (not the whole tree before):
    a forum under one the member may not read hides its threads (404), one they may read but not post
    in refuses (403), another member's thread awaiting moderation is not there for them (404)."""
    from apps.status.services import status_grant
    from apps.thread.services import forum_create
    from forum.errors import Conflict, Forbidden, NotFound

    hidden = forum_create(name="Deeper", parent_id=tree.exclusive)
    read_only = forum_create(name="Announcements", parent_id=tree.general, post_permission="thread.moderate")
    status_grant(user_id=staff, status_code="agent", source="staff")
    deep = services.thread_create(author_id=staff, forum_id=hidden.id, title="Deep", body="Below").id
    news = services.thread_create(author_id=staff, forum_id=read_only.id, title="News", body="Read me").id
    with pytest.raises(NotFound):
        services.post_create(author_id=member, thread_id=deep, body="Let me in")
    with pytest.raises(Forbidden):
        services.post_create(author_id=member, thread_id=news, body="Me too")
    status_grant(user_id=member, status_code="agent", source="staff")
    assert services.post_create(author_id=member, thread_id=deep, body="Now I may").position == 2

    pending = services.thread_create(author_id=member, forum_id=tree.general, title="Mine", body="Waiting")
    assert pending.state == "pending"
    with pytest.raises(Conflict):  # their own: they see it wait
        services.post_create(author_id=member, thread_id=pending.id, body="Bump")
    with pytest.raises(NotFound):  # someone else's: not there
        services.post_create(author_id=other, thread_id=pending.id, body="What is this?")
    assert not Post.objects.filter(body__in=["Let me in", "Me too", "Bump", "What is this?"]).exists()


def test_the_reply_form_sends_the_browser_straight_to_the_page_the_reply_stands_on(
    tree: Tree, staff: int, member: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One hop, not two: the permalink (/posts/<id>/) would answer with this same address."""
    # Where the services read it (the package) and where pages of posts are cut (selectors.posts).
    monkeypatch.setattr(selectors, "POSTS_PER_PAGE", 2)
    monkeypatch.setattr(selectors.posts, "POSTS_PER_PAGE", 2)
    thread = public_thread(tree, staff)
    for number in range(3):
        services.post_create(author_id=staff, thread_id=thread, body=f"Reply {number}")
    client = web(member)
    answer = client.post(f"/threads/{thread}/reply/", {"body": "Mine"})
    post = Post.objects.get(author_id=member)
    assert (answer.status_code, answer["Location"]) == (302, f"/threads/{thread}/?page=3#post-{post.pk}")
    assert client.get(f"/posts/{post.pk}/")["Location"] == answer["Location"]
    assert "Mine" in client.get(answer["Location"]).content.decode()
