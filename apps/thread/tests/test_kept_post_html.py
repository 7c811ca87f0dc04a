"""The HTML of a members' thread page kept once per permission set (apps/thread/kept_pages._kept_posts),
with holes (forum.slots) filled per request: each member still sees their own reaction, bookmark,
unread marker, CSRF token and Edit; their own posts are rendered as theirs; moderators have an entry
of their own (Edit and Delete on every post)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from django.test import Client

from apps.thread.services import bookmark_set, post_create, reaction_set, thread_approve, thread_create
from apps.thread.tests.conftest import Tree
from forum import fragments

pytestmark = pytest.mark.usefixtures("kept_parts")


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What kept_pages renders, in order: "kept" for a shared page of posts, "own" for a member's own
    posts rendered for one request, "direct" otherwise (guests)."""
    done: list[str] = []
    real = fragments.render_fragment

    def spy(template_name: str, context: Any, request: Any = None) -> Any:
        done.append("kept" if context.get("kept") else "own" if context.get("split") else "direct")
        return real(template_name, context, request)

    monkeypatch.setattr("apps.thread.kept_pages.render_fragment", spy)
    return done


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def post_html(html: str, post_id: int) -> str:
    """The <li> of one post on a page, up to the end of its action bar."""
    start = html.rindex("<li", 0, html.index(f'id="post-{post_id}"'))
    return html[start : html.index("</footer>", start)]


def csrf_tokens(html: str) -> set[str]:
    return set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html))


@pytest.fixture
def conversation(
    tree: Tree, member: int, other: int, staff: int, committed: Callable[[], Any]
) -> tuple[int, int, int, int]:
    """A thread by ``member`` with a reply by ``other`` and one more by ``member``: the thread's id and
    the three posts' ids."""
    with committed():
        made = thread_create(author_id=member, forum_id=tree.general, title="Tides", body="Opening words")
        thread_approve(moderator_id=staff, thread_id=made.id)
        answer = post_create(author_id=other, thread_id=made.id, body="An answer about tides")
        again = post_create(author_id=member, thread_id=made.id, body="Thanks for the answer")
    return made.id, int(made.first_post_id or 0), answer.id, again.id


def test_two_members_share_one_entry_and_see_their_own_marks(
    conversation: tuple[int, int, int, int],
    make_member: Callable[..., int],
    client_for: Any,
    committed: Callable[[], Any],
    renders: list[str],
) -> None:
    thread_id, first, answer, again = conversation
    url = f"/threads/{thread_id}/"
    reader, newcomer = make_member(), make_member()
    page(client_for(reader), url)  # read to the end: nothing unread for them any more
    with committed():
        reaction_set(user_id=reader, post_id=first, kind="like")
    bookmark_set(user_id=reader, post_id=answer)  # no event: the mark is read per request
    renders.clear()

    mine = page(client_for(reader), url)
    theirs = page(client_for(newcomer), url)
    assert renders == ["kept"], "built once (the reaction moved the thread's version), then shared"

    # The reader's reaction and bookmark, nobody else's.
    assert 'reactions__button--mine" id="react-' in post_html(mine, first)
    assert 'aria-pressed="true"' in post_html(mine, first)
    assert 'aria-pressed="true"' not in post_html(theirs, first)
    assert "reactions__count" in post_html(theirs, first), "the count is everyone's"
    assert "bookmark-button__button--on" in post_html(mine, answer)
    assert "bookmark-button__button--on" not in post_html(theirs, answer)
    assert 'value="add"' in post_html(theirs, answer)
    # What each has not read: the newcomer everything, the reader nothing.
    for post in (first, answer, again):
        assert "post--unread" in post_html(theirs, post) and "badge--new" in post_html(theirs, post)
        assert "post--unread" not in post_html(mine, post) and "badge--new" not in post_html(mine, post)
    # Neither wrote a post here: no Edit for either, Report and reactions for both.
    for html in (mine, theirs):
        assert "post-action--edit" not in html and "post-action--report" in html
        assert "<!--hole:" not in html, "every hole is filled"


def test_each_member_gets_their_own_csrf_token(
    conversation: tuple[int, int, int, int], make_member: Callable[..., int], client_for: Any
) -> None:
    thread_id, first, _answer, _again = conversation
    url = f"/threads/{thread_id}/"
    one, two = client_for(make_member(), csrf_checks=True), client_for(make_member(), csrf_checks=True)
    one_html, two_html = page(one, url), page(two, url)
    one_token = next(iter(csrf_tokens(post_html(one_html, first))))
    two_token = next(iter(csrf_tokens(post_html(two_html, first))))
    # The token of the kept page's forms is the member's own: it passes for them, not for another.
    refused = one.post(f"/posts/{first}/react/", {"kind": "like", "csrfmiddlewaretoken": two_token})
    assert refused.status_code == 403
    accepted = one.post(f"/posts/{first}/react/", {"kind": "like", "csrfmiddlewaretoken": one_token})
    assert accepted.status_code == 302


def test_own_posts_are_rendered_as_the_authors(
    conversation: tuple[int, int, int, int],
    member: int,
    other: int,
    client_for: Any,
    renders: list[str],
) -> None:
    thread_id, first, answer, again = conversation
    url = f"/threads/{thread_id}/"
    page(client_for(other), url)
    renders.clear()
    html = page(client_for(member), url)
    assert renders == ["own"], "the shared posts come from the entry; the author's own are rendered"
    for own in (first, again):
        shown = post_html(html, own)
        assert "post-action--edit" in shown, "may change their own"
        assert "reactions__button" not in shown, "no reacting to oneself"
        assert "post-action--report" not in shown and "<!--hole:" not in shown
    shown = post_html(html, answer)
    assert (
        "post-action--edit" not in shown and "reactions__button" in shown and "post-action--report" in shown
    )
    # The posts stay in order, each once.
    assert (
        html.index(f'id="post-{first}"')
        < html.index(f'id="post-{answer}"')
        < html.index(f'id="post-{again}"')
    )
    assert html.count('data-post-id="') == 3
    # The other author sees their own answer as theirs, the member's posts as anyone's.
    theirs = page(client_for(other), url)
    assert "post-action--edit" in post_html(theirs, answer)
    assert "post-action--edit" not in post_html(theirs, first)


def test_a_moderator_has_an_entry_of_their_own(
    conversation: tuple[int, int, int, int],
    staff: int,
    other: int,
    make_member: Callable[..., int],
    client_for: Any,
    renders: list[str],
) -> None:
    thread_id, first, answer, again = conversation
    url = f"/threads/{thread_id}/"
    page(client_for(other), url)
    renders.clear()
    moderated = page(client_for(staff), url)
    assert renders == ["kept"], "another permission set: another entry"
    for post in (first, answer, again):
        assert "post-action--edit" in post_html(moderated, post)
    assert "post-action--delete" in post_html(moderated, answer)
    renders.clear()
    plain = page(client_for(make_member()), url)
    assert renders == [], "a member is served the members' entry"
    assert "post-action--edit" not in plain and "post-action--delete" not in plain


def test_an_author_card_shows_the_live_post_count_and_badges_in_the_shared_html(
    conversation: tuple[int, int, int, int],
    member: int,
    make_member: Callable[..., int],
    client_for: Any,
    committed: Callable[[], Any],
) -> None:
    from apps.status.services import status_grant

    thread_id, first, _answer, _again = conversation
    url = f"/threads/{thread_id}/"
    reader = client_for(make_member())
    assert "<dd>2</dd>" in post_html(page(reader, url), first)
    with committed():  # the badges are kept: a grant shows once it commits
        status_grant(user_id=member, status_code="agent", source="staff")
    card = post_html(page(reader, url), first)
    assert 'class="author-card__badges"' in card and 'data-status="agent"' in card


def _same_html(html: str) -> str:
    """HTML with the white space between tags and the (masked, each time new) CSRF tokens evened out."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', 'name="csrfmiddlewaretoken"', str(html))
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", html)).strip()


def test_the_filled_page_is_the_page_rendered_for_the_member(
    conversation: tuple[int, int, int, int],
    member: int,
    other: int,
    staff: int,
    make_member: Callable[..., int],
    committed: Callable[[], Any],
    rf: Any,
    django_user_model: Any,
) -> None:
    from django.middleware.csrf import get_token

    from apps.status.services import status_grant
    from apps.thread import kept_pages, selectors, views
    from apps.user.services import member_badges_for

    thread_id, first, answer, _again = conversation
    reader = make_member()
    with committed():
        reaction_set(user_id=reader, post_id=first, kind="love")
        reaction_set(user_id=member, post_id=answer, kind="like")
    bookmark_set(user_id=reader, post_id=answer)
    bookmark_set(user_id=member, post_id=first)
    status_grant(user_id=other, status_code="agent", source="staff")
    for user_id in (reader, member, other, staff):
        request = rf.get(f"/threads/{thread_id}/")
        request.user = django_user_model.objects.get(pk=user_id)
        get_token(request)
        viewer = selectors.viewer_for(user_id=user_id)
        thread, forums = views._thread_or_404(viewer, thread_id)
        context = views._posts_context(viewer, thread, forums[thread.forum_id])
        for _twice in range(2):  # built, then served from the entry
            kept = kept_pages.post_page(
                viewer=viewer, thread=thread, page=1, read_position=1, context=context, request=request
            )
        rows = selectors.post_page(
            thread=thread, page=1, read_position=1, viewer_id=user_id, with_author_cards=True
        ).items
        badges = member_badges_for(user_ids=[row.author_id for row in rows])
        rows = tuple(
            replace(row, author_card=replace(row.author_card, badges=badges[row.author_id]))
            if row.author_card
            else row
            for row in rows
        )
        direct = fragments.render_fragment("thread/_posts.jinja", {"posts": rows, **context}, request)
        assert _same_html(kept.html) == _same_html(direct), f"member {user_id}"
