"""The gateway's Python side in one process: names, frames, sending, the auth seam, the rate limits."""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, get_channel_layer
from channels_redis.utils import create_pool
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import transaction

from forum.realtime import (
    InvalidTopicError,
    OutsideTransactionError,
    asend_to_users,
    delivery,
    register_authenticator,
    register_topic,
    send_to_topic,
    send_to_user,
    send_to_users,
)
from forum.realtime.auth import MEMBER_ID_SCOPE_KEY, MemberMiddleware, unregister_authenticator
from forum.realtime.consumer import TokenBucket
from forum.realtime.frames import MAX_OUTBOUND_FRAME_BYTES, event_frame
from forum.realtime.topics import parse_topic, registration_for, topic_group, unregister_topic, user_group
from forum.testing import processes

# Socket handshakes go through database_sync_to_async: see the fixture.
pytestmark = pytest.mark.usefixtures("no_open_connection")


@pytest.fixture
def layer_prefix(settings: Any) -> str:
    """A channel layer of this test alone (parallel runs share the Redis server)."""
    prefix = processes.unique_prefix()
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["prefix"] = f"{prefix}:asgi"
    settings.REDIS_KEY_PREFIX = prefix
    settings.CHANNEL_LAYERS = layers
    return prefix


class Listener:
    """A subscriber to a group's Redis pub/sub channel, as a server process holding a member of the
    group is (forum.realtime.layer): what a send puts on the wire, decoded as the layer decodes it."""

    def __init__(self, group: str) -> None:
        self.layer = get_channel_layer()
        self.client = redis.Redis.from_url(settings.REDIS_URL)
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(self.layer.group_channel(group))

    def next_messages(self, count: int) -> list[dict[str, Any]]:
        """The next ``count`` messages, in order (a safety net of 15 s, never an assertion)."""
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + 15
        while len(messages) < count and time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=0.5)
            if message is not None:
                messages.append(self.layer.deserialize(message["data"]))
        return messages

    def close(self) -> None:
        self.pubsub.close()
        self.client.close()


@pytest.fixture
def listen() -> Iterator[Callable[[str], Listener]]:
    listeners: list[Listener] = []

    def subscribe(group: str) -> Listener:
        listeners.append(Listener(group))
        return listeners[-1]

    yield subscribe
    for listener in listeners:
        listener.close()


def next_messages(listener: Listener, count: int) -> list[dict[str, Any]]:
    return listener.next_messages(count)


def next_message(listener: Listener) -> dict[str, Any]:
    messages = listener.next_messages(1)
    assert messages, "no message within 15 s"
    return messages[0]


# --- names ---------------------------------------------------------------------------------------
def test_topics_and_members_map_to_valid_distinct_group_names() -> None:
    assert parse_topic("thread:42") == ("thread", "42")
    assert topic_group("thread:42") == "t.thread.42"
    assert topic_group("dialog:a-b_c.d") == "t.dialog.a-b_c.d"
    assert user_group(42) == "u.42"
    longest = topic_group("p" * 24 + ":" + "k" * 64)
    # Valid for any Channels layer (the list-based one checks them; REALTIME_LAYER may pick it).
    assert BaseChannelLayer().require_valid_group_name(longest)
    assert len(longest) < 100


@pytest.mark.parametrize(
    "topic",
    [None, 42, "", "thread", "thread:", ":42", "Thread:42", "thread:4 2", "thread:42:1", "a.b:1",
     "thread:" + "k" * 65, "p" * 25 + ":1", "thread:é"],
)  # fmt: skip
def test_malformed_topics_are_refused(topic: Any) -> None:
    with pytest.raises(InvalidTopicError):
        parse_topic(topic)


@pytest.mark.parametrize("user_id", [0, -1, True, "42", 4.2, None])
def test_user_ids_must_be_positive_integers(user_id: Any) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        user_group(user_id)


def test_a_prefix_belongs_to_one_check() -> None:
    def allow(user_id: int, key: str) -> bool:
        return True

    def deny(user_id: int, key: str) -> bool:
        return False

    try:
        register_topic("unit_prefix", allow, allow_whisper=True)
        register_topic("unit_prefix", allow, allow_whisper=True)  # AppConfig.ready may run twice
        registration = registration_for("unit_prefix")
        assert registration is not None and registration.allow_whisper
        with pytest.raises(ValueError, match="already registered"):
            register_topic("unit_prefix", deny)
    finally:
        unregister_topic("unit_prefix")
    with pytest.raises(InvalidTopicError):
        register_topic("Bad.Prefix", allow)
    with pytest.raises(TypeError):
        register_topic("fine", "not callable")  # type: ignore[arg-type]


# --- frames --------------------------------------------------------------------------------------
def test_event_frames_are_compact_json() -> None:
    text = event_frame("post.created", {"post_id": 1, "title": "Ёлка"}, topic="thread:9")
    assert json.loads(text) == {
        "type": "event",
        "kind": "post.created",
        "topic": "thread:9",
        "payload": {"post_id": 1, "title": "Ёлка"},
    }


@pytest.mark.parametrize(
    ("kind", "payload", "message"),
    [
        ("Post Created", {}, "kind"),
        ("", {}, "kind"),
        (7, {}, "kind"),
        ("post.created", [1, 2], "JSON object"),
        ("post.created", {"when": object()}, "plain JSON"),
        ("post.created", {"ratio": float("nan")}, "plain JSON"),
        ("post.created", {"text": "x" * MAX_OUTBOUND_FRAME_BYTES}, "at most"),
    ],
)
def test_bad_sends_raise_at_the_call_site(kind: Any, payload: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        send_to_user(1, kind, payload)
    with pytest.raises(ValueError, match=message):
        send_to_topic("thread:1", kind, payload)


def test_sends_to_malformed_addresses_raise() -> None:
    with pytest.raises(ValueError, match="positive integer"):
        send_to_user(0, "ok", {})
    with pytest.raises(InvalidTopicError):
        send_to_topic("no topic", "ok", {})


# --- sending over the real layer -----------------------------------------------------------------
def test_the_layer_reads_from_redis_without_a_timeout() -> None:
    """A read timeout (redis-py 8 has 5 s by default) breaks the layer's blocking receive.

    It races the 5 s BZPOPMIN, so an idle socket's consumer dies, and under asyncio.timeout on
    Python 3.11 the cancel of a pending receive can be lost, so a closed socket's consumer lingers.
    """
    layer = get_channel_layer()
    for host in layer.hosts:
        pool = create_pool(dict(host))
        assert pool.connection_kwargs.get("socket_timeout") is None


def test_send_to_user_and_send_to_topic_reach_their_groups_only(
    layer_prefix: str, listen: Callable[[str], Listener]
) -> None:
    alice = listen(user_group(101))
    bob = listen(user_group(102))
    thread = listen(topic_group("thread:7"))

    send_to_user(101, "note", {"n": 1})
    send_to_topic("thread:7", "post.created", {"post_id": 3})
    send_to_user(102, "note", {"n": 2})

    assert next_message(alice) == {"type": "realtime.frame", "text": event_frame("note", {"n": 1})}
    # Bob's first message is his own: Alice's was sent before it and did not reach him.
    assert json.loads(next_message(bob)["text"])["payload"] == {"n": 2}
    topic_message = next_message(thread)
    assert topic_message["topic"] == "thread:7"
    assert json.loads(topic_message["text"]) == {
        "type": "event",
        "kind": "post.created",
        "topic": "thread:7",
        "payload": {"post_id": 3},
    }


def test_sync_sends_reuse_one_event_loop_and_its_redis_client(
    layer_prefix: str, listen: Callable[[str], Listener]
) -> None:
    """async_to_sync would make a loop, and the layer a Redis connection, for every send."""
    member = listen(user_group(103))
    send_to_user(103, "note", {"n": 1})
    loop = delivery._sender._current()
    client = get_channel_layer()._layers[loop]._shards[0]._redis
    send_to_users([(103, "note", {"n": 2}), (103, "note", {"n": 3})])
    send_to_topic("thread:8", "post.created", {"post_id": 1})
    assert delivery._sender._current() is loop
    assert get_channel_layer()._layers[loop]._shards[0]._redis is client
    assert [json.loads(m["text"])["payload"]["n"] for m in next_messages(member, 3)] == [1, 2, 3]


def test_a_sender_loop_that_stopped_is_made_again(
    layer_prefix: str, listen: Callable[[str], Listener]
) -> None:
    member = listen(user_group(105))
    send_to_user(105, "note", {"n": 1})
    stopped = delivery._sender._current()
    stopped.call_soon_threadsafe(stopped.stop)
    thread = delivery._sender._thread
    assert thread is not None
    thread.join(timeout=5)
    send_to_user(105, "note", {"n": 2})  # would wait for its timeout on the stopped loop
    assert delivery._sender._current() is not stopped
    assert [json.loads(m["text"])["payload"]["n"] for m in next_messages(member, 2)] == [1, 2]


def test_a_forked_process_sends_on_a_loop_of_its_own(
    layer_prefix: str, listen: Callable[[str], Listener]
) -> None:
    """Gunicorn and Celery fork their workers after the parent may have sent: the child's sends must
    not go to the parent's loop thread, which does not exist in the child."""
    member = listen(user_group(104))
    send_to_user(104, "note", {"from": "parent"})
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if the send came back without hanging or raising
        code = 1
        try:
            send_to_user(104, "note", {"from": "child"})
            code = 0 if delivery._sender._pid == os.getpid() else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    payloads = [json.loads(m["text"])["payload"] for m in next_messages(member, 2)]
    assert payloads == [{"from": "parent"}, {"from": "child"}]


@pytest.mark.django_db(transaction=True)
def test_on_commit_sends_follow_the_transaction(layer_prefix: str, listen: Callable[[str], Listener]) -> None:
    channel = listen(user_group(201))
    with pytest.raises(OutsideTransactionError):
        send_to_user(201, "note", {}, on_commit=True)

    with pytest.raises(RuntimeError, match="roll back"), transaction.atomic():
        send_to_user(201, "note", {"state": "rolled back"}, on_commit=True)
        raise RuntimeError("roll back")
    payload = {"state": "committed"}
    with transaction.atomic():
        send_to_user(201, "note", payload, on_commit=True)
        payload["state"] = "changed after the call"  # the frame was taken at the call
    send_to_user(201, "note", {"state": "marker"})

    payloads = [json.loads(message["text"])["payload"] for message in next_messages(channel, 2)]
    assert payloads == [{"state": "committed"}, {"state": "marker"}]


@pytest.mark.django_db(transaction=True)
def test_send_to_users_sends_each_member_their_own_frame_in_one_batch(
    layer_prefix: str, listen: Callable[[str], Listener]
) -> None:
    alice, bob, carol = listen(user_group(401)), listen(user_group(402)), listen(user_group(403))
    send_to_users([(401, "note", {"n": 1}), (402, "note", {"n": 2}), (401, "note", {"n": 3})])
    assert [json.loads(m["text"])["payload"] for m in next_messages(alice, 2)] == [{"n": 1}, {"n": 3}]
    assert next_message(bob) == {"type": "realtime.frame", "text": event_frame("note", {"n": 2})}

    with pytest.raises(OutsideTransactionError):
        send_to_users([(403, "note", {})], on_commit=True)
    with pytest.raises(ValueError, match="kind"):  # checked at the call, before anything is sent
        send_to_users([(403, "note", {"n": 0}), (403, "Bad Kind", {})])
    with pytest.raises(RuntimeError, match="roll back"), transaction.atomic():
        send_to_users([(403, "note", {"state": "rolled back"})], on_commit=True)
        raise RuntimeError("roll back")
    payload = {"state": "committed"}
    with transaction.atomic():
        send_to_users([(403, "note", payload)], on_commit=True)
        payload["state"] = "changed after the call"
    send_to_users([(403, "note", {"state": "marker"})])
    payloads = [json.loads(message["text"])["payload"] for message in next_messages(carol, 2)]
    assert payloads == [{"state": "committed"}, {"state": "marker"}]


def test_send_to_users_on_the_list_based_layer_sends_them_one_by_one(
    settings: Any, layer_prefix: str
) -> None:
    """REALTIME_LAYER=lists: no group_send_many there, so each frame is a group send of its own."""
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["BACKEND"] = "channels_redis.core.RedisChannelLayer"
    settings.CHANNEL_LAYERS = layers

    async def run() -> list[dict[str, Any]]:
        layer = get_channel_layer()
        channels = [await layer.new_channel() for _ in range(3)]
        for user_id, channel in zip((501, 502, 503), channels, strict=True):
            await layer.group_add(user_group(user_id), channel)
        await asend_to_users([(user_id, "note", {"to": user_id}) for user_id in (501, 502, 503)])
        return [await layer.receive(channel) for channel in channels]

    messages = async_to_sync(run)()
    assert [json.loads(message["text"])["payload"] for message in messages] == [
        {"to": 501},
        {"to": 502},
        {"to": 503},
    ]


def test_an_unreachable_layer_is_logged_not_raised(settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["CONFIG"]["hosts"] = [
        {"address": f"redis://127.0.0.1:{processes.free_port()}/0", "socket_connect_timeout": 2}
    ]
    settings.CHANNEL_LAYERS = layers
    with caplog.at_level("WARNING", logger="forum.realtime.delivery"):
        send_to_user(301, "note", {})
    assert [record.getMessage() for record in caplog.records] == ["real-time message not sent"]
    assert "ConnectionError" in caplog.records[0].error  # type: ignore[attr-defined]

    caplog.clear()
    delivery.layer_breaker.reset()
    with caplog.at_level("WARNING", logger="forum.realtime.delivery"):
        send_to_users([(301, "note", {}), (302, "note", {})])  # one failure for the batch, not raised
    assert [record.getMessage() for record in caplog.records] == ["real-time message not sent"]
    delivery.layer_breaker.reset()


# --- the auth seam -------------------------------------------------------------------------------
class SessionUser:
    is_authenticated = True

    def __init__(self, pk: int) -> None:
        self.pk = pk


def member_id_for(scope: dict[str, Any]) -> int | None:
    seen: dict[str, Any] = {}

    async def inner(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.update(scope)

    async def run() -> None:
        await MemberMiddleware(inner)(scope, None, None)

    async_to_sync(run)()
    member_id: int | None = seen[MEMBER_ID_SCOPE_KEY]
    return member_id


@pytest.fixture
def authenticators() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        unregister_authenticator(name)


def test_without_authenticators_the_session_user_is_the_member() -> None:
    assert member_id_for({"type": "websocket", "user": SessionUser(5)}) == 5
    assert member_id_for({"type": "websocket", "user": AnonymousUser()}) is None
    assert member_id_for({"type": "websocket"}) is None


def test_a_registered_authenticator_is_asked_before_the_session(authenticators: list[str]) -> None:
    def from_token_cookie(scope: Any) -> int | None:
        return 77 if scope.get("cookies", {}).get("access") == "good-token" else None

    register_authenticator("unit-token", from_token_cookie)
    authenticators.append("unit-token")
    with_token = {"type": "websocket", "cookies": {"access": "good-token"}, "user": SessionUser(5)}
    assert member_id_for(with_token) == 77
    bad_token = {"type": "websocket", "cookies": {"access": "forged"}, "user": SessionUser(5)}
    assert member_id_for(bad_token) == 5
    assert member_id_for({"type": "websocket", "cookies": {}, "user": AnonymousUser()}) is None


@pytest.mark.parametrize("answer", ["77", True, -3, RuntimeError("broken")])
def test_a_broken_authenticator_does_not_sign_anyone_in(authenticators: list[str], answer: Any) -> None:
    def broken(scope: Any) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    register_authenticator("unit-broken", broken)
    authenticators.append("unit-broken")
    assert member_id_for({"type": "websocket", "user": AnonymousUser()}) is None
    assert member_id_for({"type": "websocket", "user": SessionUser(5)}) == 5


# --- rate limits ---------------------------------------------------------------------------------
def test_token_bucket_allows_a_burst_then_the_refill_rate() -> None:
    now = [100.0]
    bucket = TokenBucket(burst=3, rate=2, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one token back
    assert [bucket.take(), bucket.take()] == [True, False]
    now[0] += 60  # never more than the burst
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
