"""The pub/sub channel layer (forum/realtime/layer.py) and the consumer on it, on the real Redis."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from channels.layers import get_channel_layer
from django.conf import settings as django_settings

from forum.realtime import asend_to_users
from forum.realtime.auth import MEMBER_ID_SCOPE_KEY
from forum.realtime.consumer import RealtimeConsumer
from forum.realtime.layer import LAYER_LOST_MESSAGE, PubSubChannelLayer
from forum.realtime.topics import user_group
from forum.testing import processes
from forum.testing.tcp_proxy import TcpProxy

# A safety net so that a broken layer fails the test instead of hanging it; never an assertion.
WAIT = 15.0


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
