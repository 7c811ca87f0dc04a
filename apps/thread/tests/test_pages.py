"""The thread pages without JavaScript, and their query counts, which do not grow with the page."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from PIL import Image

from apps.status.services import status_grant
from apps.thread import services
from apps.thread.tests.conftest import Tree
from apps.user.services import avatar_set, profile_update
from forum.testing.fixtures import local_upload_storages


def signed_in(django_user_model: Any, user_id: int) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.get(pk=user_id))
    return client


def test_the_index_shows_the_tree_and_keeps_the_welcome(client: Client, tree: Tree) -> None:
    page = client.get("/").content.decode()
    assert "Welcome to Forum" in page
    assert "General" in page and "Long stories" in page and "Agents only" not in page


def test_a_category_with_nothing_the_viewer_may_see_is_not_listed(
    client: Client, django_user_model: Any, make_member: Callable[..., int]
) -> None:
    """A guest saw the "Members' lounge" heading with nothing under it: its only forum is closed."""
    lounge = services.forum_create(name="Lounge", kind="category", position=9).id
    services.forum_create(name="Agents only", parent_id=lounge, read_permission="forum.read_exclusive")
    open_category = services.forum_create(name="Community", kind="category", position=1).id
    services.forum_create(name="General", parent_id=open_category)

    guest = client.get("/").content.decode()
    assert "Community" in guest and "General" in guest
    assert "Lounge" not in guest and "Agents only" not in guest
    agent = make_member()
    status_grant(user_id=agent, status_code="agent", source="staff")
    insider = signed_in(django_user_model, agent).get("/").content.decode()
    assert "Lounge" in insider and "Agents only" in insider


def test_the_new_thread_form_is_shown_only_to_who_may_post_there(
    django_user_model: Any, tree: Tree, member: int
) -> None:
    """The form of a forum one may not post in was shown and refused only when sent: now the page
    itself is refused, with the reason, and the forum offers no button to it."""
    announcements = services.forum_create(
        name="Announcements", parent_id=tree.category, post_permission="thread.moderate"
    ).id
    browser = signed_in(django_user_model, member)
    refused = browser.get(f"/forums/{announcements}/new/")
    assert refused.status_code == 403
    assert "You may not post in this forum." in refused.content.decode()
    assert 'name="title"' not in refused.content.decode()
    assert f"/forums/{announcements}/new/" not in browser.get(f"/forums/{announcements}/").content.decode()
    # A category takes no threads either; a forum one may post in shows its form and button.
    assert browser.get(f"/forums/{tree.category}/new/").status_code == 400
    assert browser.get(f"/forums/{tree.general}/new/").status_code == 200
    assert f"/forums/{tree.general}/new/" in browser.get(f"/forums/{tree.general}/").content.decode()


def test_a_member_starts_a_thread_replies_and_edits_through_forms(
    django_user_model: Any, tree: Tree, staff: int, other: int
) -> None:
    author = signed_in(django_user_model, staff)
    assert author.get(f"/forums/{tree.general}/new/").status_code == 200
    empty = author.post(f"/forums/{tree.general}/new/", {"title": "", "body": ""})
    assert empty.status_code == 400
    created = author.post(
        f"/forums/{tree.general}/new/", {"title": "From a form", "body": "Body <b>text</b>"}
    )
    assert created.status_code == 302
    thread_url = created["Location"]
    page = author.get(thread_url).content.decode()
    assert "From a form" in page and "Body &lt;b&gt;text&lt;/b&gt;" in page

    reader = signed_in(django_user_model, other)
    thread_id = int(thread_url.strip("/").split("/")[-1])
    reply = reader.post(f"/threads/{thread_id}/reply/", {"body": "A reply from the form"})
    assert reply.status_code == 302
    assert "A reply from the form" in reader.get(reply["Location"], follow=True).content.decode()

    # Closed by a moderator: the reply form is refused with the reason on the page.
    assert author.post(f"/threads/{thread_id}/moderate/", {"action": "close"}).status_code == 302
    refused = reader.post(f"/threads/{thread_id}/reply/", {"body": "Too late"})
    assert refused.status_code == 403 and "The thread is closed." in refused.content.decode()
    assert author.post(f"/threads/{thread_id}/moderate/", {"action": "nonsense"}).status_code == 404
    assert reader.post(f"/threads/{thread_id}/moderate/", {"action": "pin"}).status_code == 403


def test_a_pending_thread_page_is_the_authors_and_the_moderators_only(
    django_user_model: Any, client: Client, tree: Tree, member: int, other: int, staff: int
) -> None:
    thread = services.thread_create(author_id=member, forum_id=tree.general, title="Waiting", body="Hi")
    assert signed_in(django_user_model, member).get(f"/threads/{thread.id}/").status_code == 200
    moderator_page = signed_in(django_user_model, staff).get(f"/threads/{thread.id}/").content.decode()
    assert 'value="approve"' in moderator_page
    assert signed_in(django_user_model, other).get(f"/threads/{thread.id}/").status_code == 404
    assert client.get(f"/threads/{thread.id}/").status_code == 404
    assert "Waiting" not in client.get(f"/forums/{tree.general}/").content.decode()
    assert "Waiting" not in client.get("/").content.decode()


def test_jump_to_a_post_and_to_the_first_unread(
    django_user_model: Any, tree: Tree, staff: int, other: int, settings: Any
) -> None:
    thread = services.thread_create(author_id=staff, forum_id=tree.general, title="Long", body="Start")
    replies = [
        services.post_create(author_id=staff, thread_id=thread.id, body=f"Reply {number}")
        for number in range(25)
    ]
    reader = signed_in(django_user_model, other)
    response = reader.get(f"/posts/{replies[-1].id}/")
    assert response["Location"] == f"/threads/{thread.id}/?page=2#post-{replies[-1].id}"
    reader.get(f"/threads/{thread.id}/")  # reads the first page: positions 1 to 20
    jump = reader.get(f"/threads/{thread.id}/?unread=1")
    assert jump["Location"] == f"/threads/{thread.id}/?page=2#position-21"


# --- Query counts -------------------------------------------------------------------------------------


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


@pytest.fixture
def reader(django_user_model: Any, other: int) -> Client:
    client = signed_in(django_user_model, other)
    client.get("/")  # the first request of a session records it; the ones measured are ordinary
    return client


def test_the_index_runs_the_same_queries_for_one_forum_or_thirty(
    reader: Client, staff: int, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    category = services.forum_create(name="Cat", kind="category").id
    first = services.forum_create(name="F0", parent_id=category).id
    services.thread_create(author_id=staff, forum_id=first, title="T", body="B")
    one = _queries(reader, "/")
    for number in range(1, 30):
        forum_id = services.forum_create(name=f"F{number}", parent_id=category).id
        services.thread_create(author_id=staff, forum_id=forum_id, title="T", body="B")
    with django_assert_max_num_queries(one):
        reader.get("/")
    assert _queries(reader, "/") == one


def test_a_thread_list_runs_the_same_queries_for_one_thread_or_thirty(
    reader: Client,
    tree: Tree,
    staff: int,
    make_member: Callable[..., int],
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    services.thread_create(author_id=staff, forum_id=tree.general, title="T0", body="B")
    one = _queries(reader, f"/forums/{tree.general}/")
    for number in range(1, 30):
        author = make_member(is_staff=True)
        services.thread_create(author_id=author, forum_id=tree.general, title=f"T{number}", body="B")
    with django_assert_max_num_queries(one):
        reader.get(f"/forums/{tree.general}/")
    assert _queries(reader, f"/forums/{tree.general}/") == one
    assert _queries(reader, f"/api/v1/forums/{tree.general}/threads") <= one


def _with_file_and_reactions(author_id: int, reactors: list[int], post: Callable[[list[int]], int]) -> None:
    """A post with an attachment, reacted to by each of ``reactors``."""
    upload = services.attachment_upload(
        uploader_id=author_id, file=SimpleUploadedFile("a.pdf", b"%PDF-1.4\n%%EOF\n")
    )
    post_id = post([upload.id])
    for reactor in reactors:
        services.reaction_set(user_id=reactor, post_id=post_id, kind="like")


def test_a_thread_page_runs_the_same_queries_for_one_post_or_thirty(
    reader: Client,
    tree: Tree,
    staff: int,
    other: int,
    make_member: Callable[..., int],
    django_assert_max_num_queries: Callable[..., Any],
    settings: Any,
    tmp_path: Path,
) -> None:
    local_upload_storages(settings, tmp_path)
    fan = make_member()
    thread_id = 0

    def start(ids: list[int]) -> int:
        nonlocal thread_id
        thread = services.thread_create(
            author_id=staff, forum_id=tree.general, title="T", body="B", attachment_ids=ids
        )
        thread_id = thread.id
        assert thread.first_post_id is not None
        return thread.first_post_id

    def card_of(author: int, number: int) -> None:
        """What an author card shows, as heavy as it gets: a status, a signature, an avatar for some."""
        status_grant(user_id=author, status_code="agent" if number % 2 else "reader", source="staff")
        profile_update(user_id=author, signature=f"Yours, **number {number}**")
        if number % 3 == 0:
            picture = io.BytesIO()
            Image.new("RGB", (64, 64), "teal").save(picture, format="PNG")
            picture.seek(0)
            avatar_set(user_id=author, file=picture, filename="me.png")

    # Attachments and reactions (the reader's own among them) are one query each, whatever the page;
    # the authors' cards (profiles, badges, roles) a few more, whatever the page.
    card_of(staff, 0)
    _with_file_and_reactions(staff, [other, fan], start)
    one = _queries(reader, f"/threads/{thread_id}/")
    for number in range(29):
        author = make_member()
        card_of(author, number + 1)
        _with_file_and_reactions(
            author,
            [other, fan],
            lambda ids, author=author, number=number: (
                services.post_create(
                    author_id=author, thread_id=thread_id, body=f"Reply {number}", attachment_ids=ids
                ).id
            ),
        )
    with django_assert_max_num_queries(one):
        page = reader.get(f"/threads/{thread_id}/").content.decode()
    assert page.count('aria-pressed="true"') == 20 and page.count("/thumbnail/") == 0
    assert page.count('.pdf" download>') == 20
    # Twenty authors: twenty cards, each with a link to the profile, badges, a signature.
    assert page.count('class="author-card__name"') == 20 and page.count('<details class="signature"') == 20
    assert page.count('class="badge badge--status"') == 20 and page.count('class="author-card__image"') == 7
    assert _queries(reader, f"/threads/{thread_id}/?page=2") == one
    # Read to the end already: the read mark only moves forward, so going back writes nothing.
    assert _queries(reader, f"/threads/{thread_id}/") == one - 1
    assert _queries(reader, f"/api/v1/threads/{thread_id}/posts") <= one
