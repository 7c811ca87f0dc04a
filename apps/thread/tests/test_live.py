"""Live thread pages: who may follow a thread's topic, what the handlers push to it (through a real
worker, the Redis channel layer and a WebSocket server), and the post fragment the pages fetch."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from apps.status.services import status_grant
from apps.thread import handlers, live, services
from apps.thread.models import Thread
from apps.thread.tests.conftest import Tree
from forum.models import OutboxEvent, ProcessedEvent
from forum.realtime.topics import registration_for
from forum.testing import processes
from forum.testing.fixtures import local_upload_storages

# A safety net so that a broken push fails the test instead of hanging it; never an assertion.
RECEIVE_TIMEOUT = 30.0


def signed_in(django_user_model: Any, user_id: int) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.get(pk=user_id))
    return client


@pytest.fixture
def thread_id(tree: Tree, staff: int) -> int:
    """A public thread (a moderator's, so no premoderation) in a forum every member reads."""
    return services.thread_create(author_id=staff, forum_id=tree.general, title="Live", body="Opening").id


@pytest.fixture
def pending_id(tree: Tree, member: int) -> int:
    """A member's thread waiting in the premoderation queue."""
    thread = services.thread_create(author_id=member, forum_id=tree.general, title="Queued", body="Hi")
    assert thread.state == "pending"
    return thread.id


# --- Who may follow a thread ----------------------------------------------------------------------------


def test_the_thread_topic_is_registered_with_the_apps_check() -> None:
    registration = registration_for("thread")
    assert registration is not None and registration.check is live.may_follow
    assert not registration.allow_whisper


def test_a_public_thread_is_followed_by_whoever_reads_its_page(
    thread_id: int, member: int, other: int, staff: int
) -> None:
    key = str(thread_id)
    assert live.may_follow(member, key) and live.may_follow(other, key) and live.may_follow(staff, key)
    # Guests never get this far (the gateway closes their sockets with 4401), but the check itself
    # answers as the page does.
    assert live.may_follow(None, key)


def test_a_pending_thread_is_followed_by_its_author_and_the_moderators_only(
    pending_id: int, member: int, other: int, staff: int
) -> None:
    key = str(pending_id)
    assert live.may_follow(member, key)
    assert live.may_follow(staff, key)
    assert not live.may_follow(other, key)
    assert not live.may_follow(None, key)

    services.thread_reject(moderator_id=staff, thread_id=pending_id, reason="Off topic")
    assert live.may_follow(member, key) and live.may_follow(staff, key)
    assert not live.may_follow(other, key)


def test_a_forum_is_followed_by_who_holds_its_read_permission(
    tree: Tree, member: int, other: int, staff: int
) -> None:
    status_grant(user_id=staff, status_code="agent", source="staff")
    hidden = services.thread_create(author_id=staff, forum_id=tree.exclusive, title="Agents", body="B").id
    assert not live.may_follow(member, str(hidden))
    assert not live.may_follow(None, str(hidden))
    status_grant(user_id=member, status_code="agent", source="staff")
    assert live.may_follow(member, str(hidden))
    assert not live.may_follow(other, str(hidden))


def test_a_deleted_thread_and_ids_that_name_no_thread_are_followed_by_nobody(
    thread_id: int, member: int, staff: int
) -> None:
    services.thread_delete(moderator_id=staff, thread_id=thread_id)
    assert not live.may_follow(member, str(thread_id))
    assert not live.may_follow(staff, str(thread_id))
    for key in ["0", "-1", "abc", "1.5", "١٢", "9" * 19, str(2**63), str(thread_id + 1000)]:
        assert not live.may_follow(staff, key), key


# --- The post fragment ------------------------------------------------------------------------------------


def _post_markup(html: str, post_id: int) -> str:
    """One post's <li> as a page or fragment holds it (it ends at the first unindented </li>)."""
    start = html.index(f'<li class="post" id="post-{post_id}"')
    return html[start : html.index("\n</li>", start) + len("\n</li>")]


def test_the_fragment_is_the_post_as_the_thread_page_shows_it(
    client: Client, django_user_model: Any, thread_id: int, staff: int, other: int
) -> None:
    reply = services.post_create(author_id=other, thread_id=thread_id, body="A **reply**")
    services.reaction_set(user_id=staff, post_id=reply.id, kind="wow")
    page = client.get(f"/threads/{thread_id}/").content.decode()
    fragment = client.get(f"/posts/{reply.id}/fragment/")
    assert fragment.status_code == 200
    html = fragment.content.decode()
    assert html.strip() == _post_markup(page, reply.id)
    assert f'data-post-id="{reply.id}" data-position="2"' in html
    assert '<span class="reactions__item" data-kind="wow">' in html

    # A member gets their own buttons, and the reply is read: it is on their screen.
    reader = signed_in(django_user_model, staff)
    html = reader.get(f"/posts/{reply.id}/fragment/").content.decode()
    assert 'value="wow" aria-pressed="true"' in html
    assert f'hx-post="/posts/{reply.id}/react/" hx-target="closest li.post"' in html
    assert f'href="/posts/{reply.id}/edit/"' in html  # a moderator's actions
    assert "<html" not in html and "<script" not in html
    thread_page = reader.get(f"/threads/{thread_id}/?unread=1")
    assert thread_page.status_code == 200  # nothing unread left: no jump


def test_the_fragment_answers_404_where_the_page_would(
    client: Client,
    django_user_model: Any,
    tree: Tree,
    thread_id: int,
    pending_id: int,
    member: int,
    other: int,
    staff: int,
) -> None:
    def status(user_id: int | None, post_id: int) -> int:
        browser = client if user_id is None else signed_in(django_user_model, user_id)
        return int(browser.get(f"/posts/{post_id}/fragment/").status_code)

    public_reply = services.post_create(author_id=staff, thread_id=thread_id, body="x").id
    assert [status(who, public_reply) for who in (member, other, None)] == [200, 200, 200]
    queued = _first_post(pending_id)
    assert [status(who, queued) for who in (member, staff, other, None)] == [200, 200, 404, 404]

    status_grant(user_id=staff, status_code="agent", source="staff")
    hidden = services.thread_create(author_id=staff, forum_id=tree.exclusive, title="A", body="B")
    assert hidden.first_post_id is not None
    assert [status(who, hidden.first_post_id) for who in (staff, member, None)] == [200, 404, 404]

    reply = services.post_create(author_id=other, thread_id=thread_id, body="Soon gone").id
    services.post_delete(user_id=other, post_id=reply)
    assert status(other, reply) == 404 and status(staff, reply) == 404
    services.post_restore(moderator_id=staff, post_id=reply)  # its push brings it to every reader
    assert [status(who, reply) for who in (other, member, None)] == [200, 200, 200]
    services.post_delete(user_id=staff, post_id=reply)
    hidden_reply = services.post_create(author_id=staff, thread_id=hidden.id, body="Agents only").id
    services.post_delete(user_id=staff, post_id=hidden_reply)
    services.post_restore(moderator_id=staff, post_id=hidden_reply)  # pushed; fetched by readers only
    assert [status(who, hidden_reply) for who in (staff, member, None)] == [200, 404, 404]
    services.thread_delete(moderator_id=staff, thread_id=thread_id)
    assert status(staff, public_reply) == 404
    assert status(staff, 2**62) == 404 and status(staff, 2**64) == 404
    assert client.get("/posts/0/fragment/").status_code == 404


def _first_post(thread_id: int) -> int:
    post_id = Thread.objects.filter(pk=thread_id).values_list("first_post_id", flat=True).get()
    assert post_id is not None
    return int(post_id)


def test_the_fragment_runs_the_same_queries_for_one_attachment_and_reaction_or_many(
    django_user_model: Any,
    thread_id: int,
    staff: int,
    other: int,
    make_member: Callable[..., int],
    settings: Any,
    tmp_path: Path,
) -> None:
    local_upload_storages(settings, tmp_path)

    def post(files: int, reactors: int) -> int:
        ids = [
            services.attachment_upload(
                uploader_id=staff, file=SimpleUploadedFile(f"f{n}.pdf", b"%PDF-1.4\n%%EOF\n")
            ).id
            for n in range(files)
        ]
        post_id = services.post_create(author_id=staff, thread_id=thread_id, body="B", attachment_ids=ids).id
        for _ in range(reactors):
            services.reaction_set(user_id=make_member(), post_id=post_id, kind="like")
        return post_id

    reader = signed_in(django_user_model, other)
    reader.get("/")  # the first request of a session records it
    small, large = post(1, 1), post(6, 8)
    services.reaction_set(user_id=other, post_id=large, kind="love")

    def queries(post_id: int) -> tuple[int, str]:
        with CaptureQueriesContext(connection) as captured:
            response = reader.get(f"/posts/{post_id}/fragment/")
        assert response.status_code == 200
        return len(captured), response.content.decode()

    one, _html = queries(small)
    many, html = queries(large)
    assert many == one
    assert html.count('.pdf" download>') == 6 and 'value="love" aria-pressed="true"' in html


# --- Reacting without a reload ----------------------------------------------------------------------------


def test_an_htmx_reaction_answers_with_the_post_and_a_plain_one_with_a_redirect(
    django_user_model: Any, thread_id: int, staff: int, other: int
) -> None:
    first = _first_post(thread_id)
    reader = signed_in(django_user_model, other)
    htmx = {"HX-Request": "true"}
    swapped = reader.post(f"/posts/{first}/react/", {"kind": "love"}, headers=htmx)
    assert swapped.status_code == 200
    html = swapped.content.decode()
    assert html.lstrip().startswith(f'<li class="post" id="post-{first}"')
    assert 'value="love" aria-pressed="true"' in html and '<span class="reactions__count">1</span>' in html

    # Pressed again: taken back, still in place.
    html = reader.post(f"/posts/{first}/react/", {"kind": "love"}, headers=htmx).content.decode()
    assert 'value="love" aria-pressed="false"' in html and "reactions__count" not in html

    # Without JavaScript: the redirect to the post, as before.
    plain = reader.post(f"/posts/{first}/react/", {"kind": "wow"})
    assert plain.status_code == 302 and plain["Location"] == f"/posts/{first}/"

    # A refusal goes to the page's alert area.
    author = signed_in(django_user_model, staff)
    refused = author.post(f"/posts/{first}/react/", {"kind": "like"}, headers=htmx)
    assert refused.status_code == 409 and refused["HX-Retarget"] == "#alerts"


def test_taking_a_reaction_back_is_published(
    thread_id: int, member: int, outbox: Callable[[str], list[dict[str, Any]]]
) -> None:
    first = _first_post(thread_id)
    services.reaction_clear(user_id=member, post_id=first)  # none yet: nothing to say
    assert outbox("thread.reaction_cleared") == []
    services.reaction_set(user_id=member, post_id=first, kind="like")
    services.reaction_set(user_id=member, post_id=first, kind="sad")
    services.reaction_clear(user_id=member, post_id=first)
    [cleared] = outbox("thread.reaction_cleared")
    assert (cleared["post_id"], cleared["thread_id"], cleared["reactor_id"], cleared["kind"]) == (
        first,
        thread_id,
        member,
        "sad",
    )


def test_the_thread_page_follows_its_topic_from_a_static_script(
    django_user_model: Any, thread_id: int, member: int
) -> None:
    page = signed_in(django_user_model, member).get(f"/threads/{thread_id}/").content.decode()
    assert f'<script src="{django_settings.STATIC_URL}thread/live.js" defer></script>' in page
    assert f'data-live-thread="{thread_id}" data-live-last-page="true" data-live-per-page="20"' in page
    assert 'data-live-fragment-url="/posts/0/fragment/"' in page
    assert re.search(r"<p [^>]*data-live-notice hidden>", page)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)  # nothing inline


# --- A Redis outage ---------------------------------------------------------------------------------------


def test_a_redis_outage_fails_neither_the_reply_nor_its_push(
    django_user_model: Any,
    thread_id: int,
    other: int,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["hosts"] = [{"address": f"redis://127.0.0.1:{processes.free_port()}/0"}]
    settings.CHANNEL_LAYERS = layers
    settings.FORUM_QUEUE_PREFIX = processes.unique_prefix()  # the events go to queues of this test's own
    caplog.set_level(logging.WARNING, logger="forum.realtime.delivery")

    # The request commits the reply and its event; it does not touch the channel layer.
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(django_user_model, other).post(f"/threads/{thread_id}/reply/", {"body": "Hi"})
    assert response.status_code == 302
    assert "real-time message not sent" not in caplog.text

    # The handler, run as the worker runs it, logs the lost push and is done (no retry, no error).
    row = OutboxEvent.objects.filter(name="thread.post_created").order_by("-created_at").first()
    assert row is not None
    with django_capture_on_commit_callbacks(execute=True):
        result = handlers.on_post_created.apply(
            args=[str(row.id), row.name, row.version, row.payload], throw=True
        ).get()
    assert result == "handled"
    assert "real-time message not sent" in caplog.text


# --- Pushes, end to end -----------------------------------------------------------------------------------


@pytest.fixture
def live_stack(transactional_db: None, tmp_path: Path) -> Iterator[processes.Child]:
    """A Celery worker on this test's own thread queue and a WebSocket server, on one channel layer.

    Yields the server; the events the test's services publish reach the worker, whose handlers push
    to the layer, which the server relays to the sockets subscribed to the thread's topic.
    """
    prefix = processes.unique_prefix()
    layers = copy.deepcopy(django_settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["prefix"] = f"{prefix}:asgi"
    with override_settings(FORUM_QUEUE_PREFIX=prefix, REDIS_KEY_PREFIX=prefix, CHANNEL_LAYERS=layers):
        env = processes.child_env(LOG_FORMAT="plain")
        worker = processes.start_child(
            "worker", processes.celery_worker_command(queues=["thread"]), env=env, log_dir=tmp_path
        )
        try:
            port = processes.free_port()
            server = processes.start_child(
                "asgi",
                [
                    str(processes.BIN_DIR / "uvicorn"),
                    "config.asgi:application",
                    "--host=127.0.0.1",
                    f"--port={port}",
                    "--lifespan=off",
                    "--timeout-graceful-shutdown=2",
                ],
                env=env,
                log_dir=tmp_path,
                port=port,
            )
            try:
                _wait_for(lambda: "ready" in worker.log(), what=f"the worker:\n{worker.log()}")
                yield server
            finally:
                server.stop()
        finally:
            worker.stop()


def _wait_for(condition: Callable[[], bool], *, what: str) -> None:
    deadline = time.monotonic() + RECEIVE_TIMEOUT
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _pushed_so_far() -> None:
    """Wait until the worker has pushed every post written so far (the fixtures' opening posts): on a
    loaded machine a late push of one reached a socket subscribed after it, ahead of the test's own."""
    written = set(OutboxEvent.objects.filter(name="thread.post_created").values_list("id", flat=True))

    def pushed() -> bool:
        done = ProcessedEvent.objects.filter(handler="thread.on_post_created", event_id__in=written)
        return done.count() == len(written)

    _wait_for(pushed, what="the worker's pushes of the posts written before the test")


@contextlib.contextmanager
def _socket(server: processes.Child, client: Client) -> Iterator[ClientConnection]:
    """A socket of the member signed in on ``client``, past its ``ready`` frame."""
    name = django_settings.SESSION_COOKIE_NAME
    with connect(
        f"ws://127.0.0.1:{server.port}/ws/",
        additional_headers={"Cookie": f"{name}={client.cookies[name].value}"},
        origin=Origin(f"http://127.0.0.1:{server.port}"),
        open_timeout=RECEIVE_TIMEOUT,
        close_timeout=2,
    ) as ws:
        assert _receive(ws)["type"] == "ready"
        yield ws


def _receive(ws: ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(ws.recv(timeout=RECEIVE_TIMEOUT))
    return frame


def _subscribe(ws: ClientConnection, topic: str) -> dict[str, Any]:
    ws.send(json.dumps({"type": "subscribe", "topic": topic}))
    return _receive(ws)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_handlers_push_ids_and_counts_to_the_threads_followers(
    live_stack: processes.Child,
    django_user_model: Any,
    thread_id: int,
    pending_id: int,
    member: int,
    other: int,
    staff: int,
) -> None:
    topic = live.thread_topic(thread_id)
    first = _first_post(thread_id)
    _pushed_so_far()
    with (
        _socket(live_stack, signed_in(django_user_model, other)) as reader,
        _socket(live_stack, signed_in(django_user_model, member)) as author,
    ):
        assert _subscribe(reader, topic) == {"type": "subscribed", "topic": topic}
        refused = _subscribe(reader, f"thread:{pending_id}")
        assert refused["type"] == "error" and refused["code"] == "forbidden"
        assert _subscribe(author, f"thread:{pending_id}")["type"] == "subscribed"

        def pushed(kind: str, payload: dict[str, Any]) -> None:
            assert _receive(reader) == {"type": "event", "kind": kind, "topic": topic, "payload": payload}

        reply = services.post_create(author_id=member, thread_id=thread_id, body="Live reply").id
        pushed("post.created", {"thread_id": thread_id, "post_id": reply, "position": 2})

        services.reaction_set(user_id=member, post_id=first, kind="like")
        pushed("post.reactions", {"thread_id": thread_id, "post_id": first, "counts": {"like": 1}})
        services.reaction_set(user_id=member, post_id=first, kind="wow")
        pushed("post.reactions", {"thread_id": thread_id, "post_id": first, "counts": {"wow": 1}})
        services.reaction_clear(user_id=member, post_id=first)
        pushed("post.reactions", {"thread_id": thread_id, "post_id": first, "counts": {}})

        services.post_edit(editor_id=staff, post_id=reply, body="Edited live")
        pushed("post.edited", {"thread_id": thread_id, "post_id": reply})
        services.post_delete(user_id=staff, post_id=reply)
        pushed("post.deleted", {"thread_id": thread_id, "post_id": reply})
        # Restored by staff, it comes back to the open pages as a reply does.
        services.post_restore(moderator_id=staff, post_id=reply)
        pushed("post.created", {"thread_id": thread_id, "post_id": reply, "position": 2})

        # The pending thread pushed nothing until it was approved; then its opening post is the first
        # frame its author's socket gets: nothing of the public thread, which it does not follow, came
        # before (a channel gets its frames in the order they were sent).
        services.thread_approve(moderator_id=staff, thread_id=pending_id)
        assert _receive(author) == {
            "type": "event",
            "kind": "post.created",
            "topic": f"thread:{pending_id}",
            "payload": {"thread_id": pending_id, "post_id": _first_post(pending_id), "position": 1},
        }
