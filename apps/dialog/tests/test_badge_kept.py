"""The header's badge of dialogs with unread messages, kept per member in Redis (forum.member_cache):
no query on a warm page, and a new message, a read, a deleted message or leaving a group change it on
the member's next request."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.dialog import services
from apps.dialog.tests.conftest import Web

BADGE = re.compile(r'<span class="dialog-badge" data-dialog-unread title="[^"]*"( hidden)?>(\d+)</span>')
COUNT_SQL = 'count(*) FROM "dialog_participant"'


@pytest.fixture(autouse=True)
def kept(settings: Any) -> None:
    settings.KEPT_PARTS_SECONDS = 300


def badge(client: Client) -> tuple[int, bool]:
    """The badge a page shows, and whether the page counted it in the database."""
    with CaptureQueriesContext(connection) as captured:
        html = client.get("/").content.decode()
    found = BADGE.search(html)
    assert found is not None
    counted = any(COUNT_SQL in query["sql"] for query in captured.captured_queries)
    return int(found.group(2)), counted


def test_a_new_message_and_reading_it_change_the_badge_at_once(
    alice: int, bob: int, web: Web, committed: Callable[[], AbstractContextManager[Any]]
) -> None:
    dialog = services.dialog_start(starter_id=alice, recipient_id=bob).id
    reader = web(bob)
    assert badge(reader) == (0, True)
    assert badge(reader) == (0, False)  # kept
    with committed():
        services.message_create(author_id=alice, dialog_id=dialog, body="Lunch?")
    assert badge(reader) == (1, True)
    assert badge(reader) == (1, False)
    with committed():
        services.message_create(author_id=alice, dialog_id=dialog, body="At noon.")
    assert badge(reader) == (1, True)  # still one dialog
    with committed():
        services.dialog_mark_read(user_id=bob, dialog_id=dialog)
    assert badge(reader) == (0, True)
    assert badge(reader) == (0, False)


def test_opening_the_dialog_clears_the_badge_of_that_very_page(
    alice: int, bob: int, web: Web, committed: Callable[[], AbstractContextManager[Any]]
) -> None:
    dialog = services.dialog_start(starter_id=alice, recipient_id=bob).id
    with committed():
        services.message_create(author_id=alice, dialog_id=dialog, body="Lunch?")
    reader = web(bob)
    assert badge(reader) == (1, True)
    assert badge(reader) == (1, False)  # kept before the page reads the dialog
    with committed():
        html = reader.get(f"/dialogs/{dialog}/").content.decode()
    shown = BADGE.search(html)
    assert shown is not None and shown.group(2) == "0"
    assert badge(reader) == (0, True)


def test_a_deleted_message_and_leaving_a_group_change_the_badge(
    alice: int, bob: int, carol: int, web: Web, committed: Callable[[], AbstractContextManager[Any]]
) -> None:
    group = services.dialog_group_start(owner_id=alice, title="Trip", participant_ids=[bob, carol]).id
    reader = web(bob)
    with committed():
        message = services.message_create(author_id=alice, dialog_id=group, body="Tickets booked")
    assert badge(reader)[0] == 1
    with committed():
        services.message_delete(user_id=alice, message_id=message.id)
    assert badge(reader) == (0, True)
    with committed():
        services.message_create(author_id=alice, dialog_id=group, body="Again")
    assert badge(reader)[0] == 1
    with committed():
        services.participant_remove(owner_id=alice, dialog_id=group, user_id=bob)
    assert badge(reader) == (0, True)
