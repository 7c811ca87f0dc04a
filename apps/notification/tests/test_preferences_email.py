"""Preferences per kind and channel (site, email at once, daily digest, off), the emails themselves
(text and HTML, headers, language) and unsubscribing from an email without signing in."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from apps.notification import services
from apps.notification.models import Notification, Preference
from apps.notification.tests.conftest import Handler, Tree, start_thread
from apps.thread import services as threads
from apps.user.services import user_brief
from forum.errors import ValidationFailed
from forum.testing.fixtures import Clock


def name(user_id: int) -> str:
    return user_brief(user_id=user_id).username


def address(user_id: int) -> str:
    return f"member{user_id}@example.com"


def mention(tree: Tree, author: int, mentioned: int, handle: Handler, title: str = "Boats") -> int:
    """A post by ``author`` mentioning ``mentioned``, handled; returns the post's id."""
    thread_id, _first = start_thread(author, tree.general, title=title)
    post = threads.post_create(author_id=author, thread_id=thread_id, body=f"hello @{name(mentioned)}")
    handle()
    return post.id


def on_site(user_id: int) -> list[str]:
    return [item.kind for item in services.notifications_page(user_id=user_id).items]


# --- Channels -----------------------------------------------------------------------------------------


def test_defaults_are_sensible(alice: int) -> None:
    choices = {
        choice.kind: (choice.site, choice.email) for choice in services.preferences_get(user_id=alice).kinds
    }
    assert choices["thread.mention"] == (True, "immediate")
    assert choices["thread.reply"] == (True, "digest")
    assert choices["thread.reaction"] == (True, "off")
    assert choices["dialog.message"] == (True, "immediate")
    prefs = services.preferences_get(user_id=alice)
    assert prefs.auto_watch and prefs.email_enabled and prefs.language == ""


def test_site_and_email_at_once(tree: Tree, alice: int, bob: int, handle: Handler) -> None:
    mention(tree, alice, bob, handle)
    assert on_site(bob) == ["thread.mention"]
    [message] = mail.outbox
    assert message.to == [address(bob)]
    assert f"{name(alice)} mentioned you in “Boats”" in message.body
    assert Notification.objects.get(recipient_id=bob).emailed_at is not None
    # Handled twice (the event delivered again), mailed once.
    services.notification_emails_send(notification_ids=[Notification.objects.get(recipient_id=bob).pk])
    assert len(mail.outbox) == 1


def test_email_only_is_kept_off_the_site(tree: Tree, alice: int, bob: int, handle: Handler) -> None:
    services.preferences_update(user_id=bob, kinds={"thread.mention": {"site": False}})
    mention(tree, alice, bob, handle)
    assert on_site(bob) == [] and services.unread_count(user_id=bob) == 0
    assert len(mail.outbox) == 1


def test_site_only_sends_no_email(tree: Tree, alice: int, bob: int, handle: Handler) -> None:
    services.preferences_update(user_id=bob, kinds={"thread.mention": {"email": "off"}})
    mention(tree, alice, bob, handle)
    assert on_site(bob) == ["thread.mention"] and mail.outbox == []


def test_off_means_nothing_at_all(tree: Tree, alice: int, bob: int, handle: Handler) -> None:
    services.preferences_update(user_id=bob, kinds={"thread.mention": {"site": False, "email": "off"}})
    mention(tree, alice, bob, handle)
    assert not Notification.objects.filter(recipient_id=bob).exists() and mail.outbox == []


def test_no_email_without_a_verified_address_or_with_emails_turned_off(
    tree: Tree, alice: int, bob: int, carol: int, handle: Handler, django_user_model: Any
) -> None:
    django_user_model.objects.filter(pk=bob).update(email_verified=False)
    services.preferences_update(user_id=carol, email_enabled=False)
    thread_id, _first = start_thread(alice, tree.general)
    threads.post_create(author_id=alice, thread_id=thread_id, body=f"@{name(bob)} @{name(carol)}")
    handle()
    assert on_site(bob) == ["thread.mention"] and on_site(carol) == ["thread.mention"]
    assert mail.outbox == []


def test_with_emails_off_a_notification_is_stored_without_an_email_channel_and_no_email_is_queued(
    tree: Tree,
    alice: int,
    bob: int,
    carol: int,
    handle: Handler,
    outbox: Callable[[str], list[dict[str, Any]]],
) -> None:
    services.preferences_update(user_id=carol, email_enabled=False)
    thread_id, _first = start_thread(alice, tree.general)
    threads.post_create(author_id=alice, thread_id=thread_id, body=f"@{name(bob)} @{name(carol)}")
    handle()
    # Bob mails at once (the default for mentions); Carol turned every email off: her row says so,
    # and no email is even asked for (not one that the mail task would then decline to send).
    mine = Notification.objects.get(recipient_id=carol)
    assert (mine.kind, mine.on_site, mine.email, mine.emailed_at) == ("thread.mention", True, "off", None)
    asked = [set(event["notification_ids"]) for event in outbox("notification.emails_requested")]
    bobs = Notification.objects.get(recipient_id=bob)
    assert bobs.email == "immediate" and any(bobs.pk in ids for ids in asked)
    assert not any(mine.pk in ids for ids in asked)
    assert [message.to for message in mail.outbox] == [[address(bob)]]


def test_the_daily_digest_gathers_digest_kinds_once_a_day(
    tree: Tree, alice: int, bob: int, carol: int, handle: Handler, clock: Clock, settings: Any
) -> None:
    settings.NOTIFICATION_DIGEST_HOUR = 7
    clock.now = (clock.now + datetime.timedelta(days=1)).replace(hour=6, minute=0)
    thread_id, _first = start_thread(alice, tree.general, title="Boats")
    threads.post_create(author_id=bob, thread_id=thread_id, body="one")  # Bob watches now
    threads.post_create(author_id=carol, thread_id=thread_id, body="two")
    handle()
    assert mail.outbox == []  # replies go to the digest by default
    assert services.digests_send() == 0  # before the hour

    clock.move(hours=2)
    assert services.digests_send() == 2  # Alice (two replies) and Bob (one)
    assert services.digests_send() == 0  # the same day: nothing more
    by_recipient = {message.to[0]: message for message in mail.outbox}
    digest = by_recipient[address(alice)]
    assert "2 notifications today" in digest.subject
    assert (
        f"{name(bob)} replied in “Boats”" in digest.body
        and f"{name(carol)} replied in “Boats”" in digest.body
    )
    assert digest.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The next day, only what came since.
    threads.post_create(author_id=carol, thread_id=thread_id, body="three")
    handle()
    clock.move(days=1)
    mail.outbox.clear()
    assert services.digests_send() == 2
    digest = {message.to[0]: message for message in mail.outbox}[address(alice)]
    assert "1 notification today" in digest.subject


def test_preferences_refuse_unknown_kinds_and_values(alice: int) -> None:
    with pytest.raises(ValidationFailed) as refused:
        services.preferences_update(user_id=alice, kinds={"no.such": {"site": True}})
    assert "kinds.no.such" in refused.value.fields
    with pytest.raises(ValidationFailed):
        services.preferences_update(user_id=alice, kinds={"thread.reply": {"email": "weekly"}})
    with pytest.raises(ValidationFailed):
        services.preferences_update(user_id=alice, language="xx")
    assert not Preference.objects.filter(user_id=alice).exists()


# --- The emails ---------------------------------------------------------------------------------------


def test_an_email_has_text_and_html_parts_and_a_one_click_unsubscribe(
    tree: Tree, alice: int, bob: int, handle: Handler
) -> None:
    post_id = mention(tree, alice, bob, handle)
    [message] = mail.outbox
    assert message.subject.endswith(f"{name(alice)} mentioned you in “Boats”")
    html, content_type = message.alternatives[0]
    assert content_type == "text/html"
    assert f"https://forum.example.com/posts/{post_id}/" in message.body
    assert f'href="https://forum.example.com/posts/{post_id}/"' in html
    link = re.search(r"https://forum\.example\.com/notifications/unsubscribe/[^/\s]+/", message.body)
    assert link is not None
    assert message.extra_headers["List-Unsubscribe"] == f"<{link.group(0)}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link.group(0) in html


def test_an_email_speaks_the_members_language(tree: Tree, alice: int, bob: int, handle: Handler) -> None:
    services.preferences_update(user_id=bob, language="ru")
    mention(tree, alice, bob, handle, title="Лодки")
    [message] = mail.outbox
    assert f"{name(alice)} упомянул(а) вас в «Лодки»" in message.body
    assert "Отписаться от этих писем" in message.body


def _unsubscribe_path(message: Any) -> str:
    return (
        str(message.extra_headers["List-Unsubscribe"]).strip("<>").removeprefix("https://forum.example.com")
    )


def test_unsubscribing_needs_no_sign_in_and_stops_that_kind(
    tree: Tree, alice: int, bob: int, handle: Handler
) -> None:
    mention(tree, alice, bob, handle)
    path = _unsubscribe_path(mail.outbox[0])
    guest = Client(enforce_csrf_checks=True)

    page = guest.get(path)
    assert page.status_code == 200
    assert "Mentions of you" in page.content.decode()
    assert services.preferences_get(user_id=bob).kinds  # a GET changes nothing
    assert not Preference.objects.filter(user_id=bob).exists()

    # A mail client's one-click POST (RFC 8058): no cookie, no CSRF token.
    done = guest.post(path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert done.status_code == 200
    choice = {c.kind: c for c in services.preferences_get(user_id=bob).kinds}["thread.mention"]
    assert (choice.site, choice.email) == (True, "off")

    mail.outbox.clear()
    mention(tree, alice, bob, handle, title="Again")
    assert mail.outbox == []


def test_a_digest_link_stops_every_email(
    tree: Tree, alice: int, bob: int, handle: Handler, clock: Clock, settings: Any
) -> None:
    settings.NOTIFICATION_DIGEST_HOUR = 0
    thread_id, _first = start_thread(alice, tree.general)
    threads.post_create(author_id=bob, thread_id=thread_id, body="one")
    handle()
    services.digests_send()
    [digest] = mail.outbox
    assert Client().post(_unsubscribe_path(digest)).status_code == 200
    assert services.preferences_get(user_id=alice).email_enabled is False


def test_a_tampered_or_made_up_link_is_refused(tree: Tree, alice: int, bob: int, handle: Handler) -> None:
    mention(tree, alice, bob, handle)
    path = _unsubscribe_path(mail.outbox[0])
    token = path.rstrip("/").rsplit("/", 1)[1]
    forged = (
        services.unsubscribe_token(user_id=alice, kind="thread.mention").rsplit(":", 1)[0]
        + ":"
        + token.rsplit(":", 1)[1]
    )
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), forged, "nothing-here"):
        response = Client().post(f"/notifications/unsubscribe/{bad}/")
        assert response.status_code == 404
    assert not Preference.objects.filter(user_id__in=[alice, bob]).exists()


# --- The preferences page and API ---------------------------------------------------------------------


def test_the_preferences_page_saves_every_choice(alice: int, web_as: Callable[[int | None], Client]) -> None:
    client = web_as(alice)
    page = client.get("/notifications/preferences/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'name="site:thread.reply"' in body and 'name="email:thread.reply"' in body
    data: dict[str, str] = {"email_enabled": "on", "language": "ru"}
    for choice in services.preferences_get(user_id=alice).kinds:
        data[f"email:{choice.kind}"] = choice.email
        if choice.site:
            data[f"site:{choice.kind}"] = "on"
    data["email:thread.reply"] = "off"
    del data["site:thread.reaction"]
    response = client.post("/notifications/preferences/", data)
    assert response.status_code == 302
    prefs = services.preferences_get(user_id=alice)
    choices = {choice.kind: (choice.site, choice.email) for choice in prefs.kinds}
    assert choices["thread.reply"] == (True, "off") and choices["thread.reaction"] == (False, "off")
    assert (prefs.auto_watch, prefs.email_enabled, prefs.language) == (False, True, "ru")

    bad = client.post("/notifications/preferences/", {**data, "email:thread.reply": "weekly"})
    assert bad.status_code == 400


def test_the_preferences_api(alice: int, api_as: Callable[[int | None], APIClient]) -> None:
    api = api_as(alice)
    body = api.get("/api/v1/notifications/preferences").json()
    assert {"kind": "thread.reaction", "email": "off"}.items() <= next(
        k for k in body["kinds"] if k["kind"] == "thread.reaction"
    ).items()
    changed = api.patch(
        "/api/v1/notifications/preferences",
        {"auto_watch": False, "kinds": {"thread.reaction": {"email": "digest"}}},
        format="json",
    )
    assert changed.status_code == 200
    reaction = next(k for k in changed.json()["kinds"] if k["kind"] == "thread.reaction")
    assert (reaction["site"], reaction["email"]) == (True, "digest")
    assert changed.json()["auto_watch"] is False
    refused = api.patch(
        "/api/v1/notifications/preferences", {"kinds": {"nope.kind": {"site": True}}}, format="json"
    )
    assert refused.status_code == 400 and "kinds.nope.kind" in refused.json()["error"]["fields"]
    bad_value = api.patch(
        "/api/v1/notifications/preferences", {"kinds": {"thread.reply": {"email": "weekly"}}}, format="json"
    )
    assert bad_value.status_code == 400
    assert api_as(None).get("/api/v1/notifications/preferences").status_code in {401, 403}
    kinds = {kind["code"]: kind for kind in api.get("/api/v1/notifications/kinds").json()["kinds"]}
    assert kinds["thread.mention"]["default_email"] == "immediate"
    assert kinds["thread.reaction"]["grouping"] == "actors"
