"""Dialogs from the outside, through the API: starting them, groups and their limits by status, messages,
the edit window, read state and "seen by", cursor pages both ways, and who may see what (participants
only: another member, a guest and staff all get 404)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from apps.authorization.services import access_ban_set, role_assign
from apps.dialog import services
from apps.dialog.tests.conftest import Api
from apps.status.services import status_define, status_grant

# --- Starting dialogs ---------------------------------------------------------------------------------


def test_starting_a_one_to_one_dialog_twice_returns_the_existing_one(
    api_as: Api, alice: int, bob: int
) -> None:
    first = api_as(alice).post("/api/v1/dialogs", {"participant_ids": [bob], "body": "Hi Bob"}, format="json")
    assert first.status_code == 201, first.json()
    dialog = first.json()
    assert dialog["is_group"] is False and dialog["created"] is True
    assert sorted(dialog["participant_ids"]) == sorted([alice, bob])

    again = api_as(alice).post("/api/v1/dialogs", {"participant_ids": [bob]}, format="json")
    assert (
        again.status_code == 200 and again.json()["id"] == dialog["id"] and again.json()["created"] is False
    )
    # Bob starting it from his side finds the same dialog.
    back = api_as(bob).post("/api/v1/dialogs", {"participant_ids": [alice]}, format="json")
    assert back.status_code == 200 and back.json()["id"] == dialog["id"]

    listed = api_as(bob).get("/api/v1/dialogs").json()
    assert [item["id"] for item in listed["dialogs"]] == [dialog["id"]]
    assert listed["dialogs"][0]["unread_count"] == 1
    assert listed["dialogs"][0]["last_message"]["text"] == "Hi Bob"
    assert listed["dialogs"][0]["name"] == api_as(alice).get(f"/api/v1/members/{alice}").json()["username"]


def test_a_dialog_with_oneself_is_refused(api_as: Api, alice: int) -> None:
    response = api_as(alice).post("/api/v1/dialogs", {"participant_ids": [alice]}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "dialog_self"


def test_guests_have_no_dialogs(api_as: Api) -> None:
    assert api_as(None).get("/api/v1/dialogs").status_code == 401
    assert api_as(None).post("/api/v1/dialogs", {"participant_ids": [1]}, format="json").status_code == 401


def test_the_list_is_ordered_by_last_activity(api_as: Api, alice: int, bob: int, carol: int) -> None:
    with_bob = services.dialog_start(starter_id=alice, recipient_id=bob).id
    with_carol = services.dialog_start(starter_id=alice, recipient_id=carol).id
    services.message_create(author_id=bob, dialog_id=with_bob, body="first")
    services.message_create(author_id=carol, dialog_id=with_carol, body="second")
    assert [d["id"] for d in api_as(alice).get("/api/v1/dialogs").json()["dialogs"]] == [with_carol, with_bob]
    services.message_create(author_id=bob, dialog_id=with_bob, body="third")
    listed = api_as(alice).get("/api/v1/dialogs").json()["dialogs"]
    assert [d["id"] for d in listed] == [with_bob, with_carol]
    assert [d["unread_count"] for d in listed] == [2, 1]
    assert api_as(alice).get("/api/v1/dialogs/unread").json() == {"unread_dialogs": 2}


# --- Groups and the permission engine -----------------------------------------------------------------


def _group(api: Any, title: str, ids: list[int]) -> Any:
    return api.post("/api/v1/dialogs", {"participant_ids": ids, "title": title}, format="json")


def test_group_size_comes_from_the_permission_engine_and_a_status_raises_it(
    api_as: Api, alice: int, make_member: Callable[..., int]
) -> None:
    others = [make_member() for _ in range(6)]
    # Members get 5 participants, the owner included.
    refused = _group(api_as(alice), "Big", others)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "too_many_participants"
    assert _group(api_as(alice), "Small", others[:4]).status_code == 201

    # Reader raises dialog.max_participants to 20.
    status_grant(user_id=alice, status_code="reader", source="staff")
    created = _group(api_as(alice), "Big", others)
    assert created.status_code == 201, created.json()
    dialog_id = created.json()["id"]

    # The owner's limit also bounds adding members later.
    more = [make_member() for _ in range(14)]
    too_many = api_as(alice).post(
        f"/api/v1/dialogs/{dialog_id}/participants", {"user_ids": more}, format="json"
    )
    assert too_many.status_code == 400 and too_many.json()["error"]["code"] == "too_many_participants"
    fits = api_as(alice).post(
        f"/api/v1/dialogs/{dialog_id}/participants", {"user_ids": more[:13]}, format="json"
    )
    assert fits.status_code == 200 and len(fits.json()["participant_ids"]) == 20


def test_who_may_start_dialogs_and_how_many_a_day_come_from_statuses(
    api_as: Api, alice: int, make_member: Callable[..., int]
) -> None:
    others = [make_member() for _ in range(12)]
    for other in others[:10]:
        assert (
            api_as(alice).post("/api/v1/dialogs", {"participant_ids": [other]}, format="json").status_code
            == 201
        )
    used_up = api_as(alice).post("/api/v1/dialogs", {"participant_ids": [others[10]]}, format="json")
    assert used_up.status_code == 429 and "Retry-After" in used_up
    # An existing dialog costs nothing.
    assert (
        api_as(alice).post("/api/v1/dialogs", {"participant_ids": [others[0]]}, format="json").status_code
        == 200
    )

    status_define(code="talker", name="Talker", permissions={"dialog.start_per_day": 50})
    status_grant(user_id=alice, status_code="talker", source="staff")
    assert (
        api_as(alice).post("/api/v1/dialogs", {"participant_ids": [others[10]]}, format="json").status_code
        == 201
    )

    # A ban takes dialog.start away.
    access_ban_set(user_id=alice)
    banned = api_as(alice).post("/api/v1/dialogs", {"participant_ids": [others[11]]}, format="json")
    assert banned.status_code == 403


def test_the_owner_manages_a_group_and_anyone_may_leave(
    api_as: Api, alice: int, bob: int, carol: int
) -> None:
    dialog = _group(api_as(alice), "Trio", [bob]).json()
    path = f"/api/v1/dialogs/{dialog['id']}"
    assert api_as(bob).post(f"{path}/participants", {"user_ids": [carol]}, format="json").status_code == 403
    added = api_as(alice).post(f"{path}/participants", {"user_ids": [carol]}, format="json")
    assert added.status_code == 200 and sorted(added.json()["participant_ids"]) == sorted([alice, bob, carol])
    assert api_as(carol).get(path).status_code == 200

    assert api_as(bob).delete(f"{path}/participants/{carol}").status_code == 403
    assert api_as(alice).delete(f"{path}/participants/{carol}").status_code == 200
    assert api_as(carol).get(path).status_code == 404  # removed: as if the dialog did not exist

    renamed = api_as(alice).patch(path, {"title": "Duo"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["title"] == "Duo"
    assert api_as(bob).patch(path, {"title": "Mine"}, format="json").status_code == 403

    # The owner leaves: the group goes to the member who has been in it longest.
    left = api_as(alice).delete(f"{path}/participants/{alice}")
    assert left.status_code == 200 and left.json()["owner_id"] == bob
    assert api_as(alice).get(path).status_code == 404
    assert api_as(bob).get(path).json()["owner_id"] == bob


def test_a_one_to_one_dialog_cannot_be_left(api_as: Api, alice: int, bob: int) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    response = api_as(alice).delete(f"/api/v1/dialogs/{dialog_id}/participants/{alice}")
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_a_group"


# --- Who sees what ------------------------------------------------------------------------------------


def test_only_participants_see_a_dialog_and_staff_are_no_exception(
    api_as: Api, alice: int, bob: int, carol: int, superuser: int, make_member: Callable[..., int]
) -> None:
    support = make_member()
    role_assign(user_id=support, role="support")
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    message = services.message_create(author_id=alice, dialog_id=dialog_id, body="secret")
    missing = dialog_id + 1000
    for outsider in (carol, superuser, support):
        api = api_as(outsider)
        answers = [
            api.get(f"/api/v1/dialogs/{dialog_id}"),
            api.get(f"/api/v1/dialogs/{dialog_id}/messages"),
            api.get(f"/api/v1/dialogs/{dialog_id}/messages/{message.id}"),
            api.post(f"/api/v1/dialogs/{dialog_id}/messages", {"body": "me too"}, format="json"),
            api.post(f"/api/v1/dialogs/{dialog_id}/read", {}, format="json"),
            api.patch(f"/api/v1/dialogs/{dialog_id}/messages/{message.id}", {"body": "x"}, format="json"),
            api.delete(f"/api/v1/dialogs/{dialog_id}/messages/{message.id}"),
            api.post(f"/api/v1/dialogs/{dialog_id}/participants", {"user_ids": [outsider]}, format="json"),
        ]
        assert [answer.status_code for answer in answers] == [404] * len(answers)
        # Exactly what a dialog that does not exist answers.
        assert answers[0].json() == api.get(f"/api/v1/dialogs/{missing}").json()
        assert api.get("/api/v1/dialogs").json()["dialogs"] == []
    assert "secret" not in str(api_as(superuser).get("/api/v1/dialogs").content)


# --- Blocks and privacy -------------------------------------------------------------------------------


def test_a_blocked_member_learns_nothing_more_than_that_they_cannot_write(
    api_as: Api, alice: int, bob: int, carol: int, make_member: Callable[..., int]
) -> None:
    existing = services.dialog_start(starter_id=alice, recipient_id=bob).id
    assert api_as(bob).post("/api/v1/dialogs/blocks", {"user_id": alice}, format="json").status_code == 200
    # Carol refuses dialogs from people she does not follow.
    assert (
        api_as(carol).put("/api/v1/dialogs/privacy", {"followed_only": True}, format="json").status_code
        == 200
    )
    nobody = make_member()
    get_user_model().objects.filter(pk=nobody).delete()  # a valid-looking id that names nobody

    refusals = [
        api_as(alice).post(f"/api/v1/dialogs/{existing}/messages", {"body": "hello?"}, format="json"),
        api_as(alice).post("/api/v1/dialogs", {"participant_ids": [carol]}, format="json"),
        api_as(alice).post("/api/v1/dialogs", {"participant_ids": [nobody]}, format="json"),
        api_as(alice).post("/api/v1/dialogs", {"participant_ids": [bob, carol], "title": "G"}, format="json"),
    ]
    assert [r.status_code for r in refusals] == [403] * 4
    bodies = {str(r.json()["error"]) for r in refusals}
    assert len(bodies) == 1  # the same answer whatever the reason
    assert refusals[0].json()["error"]["code"] == "cannot_message"
    assert refusals[0].json()["error"]["message"] == "You cannot message this member."

    # Bob, who blocked, is told so when he tries to write; the block lifts both ways when he undoes it.
    own = api_as(bob).post(f"/api/v1/dialogs/{existing}/messages", {"body": "hi"}, format="json")
    assert own.status_code == 403 and own.json()["error"]["code"] == "blocked_by_you"
    assert [b["user_id"] for b in api_as(bob).get("/api/v1/dialogs/blocks").json()["blocks"]] == [alice]
    assert api_as(bob).delete(f"/api/v1/dialogs/blocks/{alice}").status_code == 204
    assert (
        api_as(alice).post(f"/api/v1/dialogs/{existing}/messages", {"body": "hi"}, format="json").status_code
        == 201
    )


def test_who_refuses_dialogs_still_hears_from_people_they_follow_and_staff(
    api_as: Api, alice: int, bob: int, carol: int, make_member: Callable[..., int]
) -> None:
    services.dialog_privacy_set(user_id=carol, followed_only=True)
    assert (
        api_as(alice).post("/api/v1/dialogs", {"participant_ids": [carol]}, format="json").status_code == 403
    )
    assert api_as(carol).put(f"/api/v1/users/{alice}/follow/", format="json").json() == {"following": True}
    assert (
        api_as(alice).post("/api/v1/dialogs", {"participant_ids": [carol]}, format="json").status_code == 201
    )

    support = make_member()
    role_assign(user_id=support, role="support")
    assert (
        api_as(support).post("/api/v1/dialogs", {"participant_ids": [carol]}, format="json").status_code
        == 201
    )
    # Nor can a member be added to a group against the choice.
    group = services.dialog_group_start(owner_id=bob, title="G", participant_ids=[alice])
    added = api_as(bob).post(f"/api/v1/dialogs/{group.id}/participants", {"user_ids": [carol]}, format="json")
    assert added.status_code == 403 and added.json()["error"]["code"] == "cannot_message"


def test_blocking_publishes_member_blocked_once(
    alice: int, bob: int, outbox: Callable[[str], list[Any]]
) -> None:
    assert services.block_add(user_id=alice, blocked_id=bob) is True
    assert services.block_add(user_id=alice, blocked_id=bob) is False
    assert outbox("dialog.member_blocked") == [{"user_id": alice, "blocked_id": bob}]
    assert services.block_exists(user_id=alice, blocked_id=bob)
    assert not services.block_exists(user_id=bob, blocked_id=alice)


# --- Messages, the edit window, read state ------------------------------------------------------------


def test_messages_are_markdown_rendered_and_sanitized_like_posts(api_as: Api, alice: int, bob: int) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    body = "**bold** <script>alert(1)</script> [x](javascript:alert(1))"
    assert (
        api_as(alice).post(f"/api/v1/dialogs/{dialog_id}/messages", {"body": body}, format="json").status_code
        == 201
    )
    message = api_as(bob).get(f"/api/v1/dialogs/{dialog_id}/messages").json()["messages"][0]
    assert "<strong>bold</strong>" in message["body_html"]
    assert "<script>" not in message["body_html"] and "&lt;script&gt;" in message["body_html"]
    assert 'href="javascript' not in message["body_html"]
    assert message["body"] == body


def test_own_messages_can_be_changed_within_the_window(
    api_as: Api, alice: int, bob: int, clock: Any, settings: Any, outbox: Callable[[str], list[Any]]
) -> None:
    settings.DIALOG_MESSAGE_EDIT_WINDOW_MINUTES = 10
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    first = services.message_create(author_id=alice, dialog_id=dialog_id, body="typo")
    second = services.message_create(author_id=alice, dialog_id=dialog_id, body="later")
    path = f"/api/v1/dialogs/{dialog_id}/messages"
    assert api_as(bob).patch(f"{path}/{first.id}", {"body": "his"}, format="json").status_code == 403
    assert api_as(alice).patch(f"{path}/{first.id}", {"body": "fixed"}, format="json").status_code == 200
    assert api_as(alice).get(f"{path}/{first.id}").json()["body"] == "fixed"
    assert outbox("dialog.message_edited")[0]["message_id"] == first.id

    clock.move(minutes=11)
    late = api_as(alice).patch(f"{path}/{first.id}", {"body": "again"}, format="json")
    assert late.status_code == 403 and late.json()["error"]["code"] == "edit_window_over"
    assert api_as(alice).delete(f"{path}/{second.id}").status_code == 403
    assert api_as(alice).get(f"{path}/{first.id}").json()["can_change"] is False

    settings.DIALOG_MESSAGE_EDIT_WINDOW_MINUTES = 60
    assert api_as(alice).delete(f"{path}/{second.id}").status_code == 204
    assert [m["id"] for m in api_as(bob).get(path).json()["messages"]] == [first.id]
    assert api_as(alice).get(f"{path}/{second.id}").status_code == 404
    # The deleted message no longer waits for Bob, and the list shows the message before it.
    listed = api_as(bob).get("/api/v1/dialogs").json()["dialogs"][0]
    assert listed["unread_count"] == 1 and listed["last_message"]["id"] == first.id
    assert outbox("dialog.message_deleted") == [
        {"dialog_id": dialog_id, "message_id": second.id, "author_id": alice, "participant_ids": [alice, bob]}
    ]


def test_read_receipts_move_forward_and_tell_message_seen(
    api_as: Api, alice: int, bob: int, carol: int, outbox: Callable[[str], list[Any]]
) -> None:
    dialog = services.dialog_group_start(owner_id=alice, title="Read", participant_ids=[bob, carol])
    ids = [services.message_create(author_id=alice, dialog_id=dialog.id, body=f"m{n}").id for n in range(3)]
    assert not services.message_seen(user_id=bob, dialog_id=dialog.id, message_id=ids[0])
    assert services.message_seen(user_id=alice, dialog_id=dialog.id, message_id=ids[2])  # her own

    read = api_as(bob).post(f"/api/v1/dialogs/{dialog.id}/read", {"message_id": ids[1]}, format="json")
    assert read.status_code == 200 and read.json()["unread_count"] == 1
    assert services.message_seen(user_id=bob, dialog_id=dialog.id, message_id=ids[1])
    assert not services.message_seen(user_id=bob, dialog_id=dialog.id, message_id=ids[2])
    # Never back; a made-up id far ahead stops at the dialog's last message.
    api_as(bob).post(f"/api/v1/dialogs/{dialog.id}/read", {"message_id": ids[0]}, format="json")
    assert services.message_seen(user_id=bob, dialog_id=dialog.id, message_id=ids[1])
    ahead = api_as(bob).post(f"/api/v1/dialogs/{dialog.id}/read", {"message_id": 2**62}, format="json").json()
    assert ahead["last_read_message_id"] == ids[2] and ahead["unread_count"] == 0

    messages = api_as(alice).get(f"/api/v1/dialogs/{dialog.id}/messages").json()["messages"]
    assert [m["seen_by"] for m in messages] == [[bob], [bob], [bob]]
    assert [e["message_id"] for e in outbox("dialog.read")] == [ids[1], ids[2]]

    # Who is not a participant any more has nothing waiting.
    services.dialog_leave(user_id=carol, dialog_id=dialog.id)
    assert services.message_seen(user_id=carol, dialog_id=dialog.id, message_id=ids[2])


def test_an_event_tells_the_recipients_with_a_plain_excerpt(
    alice: int, bob: int, outbox: Callable[[str], list[Any]]
) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    services.message_create(author_id=alice, dialog_id=dialog_id, body="**Hello** " + "x" * 400)
    [event] = outbox("dialog.message_created")
    assert event["recipient_ids"] == [bob] and event["author_id"] == alice
    assert event["excerpt"].startswith("Hello x") and len(event["excerpt"]) == 200
    assert outbox("dialog.created")[0]["participant_ids"] == [alice, bob]


# --- Cursor pagination --------------------------------------------------------------------------------


@pytest.fixture
def long_dialog(alice: int, bob: int) -> tuple[int, list[int]]:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    ids = [
        services.message_create(author_id=alice if n % 2 else bob, dialog_id=dialog_id, body=f"n{n}").id
        for n in range(12)
    ]
    return dialog_id, ids


def test_cursor_pages_go_both_ways_from_any_message(api_as: Api, alice: int, long_dialog: Any) -> None:
    dialog_id, ids = long_dialog
    path = f"/api/v1/dialogs/{dialog_id}/messages"
    api = api_as(alice)

    latest = api.get(path, {"limit": 5}).json()
    assert [m["id"] for m in latest["messages"]] == ids[-5:]
    assert latest["has_before"] is True and latest["has_after"] is False

    older = api.get(path, {"limit": 5, "before": ids[-5]}).json()
    assert [m["id"] for m in older["messages"]] == ids[2:7]
    assert older["has_before"] is True and older["has_after"] is True
    oldest = api.get(path, {"limit": 5, "before": ids[2]}).json()
    assert [m["id"] for m in oldest["messages"]] == ids[:2] and oldest["has_before"] is False

    # Forward from any message: what a tab that reconnects asks for, with no gap and no repeat.
    seen: list[int] = []
    cursor = ids[3]
    while True:
        page = api.get(path, {"limit": 4, "after": cursor}).json()
        seen += [m["id"] for m in page["messages"]]
        if not page["has_after"]:
            break
        cursor = page["messages"][-1]["id"]
    assert seen == ids[4:]
    first_forward = api.get(path, {"limit": 4, "after": ids[3]}).json()
    assert first_forward["has_before"] is True
    assert api.get(path, {"after": ids[-1]}).json() == {
        "messages": [],
        "has_before": True,
        "has_after": False,
    }


def test_cursors_are_checked(api_as: Api, alice: int, long_dialog: Any) -> None:
    dialog_id, ids = long_dialog
    path = f"/api/v1/dialogs/{dialog_id}/messages"
    assert api_as(alice).get(path, {"before": ids[3], "after": ids[1]}).status_code == 400
    assert api_as(alice).get(path, {"after": "abc"}).status_code == 400
    assert api_as(alice).get(path, {"after": "9" * 40}).status_code == 400
    assert api_as(alice).get(path, {"limit": 1000}).status_code == 200
