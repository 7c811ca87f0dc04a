"""Searching dialog messages: a member finds the messages of their own dialogs only, through the API
and the results page; someone else's dialog never shows in hits, counts or snippets (staff included,
as on the dialog pages). A group is found by a word of its title (each message carries it). Edits,
deletions, renames and changes of participants reach the index through the real handlers."""

from __future__ import annotations

from typing import Any

from apps.dialog import services
from apps.dialog.tests.conftest import Api, Web
from forum.testing.search import deliver_search_events


def messages(api: Any, text: str) -> tuple[list[int], int]:
    response = api.get("/api/v1/search", {"q": text, "kind": "message"})
    assert response.status_code == 200, response.content
    body = response.json()
    return [hit["id"] for hit in body["results"]], body["counts"]["message"]


def test_only_participants_find_a_message(
    api_as: Api, web: Web, alice: int, bob: int, carol: int, superuser: int
) -> None:
    dialog = services.dialog_start(starter_id=alice, recipient_id=bob).id
    message = services.message_create(
        author_id=alice, dialog_id=dialog, body="The treasure map is under the kettle"
    )
    deliver_search_events()
    for member in (alice, bob):
        assert messages(api_as(member), "treasure") == ([message.id], 1)
        page = web(member).get("/search/", {"q": "treasure", "kind": "message"}).content.decode()
        assert "<mark>treasure</mark>" in page
    for outsider in (carol, superuser):
        assert messages(api_as(outsider), "treasure") == ([], 0)
        page = web(outsider).get("/search/", {"q": "treasure", "kind": "message"}).content.decode()
        assert "kettle" not in page and "treasure</mark>" not in page
    # Not among the posts either, and guests may not search messages at all.
    posts = api_as(carol).get("/api/v1/search", {"q": "treasure", "kind": "post", "counts": "message"}).json()
    assert posts["total"] == 0 and "message" in posts["counts"] and posts["counts"]["message"] == 0
    assert api_as(None).get("/api/v1/search", {"q": "treasure", "kind": "message"}).status_code == 400

    services.message_edit(editor_id=alice, message_id=message.id, body="The gold is under the teapot")
    deliver_search_events()
    assert messages(api_as(bob), "treasure") == ([], 0)
    assert messages(api_as(bob), "teapots") == ([message.id], 1)
    services.message_delete(user_id=alice, message_id=message.id)
    deliver_search_events()
    assert messages(api_as(bob), "teapot") == ([], 0)


def test_joining_a_group_finds_its_history_and_leaving_stops(
    api_as: Api, alice: int, bob: int, carol: int
) -> None:
    group = services.dialog_group_start(owner_id=alice, title="Crew", participant_ids=[bob]).id
    message = services.message_create(author_id=bob, dialog_id=group, body="Lanterns at dawn")
    deliver_search_events()
    assert messages(api_as(carol), "lantern") == ([], 0)
    services.participants_add(owner_id=alice, dialog_id=group, user_ids=[carol])
    deliver_search_events()
    assert messages(api_as(carol), "lantern") == ([message.id], 1)
    services.participant_remove(owner_id=alice, dialog_id=group, user_id=carol)
    deliver_search_events()
    assert messages(api_as(carol), "lantern") == ([], 0)
    assert messages(api_as(bob), "lantern") == ([message.id], 1)


def test_a_group_is_found_by_a_word_of_its_title_by_its_participants_only(
    api_as: Api, web: Web, alice: int, bob: int, carol: int, superuser: int
) -> None:
    group = services.dialog_group_start(owner_id=alice, title="Lighthouse keepers", participant_ids=[bob]).id
    message = services.message_create(author_id=bob, dialog_id=group, body="Oil for the lamp arrives Tuesday")
    deliver_search_events()
    for member in (alice, bob):
        assert messages(api_as(member), "lighthouse") == ([message.id], 1)
        found = api_as(member).get("/api/v1/search", {"q": "keepers", "kind": "message"}).json()["results"]
        assert [hit["title"] for hit in found] == ["Lighthouse keepers"]
    for outsider in (carol, superuser):
        assert messages(api_as(outsider), "lighthouse") == ([], 0)
        page = web(outsider).get("/search/", {"q": "lighthouse", "kind": "message"}).content.decode()
        assert "Oil for the lamp" not in page and "Lighthouse" not in page

    # A rename (a form on the dialog's page) reaches every message of the group.
    response = web(alice).post(f"/dialogs/{group}/rename/", {"title": "Harbour pilots"})
    assert response.status_code == 302
    assert "dialog.search_on_renamed" in deliver_search_events()
    assert messages(api_as(bob), "lighthouse") == ([], 0)
    assert messages(api_as(bob), "harbour") == ([message.id], 1)
    assert messages(api_as(carol), "harbour") == ([], 0)
