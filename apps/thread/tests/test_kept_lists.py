"""The members' index and thread lists with their kept parts on (apps/thread/kept_pages.py): the shared
part built once per permission set, the member's own marks read per request, every change at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from apps.authorization.services import role_assign
from apps.status.services import status_grant
from apps.thread.models import Forum
from apps.thread.services import (
    post_create,
    post_delete,
    post_edit,
    thread_approve,
    thread_create,
    thread_mark_read,
    thread_move,
    thread_pin,
)
from apps.thread.tests.conftest import Tree, page
from apps.thread.tests.test_profile_freshness import CaptureCommits

pytestmark = pytest.mark.usefixtures("kept_parts")


def item_of(html: str, title: str) -> str:
    """The thread list's <li> that holds ``title``."""
    end = html.index(title)
    return html[html.rindex("<li", 0, end) : html.index("</li>", end)]


@pytest.fixture
def harbour(tree: Tree, member: int, staff: int, committed: Callable[[], Any]) -> int:
    with committed():
        thread = thread_create(author_id=member, forum_id=tree.general, title="Harbour news", body="Opening")
        thread_approve(moderator_id=staff, thread_id=thread.id)
    return thread.id


def test_members_with_the_same_permissions_share_the_index_and_the_list(
    tree: Tree, harbour: int, other: int, make_member: Callable[..., int], client_for: Any
) -> None:
    third = make_member()
    for url in ("/", f"/forums/{tree.general}/"):
        first_html, first = page(client_for(other), url)
        second_html, second = page(client_for(third), url)
        assert second < first, f"{url}: the second member is served the kept part"
        assert ("Harbour news" in first_html) == ("Harbour news" in second_html)


def test_unread_marks_are_the_members_own_and_follow_their_reading(
    tree: Tree, harbour: int, member: int, other: int, client_for: Any, committed: Callable[[], Any]
) -> None:
    reader = client_for(other)
    html = page(reader, f"/forums/{tree.general}/")[0]
    assert "thread-list__item--unread" in item_of(html, "Harbour news"), "new to the reader"
    assert "forum-tree__item--unread" in page(reader, "/")[0]
    # The author's own view of the same kept part: they have read what they wrote.
    assert "thread-list__item--unread" not in item_of(
        page(client_for(member), f"/forums/{tree.general}/")[0], "Harbour news"
    )

    thread_mark_read(user_id=other, thread_id=harbour, position=1)  # a read position: no event
    assert "thread-list__item--unread" not in item_of(
        page(reader, f"/forums/{tree.general}/")[0], "Harbour news"
    )
    assert "forum-tree__item--unread" not in page(reader, "/")[0]

    with committed():
        post_create(author_id=member, thread_id=harbour, body="News at eleven")
    html = page(reader, f"/forums/{tree.general}/")[0]
    assert "Unread" in item_of(html, "Harbour news") and "1 reply" in html
    assert "forum-tree__item--unread" in page(reader, "/")[0]


def test_a_reply_an_edit_a_deletion_a_move_and_a_pin_show_at_once(
    tree: Tree,
    harbour: int,
    member: int,
    other: int,
    staff: int,
    client_for: Any,
    committed: Callable[[], Any],
) -> None:
    reader = client_for(other)
    page(reader, "/")
    page(reader, f"/forums/{tree.general}/")
    with committed():
        reply = post_create(author_id=other, thread_id=harbour, body="First!")
    index = page(reader, "/")[0]
    assert "2 posts" in index or "2</" in index
    with committed():
        post_edit(editor_id=other, post_id=reply.id, body="Second thoughts")
    with committed():
        post_delete(user_id=other, post_id=reply.id)
    assert "1 reply" not in page(reader, f"/forums/{tree.general}/")[0]

    with committed():
        other_thread = thread_create(author_id=staff, forum_id=tree.general, title="Tide tables", body="x")
    assert "Tide tables" in page(reader, f"/forums/{tree.general}/")[0]
    with committed():
        thread_pin(moderator_id=staff, thread_id=harbour)
    html = page(reader, f"/forums/{tree.general}/")[0]
    assert html.index("Harbour news") < html.index("Tide tables"), "pinned first at once"

    with committed():
        thread_move(moderator_id=staff, thread_id=other_thread.id, forum_id=tree.other)
    assert "Tide tables" not in page(reader, f"/forums/{tree.general}/")[0]
    assert "Tide tables" in page(reader, f"/forums/{tree.other}/")[0]
    assert "Tide tables" in page(reader, "/")[0], "the last thread of Other now"


def test_a_members_own_pending_thread_shows_in_their_list_only(
    tree: Tree, harbour: int, member: int, other: int, client_for: Any, committed: Callable[[], Any]
) -> None:
    page(client_for(other), f"/forums/{tree.general}/")  # the shared part is kept
    with committed():
        thread_create(author_id=other, forum_id=tree.general, title="Waiting tide", body="pending")
    assert "Waiting tide" in page(client_for(other), f"/forums/{tree.general}/")[0]
    assert "Waiting tide" not in page(client_for(member), f"/forums/{tree.general}/")[0]


def test_permissions_forums_roles_and_statuses_change_the_lists_at_once(
    tree: Tree,
    harbour: int,
    member: int,
    other: int,
    staff: int,
    make_member: Callable[..., int],
    client_for: Any,
    admin_client: Client,
) -> None:
    status_grant(user_id=member, status_code="agent", source="staff")
    with CaptureCommits() as commits:
        secret = thread_create(author_id=member, forum_id=tree.exclusive, title="Agents cove", body="x")
        thread_approve(moderator_id=staff, thread_id=secret.id)
        pending = thread_create(author_id=member, forum_id=tree.general, title="Waiting tide", body="y")
    commits.run()
    reader = client_for(other)
    assert "Agents only" not in page(reader, "/")[0]
    status_grant(user_id=other, status_code="agent", source="staff")
    assert "Agents only" in page(reader, "/")[0], "a status granted: another permission set"
    assert "Waiting tide" not in page(reader, f"/forums/{tree.general}/")[0]
    role_assign(user_id=other, role="admin")
    assert "Waiting tide" in page(reader, f"/forums/{tree.general}/")[0], "an administrator moderates"
    assert pending.id

    plain = make_member()
    assert f"/forums/{tree.other}/" in page(client_for(plain), "/")[0]
    forum = Forum.objects.get(pk=tree.other)
    form = {
        "name": forum.name,
        "kind": forum.kind,
        "slug": forum.slug,
        "description": forum.description,
        "position": forum.position,
        "read_permission": "forum.read_exclusive",
        "post_permission": forum.post_permission,
    }
    with CaptureCommits() as commits:
        response = admin_client.post(f"/admin/thread/forum/{tree.other}/change/", form)
    assert response.status_code == 302
    commits.run()
    assert f"/forums/{tree.other}/" not in page(client_for(plain), "/")[0], "closed to plain members at once"
    assert f"/forums/{tree.other}/" in page(reader, "/")[0], "still open to an agent"


def test_a_members_own_unapproved_threads_take_their_places_on_every_page(
    tree: Tree, member: int, staff: int, make_member: Callable[..., int], committed: Callable[[], Any]
) -> None:
    import datetime

    from django.utils import timezone

    from apps.thread import kept_pages, selectors
    from apps.thread.models import Thread
    from apps.thread.services import thread_reject

    with committed():
        approved = []
        authors = (staff, make_member(is_staff=True))  # a day's threads are limited, even for staff
        for number in range(55):
            author = authors[number % 2]
            made = thread_create(author_id=author, forum_id=tree.general, title=f"Public {number}", body="x")
            approved.append(made.id)
        own = [
            thread_create(author_id=member, forum_id=tree.general, title=f"Mine {n}", body="y").id
            for n in range(3)
        ]
        thread_reject(moderator_id=staff, thread_id=own[2], reason="Off topic")
    now = timezone.now()
    for index, thread_id in enumerate(approved):
        Thread.objects.filter(pk=thread_id).update(last_post_at=now - datetime.timedelta(hours=index))
    # The newest of all, one in the middle of page 2, and the rejected one the oldest of all (page 3).
    for thread_id, hours in zip(own, (-1, 30.5, 999), strict=True):
        Thread.objects.filter(pk=thread_id).update(last_post_at=now - datetime.timedelta(hours=hours))
    with committed():
        thread_pin(moderator_id=staff, thread_id=approved[40])  # pinned: first, before the newest

    viewer = selectors.viewer_for(user_id=member)
    # The order of everything the member may see there, read the plain way ("approved or mine").
    every = list(
        selectors.threads_visible_to(viewer)
        .filter(forum_id=tree.general)
        .order_by("-pinned", "-last_post_at", "-id")
        .values_list("id", flat=True)
    )
    for number in (1, 2, 3, 99):
        expected = selectors.thread_page(viewer=viewer, forum_id=tree.general, page=number)
        start = (expected.number - 1) * expected.per_page
        assert [row.id for row in expected.items] == every[start : start + expected.per_page], number
        for _twice in range(2):  # built, then kept
            found = kept_pages.thread_page(viewer=viewer, forum_id=tree.general, page=number)
            assert [row.id for row in found.items] == [row.id for row in expected.items], number
            assert (found.number, found.total) == (expected.number, expected.total)
            assert [(row.is_new, row.is_unread) for row in found.items] == [
                (row.is_new, row.is_unread) for row in expected.items
            ]
