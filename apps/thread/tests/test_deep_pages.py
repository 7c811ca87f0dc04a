"""Deep pages of a long thread cost what the first costs: a page of posts starts at its first post's
position (found from the thread's deleted posts alone), never with an OFFSET over the posts before it;
the page of a position is found the same way (issue 17, cost as the work grows)."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.authorization.services import role_assign
from apps.thread import selectors, services
from apps.thread.models import Post, Thread
from apps.thread.tests.conftest import Tree

PER_PAGE = selectors.POSTS_PER_PAGE
# Ten pages and a half.
LENGTH = PER_PAGE * 10 + 7


@pytest.fixture
def moderator(make_member: Callable[..., int]) -> int:
    user_id = make_member()
    role_assign(user_id=user_id, role="support")
    return user_id


def _long_thread(author_id: int, forum_id: int, length: int = LENGTH) -> int:
    """A thread of ``length`` posts, its replies written in bulk with the counters the services keep."""
    thread = services.thread_create(author_id=author_id, forum_id=forum_id, title="Long", body="Opening")
    start = timezone.now()
    Post.objects.bulk_create(
        Post(
            thread_id=thread.id,
            author_id=author_id,
            position=position,
            body=f"Reply {position}",
            body_html=f"<p>Reply {position}</p>",
            created_at=start + datetime.timedelta(seconds=position),
        )
        for position in range(2, length + 1)
    )
    last = Post.objects.get(thread_id=thread.id, position=length)
    Thread.objects.filter(pk=thread.id).update(
        post_count=length,
        last_position=length,
        last_post_id=last.pk,
        last_post_at=last.created_at,
        last_poster_id=author_id,
    )
    return thread.id


def _row(thread_id: int) -> selectors.ThreadRow:
    row = selectors.thread_row(viewer=selectors.viewer_for(user_id=None), thread_id=thread_id)
    assert row is not None
    return row


def _visible_positions(thread_id: int) -> list[int]:
    return list(
        Post.objects.filter(thread_id=thread_id, deleted_at__isnull=True, held=False)
        .order_by("position")
        .values_list("position", flat=True)
    )


def test_every_page_holds_the_visible_posts_in_order_with_deleted_ones_between(
    tree: Tree, moderator: int, make_member: Callable[..., int]
) -> None:
    thread_id = _long_thread(moderator, tree.general)
    # Deleted replies at the start, in a run, at a page's edges and at the very end; a held reply
    # (premoderated, awaiting approval) that shares a position with a visible one.
    deleted = [2, 3, 20, 21, 22, 41, 60, 61, 100, 150, 199, LENGTH - 1, LENGTH]
    for position in deleted:
        post_id = Post.objects.get(thread_id=thread_id, position=position).pk
        services.post_delete(user_id=moderator, post_id=post_id)
    Post.objects.create(
        thread_id=thread_id,
        author_id=make_member(),
        position=50,
        body="Held",
        body_html="<p>Held</p>",
        created_at=timezone.now(),
        held=True,
    )
    visible = _visible_positions(thread_id)
    thread = _row(thread_id)
    assert thread.reply_count + 1 == len(visible) == LENGTH - len(deleted)

    pages = -(-len(visible) // PER_PAGE)
    for number in range(1, pages + 1):
        page = selectors.post_page(thread=thread, page=number)
        expected = visible[(number - 1) * PER_PAGE : number * PER_PAGE]
        assert [post.position for post in page.items] == expected, number
        # The page on which each of its posts, and each deleted one just before it, is found.
        for position in expected:
            assert selectors.page_of_position(thread_id=thread_id, position=position) == number
    for position in deleted[:-2]:
        following = next(shown for shown in visible if shown > position)
        assert selectors.page_of_position(
            thread_id=thread_id, position=position
        ) == selectors.page_of_position(thread_id=thread_id, position=following)
    # A position past the thread's last (a held reply's) is on the last page.
    assert selectors.page_of_position(thread_id=thread_id, position=LENGTH + 5) == pages


def _explain(sql: str, params: list[Any]) -> dict[str, Any]:
    with connection.cursor() as cursor:
        # The test's tables are tiny: without this the planner reads them whole whatever the query.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
        found = cursor.fetchone()[0]
        cursor.execute("SET LOCAL enable_seqscan = on")
    plan = found if isinstance(found, list) else json.loads(found)
    return dict(plan[0]["Plan"])


def _post_rows_read(plan: dict[str, Any], table: str = Post._meta.db_table) -> int:
    """The rows the plan's scans of ``table`` (the posts') produced, all nodes together."""
    own = int(plan.get("Actual Rows", 0)) * int(plan.get("Actual Loops", 1))
    read = own if plan.get("Relation Name") == table else 0
    return read + sum(_post_rows_read(child, table) for child in plan.get("Plans", ()))


def test_the_last_page_reads_its_own_posts_not_those_before_it(tree: Tree, moderator: int) -> None:
    thread_id = _long_thread(moderator, tree.general)
    for position in (5, 6, 7):
        services.post_delete(
            user_id=moderator, post_id=Post.objects.get(thread_id=thread_id, position=position).pk
        )
    thread = _row(thread_id)
    last = -(-(thread.reply_count + 1) // PER_PAGE)
    with CaptureQueriesContext(connection) as queries:
        page = selectors.post_page(thread=thread, page=last, viewer_id=moderator)
    assert page.items and page.items[-1].position == LENGTH
    (statement,) = [query["sql"] for query in queries.captured_queries if '"thread_post"' in query["sql"]]
    assert "OFFSET" not in statement.upper()

    # Its plan reads the page's posts and the deleted ones, not the 200 before it (OFFSET did).
    start = (last - 1) * PER_PAGE
    sql = selectors._post_page_sql()
    params = [moderator, moderator, thread_id, start + 1, thread_id, start + 1, PER_PAGE]
    read = _post_rows_read(_explain(sql, params))
    assert read <= PER_PAGE + 3 + 1, read
    # The page of the last position: the deleted posts counted, not the visible ones.
    with CaptureQueriesContext(connection) as queries:
        assert selectors.page_of_position(thread_id=thread_id, position=LENGTH) == last
    (counted,) = queries.captured_queries
    read = _post_rows_read(_explain(counted["sql"], []))
    assert read <= 3, read


def test_a_deep_page_costs_the_queries_of_the_first(
    tree: Tree, moderator: int, web_as: Callable[[int | None], Any]
) -> None:
    thread_id = _long_thread(moderator, tree.general)
    client = web_as(moderator)
    counts = []
    for number in (1, 6, 11):
        client.get(f"/threads/{thread_id}/?page={number}")
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/threads/{thread_id}/?page={number}")
        assert response.status_code == 200
        assert f"Reply {min(LENGTH, number * PER_PAGE)}" in response.content.decode()
        counts.append(len(queries))
    assert counts == [counts[0]] * 3


def test_a_forums_thread_count_is_its_kept_count_and_the_viewers_own_hidden_threads(
    tree: Tree, moderator: int, member: int, other: int
) -> None:
    for number in range(3):
        services.thread_create(author_id=moderator, forum_id=tree.general, title=f"Public {number}", body="B")
    gone = services.thread_create(author_id=moderator, forum_id=tree.general, title="Deleted", body="B")
    services.thread_delete(moderator_id=moderator, thread_id=gone.id)
    services.thread_create(author_id=member, forum_id=tree.general, title="Waiting", body="B")
    rejected = services.thread_create(author_id=member, forum_id=tree.general, title="Rejected", body="B")
    services.thread_reject(moderator_id=moderator, thread_id=rejected.id, reason="No")
    services.thread_create(author_id=other, forum_id=tree.general, title="Theirs", body="B")
    services.thread_create(author_id=member, forum_id=tree.other, title="Elsewhere", body="B")

    for user_id, expected in ((None, 3), (member, 5), (other, 4), (moderator, 6)):
        viewer = selectors.viewer_for(user_id=user_id)
        listed = selectors.threads_visible_to(viewer).filter(forum_id=tree.general).count()
        with CaptureQueriesContext(connection) as queries:
            total = selectors.forum_thread_total(viewer=viewer, forum_id=tree.general)
        assert total == listed == expected, user_id
        assert selectors.thread_page(viewer=viewer, forum_id=tree.general).total == expected
        (query,) = queries.captured_queries
        if user_id is None:
            # A guest's: the forum's row alone, whatever the forum holds.
            assert '"thread_thread"' not in query["sql"]
        else:
            # A member's: their own hidden threads (through the author's index), not the forum's threads.
            read = _post_rows_read(_explain(query["sql"], []), Thread._meta.db_table)
            assert read <= 3, (user_id, read)
    assert selectors.forum_thread_total(viewer=selectors.viewer_for(user_id=None), forum_id=10**9) == 0
