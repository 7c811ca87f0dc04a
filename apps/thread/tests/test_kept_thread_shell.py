"""A member's whole thread page kept per shape in the process (forum/kept_html.py) and filled per
request: each member still gets their own header, messages, CSRF token, draft, watch button and marks,
and a change of what the page shows (the thread's title, its state, the page's posts) is seen at once."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.thread.models import Forum
from apps.thread.services import (
    draft_save,
    post_create,
    thread_approve,
    thread_close,
    thread_create,
    thread_pin,
)
from apps.thread.tests.conftest import Tree
from apps.thread.tests.test_profile_freshness import CaptureCommits
from forum import kept_html

pytestmark = pytest.mark.usefixtures("kept_parts")


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each time a whole thread page is rendered (not filled from the kept one)."""
    done: list[str] = []
    real = kept_html.render_to_string

    def spy(template_name: str, *args: Any, **kwargs: Any) -> Any:
        if template_name == "thread/thread.html":
            done.append(template_name)
        return real(template_name, *args, **kwargs)

    monkeypatch.setattr(kept_html, "render_to_string", spy)
    return done


@pytest.fixture
def thread_id(tree: Tree, other: int, staff: int, committed: Callable[[], Any]) -> int:
    with committed():
        made = thread_create(author_id=other, forum_id=tree.general, title="Harbour lights", body="Opening")
        if made.state != "approved":  # a new member's first thread waits for a moderator
            thread_approve(moderator_id=staff, thread_id=made.id)
    return made.id


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<!--hole:" not in html
    return html


def textarea(html: str) -> str:
    found = re.search(r'<textarea name="body"[^>]*>\n?(.*?)</textarea>', html, re.S)
    assert found is not None
    return found.group(1)


def test_two_members_share_the_page_and_keep_their_own_bits(
    thread_id: int,
    member: int,
    staff: int,
    make_member: Callable[..., int],
    client_for: Callable[..., Client],
    renders: list[str],
    django_user_model: Any,
) -> None:
    second = make_member()
    draft_save(user_id=member, thread_id=thread_id, body="My <b>half</b>-written reply")
    url = f"/threads/{thread_id}/"
    second_client = client_for(second)
    watched = second_client.post(f"/notifications/watch/thread/{thread_id}/", {"next": url})
    assert watched.status_code == 302

    first_html = page(client_for(member), url)
    second_html = page(second_client, url)
    assert renders == ["thread/thread.html"]  # rendered once, filled twice

    # The header is each member's own.
    name = django_user_model.objects.get(pk=member).username
    second_name = django_user_model.objects.get(pk=second).username
    assert name in first_html and second_name not in first_html
    assert second_name in second_html and name not in second_html
    # Their drafts, escaped, and the discard button shown only with one.
    assert textarea(first_html) == "My &lt;b&gt;half&lt;/b&gt;-written reply"
    assert textarea(second_html) == ""
    assert re.search(r"data-draft-discard>", first_html)
    assert re.search(r"data-draft-discard hidden>", second_html)
    # Their watch buttons.
    assert 'aria-pressed="false"' in first_html.split('class="watch-button"')[1].split("</form>")[0]
    assert 'aria-pressed="true"' in second_html.split('class="watch-button"')[1].split("</form>")[0]


def test_each_member_gets_their_own_csrf_token(
    thread_id: int, member: int, make_member: Callable[..., int], client_for: Callable[..., Client]
) -> None:
    second = make_member()
    url = f"/threads/{thread_id}/"
    clients = {member: client_for(member, csrf_checks=True), second: client_for(second, csrf_checks=True)}
    tokens = {}
    for who, client in clients.items():
        html = page(client, url)
        found = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        found += re.findall(r'"X-CSRFToken": "([^"]+)"', html)
        # Masked differently here and there, every token on the page (the header's, the footer's, the
        # posts', the reply form's) is the member's one secret: none was kept from another member.
        secrets = {_unmask_cipher_token(token) for token in found}
        assert len(found) > 2 and len(secrets) == 1
        tokens[who] = found[0]
    assert _unmask_cipher_token(tokens[member]) != _unmask_cipher_token(tokens[second])
    # Each token works for its member: the watch form posts (a 302 back), not a 403.
    response = clients[member].post(
        f"/notifications/watch/thread/{thread_id}/", {"csrfmiddlewaretoken": tokens[member], "next": url}
    )
    assert response.status_code == 302
    # The message it leaves is shown on the kept page, to that member only.
    assert "You are watching it now." in page(clients[member], url)
    assert "You are watching it now." not in page(clients[second], url)


def test_what_the_page_shows_is_seen_at_once(
    thread_id: int,
    member: int,
    staff: int,
    client_for: Callable[..., Client],
    committed: Callable[[], Any],
    renders: list[str],
) -> None:
    client = client_for(member)
    url = f"/threads/{thread_id}/"
    assert '<span class="badge">Pinned</span>' not in page(client, url)
    with committed():
        thread_pin(moderator_id=staff, thread_id=thread_id)
    assert '<span class="badge">Pinned</span>' in page(client, url)
    with committed():
        post_create(author_id=staff, thread_id=thread_id, body="A reply that changes the page")
    assert "A reply that changes the page" in page(client, url)
    with committed():
        thread_close(moderator_id=staff, thread_id=thread_id)
    html = page(client, url)
    assert "The thread is closed." in html and 'name="body"' not in html
    assert len(renders) == 4


def test_a_moderator_page_is_not_a_members(
    thread_id: int, member: int, staff: int, client_for: Callable[..., Client]
) -> None:
    url = f"/threads/{thread_id}/"
    assert 'id="moderation-title"' in page(client_for(staff), url)
    assert 'id="moderation-title"' not in page(client_for(member), url)


def test_the_forums_structure_is_kept_and_a_forum_saved_in_the_admin_shows_at_once(
    thread_id: int, tree: Tree, member: int, client_for: Callable[..., Client], admin_client: Client
) -> None:
    client = client_for(member)
    url = f"/threads/{thread_id}/"
    assert "General" in page(client, url)
    # Warm: the thread page reads no forum row (the structure is kept; its counters are not shown).
    with CaptureQueriesContext(connection) as queries:
        page(client, url)
    assert not [q for q in queries.captured_queries if '"thread_forum"' in q["sql"]]
    forum = Forum.objects.get(pk=tree.general)
    form = {
        "name": "General chatter",
        "kind": forum.kind,
        "slug": forum.slug,
        "description": forum.description,
        "position": forum.position,
        "read_permission": forum.read_permission,
        "post_permission": forum.post_permission,
    }
    with CaptureCommits() as commits:
        response = admin_client.post(f"/admin/thread/forum/{tree.general}/change/", form)
    assert response.status_code == 302
    commits.run()
    assert "General chatter" in page(client, url)
    # A forum closed to plain members in the admin closes its threads to them at once.
    form["read_permission"] = "forum.read_exclusive"
    with CaptureCommits() as commits:
        assert admin_client.post(f"/admin/thread/forum/{tree.general}/change/", form).status_code == 302
    commits.run()
    assert client.get(url).status_code == 404
