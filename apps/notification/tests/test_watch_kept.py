"""The Watch button's state, remembered per member with their session (forum.member_cache): a thread
page they come back to asks no query for it, and watching, unwatching, a reply that watches and a
deleted thread's watches show on their next page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.notification import services
from apps.notification.tests.conftest import Handler, Tree, start_thread
from apps.thread import services as threads

pytestmark = pytest.mark.usefixtures("kept_parts")

Web = Callable[[int | None], Client]
WATCH_SQL = 'FROM "notification_watch"'


def button(client: Client, thread_id: int) -> tuple[bool, bool]:
    """Whether the thread page's Watch button says the member watches, and whether the page asked the
    database for it."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/threads/{thread_id}/")
    assert response.status_code == 200
    form = response.content.decode().split('class="watch-button"')[1].split("</form>")[0]
    asked = any(WATCH_SQL in query["sql"] for query in captured.captured_queries)
    return 'aria-pressed="true"' in form, asked


def test_the_button_is_remembered_and_follows_every_change(
    tree: Tree, alice: int, bob: int, web_as: Web, handle: Handler, committed: Any
) -> None:
    thread_id, _first = start_thread(alice, tree.general)
    other_id, _other_first = start_thread(alice, tree.general, title="Another")
    client = web_as(bob)
    assert button(client, thread_id) == (False, True)
    assert button(client, thread_id) == (False, False), "remembered: no query"
    assert button(client, other_id) == (False, True)
    assert button(client, thread_id) == (False, False), "both remembered"

    with committed():
        services.watch_set(user_id=bob, target="thread", target_id=thread_id)
    assert button(client, thread_id) == (True, True), "watching shows at once"
    assert button(client, thread_id) == (True, False)

    with committed():
        services.watch_unset(user_id=bob, target="thread", target_id=thread_id)
    assert button(client, thread_id) == (False, True)

    # Replying watches again only a thread never unwatched: the other one.
    with committed():
        threads.post_create(author_id=bob, thread_id=other_id, body="I have a thought")
        handle()
    assert button(client, other_id) == (True, True)
    assert button(client, other_id) == (True, False)


def test_the_buttons_own_form_changes_it(tree: Tree, alice: int, bob: int, web_as: Web) -> None:
    thread_id, _first = start_thread(alice, tree.general)
    client = web_as(bob)
    assert button(client, thread_id)[0] is False
    url = f"/threads/{thread_id}/"
    assert client.post(f"/notifications/watch/thread/{thread_id}/", {"next": url}).status_code == 302
    assert button(client, thread_id)[0] is True
    assert client.post(f"/notifications/unwatch/thread/{thread_id}/", {"next": url}).status_code == 302
    assert button(client, thread_id)[0] is False


def test_another_members_watch_is_not_theirs(
    tree: Tree, alice: int, bob: int, carol: int, web_as: Web
) -> None:
    thread_id, _first = start_thread(alice, tree.general)
    bobs, carols = web_as(bob), web_as(carol)
    assert button(bobs, thread_id)[0] is False
    assert button(carols, thread_id)[0] is False
    services.watch_set(user_id=bob, target="thread", target_id=thread_id)
    assert button(bobs, thread_id)[0] is True
    assert button(carols, thread_id) == (False, False)
