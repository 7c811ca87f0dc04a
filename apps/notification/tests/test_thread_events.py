"""Notifications from the thread app's events: replies in watched threads, new threads in watched
forums, mentions and quotes (one notification for both), reactions (grouped), edits, moderation,
deletions, and never anything a member may not see, nor to the actor, nor twice."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from celery import current_app
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from apps.dialog.services import block_add
from apps.notification import services
from apps.notification.models import Notification, Watch
from apps.notification.services import delivery
from apps.notification.tests.conftest import Handler, Member, Tree, start_thread
from apps.status.services import status_grant
from apps.thread import services as threads
from apps.thread.events import PostCreated
from apps.user.services import user_brief
from forum import bus
from forum.errors import NotFound
from forum.events import event_payload


def rows(user_id: int) -> list[Notification]:
    return list(Notification.objects.filter(recipient_id=user_id).order_by("id"))


def kinds(user_id: int) -> list[str]:
    return [row.kind for row in rows(user_id)]


def name(user_id: int) -> str:
    return user_brief(user_id=user_id).username


def texts(user_id: int) -> list[str]:
    return [item.text for item in services.notifications_page(user_id=user_id).items]


# --- Replies and new threads --------------------------------------------------------------------------


def test_a_reply_reaches_the_threads_watchers_but_not_its_author(
    tree: Tree, alice: int, bob: int, carol: int, handle: Handler
) -> None:
    thread_id, _first = start_thread(alice, tree.general, title="Boats")
    services.watch_set(user_id=carol, target="thread", target_id=thread_id)
    reply = threads.post_create(author_id=bob, thread_id=thread_id, body="I like boats")
    handle()

    # Alice watches the thread she started; Carol watches it by hand; Bob wrote the reply.
    assert kinds(alice) == ["thread.reply"] and kinds(carol) == ["thread.reply"]
    assert kinds(bob) == []
    row = rows(alice)[0]
    assert (row.post_id, row.thread_id, row.actor_ids, row.read_at) == (reply.id, thread_id, [bob], None)
    page = services.notifications_page(user_id=alice)
    assert page.items[0].text == f"{name(bob)} replied in “Boats”"
    assert page.items[0].url == f"/posts/{reply.id}/"
    assert page.unread_count == 1
    # Bob watches the thread now that he replied in it (the default setting).
    assert Watch.objects.filter(user_id=bob, target="thread", target_id=thread_id, watching=True).exists()


def test_auto_watch_is_a_setting_and_an_unwatched_thread_stays_unwatched(
    tree: Tree, alice: int, bob: int, carol: int, handle: Handler
) -> None:
    services.preferences_update(user_id=bob, auto_watch=False)
    thread_id, _first = start_thread(alice, tree.general)
    threads.post_create(author_id=bob, thread_id=thread_id, body="first")
    threads.post_create(author_id=carol, thread_id=thread_id, body="second")
    handle()
    assert not Watch.objects.filter(user_id=bob).exists()
    assert kinds(bob) == []  # he did not watch it, so Carol's reply is not his news

    # Carol watched it by replying, then unwatches; replying again does not watch it again.
    assert services.watch_list(user_id=carol).threads[0].target_id == thread_id
    services.watch_unset(user_id=carol, target="thread", target_id=thread_id)
    threads.post_create(author_id=carol, thread_id=thread_id, body="third")
    threads.post_create(author_id=alice, thread_id=thread_id, body="fourth")
    handle()
    assert services.watch_list(user_id=carol).threads == ()
    assert [row.kind for row in rows(carol)] == []


def test_a_new_thread_reaches_the_forums_watchers(
    tree: Tree, alice: int, bob: int, carol: int, handle: Handler
) -> None:
    services.watch_set(user_id=bob, target="forum", target_id=tree.general)
    services.watch_set(user_id=carol, target="forum", target_id=tree.other)
    handle.skip()
    thread_id, first_post = start_thread(alice, tree.general, title="News")
    handle()
    assert kinds(bob) == ["thread.new_thread"] and kinds(carol) == []
    assert texts(bob) == [f"{name(alice)} started “News” in “General”"]
    assert services.notifications_page(user_id=bob).items[0].url == f"/threads/{thread_id}/"
    assert rows(bob)[0].post_id == first_post


# --- Mentions and quotes ------------------------------------------------------------------------------


def test_one_post_that_quotes_and_mentions_a_watcher_makes_one_mention(
    tree: Tree, alice: int, bob: int, carol: int, handle: Handler
) -> None:
    thread_id, first_post = start_thread(alice, tree.general, title="Boats")
    threads.post_create(author_id=bob, thread_id=thread_id, body="Bob was here")  # Bob watches now
    handle.skip()
    body = f"[quote=post:{first_post}]\nHello\n[/quote]\n\n@{name(alice)} and @{name(bob)}, look"
    post = threads.post_create(author_id=carol, thread_id=thread_id, body=body)
    handle()
    events = [row for row in rows(alice) if row.post_id == post.id]
    assert [row.kind for row in events] == ["thread.mention"]  # quoted, mentioned and watching: one
    assert [row.kind for row in rows(bob) if row.post_id == post.id] == ["thread.mention"]
    assert f"{name(carol)} mentioned you in “Boats”" in texts(alice)


def test_a_quote_alone_is_a_quote_and_a_switched_off_mention_falls_back(
    tree: Tree, alice: int, bob: int, carol: int, handle: Handler
) -> None:
    thread_id, first_post = start_thread(alice, tree.general, title="Boats")
    handle()
    services.watch_unset(user_id=alice, target="thread", target_id=thread_id)
    quoting = threads.post_create(
        author_id=bob, thread_id=thread_id, body=f"[quote=post:{first_post}]\nHi\n[/quote]\n\nyes"
    )
    handle()
    assert [(row.kind, row.post_id) for row in rows(alice)] == [("thread.quote", quoting.id)]

    # Alice turns mentions off entirely: a post that mentions and quotes her is a quote for her.
    services.preferences_update(user_id=alice, kinds={"thread.mention": {"site": False, "email": "off"}})
    both = threads.post_create(
        author_id=carol,
        thread_id=thread_id,
        body=f"[quote=post:{first_post}]\nHi\n[/quote]\n\n@{name(alice)}",
    )
    handle()
    assert [row.kind for row in rows(alice) if row.post_id == both.id] == ["thread.quote"]


def test_nobody_hears_of_what_they_cannot_see(
    tree: Tree, alice: int, bob: int, member_with_mail: Member, handle: Handler
) -> None:
    agent = member_with_mail()
    status_grant(user_id=agent, status_code="agent", source="staff")
    secret, _first = start_thread(agent, tree.exclusive, title="Secret")
    handle.skip()
    # Bob may not read the exclusive forum: his mention there tells him nothing.
    threads.post_create(author_id=agent, thread_id=secret, body=f"@{name(bob)} psst")
    handle()
    assert kinds(bob) == []
    # Nor can he watch it: the thread does not exist for him.
    with pytest.raises(NotFound):
        services.watch_set(user_id=bob, target="thread", target_id=secret)


def test_a_thread_awaiting_moderation_notifies_nobody_until_approved(
    tree: Tree, member_with_mail: Member, bob: int, staff: int, handle: Handler
) -> None:
    newcomer = member_with_mail(reader=False)
    services.watch_set(user_id=bob, target="forum", target_id=tree.general)
    handle.skip()
    thread = threads.thread_create(
        author_id=newcomer, forum_id=tree.general, title="Hello all", body=f"hi @{name(bob)}"
    )
    assert thread.state == "pending"
    handle()
    assert kinds(bob) == [] and kinds(newcomer) == []

    threads.thread_approve(moderator_id=staff, thread_id=thread.id)
    handle()
    assert kinds(newcomer) == ["thread.approved"]
    assert texts(newcomer) == ["Your thread “Hello all” was approved and is public now"]
    # Now public: the mention in its opening post and the forum's watcher (one notification: a mention).
    assert kinds(bob) == ["thread.mention"]


def test_a_rejected_thread_tells_its_author_why(
    tree: Tree, member_with_mail: Member, staff: int, handle: Handler
) -> None:
    newcomer = member_with_mail(reader=False)
    thread = threads.thread_create(author_id=newcomer, forum_id=tree.general, title="Buy now", body="cheap")
    handle.skip()
    threads.thread_reject(moderator_id=staff, thread_id=thread.id, reason="Advertising")
    handle()
    assert texts(newcomer) == ["Your thread “Buy now” was rejected: Advertising"]
    assert services.notifications_page(user_id=newcomer).items[0].url == f"/threads/{thread.id}/"


def test_an_edit_that_mentions_someone_tells_them_once(
    tree: Tree, alice: int, bob: int, carol: int, handle: Handler
) -> None:
    thread_id, _first = start_thread(alice, tree.general, title="Boats")
    services.watch_set(user_id=bob, target="thread", target_id=thread_id)
    post = threads.post_create(author_id=carol, thread_id=thread_id, body="plain")
    handle()
    assert kinds(bob) == ["thread.reply"]
    services.notifications_mark_all_read(user_id=bob)

    threads.post_edit(editor_id=carol, post_id=post.id, body=f"plain, @{name(bob)}")
    handle()
    # His one row about the post becomes a mention, unread again.
    assert [(row.kind, row.read_at) for row in rows(bob)] == [("thread.mention", None)]
    threads.post_edit(editor_id=carol, post_id=post.id, body=f"plain, @{name(bob)}!")
    threads.post_edit(editor_id=carol, post_id=post.id, body="plain again")
    threads.post_edit(editor_id=carol, post_id=post.id, body=f"plain again, @{name(bob)}")
    handle()
    assert len(rows(bob)) == 1


def test_a_deleted_post_takes_its_notifications_along(
    tree: Tree, alice: int, bob: int, carol: int, handle: Handler
) -> None:
    thread_id, _first = start_thread(alice, tree.general)
    post = threads.post_create(author_id=bob, thread_id=thread_id, body="oops")
    threads.reaction_set(user_id=carol, post_id=post.id, kind="like")
    handle()
    assert kinds(alice) == ["thread.reply"] and kinds(bob) == ["thread.reaction"]
    threads.post_delete(user_id=bob, post_id=post.id)
    handle()
    assert kinds(alice) == [] and kinds(bob) == []


# --- Reactions ----------------------------------------------------------------------------------------


def test_reactions_to_a_post_are_one_row_naming_the_latest_and_counting_all(
    tree: Tree, alice: int, bob: int, carol: int, member_with_mail: Member, handle: Handler
) -> None:
    _thread_id, post_id = start_thread(alice, tree.general, title="Boats")
    dave, erin = member_with_mail(), member_with_mail()
    handle.skip()
    threads.reaction_set(user_id=bob, post_id=post_id, kind="like")
    handle()
    assert texts(alice) == [f"{name(bob)} reacted to your post in “Boats”"]

    for reactor in (carol, dave, erin):
        threads.reaction_set(user_id=reactor, post_id=post_id, kind="love")
    handle()
    [row] = rows(alice)
    assert (row.kind, row.count, row.actor_ids) == ("thread.reaction", 4, [erin, dave, carol, bob])
    assert texts(alice) == [f"{name(erin)} and 3 others reacted to your post in “Boats”"]

    # Read; someone changing their reaction is no news; a new reactor is, and the row is unread again.
    services.notifications_mark_all_read(user_id=alice)
    threads.reaction_set(user_id=bob, post_id=post_id, kind="wow")
    handle()
    assert rows(alice)[0].read_at is not None and rows(alice)[0].count == 4
    newcomer = member_with_mail()
    threads.reaction_set(user_id=newcomer, post_id=post_id, kind="like")
    handle()
    [row] = rows(alice)
    assert row.read_at is None and row.count == 5 and row.actor_ids[0] == newcomer
    assert services.unread_count(user_id=alice) == 1

    # A reaction taken back leaves the count.
    threads.reaction_clear(user_id=newcomer, post_id=post_id)
    handle()
    assert rows(alice)[0].count == 4 and rows(alice)[0].actor_ids[0] == erin


def test_the_reaction_text_counts_in_russian_too(
    tree: Tree, alice: int, bob: int, carol: int, handle: Handler
) -> None:
    _thread_id, post_id = start_thread(alice, tree.general, title="Лодки")
    threads.reaction_set(user_id=bob, post_id=post_id, kind="like")
    threads.reaction_set(user_id=carol, post_id=post_id, kind="like")
    handle()
    with translation.override("ru"):
        [text] = texts(alice)
    assert text == f"{name(carol)} и ещё 1 отреагировали на ваше сообщение в «Лодки»"


# --- Once, and for a constant cost --------------------------------------------------------------------


def test_an_event_delivered_twice_or_published_twice_notifies_once(
    tree: Tree, alice: int, bob: int, handle: Handler
) -> None:
    thread_id, _first = start_thread(alice, tree.general)
    post = threads.post_create(author_id=bob, thread_id=thread_id, body="hi")
    handle()
    assert kinds(alice) == ["thread.reply"]

    # The broker delivers the same message again: the bus's record of handled events stops it.
    from forum.models import OutboxEvent

    row = OutboxEvent.objects.get(name="thread.post_created", payload__post_id=post.id)
    task = current_app.tasks["notification.on_post_created"]
    assert task.run(str(row.id), row.name, row.version, row.payload) == "duplicate"
    # The same fact under another event id (published twice): the row is unique per post.
    assert task.run(str(uuid.uuid4()), row.name, row.version, row.payload) == "handled"
    assert kinds(alice) == ["thread.reply"]


def test_a_reply_to_a_thread_with_many_watchers_costs_the_same_queries_as_with_one(
    tree: Tree, alice: int, bob: int, make_member: Callable[..., int], handle: Handler, settings: Any
) -> None:
    thread_id, _first = start_thread(alice, tree.general)
    handle()

    def reply_handled() -> int:
        post = threads.post_create(author_id=bob, thread_id=thread_id, body="again")
        event = PostCreated(
            post_id=post.id, thread_id=thread_id, forum_id=tree.general, author_id=bob, position=post.position
        )
        handle.skip()
        task = current_app.tasks["notification.on_post_created"]
        with CaptureQueriesContext(connection) as captured:
            task.run(str(uuid.uuid4()), event.name, event.version, event_payload(event))
        return len(captured)

    one = reply_handled()
    assert len(rows(alice)) == 1
    for _ in range(40):
        services.watch_set(user_id=make_member(), target="thread", target_id=thread_id)
    many = reply_handled()
    # Alice once for each reply, the 40 watchers for the second.
    assert Notification.objects.filter(thread_id=thread_id).count() == 1 + 41
    assert many == one
    assert bus.subscribers_of("thread.post_created", 1)


def test_a_member_who_blocked_someone_hears_nothing_of_their_mentions_and_reactions(
    tree: Tree, alice: int, bob: int, carol: int, handle: Handler
) -> None:
    block_add(user_id=bob, blocked_id=carol)
    thread_id, bobs_post = start_thread(bob, tree.general, title="Boats")
    handle()
    threads.post_create(author_id=carol, thread_id=thread_id, body=f"@{name(bob)} and @{name(alice)}")
    threads.reaction_set(user_id=carol, post_id=bobs_post, kind="like")
    threads.reaction_set(user_id=alice, post_id=bobs_post, kind="like")
    handle()
    # Bob watches his thread, so Carol's reply still reaches him as a reply, never as a mention.
    assert kinds(bob) == ["thread.reply", "thread.reaction"]
    assert rows(bob)[1].actor_ids == [alice]
    assert kinds(alice) == ["thread.mention"]


def test_a_large_fan_out_is_pushed_in_shares_that_cover_every_recipient_once(
    tree: Tree,
    alice: int,
    bob: int,
    make_member: Callable[..., int],
    handle: Handler,
    monkeypatch: pytest.MonkeyPatch,
    outbox: Callable[[str], list[dict[str, Any]]],
) -> None:
    # The limits are read where the fan-out is pushed, the delivery module of the services package.
    monkeypatch.setattr(delivery, "_PUSH_INLINE_MAX", 3)
    monkeypatch.setattr(delivery, "_PUSH_SHARE", 4)
    thread_id, _first = start_thread(alice, tree.general)
    watchers = [make_member() for _ in range(9)]
    for watcher in watchers:
        services.watch_set(user_id=watcher, target="thread", target_id=thread_id)
    handle()
    threads.post_create(author_id=bob, thread_id=thread_id, body="to all")
    handle(only="thread.post_created")
    shares = outbox("notification.push_requested")
    assert [len(share["frames"]) for share in shares] == [4, 4, 2]
    pushed = sorted(frame[0] for share in shares for frame in share["frames"])
    assert pushed == sorted([alice, *watchers])
    ids = dict(Notification.objects.filter(thread_id=thread_id).values_list("recipient_id", "id"))
    frames = [frame for share in shares for frame in share["frames"]]
    assert all(frame[1] == ids[frame[0]] and frame[2] == "thread.reply" for frame in frames)
    # Each share is pushed by whichever worker process takes it: one send per frame.
    assert services.notifications_push(frames=[tuple(frame) for frame in shares[0]["frames"]]) == 4
