"""The members' forum index and forum pages rendered once per permission set with holes for each member's
marks (apps/thread/kept_lists.py): members sharing an entry see their own marks, every change shows at
once, and a page costs the same queries whatever it lists."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.template import engines
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.authorization.services import role_assign
from apps.thread.models import Thread, ThreadState
from apps.thread.services import (
    post_create,
    thread_approve,
    thread_close,
    thread_create,
    thread_mark_read,
    thread_move,
)
from apps.thread.tests.conftest import Tree

pytestmark = pytest.mark.usefixtures("kept_parts")


def page(client: Client, url: str) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<!--hole:" not in html, "every hole is filled"
    return html, [query["sql"] for query in queries.captured_queries]


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many times the forum table and the thread list fragments are rendered."""
    counts = {"thread/_forum_table.jinja": 0, "thread/_thread_list.jinja": 0}
    for name in counts:
        template = engines["jinja2"].env.get_template(name)  # type: ignore[attr-defined]
        render = template.render

        def counted(*args: Any, _name: str = name, _render: Any = render, **kwargs: Any) -> str:
            counts[_name] += 1
            return str(_render(*args, **kwargs))

        monkeypatch.setattr(template, "render", counted)
    return counts


def item_of(html: str, title: str) -> str:
    """The <li> of the thread list (or of the forum table) that holds ``title``."""
    end = html.index(title)
    return html[html.rindex("<li", 0, end) : html.index("</li>", end)]


def marks(item: str) -> tuple[bool, bool, bool, bool]:
    """What a thread list row shows of the member's own: the row's unread class, the link to the first
    unread post, the New badge, the Unread badge."""
    return (
        "thread-list__item--unread" in item,
        "?unread=1" in item,
        ">New<" in item,
        ">Unread<" in item,
    )


def made(author: int, forum: int, title: str, moderator: int, committed: Callable[[], Any]) -> int:
    with committed():
        thread = thread_create(author_id=author, forum_id=forum, title=title, body="Opening words")
        if thread.state == ThreadState.PENDING:
            thread_approve(moderator_id=moderator, thread_id=thread.id)
    return thread.id


def test_members_sharing_the_kept_lists_see_their_own_marks(
    renders: dict[str, int],
    tree: Tree,
    member: int,
    other: int,
    staff: int,
    make_member: Callable[..., int],
    client_for: Any,
    committed: Callable[[], Any],
) -> None:
    harbour = made(staff, tree.general, "Harbour news", staff, committed)
    tides = made(staff, tree.sub, "Tide tables", staff, committed)
    with committed():
        post_create(author_id=staff, thread_id=harbour, body="More news")
    third = make_member()
    thread_mark_read(user_id=member, thread_id=harbour, position=1)  # read the opening post only
    thread_mark_read(user_id=other, thread_id=harbour, position=2)  # read everything
    thread_mark_read(user_id=other, thread_id=tides, position=1)
    forum = f"/forums/{tree.general}/"

    first_html, first_queries = page(client_for(member), forum)
    assert renders == {"thread/_forum_table.jinja": 1, "thread/_thread_list.jinja": 1}
    shared_html, shared_queries = page(client_for(other), forum)
    third_html, third_queries = page(client_for(third), forum)
    assert renders == {"thread/_forum_table.jinja": 1, "thread/_thread_list.jinja": 1}, "kept as HTML"
    assert len(shared_queries) < len(first_queries), "the second member is served the kept page"
    assert len(third_queries) == len(shared_queries)
    # Unread (posts after the one they read), read, and new (never opened).
    assert marks(item_of(first_html, "Harbour news")) == (True, True, False, True)
    assert marks(item_of(shared_html, "Harbour news")) == (False, False, False, False)
    assert marks(item_of(third_html, "Harbour news")) == (True, False, True, False)
    # The subforums' table on the forum's page: the member has not read Tide tables, the other has.
    assert "forum-tree__item--unread" in item_of(first_html, ">Introductions<")
    assert "forum-tree__item--unread" not in item_of(shared_html, ">Introductions<")

    index_first, index_first_queries = page(client_for(member), "/")
    index_shared, index_shared_queries = page(client_for(other), "/")
    assert renders["thread/_forum_table.jinja"] == 2, "the index's table rendered once for both"
    assert len(index_shared_queries) < len(index_first_queries)
    assert "forum-tree__item--unread" in item_of(index_first, ">General<")
    assert ">Unread<" in item_of(index_first, ">General<")
    assert "forum-tree__item--unread" not in item_of(index_shared, ">General<")
    assert ">Unread<" not in item_of(index_shared, ">General<")


def test_a_reply_a_new_thread_a_close_a_move_and_a_role_show_at_once(
    tree: Tree,
    member: int,
    other: int,
    staff: int,
    client_for: Any,
    committed: Callable[[], Any],
) -> None:
    harbour = made(staff, tree.general, "Harbour news", staff, committed)
    reader = client_for(other)
    forum = f"/forums/{tree.general}/"
    thread_mark_read(user_id=other, thread_id=harbour, position=1)
    assert marks(item_of(page(reader, forum)[0], "Harbour news")) == (False, False, False, False)
    page(reader, "/")

    with committed():
        post_create(author_id=member, thread_id=harbour, body="A reply")
    html = page(reader, forum)[0]
    assert "1 reply" in item_of(html, "Harbour news")
    assert marks(item_of(html, "Harbour news")) == (True, True, False, True)
    assert "2 posts" in item_of(page(reader, "/")[0], ">General<")

    with committed():
        fresh = thread_create(author_id=staff, forum_id=tree.general, title="Tide tables", body="x")
    assert marks(item_of(page(reader, forum)[0], "Tide tables")) == (True, False, True, False)
    assert "Tide tables" in item_of(page(reader, "/")[0], ">General<"), "the forum's last thread"

    with committed():
        thread_close(moderator_id=staff, thread_id=harbour)
    assert ">Closed<" in item_of(page(reader, forum)[0], "Harbour news")

    with committed():
        thread_move(moderator_id=staff, thread_id=fresh.id, forum_id=tree.other)
    assert "Tide tables" not in page(reader, forum)[0]
    assert "Tide tables" in page(reader, f"/forums/{tree.other}/")[0]

    with committed():
        pending = thread_create(author_id=member, forum_id=tree.general, title="Waiting tide", body="y")
    assert "Waiting tide" not in page(reader, forum)[0]
    with committed():  # the member's permissions are kept too: moved once the change commits
        role_assign(user_id=other, role="admin")
    html = page(reader, forum)[0]
    assert ">Awaiting moderation<" in item_of(html, "Waiting tide"), "a moderator's permission set"
    assert pending.id


def test_a_members_own_pending_thread_sits_among_the_others_with_everyones_marks(
    tree: Tree,
    member: int,
    staff: int,
    client_for: Any,
    committed: Callable[[], Any],
) -> None:
    harbour = made(staff, tree.general, "Harbour news", staff, committed)
    made(staff, tree.general, "Tide tables", staff, committed)
    thread_mark_read(user_id=member, thread_id=harbour, position=1)
    reader = client_for(member)
    forum = f"/forums/{tree.general}/"
    page(reader, forum)
    with committed():
        thread_create(author_id=member, forum_id=tree.general, title="Waiting tide", body="pending")
    html = page(reader, forum)[0]
    assert ">Awaiting moderation<" in item_of(html, "Waiting tide")
    assert html.index("Waiting tide") < html.index("Tide tables") < html.index("Harbour news")
    assert marks(item_of(html, "Harbour news")) == (False, False, False, False)
    assert marks(item_of(html, "Tide tables")) == (True, False, True, False)
    assert marks(item_of(html, "Waiting tide")) == (False, False, False, False), "read by its author"


def test_the_language_is_part_of_the_kept_lists(
    tree: Tree, member: int, other: int, staff: int, client_for: Any, committed: Callable[[], Any]
) -> None:
    made(staff, tree.general, "Harbour news", staff, committed)
    forum = f"/forums/{tree.general}/"
    english = page(client_for(member), forum)[0]
    russian = page(client_for(other, language="ru"), forum)[0]
    assert ">New<" in item_of(english, "Harbour news")
    assert ">New<" not in item_of(russian, "Harbour news")
    assert "by " not in item_of(russian, "Harbour news")
    english_index = page(client_for(member), "/")[0]
    russian_index = page(client_for(other, language="ru"), "/")[0]
    assert ">Unread<" in item_of(english_index, ">General<")
    assert ">Unread<" not in item_of(russian_index, ">General<")


@pytest.mark.parametrize("own_pending", [False, True])
def test_the_queries_do_not_grow_with_the_threads_on_the_page(
    tree: Tree,
    member: int,
    staff: int,
    make_member: Callable[..., int],
    client_for: Any,
    committed: Callable[[], Any],
    own_pending: bool,
) -> None:
    authors = (staff, make_member(is_staff=True))  # a day's threads are limited, even for staff
    reader = client_for(member)

    def add(count: int, forum: int) -> None:
        with committed():
            for number in range(count):
                made_id = thread_create(
                    author_id=authors[number % 2], forum_id=forum, title=f"Thread {number}", body="x"
                ).id
                post_create(author_id=authors[(number + 1) % 2], thread_id=made_id, body="reply")
                if number % 3 == 0:
                    thread_mark_read(user_id=member, thread_id=made_id, position=1)
        if own_pending:
            with committed():
                mine = thread_create(author_id=member, forum_id=forum, title="Mine", body="y")
            # The newest of all: it sits on the first page, among the others.
            Thread.objects.filter(pk=mine.id).update(
                last_post_at=timezone.now() + datetime.timedelta(hours=1)
            )

    add(2, tree.subsub)  # two forums without subforums: only the threads differ
    add(24, tree.other)
    counts = []
    for forum in (tree.subsub, tree.other):
        url = f"/forums/{forum}/"
        page(reader, url)  # kept
        html, queries = page(reader, url)
        counts.append(len(queries))
        assert html.count('class="thread-list__item') == (2 if forum == tree.subsub else 24) + own_pending
    assert counts[0] == counts[1], counts


def test_a_hidden_forum_is_not_found_and_keeps_nothing(tree: Tree, member: int, client_for: Any) -> None:
    reader = client_for(member)
    for _twice in range(2):
        assert reader.get(f"/forums/{tree.exclusive}/").status_code == 404
        assert reader.get("/forums/999999/").status_code == 404


def test_own_pending_threads_after_the_page_leave_it_kept(
    renders: dict[str, int],
    tree: Tree,
    member: int,
    staff: int,
    make_member: Callable[..., int],
    client_for: Any,
    committed: Callable[[], Any],
) -> None:
    authors = (staff, make_member(is_staff=True))
    with committed():
        for number in range(26):
            thread_create(
                author_id=authors[number % 2], forum_id=tree.other, title=f"Public {number}", body="x"
            )
        mine = thread_create(author_id=member, forum_id=tree.other, title="Waiting tide", body="y")
    Thread.objects.filter(pk=mine.id).update(last_post_at=timezone.now() - datetime.timedelta(days=3))
    reader = client_for(member)
    url = f"/forums/{tree.other}/"
    first = page(reader, url)[0]
    assert "Waiting tide" not in first and first.count('class="thread-list__item') == 25
    assert renders["thread/_thread_list.jinja"] == 1
    page(reader, url)
    assert renders["thread/_thread_list.jinja"] == 1, "the first page is everyone's: kept"
    second = page(reader, f"{url}?page=2")[0]
    assert ">Awaiting moderation<" in item_of(second, "Waiting tide"), "on the last page, read as before"
    assert "Page 2 of 2" in second
