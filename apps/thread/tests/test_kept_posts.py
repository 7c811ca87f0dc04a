"""Members' thread pages with their kept part on (apps/thread/kept_pages.post_page): the posts and the
authors' cards built once per thread, page and language; the member's own marks (reaction, bookmark,
unread, Edit) and the cards' live bits (post count, status badges) per request; every change at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from apps.authorization.services import role_assign
from apps.status.services import status_grant
from apps.thread.services import (
    bookmark_set,
    draft_save,
    post_create,
    post_delete,
    post_edit,
    reaction_set,
    thread_approve,
    thread_create,
)
from apps.thread.tests.conftest import Tree, page

pytestmark = pytest.mark.usefixtures("kept_parts")


def post_html(html: str, post_id: int) -> str:
    """The <li> of one post on a page."""
    start = html.rindex("<li", 0, html.index(f'id="post-{post_id}"'))
    return html[start : html.index("</footer>", start)]


@pytest.fixture
def thread(tree: Tree, member: int, staff: int, committed: Callable[[], Any]) -> tuple[int, int]:
    with committed():
        made = thread_create(author_id=member, forum_id=tree.general, title="Harbour news", body="Opening")
        thread_approve(moderator_id=staff, thread_id=made.id)
    return made.id, int(made.first_post_id or 0)


def test_members_share_the_kept_posts_and_keep_their_own_marks(
    thread: tuple[int, int], member: int, other: int, make_member: Callable[..., int], client_for: Any
) -> None:
    thread_id, first_post = thread
    third = make_member()
    _html, first = page(client_for(other), f"/threads/{thread_id}/")
    again, second = page(client_for(third), f"/threads/{thread_id}/")
    assert second < first, "the second member is served the kept posts"
    assert "Opening" in again
    # The author sees Edit on their post; the others, whom the same kept posts are served, do not.
    assert "post-action--edit" in post_html(page(client_for(member), f"/threads/{thread_id}/")[0], first_post)
    assert "post-action--edit" not in post_html(again, first_post)


def test_a_reply_an_edit_a_deletion_and_a_reaction_show_at_once(
    thread: tuple[int, int], member: int, other: int, client_for: Any, committed: Callable[[], Any]
) -> None:
    thread_id, first_post = thread
    reader = client_for(other)
    page(reader, f"/threads/{thread_id}/")
    with committed():
        reply = post_create(author_id=member, thread_id=thread_id, body="A reply about lighthouses")
    html = page(reader, f"/threads/{thread_id}/")[0]
    assert "A reply about lighthouses" in html
    assert "post--unread" in post_html(html, reply.id), "not read yet by this reader"
    assert "post--unread" not in post_html(page(reader, f"/threads/{thread_id}/")[0], reply.id), "read now"

    with committed():
        post_edit(editor_id=member, post_id=reply.id, body="A reply about tides")
    html = page(reader, f"/threads/{thread_id}/")[0]
    assert "A reply about tides" in html and "lighthouses" not in html

    with committed():
        reaction_set(user_id=other, post_id=first_post, kind="like")
    mine = post_html(page(reader, f"/threads/{thread_id}/")[0], first_post)
    assert 'aria-pressed="true"' in mine and "reactions__count" in mine
    theirs = post_html(page(client_for(member), f"/threads/{thread_id}/")[0], first_post)
    assert 'aria-pressed="true"' not in theirs and "reactions__count" in theirs

    with committed():
        post_delete(user_id=member, post_id=reply.id)
    assert "A reply about tides" not in page(reader, f"/threads/{thread_id}/")[0]


def test_a_bookmark_is_the_readers_own(
    thread: tuple[int, int], member: int, other: int, client_for: Any, committed: Callable[[], Any]
) -> None:
    thread_id, first_post = thread
    page(client_for(member), f"/threads/{thread_id}/")
    bookmark_set(user_id=other, post_id=first_post)  # no event: the mark is read per request
    kept_html = post_html(page(client_for(other), f"/threads/{thread_id}/")[0], first_post)
    plain_html = post_html(page(client_for(member), f"/threads/{thread_id}/")[0], first_post)
    assert kept_html != plain_html, "the bookmark button shows the reader's own state"


def test_author_cards_follow_post_counts_statuses_names_and_roles(
    tree: Tree,
    thread: tuple[int, int],
    member: int,
    other: int,
    staff: int,
    client_for: Any,
    committed: Callable[[], Any],
) -> None:
    thread_id, first_post = thread
    reader = client_for(other)
    card = post_html(page(reader, f"/threads/{thread_id}/")[0], first_post)
    assert "<dd>1</dd>" in card
    with committed():
        elsewhere = thread_create(author_id=member, forum_id=tree.general, title="Elsewhere", body="x")
        thread_approve(moderator_id=staff, thread_id=elsewhere.id)
    assert "<dd>2</dd>" in post_html(page(reader, f"/threads/{thread_id}/")[0], first_post), (
        "a post elsewhere"
    )

    with committed():  # the badges are kept: a grant shows once it commits
        status_grant(user_id=member, status_code="agent", source="staff")
    assert 'data-status="agent"' in post_html(page(reader, f"/threads/{thread_id}/")[0], first_post)

    with committed():
        user = get_user_model().objects.get(pk=member)
        user.username = "lighthouse_keeper"
        user.save(update_fields=["username"])
    shown = post_html(page(reader, f"/threads/{thread_id}/")[0], first_post)
    assert "lighthouse_keeper" in shown, shown[:100]

    with committed():
        role_assign(user_id=member, role="admin")
    assert 'data-role="admin"' in post_html(page(reader, f"/threads/{thread_id}/")[0], first_post)


# What a member's thread page costs once its posts are kept and the member has read it: the thread with
# the read position (1; the forums' structure is kept), the member's reactions, bookmarks, draft and held
# replies with the cards' post counts (1: kept_pages._own). The session, the account, its permissions,
# the header's unread counts and whether they watch the thread come from forum.member_cache, the cards'
# status badges from the status app's kept badges (no query once kept). Before the kept parts' live bits
# were read together: 13; before the member's own parts were kept: 10; before the forums' structure and
# the badges were kept: 5; before the watch state was remembered with the session: 3.
WARM_MEMBER_THREAD_PAGE = 2


def test_a_members_warm_thread_page_costs_the_same_few_queries_whatever_it_holds(
    thread: tuple[int, int],
    member: int,
    other: int,
    make_member: Callable[..., int],
    client_for: Any,
    committed: Callable[[], Any],
    django_assert_num_queries: Callable[..., Any],
) -> None:
    thread_id, _first_post = thread
    url = f"/threads/{thread_id}/"
    reader = client_for(other)
    reader.get("/")  # the first request of a session records it
    page(reader, url)  # builds the kept part and moves the read mark
    with django_assert_num_queries(WARM_MEMBER_THREAD_PAGE):
        assert reader.get(url).status_code == 200

    # A full page: twenty authors with statuses, the reader's reactions and bookmarks, their draft.
    with committed():
        status_grant(user_id=member, status_code="agent", source="staff")
        for number in range(24):
            author = make_member()
            status_grant(user_id=author, status_code="reader", source="staff")
            reply = post_create(author_id=author, thread_id=thread_id, body=f"Reply number {number}")
            reaction_set(user_id=other, post_id=reply.id, kind="like")
            bookmark_set(user_id=other, post_id=reply.id)
    draft_save(user_id=other, thread_id=thread_id, body="Half a thought about harbours")
    page(reader, url)
    with django_assert_num_queries(WARM_MEMBER_THREAD_PAGE):
        html = reader.get(url).content.decode()
    assert html.count('class="author-card__name"') == 20 and html.count('aria-pressed="true"') == 19
    assert html.count('class="badge badge--status"') == 20 and "Half a thought about harbours" in html
    page(reader, url + "?page=2")
    with django_assert_num_queries(WARM_MEMBER_THREAD_PAGE):
        assert reader.get(url + "?page=2").status_code == 200
