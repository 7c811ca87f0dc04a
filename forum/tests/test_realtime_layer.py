"""The pub/sub channel layer (forum/realtime/layer.py) and the consumer on it, on the real Redis."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from channels.layers import get_channel_layer
from channels_redis.utils import _consistent_hash
from django.conf import settings as django_settings

from forum.realtime import asend_to_users
from forum.realtime.auth import MEMBER_ID_SCOPE_KEY
from forum.realtime.consumer import RealtimeConsumer, handshake_breaker
from forum.realtime.layer import LAYER_LOST_MESSAGE, PubSubChannelLayer
from forum.realtime.topics import user_group
from forum.testing import processes
from forum.testing.tcp_proxy import TcpProxy

# A safety net so that a broken layer fails the test instead of hanging it; never an assertion.
WAIT = 15.0

# Socket handshakes go through database_sync_to_async: see the fixture.
pytestmark = pytest.mark.usefixtures("no_open_connection")


@pytest.fixture
def pubsub_layer(settings: Any) -> str:
    """The pub/sub layer under a prefix of this test's own."""
    prefix = processes.unique_prefix()
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"]["BACKEND"] = "forum.realtime.layer.PubSubChannelLayer"
    layers["default"]["CONFIG"]["prefix"] = f"{prefix}:asgi"
    settings.CHANNEL_LAYERS = layers
    return prefix


@pytest.fixture
def proxied_layer(pubsub_layer: str, settings: Any) -> Iterator[TcpProxy]:
    """The layer reaches Redis only through a proxy that the test can cut."""
    target = urlsplit(django_settings.REDIS_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    for host in layers["default"]["CONFIG"]["hosts"]:
        host["address"] = urlunsplit(target._replace(netloc=proxy.url_host))
    settings.CHANNEL_LAYERS = layers
    yield proxy
    proxy.close()


def test_the_configured_layer_is_the_pub_sub_layer() -> None:
    assert isinstance(get_channel_layer(), PubSubChannelLayer)


def test_group_send_many_reaches_every_group_in_one_batch(pubsub_layer: str) -> None:
    async def run() -> list[list[dict[str, Any]]]:
        layer = get_channel_layer()
        first, second, both = [await layer.new_channel() for _ in range(3)]
        await layer.group_add("g.one", first)
        await layer.group_add("g.two", second)
        await layer.group_add("g.one", both)
        await layer.group_add("g.two", both)
        await layer.group_send_many(
            [("g.one", {"type": "x", "n": 1}), ("g.two", {"type": "x", "n": 2}), ("g.none", {"type": "x"})]
        )
        received = []
        for channel, count in ((first, 1), (second, 1), (both, 2)):
            received.append(
                [await asyncio.wait_for(layer.receive(channel), timeout=WAIT) for _ in range(count)]
            )
        await layer.flush()
        return received

    first, second, both = async_to_sync(run)()
    assert first == [{"type": "x", "n": 1}]
    assert second == [{"type": "x", "n": 2}]
    assert both == [{"type": "x", "n": 1}, {"type": "x", "n": 2}]


def test_a_lost_redis_connection_reaches_every_local_channel_and_subscriptions_come_back(
    proxied_layer: TcpProxy,
) -> None:
    async def run() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        layer = get_channel_layer()
        channels = [await layer.new_channel() for _ in range(2)]
        for channel in channels:
            await layer.group_add("g.members", channel)
        proxied_layer.cut()
        lost = [await asyncio.wait_for(layer.receive(channel), timeout=WAIT) for channel in channels]
        proxied_layer.restore()
        # Once Redis is back, the subscriptions are made again and sends arrive.
        deadline = asyncio.get_running_loop().time() + WAIT
        while True:
            try:
                await layer.group_send("g.members", {"type": "x", "n": 1})
                after = await asyncio.wait_for(layer.receive(channels[0]), timeout=0.5)
            except (TimeoutError, redis.ConnectionError):
                if asyncio.get_running_loop().time() > deadline:
                    raise
                continue
            if after["type"] == "x":
                break
        await layer.flush()
        return lost, after

    lost, after = async_to_sync(run)()
    assert lost == [{"type": LAYER_LOST_MESSAGE}, {"type": LAYER_LOST_MESSAGE}]
    assert after == {"type": "x", "n": 1}


def test_the_consumer_closes_with_1011_when_the_layer_is_lost_and_skips_the_per_frame_db_hop(
    pubsub_layer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """channels' AsyncConsumer runs close_old_connections in a thread before every message; the
    gateway's consumer does not (it reads the database only through database_sync_to_async)."""
    hops: list[str] = []

    async def counting_close_old_connections() -> None:
        hops.append("hop")

    monkeypatch.setattr("channels.consumer.aclose_old_connections", counting_close_old_connections)

    async def run() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        scope = {"type": "websocket", "path": "/ws/", "headers": [], MEMBER_ID_SCOPE_KEY: 77}
        socket = ApplicationCommunicator(RealtimeConsumer.as_asgi(), scope)
        await socket.send_input({"type": "websocket.connect"})
        assert (await socket.receive_output(WAIT))["type"] == "websocket.accept"

        async def frame() -> dict[str, Any]:
            sent = await socket.receive_output(WAIT)
            assert sent["type"] == "websocket.send", sent
            decoded: dict[str, Any] = json.loads(sent["text"])
            return decoded

        frames = [await frame()]  # ready
        await socket.send_input({"type": "websocket.receive", "text": json.dumps({"type": "ping", "ref": 1})})
        frames.append(await frame())
        await asend_to_users([(77, "note", {"n": 1})])
        frames.append(await frame())
        await get_channel_layer().group_send(user_group(77), {"type": LAYER_LOST_MESSAGE})
        closed = await socket.receive_output(WAIT)
        await socket.send_input({"type": "websocket.disconnect", "code": 1011})
        await socket.wait(WAIT)
        await get_channel_layer().flush()
        return frames, closed

    frames, closed = async_to_sync(run)()
    assert [frame["type"] for frame in frames] == ["ready", "pong", "event"]
    assert frames[2]["payload"] == {"n": 1}
    assert closed == {"type": "websocket.close", "code": 1011}
    assert hops == []


async def _closed(layer: Any, channel: str) -> None:
    """What a consumer's end does to its channel: its pending receive is cancelled (channels-redis then
    drops the channel and unsubscribes it)."""
    pending = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0)  # let the receive start waiting before it is cancelled
    pending.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await pending


async def _until_redis_answers(layer: Any) -> str:
    """A new channel, once the restored proxy lets the subscription through (the safety net is WAIT)."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        try:
            channel: str = await layer.new_channel()
            return channel
        except redis.ConnectionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


def test_a_channel_subscribed_as_the_connection_comes_back_is_not_told_it_lost_anything(
    proxied_layer: TcpProxy,
) -> None:
    """The first subscription after an outage is what makes redis-py connect again (and run the
    reconnect report); only the channels that existed while the connection was lost missed frames."""

    async def run() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        layer = get_channel_layer()
        old = await layer.new_channel()
        await layer.group_add("g.members", old)
        proxied_layer.cut()
        lost = await asyncio.wait_for(layer.receive(old), timeout=WAIT)
        # The old socket closes while Redis is away: nothing of it is left subscribed.
        await layer.group_discard("g.members", old)
        await _closed(layer, old)
        proxied_layer.restore()
        new = await _until_redis_answers(layer)
        await layer.group_add("g.members", new)
        await layer.group_send("g.members", {"type": "x", "n": 1})
        first = await asyncio.wait_for(layer.receive(new), timeout=WAIT)
        # A subscription that failed during the outage left no channel behind to be told anything.
        proxied_layer.cut()
        after_failure = await asyncio.wait_for(layer.receive(new), timeout=WAIT)
        with pytest.raises(redis.ConnectionError):
            await layer.new_channel()
        leftovers = {name for name in layer._get_layer().channels if name != new}
        await layer.flush()
        return lost, first, {"after_failure": after_failure, "leftovers": leftovers}

    lost, first, rest = async_to_sync(run)()
    assert lost == {"type": LAYER_LOST_MESSAGE}
    assert first == {"type": "x", "n": 1}
    assert rest == {"after_failure": {"type": LAYER_LOST_MESSAGE}, "leftovers": set()}


def _consumer(member_id: int) -> ApplicationCommunicator:
    scope = {"type": "websocket", "path": "/ws/", "headers": [], MEMBER_ID_SCOPE_KEY: member_id}
    return ApplicationCommunicator(RealtimeConsumer.as_asgi(), scope)


def test_with_redis_unreachable_the_handshake_is_accepted_and_closed_with_1011_and_the_next_one_stays_up(
    proxied_layer: TcpProxy, caplog: pytest.LogCaptureFixture
) -> None:
    async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        before = _consumer(78)
        await before.send_input({"type": "websocket.connect"})
        assert (await before.receive_output(WAIT))["type"] == "websocket.accept"
        assert json.loads((await before.receive_output(WAIT))["text"])["type"] == "ready"
        proxied_layer.cut()
        # The socket open while the subscription is lost is closed, and ends.
        assert await before.receive_output(WAIT) == {"type": "websocket.close", "code": 1011}
        await before.send_input({"type": "websocket.disconnect", "code": 1011})
        await before.wait(WAIT)

        refused = _consumer(78)
        await refused.send_input({"type": "websocket.connect"})
        during = [await refused.receive_output(WAIT), await refused.receive_output(WAIT)]
        await refused.wait(WAIT)  # the application ended: nothing of it is left waiting

        proxied_layer.restore()
        after: list[dict[str, Any]] = []
        while not after:  # until the proxy lets the subscription through
            socket = _consumer(78)
            await socket.send_input({"type": "websocket.connect"})
            accepted = await socket.receive_output(WAIT)
            output = await socket.receive_output(WAIT)
            if output["type"] == "websocket.close":
                await socket.wait(WAIT)
                continue
            after = [accepted, json.loads(output["text"])]
        # The first socket after the outage stays up: a note sent now is its next frame.
        await asend_to_users([(78, "note", {"n": 1})])
        after.append(await socket.receive_output(WAIT))
        await socket.send_input({"type": "websocket.disconnect", "code": 1000})
        await socket.wait(WAIT)
        await get_channel_layer().flush()
        return during, after

    handshake_breaker.reset()  # an outage another test left noted would hide this one's warning
    with caplog.at_level("WARNING"):
        during, after = async_to_sync(run)()
    assert during == [
        {"type": "websocket.accept", "subprotocol": None},
        {"type": "websocket.close", "code": 1011},
    ]
    assert [after[0]["type"], after[1]["type"]] == ["websocket.accept", "ready"]
    assert after[2]["type"] == "websocket.send" and json.loads(after[2]["text"])["payload"] == {"n": 1}
    # One warning for the outage, no traceback.
    refusals = [record for record in caplog.records if record.name == "forum.realtime.consumer"]
    assert [record.levelname for record in refusals] == ["WARNING"]
    assert not [record for record in caplog.records if record.exc_info]


def test_a_handshake_waits_for_a_redis_that_does_not_answer_only_a_bounded_time(
    pubsub_layer: str, settings: Any
) -> None:
    """A Redis host that takes the TCP connection and never answers (no read timeout is configured:
    the subscriber polls on its own) must not hold the handshake, or the ones queued behind it."""
    silent = socket.create_server(("127.0.0.1", 0))
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    for host in layers["default"]["CONFIG"]["hosts"]:
        host["address"] = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
    settings.CHANNEL_LAYERS = layers

    async def run() -> list[list[dict[str, Any]]]:
        sockets = [_consumer(79), _consumer(79)]
        for each in sockets:
            await each.send_input({"type": "websocket.connect"})
        answers = [[await each.receive_output(WAIT), await each.receive_output(WAIT)] for each in sockets]
        for each in sockets:
            await each.wait(WAIT)
        await get_channel_layer().flush()
        return answers

    try:
        answers = async_to_sync(run)()
    finally:
        silent.close()
    for answer in answers:
        assert [output["type"] for output in answer] == ["websocket.accept", "websocket.close"]
        assert answer[1]["code"] == 1011


def test_a_group_that_cannot_be_joined_at_the_handshake_closes_the_socket_with_1011(
    pubsub_layer: str, settings: Any
) -> None:
    """The channel subscribed, then joining the member's group failed (its Redis host is away): the
    accepted socket is closed with 1011, not ended by an exception."""
    target = urlsplit(django_settings.REDIS_URL)
    proxies = [TcpProxy(target.hostname or "127.0.0.1", target.port or 6379) for _ in range(2)]
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    host = layers["default"]["CONFIG"]["hosts"][0]
    layers["default"]["CONFIG"]["hosts"] = [
        {**host, "address": urlunsplit(target._replace(netloc=proxy.url_host))} for proxy in proxies
    ]
    settings.CHANNEL_LAYERS = layers
    prefix = layers["default"]["CONFIG"]["prefix"]
    # A member whose group lives on the second host, which is cut off; a consumer's own channel lands
    # on either host (its name is random), so handshakes are tried until one subscribed its channel.
    member_id = next(
        n for n in range(100, 200) if _consistent_hash(f"{prefix}__group__{user_group(n)}", 2) == 1
    )
    proxies[1].cut()

    async def run() -> list[list[dict[str, Any]]]:
        layer = get_channel_layer()
        answers = []
        for _attempt in range(40):
            socket = _consumer(member_id)
            await socket.send_input({"type": "websocket.connect"})
            answers.append([await socket.receive_output(WAIT), await socket.receive_output(WAIT)])
            joined = bool(layer._get_layer().channels)  # its channel was subscribed: the group failed
            await socket.send_input({"type": "websocket.disconnect", "code": 1011})
            await socket.wait(WAIT)
            if joined:
                break
        await layer.flush()
        return answers if joined else []

    try:
        answers = async_to_sync(run)()
    finally:
        for proxy in proxies:
            proxy.close()
    assert answers, "no handshake subscribed its channel on the reachable host"
    for answer in answers:
        assert answer == [
            {"type": "websocket.accept", "subprotocol": None},
            {"type": "websocket.close", "code": 1011},
        ]
