"""The dialog pages without JavaScript (plain links and forms), the header's badge, and query counts
that do not grow with what a page holds."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.dialog import services
from apps.dialog.models import Message
from apps.dialog.tests.conftest import Api, Web, username
from forum.tests.test_pages import Page

# --- Reading and writing through the pages ------------------------------------------------------------


def test_a_member_starts_a_dialog_from_a_profile_and_talks_through_forms(
    web: Web, api_as: Api, django_user_model: Any, alice: int, bob: int
) -> None:
    alice_web, bob_web = web(alice), web(bob)
    profile = Page(alice_web.get(f"/members/{bob}/").content.decode())
    assert f"/dialogs/new/?to={bob}" in profile.urls()

    form = alice_web.get(f"/dialogs/new/?to={bob}").content.decode()
    assert f'value="{username(django_user_model, bob)}"' in form
    created = alice_web.post(
        "/dialogs/new/",
        {"recipients": username(django_user_model, bob), "body": "Hello **Bob**", "attachments": []},
    )
    assert created.status_code == 302
    dialog_url = created["Location"].split("#")[0]
    dialog_id = int(dialog_url.strip("/").split("/")[-1])

    # Bob sees it in his list, unread, and in the header's badge.
    listing = bob_web.get("/dialogs/").content.decode()
    assert "Hello Bob" in listing and 'data-dialog-unread title="Dialogs with unread messages">1<' in listing
    page = bob_web.get(dialog_url).content.decode()
    assert "Hello <strong>Bob</strong>" in page
    assert 'data-dialog-unread title="Dialogs with unread messages" hidden>0<' in page  # reading it read it
    [first] = api_as(alice).get(f"/api/v1/dialogs/{dialog_id}/messages").json()["messages"]
    assert services.message_seen(user_id=bob, dialog_id=dialog_id, message_id=first["id"])
    bob_name = username(django_user_model, bob)
    assert (
        f'<p class="dialog__seen" data-seen-by>Seen by {bob_name}</p>'
        in alice_web.get(dialog_url).content.decode()
    )

    reply = bob_web.post(
        f"/dialogs/{dialog_id}/send/",
        {"body": "Hi Alice", "attachments": [SimpleUploadedFile("note.txt", b"plain words\n")]},
    )
    assert reply.status_code == 302
    alice_page = alice_web.get(dialog_url).content.decode()
    assert "Hi Alice" in alice_page and "note.txt" in alice_page
    # The last message is Bob's own now: nobody else has seen it yet.
    assert '<p class="dialog__seen" data-seen-by hidden>' in alice_page

    # Starting again from the profile lands in the same dialog.
    again = alice_web.post("/dialogs/new/", {"recipients": username(django_user_model, bob), "body": "Again"})
    assert again["Location"].split("#")[0] == dialog_url


def test_own_messages_are_edited_and_deleted_through_pages(web: Web, alice: int, bob: int) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    message = services.message_create(author_id=alice, dialog_id=dialog_id, body="Frist")
    assert (
        f"/dialogs/messages/{message.id}/edit/"
        in Page(web(alice).get(f"/dialogs/{dialog_id}/").content.decode()).urls()
    )
    assert (
        f"/dialogs/messages/{message.id}/edit/"
        not in Page(web(bob).get(f"/dialogs/{dialog_id}/").content.decode()).urls()
    )

    assert web(alice).get(f"/dialogs/messages/{message.id}/edit/").status_code == 200
    assert web(bob).post(f"/dialogs/messages/{message.id}/edit/", {"body": "his"}).status_code == 403
    assert web(alice).post(f"/dialogs/messages/{message.id}/edit/", {"body": "First"}).status_code == 302
    assert "First" in web(bob).get(f"/dialogs/{dialog_id}/").content.decode()
    assert web(alice).post(f"/dialogs/messages/{message.id}/delete/").status_code == 302
    assert "First" not in web(bob).get(f"/dialogs/{dialog_id}/").content.decode()


def test_a_group_is_managed_through_pages(
    web: Web, django_user_model: Any, alice: int, bob: int, carol: int
) -> None:
    names = f"{username(django_user_model, bob)}, {username(django_user_model, carol)}"
    created = web(alice).post("/dialogs/new/", {"recipients": names, "title": "Book club", "body": "Welcome"})
    assert created.status_code == 302
    dialog_id = int(created["Location"].split("#")[0].strip("/").split("/")[-1])
    page = web(alice).get(f"/dialogs/{dialog_id}/").content.decode()
    assert "Book club" in page and f"/dialogs/{dialog_id}/participants/{bob}/remove/" in page
    assert (
        f"/dialogs/{dialog_id}/participants/" not in web(bob).get(f"/dialogs/{dialog_id}/").content.decode()
    )

    assert web(alice).post(f"/dialogs/{dialog_id}/participants/{bob}/remove/").status_code == 302
    assert web(bob).get(f"/dialogs/{dialog_id}/").status_code == 404
    unknown = web(alice).post(f"/dialogs/{dialog_id}/participants/", {"usernames": "nobody-at-all"})
    assert unknown.status_code == 403 and "You cannot message this member." in unknown.content.decode()
    readded = web(alice).post(
        f"/dialogs/{dialog_id}/participants/", {"usernames": username(django_user_model, bob)}
    )
    assert readded.status_code == 302
    assert web(alice).post(f"/dialogs/{dialog_id}/rename/", {"title": "Readers"}).status_code == 302
    assert web(carol).post(f"/dialogs/{dialog_id}/leave/").status_code == 302
    assert web(carol).get(f"/dialogs/{dialog_id}/").status_code == 404
    assert "Readers" in web(bob).get("/dialogs/").content.decode()


def test_blocking_and_the_privacy_choice_through_pages(
    web: Web, django_user_model: Any, alice: int, bob: int, carol: int
) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    blocked = web(bob).post("/dialogs/blocks/", {"user_id": str(alice), "dialog_id": str(dialog_id)})
    assert blocked.status_code == 302 and blocked["Location"] == f"/dialogs/{dialog_id}/"
    assert username(django_user_model, alice) in web(bob).get("/dialogs/blocks/").content.decode()
    assert "You have blocked this member" in web(bob).get(f"/dialogs/{dialog_id}/").content.decode()

    refused = web(alice).post(f"/dialogs/{dialog_id}/send/", {"body": "hello?"})
    assert refused.status_code == 403 and "You cannot message this member." in refused.content.decode()
    assert web(bob).post(f"/dialogs/blocks/{alice}/unblock/").status_code == 302
    assert web(alice).post(f"/dialogs/{dialog_id}/send/", {"body": "hello"}).status_code == 302

    by_name = web(alice).post("/dialogs/blocks/", {"username": username(django_user_model, carol)})
    assert by_name.status_code == 302 and services.block_exists(user_id=alice, blocked_id=carol)
    assert web(alice).post("/dialogs/blocks/", {"username": "no-such-name"}).status_code == 404

    assert web(carol).post("/dialogs/settings/", {"followed_only": "on"}).status_code == 302
    assert services.dialog_privacy_get(user_id=carol).followed_only
    refused_new = web(bob).post(
        "/dialogs/new/", {"recipients": username(django_user_model, carol), "body": "Hi"}
    )
    assert (
        refused_new.status_code == 403 and "You cannot message this member." in refused_new.content.decode()
    )
    nobody = web(bob).post("/dialogs/new/", {"recipients": "no-such-name", "body": "Hi"})
    assert nobody.status_code == 403 and "You cannot message this member." in nobody.content.decode()


# --- A conversation: bubbles, days, the box at hand, Enter to send ----------------------------------------


def test_a_dialog_reads_as_a_conversation_grouped_by_day(
    web: Web, django_user_model: Any, alice: int, bob: int
) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    written = [
        services.message_create(author_id=author, dialog_id=dialog_id, body=body).id
        for author, body in (
            (alice, "Two days ago"),
            (bob, "Yesterday one"),
            (bob, "Yesterday two"),
            (alice, "Now"),
        )
    ]
    now = timezone.now()
    for message_id, days_ago in zip(written, (2, 1, 1, 0), strict=True):
        Message.objects.filter(pk=message_id).update(created_at=now - datetime.timedelta(days=days_ago))

    page = Page(web(alice).get(f"/dialogs/{dialog_id}/").content.decode())
    items = [attrs for tag, attrs in page.elements if tag == "li" and "class" in attrs]
    shape = [
        ("day", attrs["data-day"])
        if "messages__day" in attrs["class"]
        else (attrs["class"], attrs["data-message-id"])
        for attrs in items
        if "messages__day" in attrs["class"] or "data-message-id" in attrs
    ]
    day = [(now - datetime.timedelta(days=n)).date().isoformat() for n in (2, 1, 0)]
    assert shape == [
        ("day", day[0]),
        ("message message--mine", str(written[0])),
        ("day", day[1]),
        ("message message--theirs", str(written[1])),
        ("message message--theirs message--continued", str(written[2])),
        ("day", day[2]),
        ("message message--mine", str(written[3])),
    ]
    assert "Yesterday" in page.text and "Today" in page.text
    # The box sits in the sticky section; Enter does not send unless the member chose it.
    [composer] = [attrs for tag, attrs in page.elements if "dialog__composer" in attrs.get("class", "")]
    assert composer["data-enter-sends"] == "false"
    assert "/static/dialog/enter-sends.js" in [script["src"] for script in page.find("script")]


def test_enter_to_send_is_a_setting_on_the_settings_page_and_in_the_api(
    web: Web, api_as: Api, alice: int, bob: int
) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    settings_page = Page(web(alice).get("/accounts/settings/").content.decode())
    assert [
        attrs["method"] for attrs in settings_page.find("form") if attrs.get("action") == "/dialogs/settings/"
    ] == ["post"]
    assert {attrs.get("name") for attrs in settings_page.find("input")} >= {"enter_sends", "followed_only"}

    saved = web(alice).post("/dialogs/settings/", {"enter_sends": "on", "next": "/accounts/settings/"})
    assert saved.status_code == 302 and saved["Location"] == "/accounts/settings/"
    assert services.dialog_settings_get(user_id=alice).enter_sends
    assert not services.dialog_settings_get(user_id=alice).followed_only
    page = Page(web(alice).get(f"/dialogs/{dialog_id}/").content.decode())
    [composer] = [attrs for tag, attrs in page.elements if "dialog__composer" in attrs.get("class", "")]
    assert composer["data-enter-sends"] == "true"
    assert "Enter sends, Shift+Enter starts a new line." in page.text
    # Somewhere else to go back to is not followed.
    away = web(alice).post("/dialogs/settings/", {"next": "https://evil.example.com/"})
    assert away["Location"] == "/dialogs/"

    api = api_as(alice)
    assert api.get("/api/v1/dialogs/settings").json() == {"followed_only": False, "enter_sends": False}
    changed = api.patch("/api/v1/dialogs/settings", {"enter_sends": True}, format="json")
    assert changed.status_code == 200 and changed.json() == {"followed_only": False, "enter_sends": True}
    assert api.patch("/api/v1/dialogs/settings", {"followed_only": True}, format="json").json() == {
        "followed_only": True,
        "enter_sends": True,
    }
    assert api.patch("/api/v1/dialogs/settings", {"enter_sends": "maybe"}, format="json").status_code == 400


def test_guests_sign_in_and_outsiders_and_staff_get_not_found(
    web: Web, client: Client, alice: int, bob: int, carol: int, superuser: int
) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    message = services.message_create(author_id=alice, dialog_id=dialog_id, body="private words")
    for url in ("/dialogs/", f"/dialogs/{dialog_id}/", "/dialogs/new/", "/dialogs/blocks/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/signin/")
    for outsider in (carol, superuser):
        for url in (
            f"/dialogs/{dialog_id}/",
            f"/dialogs/messages/{message.id}/edit/",
            f"/dialogs/{dialog_id + 99}/",
        ):
            response = web(outsider).get(url)
            assert response.status_code == 404 and "private words" not in response.content.decode()
        assert web(outsider).post(f"/dialogs/{dialog_id}/send/", {"body": "in"}).status_code == 404
        assert web(outsider).post(f"/dialogs/messages/{message.id}/delete/").status_code == 404


def test_dialog_pages_run_no_inline_code_and_load_the_live_script(web: Web, alice: int, bob: int) -> None:
    dialog_id = services.dialog_start(starter_id=alice, recipient_id=bob).id
    services.message_create(author_id=bob, dialog_id=dialog_id, body="hi")
    for url in (
        "/dialogs/",
        f"/dialogs/{dialog_id}/",
        "/dialogs/new/",
        "/dialogs/blocks/",
        f"/members/{bob}/",
    ):
        page = Page(web(alice).get(url).content.decode())
        assert page.inline_scripts == [] and page.style_elements == 0, url
        assert not [
            attrs
            for _tag, attrs in page.elements
            if "style" in attrs or any(n.startswith("on") for n in attrs)
        ]
        assert "/static/dialog/dialog.js" in [script["src"] for script in page.find("script")]
    page = Page(web(alice).get(f"/dialogs/{dialog_id}/").content.decode())
    [root] = [attrs for _tag, attrs in page.elements if "data-dialog" in attrs]
    assert root["data-dialog-id"] == str(dialog_id) and root["data-live"] == "true"


# --- The badge and query counts -----------------------------------------------------------------------


def test_the_unread_badge_is_one_query(
    alice: int, bob: int, carol: int, django_assert_num_queries: Any
) -> None:
    for other in (bob, carol):
        dialog_id = services.dialog_start(starter_id=other, recipient_id=alice).id
        services.message_create(author_id=other, dialog_id=dialog_id, body="ping")
    with django_assert_num_queries(1):
        assert services.unread_dialog_count(user_id=alice) == 2


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        assert response.status_code == 200, url
    return len(captured)


@pytest.fixture
def reader(web: Web, alice: int) -> Client:
    client = web(alice)
    client.get("/dialogs/")  # the first request of a session records it; the ones measured are ordinary
    return client


def test_the_list_runs_the_same_queries_for_one_dialog_or_twenty(
    reader: Client, api_as: Api, alice: int, make_member: Callable[..., int]
) -> None:
    first = make_member()
    dialog_id = services.dialog_start(starter_id=first, recipient_id=alice).id
    services.message_create(author_id=first, dialog_id=dialog_id, body="one")
    one_page, one_api = _queries(reader, "/dialogs/"), _queries(api_as(alice), "/api/v1/dialogs")
    for number in range(19):
        others = [make_member() for _ in range(2)]
        if number % 2:
            group = services.dialog_group_start(
                owner_id=others[0], title=f"G{number}", participant_ids=[alice, others[1]]
            )
            services.message_create(author_id=others[1], dialog_id=group.id, body=f"group {number}")
        else:
            dialog_id = services.dialog_start(starter_id=others[0], recipient_id=alice).id
            services.message_create(author_id=others[0], dialog_id=dialog_id, body=f"pair {number}")
    page = reader.get("/dialogs/").content.decode()
    assert page.count('class="dialog-list__item') == 20
    assert _queries(reader, "/dialogs/") == one_page
    assert _queries(api_as(alice), "/api/v1/dialogs") == one_api


def test_a_dialog_runs_the_same_queries_for_one_message_or_thirty(
    reader: Client, api_as: Api, alice: int, make_member: Callable[..., int]
) -> None:
    members = [make_member() for _ in range(3)]
    dialog = services.dialog_group_start(owner_id=alice, title="Busy", participant_ids=members)
    url = f"/dialogs/{dialog.id}/"

    def say(author: int, number: int) -> None:
        upload = services.attachment_upload(
            uploader_id=author,
            dialog_id=dialog.id,
            file=SimpleUploadedFile(f"{number}.pdf", b"%PDF-1.4\n%%EOF\n"),
        )
        services.message_create(
            author_id=author, dialog_id=dialog.id, body=f"message {number}", attachment_ids=[upload.id]
        )

    say(members[0], 0)
    # Measured twice: the first visit also marks the dialog read, as does every visit after new messages.
    reader.get(url)
    quiet_page, quiet_api = (
        _queries(reader, url),
        _queries(api_as(alice), f"/api/v1/dialogs/{dialog.id}/messages"),
    )
    say(members[1], 1)
    marking_page = _queries(reader, url)
    for number in range(2, 31):
        say(members[number % 3], number)
    assert _queries(reader, url) == marking_page
    page = reader.get(url).content.decode()
    assert page.count(" data-message-id=") == 30 and page.count('.pdf" download>') == 30
    assert _queries(reader, url) == quiet_page
    assert _queries(api_as(alice), f"/api/v1/dialogs/{dialog.id}/messages") == quiet_api
    assert _queries(reader, f"{url}?before={2**40}") <= marking_page


# --- The write and the push on the path of every live message ------------------------------------------


def _capture(action: Callable[[], object]) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        action()
    return [query["sql"] for query in captured.captured_queries]


def test_writing_a_message_costs_the_same_few_queries_in_a_pair_or_a_group_of_five(
    alice: int, bob: int, make_member: Callable[..., int]
) -> None:
    pair = services.dialog_start(starter_id=alice, recipient_id=bob).id
    small = services.dialog_group_start(owner_id=alice, title="Small", participant_ids=[bob]).id
    large = services.dialog_group_start(
        owner_id=alice, title="Large", participant_ids=[make_member() for _ in range(4)]
    ).id
    for dialog_id in (pair, small, large):  # the first message of a member also loads their permissions
        services.message_create(author_id=alice, dialog_id=dialog_id, body="warm")

    def write(dialog_id: int) -> list[str]:
        return _capture(lambda: services.message_create(author_id=alice, dialog_id=dialog_id, body="hi @bob"))

    in_pair, in_small, in_large = write(pair), write(small), write(large)
    assert len(in_small) == len(in_large)
    # Lock and read the participants, the mention's name, the insert, the dialog, the counters, the
    # outbox, and for a pair the other member's account and blocks; plus the savepoint around it.
    assert len(in_pair) <= 10, in_pair
    assert len(in_pair) == len(in_small) + 2


def test_pushing_a_message_costs_the_same_queries_to_two_or_five_participants(
    alice: int, bob: int, make_member: Callable[..., int]
) -> None:
    from apps.dialog import handlers
    from apps.dialog.events import DialogMessageCreated
    from forum.events import event_payload

    small = services.dialog_group_start(owner_id=alice, title="Small", participant_ids=[bob]).id
    large = services.dialog_group_start(
        owner_id=alice, title="Large", participant_ids=[make_member() for _ in range(4)]
    ).id

    def push(dialog_id: int, number: int) -> list[str]:
        message = services.message_create(author_id=alice, dialog_id=dialog_id, body=f"number {number}")
        event = DialogMessageCreated(
            dialog_id=dialog_id,
            message_id=message.id,
            author_id=alice,
            recipient_ids=(),
            excerpt="",
            created_at=message.created_at,
        )
        payload = event_payload(event)
        return _capture(
            lambda: handlers.on_message_created(f"{number:032x}", event.name, event.version, payload)
        )

    push(small, 1)
    to_small, to_large = push(small, 2), push(large, 3)
    assert len(to_small) == len(to_large)
    # The claim, the message with its author and previous id, the participants with their counts,
    # and the savepoint around it.
    assert len(to_small) <= 5, to_small
