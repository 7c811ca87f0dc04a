"""The thread page's posts without JavaScript: who wrote each (the author card, the signature once per
author), the reactions with who reacted, quoting, the action bar; and the members' post counts the
cards show, kept by the services."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

from django.db.models import Count
from django.test import Client

from apps.authorization.services import role_assign
from apps.status.services import status_grant
from apps.thread import selectors, services
from apps.thread.models import MemberScore, Post, ThreadState
from apps.thread.tests.conftest import Tree
from apps.user.services import member_profile, profile_update


def signed_in(django_user_model: Any, user_id: int) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.get(pk=user_id))
    return client


class Outline(HTMLParser):
    """Each element of a page with its attributes and the tags it sits in."""

    VOID = frozenset({"br", "hr", "img", "input", "link", "meta", "source", "wbr", "col", "area", "base"})

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str], tuple[str, ...]]] = []
        self._open: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}, tuple(self._open)))
        if tag not in self.VOID:
            self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._open:
            while self._open.pop() != tag:
                pass

    def having(self, css_class: str) -> list[tuple[str, dict[str, str], tuple[str, ...]]]:
        return [element for element in self.elements if css_class in element[1].get("class", "").split()]


# --- The author card and the signature ----------------------------------------------------------------


def test_each_post_shows_who_wrote_it_and_each_signature_once_per_page(
    django_user_model: Any,
    client: Client,
    tree: Tree,
    staff: int,
    member: int,
    make_member: Callable[..., int],
) -> None:
    admin = make_member()
    role_assign(user_id=admin, role="admin")
    status_grant(user_id=member, status_code="reader", source="staff")
    profile_update(user_id=member, signature="Sailing **since 1999**")
    thread = services.thread_create(author_id=admin, forum_id=tree.general, title="Harbour", body="Hello")
    first = services.post_create(author_id=member, thread_id=thread.id, body="First from me")
    services.post_create(author_id=staff, thread_id=thread.id, body="Staff here")
    second = services.post_create(author_id=member, thread_id=thread.id, body="Me again")

    page = client.get(f"/threads/{thread.id}/").content.decode()
    outline = Outline(page)

    names = {attrs["href"] for _tag, attrs, _in in outline.having("author-card__name")}
    assert names == {f"/members/{admin}/", f"/members/{member}/", f"/members/{staff}/"}
    assert len(outline.having("author-card")) == 4
    assert 'data-role="admin">Administrator</li>' in page and 'data-role="support">Support</li>' in page
    assert page.count('data-status="reader">Reader</li>') == 2  # on both of the member's posts
    # The counted posts: the member's two replies, on each card of theirs.
    assert page.count("<dt>Posts</dt><dd>2</dd>") == 2 and "<dt>Joined</dt>" in page
    assert len(outline.having("author-card__initial")) == 4  # no avatars: the initial
    # Room for the frame the monetization work draws, around each avatar.
    assert len([el for el in outline.elements if el[1].get("data-frame-slot") == "post"]) == 4
    # The signature, once: under the member's first post on the page, collapsible.
    assert page.count("Sailing <strong>since 1999</strong>") == 1
    signature = page.index('<details class="signature" open>')
    assert page.index(f'id="post-{first.id}"') < signature < page.index(f'id="post-{second.id}"')

    # A post fetched alone (the live page) brings its card, and its author's signature.
    fragment = client.get(f"/posts/{second.id}/fragment/").content.decode()
    assert f'href="/members/{member}/"' in fragment and "Sailing <strong>since 1999</strong>" in fragment
    assert '<details class="signature" open>' in fragment


def test_the_card_counts_the_posts_the_profile_counts(
    django_user_model: Any, tree: Tree, staff: int, member: int
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="Count me", body="Hi")
    for number in range(3):
        services.post_create(author_id=member, thread_id=thread.id, body=f"Reply {number}")
    page = signed_in(django_user_model, staff).get(f"/threads/{thread.id}/").content.decode()
    assert page.count("<dt>Posts</dt><dd>3</dd>") == 3
    counters = member_profile(user_id=member).counters
    assert counters is not None and counters.post_count == 3


# --- Members' post counts, kept by the services -------------------------------------------------------


def _counted() -> dict[int, int]:
    """The posts that count, counted now: not deleted, in an approved thread that is not deleted."""
    rows = (
        Post.objects.filter(
            deleted_at__isnull=True, thread__deleted_at__isnull=True, thread__state=ThreadState.APPROVED
        )
        .values("author_id")
        .annotate(posts=Count("pk"))
    )
    return {row["author_id"]: row["posts"] for row in rows}


def _kept() -> dict[int, int]:
    return dict(MemberScore.objects.exclude(post_count=0).values_list("user_id", "post_count"))


def test_post_counts_follow_every_change_of_what_counts(
    tree: Tree, staff: int, member: int, other: int
) -> None:
    public = services.thread_create(author_id=staff, forum_id=tree.general, title="Open", body="Hi")
    reply = services.post_create(author_id=member, thread_id=public.id, body="A reply")
    services.post_create(author_id=other, thread_id=public.id, body="Another")
    assert _kept() == _counted() == {staff: 1, member: 1, other: 1}

    # A member's thread waits for moderation: counted once approved, with the posts it holds.
    waiting = services.thread_create(author_id=member, forum_id=tree.general, title="Mine", body="Wait")
    assert _kept() == _counted() == {staff: 1, member: 1, other: 1}
    services.thread_approve(moderator_id=staff, thread_id=waiting.id)
    services.post_create(author_id=other, thread_id=waiting.id, body="Welcome")
    assert _kept() == _counted() == {staff: 1, member: 2, other: 2}

    services.post_delete(user_id=member, post_id=reply.id)
    assert _kept() == _counted() == {staff: 1, member: 1, other: 2}
    services.post_restore(moderator_id=staff, post_id=reply.id)
    assert _kept() == _counted() == {staff: 1, member: 2, other: 2}

    services.thread_delete(moderator_id=staff, thread_id=waiting.id)
    assert _kept() == _counted() == {staff: 1, member: 1, other: 1}
    rejected = services.thread_create(author_id=member, forum_id=tree.general, title="No", body="Nope")
    services.thread_reject(moderator_id=staff, thread_id=rejected.id, reason="Off topic")
    services.thread_delete(moderator_id=staff, thread_id=rejected.id)
    assert _kept() == _counted() == {staff: 1, member: 1, other: 1}


# --- Reactions and who reacted ------------------------------------------------------------------------


def test_reaction_buttons_say_what_they_are_and_who_reacted_is_listed(
    django_user_model: Any, client: Client, tree: Tree, staff: int, member: int, other: int
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="React", body="Hi")
    post_id = thread.first_post_id
    assert post_id is not None
    services.reaction_set(user_id=member, post_id=post_id, kind="like")
    services.reaction_set(user_id=other, post_id=post_id, kind="haha")

    page = signed_in(django_user_model, member).get(f"/threads/{thread.id}/").content.decode()
    like = next(
        attrs for _tag, attrs, _in in Outline(page).having("reactions__button") if attrs["value"] == "like"
    )
    assert like["aria-pressed"] == "true" and like["id"] == f"react-{post_id}-like"
    assert 'value="like" aria-pressed="true"><span class="reactions__label">Like</span>' in page
    assert '<span class="reactions__label">Like</span> <span class="reactions__count">1</span>' in page
    assert 'class="reactions__button reactions__button--empty"' in page  # a kind nobody chose yet
    assert '<details class="reactors">' in page  # shown: somebody reacted

    # Who reacted: the list alone for htmx, a page of its own without, latest first; one kind on asking.
    url = f"/posts/{post_id}/reactions/"
    listed = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in listed
    names = [attrs["href"] for tag, attrs, _in in Outline(listed).elements if tag == "a"]
    assert names == [f"/members/{other}/", f"/members/{member}/"]
    full = client.get(url).content.decode()
    assert "<html" in full and "Who reacted" in full and f'href="/posts/{post_id}/"' in full
    only = client.get(url, {"kind": "haha"}).content.decode()
    assert f'href="/members/{other}/"' in only and f'href="/members/{member}/"' not in only
    # Nobody reacted any more: no "Who reacted".
    services.reaction_clear(user_id=member, post_id=post_id)
    services.reaction_clear(user_id=other, post_id=post_id)
    assert 'class="reactors"' not in client.get(f"/threads/{thread.id}/").content.decode()
    assert "Nobody has reacted yet." in client.get(url, headers={"HX-Request": "true"}).content.decode()


def test_who_reacted_is_paged(tree: Tree, staff: int, make_member: Callable[..., int]) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="Many", body="Hi")
    assert thread.first_post_id is not None
    reactors = [make_member() for _ in range(5)]
    for reactor in reactors:
        services.reaction_set(user_id=reactor, post_id=thread.first_post_id, kind="love")
    first = selectors.reactor_page(post_id=thread.first_post_id, per_page=2)
    last = selectors.reactor_page(post_id=thread.first_post_id, page=3, per_page=2)
    assert (first.total, first.pages) == (5, 3)
    assert [reactor.user_id for reactor in first.items] == reactors[:-3:-1]
    assert [reactor.user_id for reactor in last.items] == reactors[:1]
    assert first.items[0].kind == "love" and first.items[0].label == "Love"


def test_who_reacted_is_not_shown_for_a_post_the_viewer_may_not_see(
    django_user_model: Any, client: Client, tree: Tree, staff: int, member: int
) -> None:
    status_grant(user_id=staff, status_code="agent", source="staff")  # may write in the exclusive forum
    waiting = services.thread_create(author_id=member, forum_id=tree.general, title="Wait", body="Hi")
    hidden = services.thread_create(author_id=staff, forum_id=tree.exclusive, title="Secret", body="Hi")
    public = services.thread_create(author_id=staff, forum_id=tree.general, title="Open", body="Hi")
    reply = services.post_create(author_id=member, thread_id=public.id, body="Soon gone")
    services.post_delete(user_id=staff, post_id=reply.id)
    for post_id in (waiting.first_post_id, hidden.first_post_id, reply.id, 10**12):
        assert client.get(f"/posts/{post_id}/reactions/").status_code == 404
        assert client.get(f"/posts/{post_id}/quote/").status_code == 404
    # The author sees their own thread waiting for moderation, and what reacted to it (nothing).
    author = signed_in(django_user_model, member)
    assert author.get(f"/posts/{waiting.first_post_id}/reactions/").status_code == 200


# --- Quoting ------------------------------------------------------------------------------------------


def test_quote_gives_the_post_and_the_reply_page_opens_with_it(
    django_user_model: Any, client: Client, tree: Tree, staff: int, member: int
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="Quote me", body="Start")
    quoted = services.post_create(
        author_id=staff,
        thread_id=thread.id,
        body=f"[quote=post:{thread.first_post_id}]\nStart\n[/quote]\n\nWell *said*",
    )
    expected = f"[quote=post:{quoted.id}]\nWell *said*\n[/quote]\n"

    answer = client.get(f"/posts/{quoted.id}/quote/")
    assert answer.status_code == 200 and answer["Content-Type"] == "text/plain; charset=utf-8"
    assert answer.content.decode() == expected

    # Without JavaScript: the Quote link of the post opens the reply page with the quote after the draft.
    browser = signed_in(django_user_model, member)
    page = browser.get(f"/threads/{thread.id}/").content.decode()
    assert f'href="/threads/{thread.id}/reply/?quote={quoted.id}" data-quote>' in page
    assert 'data-quote-url="/posts/0/quote/"' in page  # where the script asks for the quote
    services.draft_save(user_id=member, thread_id=thread.id, body="My draft")
    reply_page = browser.get(f"/threads/{thread.id}/reply/", {"quote": quoted.id})
    assert reply_page.status_code == 200
    assert "My draft\n\n[quote=post:" in reply_page.content.decode()
    assert "Well *said*\n[/quote]" in reply_page.content.decode()
    # A post the member may not see is not quoted; a guest signs in first.
    status_grant(user_id=staff, status_code="agent", source="staff")  # may write in the exclusive forum
    secret = services.thread_create(
        author_id=staff, forum_id=tree.exclusive, title="Hush", body="Secret words"
    )
    nothing = browser.get(f"/threads/{thread.id}/reply/?quote={secret.first_post_id}").content.decode()
    assert "Secret words" not in nothing and "[quote=" not in nothing
    assert client.get(f"/threads/{thread.id}/reply/").status_code == 302

    # Sent, the quote shows who wrote the quoted post, linked to it.
    reply = browser.post(f"/threads/{thread.id}/reply/", {"body": expected + "\nIndeed."})
    assert reply.status_code == 302
    shown = browser.get(f"/threads/{thread.id}/").content.decode()
    assert f'<blockquote class="quote" data-post-id="{quoted.id}"' in shown
    assert f'<p class="quote-source"><a href="/posts/{quoted.id}/" rel="nofollow ugc noopener">' in shown


def test_the_reply_page_is_refused_where_replying_is(
    django_user_model: Any, tree: Tree, staff: int, member: int
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="Closing", body="Hi")
    services.thread_close(moderator_id=staff, thread_id=thread.id)
    browser = signed_in(django_user_model, member)
    refused = browser.get(f"/threads/{thread.id}/reply/")
    assert refused.status_code == 403 and "The thread is closed." in refused.content.decode()
    page = browser.get(f"/threads/{thread.id}/").content.decode()
    assert "/reply/?quote=" not in page and "data-reply-to" not in page  # no Quote, no Reply
    assert signed_in(django_user_model, staff).get(f"/threads/{thread.id}/reply/").status_code == 200


# --- The action bar -----------------------------------------------------------------------------------


def test_the_action_bar_is_inline_and_delete_asks_first(
    django_user_model: Any, tree: Tree, staff: int, member: int
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="Bar", body="Hi")
    reply = services.post_create(author_id=member, thread_id=thread.id, body="Mine")
    page = signed_in(django_user_model, member).get(f"/threads/{thread.id}/").content.decode()
    outline = Outline(page)

    forms = [(attrs, inside) for tag, attrs, inside in outline.elements if tag == "form"]
    assert forms and not [attrs for attrs, inside in forms if "p" in inside]  # no form inside a <p>
    delete = next(
        (attrs, inside) for attrs, inside in forms if attrs.get("action") == f"/posts/{reply.id}/delete/"
    )
    assert "details" in delete[1]  # behind its question: "Delete this post?"
    assert "Delete this post?" in page
    actions = outline.having("post__actions")
    assert len(actions) == 2
    # Each action has its words, shown or (on a phone) for screen readers only.
    assert len(outline.having("post-action")) == len(outline.having("post-action__text"))
    # The report button: on the others' posts (staff's opening post), not on the member's own reply.
    report = f'href="/report/?kind=post&amp;id={thread.first_post_id}"'
    assert page.count('data-slot="report"><a class="post-action post-action--report"') == 1
    assert report in page and f"/report/?kind=post&amp;id={reply.id}" not in page
    assert page.count('<span class="post__slot" data-slot="report"></span>') == 1

    # A guest: nothing to report, react to or change, and no empty bar (nor its divider) under posts.
    guest = Client().get(f"/threads/{thread.id}/").content.decode()
    assert "/report/" not in guest and "post-action" not in guest
    assert not Outline(guest).having("post__footer") and not Outline(guest).having("post__actions")
    # ... but a bar with the reactions once somebody reacted.
    assert thread.first_post_id is not None
    services.reaction_set(user_id=member, post_id=thread.first_post_id, kind="like")
    reacted = Outline(Client().get(f"/threads/{thread.id}/").content.decode())
    assert len(reacted.having("post__footer")) == 1
