"""The channel layer the gateway runs on: channels-redis's pub/sub layer, with two additions.

``RedisPubSubChannelLayer`` (channels-redis 4.3) publishes a group send as one Redis ``PUBLISH`` to
the group's pub/sub channel; every server process that holds a member of the group is subscribed to
it and hands the message to its consumers. Group membership lives in each process's memory, not in
Redis, so nothing expires and nothing has to be refreshed. Delivery is at most once: a message
published while a process is not subscribed (not connected, reconnecting) is gone. docs/realtime.md
("Channel layer") weighs this against the list-based ``RedisChannelLayer``.

What this module adds:

- ``group_send_many(messages)``: many group sends in one pipelined round trip per Redis shard,
  for a fan-out (``send_to_users``) instead of one round trip per member;
- a lost subscription is never silent: when the process's pub/sub connection to Redis fails, or
  comes back after a failure, every consumer of the process gets a ``realtime.layer_lost`` message
  (``LAYER_LOST_MESSAGE``) and closes its socket with 1011. The page client reconnects and fetches
  what it missed (``forum:realtime-reconnected``), as it does when the list-based layer's blocking
  receive fails. Without this, a socket would stay open across a Redis outage, deaf to what was
  published meanwhile, and its page would never know to catch up. Only channels whose subscription
  was made before the connection was lost are told: the first socket after an outage is often the
  one whose subscription makes redis-py connect again, and that socket missed nothing.

It subclasses internals of channels-redis (``RedisPubSubLoopLayer``, ``RedisSingleShardConnection``),
so the version is pinned in requirements; forum/tests/test_realtime_layer.py covers what we rely on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close, decode_hosts

__all__ = ["LAYER_LOST_MESSAGE", "PubSubChannelLayer"]

logger = logging.getLogger(__name__)

# What every local consumer gets when its subscriptions may have missed messages.
LAYER_LOST_MESSAGE = "realtime.layer_lost"


class _Shard(RedisSingleShardConnection):  # type: ignore[misc]
    """One Redis host: publishes (pipelined), and tells the consumers when the subscriber connection
    failed or was made again."""

    def __init__(self, host: dict[str, Any], channel_layer: _LoopLayer) -> None:
        super().__init__(host, channel_layer)
        self._watched: Any = None  # the pub/sub connection whose reconnects are reported
        self._healthy = True

    async def publish(self, channel: str, message: bytes) -> None:
        await self.publish_many([(channel, message)])

    async def publish_many(self, items: list[tuple[str, bytes]]) -> None:
        # The lock guards only the client's creation: the publishes use the client's pool, not the
        # subscriber connection, so they need not wait for each other (the base class holds the lock
        # for the whole round trip, which queues a process's sends one behind the other).
        async with self._lock:
            self._ensure_redis()
            client = self._redis
        if len(items) == 1:
            await client.publish(*items[0])
            return
        pipeline = client.pipeline(transaction=False)
        for channel, message in items:
            pipeline.publish(channel, message)
        await pipeline.execute()

    async def subscribe(self, channel: str) -> None:
        await super().subscribe(channel)
        self._watch_reconnects()

    async def unsubscribe(self, channel: str) -> None:
        if self._healthy:
            await super().unsubscribe(channel)
            return
        # Redis is away: every closing socket would wait for a connect timeout here, one after the
        # other under the lock. Forget the channel instead; the reconnect subscribes to what is left.
        async with self._lock:
            self._subscribed_to.discard(channel)
            if self._pubsub is not None:  # redis-py keys them as bytes unless it decodes responses
                self._pubsub.channels.pop(channel.encode(), None)
                self._pubsub.channels.pop(channel, None)

    def _watch_reconnects(self) -> None:
        connection = getattr(self._pubsub, "connection", None)
        if connection is not None and connection is not self._watched:
            # Registered after the first connect, so every call is a reconnect (redis-py then
            # subscribes again to every channel, but what was published in between is lost).
            connection.register_connect_callback(self._reconnected)
            self._watched = connection

    async def _reconnected(self, connection: Any) -> None:
        logger.warning("real-time layer: subscriber connection made again; closing this process's sockets")
        self._lost()

    def _lost(self) -> None:
        layer = self.channel_layer
        message = layer.channel_layer.serialize({"type": LAYER_LOST_MESSAGE})
        for channel, queue in list(layer.channels.items()):
            # A channel still being subscribed is subscribed on the connection being made (or fails,
            # and its socket is closed anyway): it cannot have missed anything.
            if channel not in layer.joining:
                queue.put_nowait(message)

    async def _do_receiving(self) -> None:
        # As the base class's loop, but a failure is reported to the consumers (once per outage).
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
                    self._receive_message(message)
                    self._healthy = True
                else:
                    await asyncio.sleep(0.1)
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except Exception as error:  # noqa: BLE001 - logged; the loop goes on until Redis is back
                if self._healthy:
                    logger.warning(
                        "real-time layer: subscriber connection failed; closing this process's sockets",
                        extra={"error": f"{type(error).__name__}: {error}"},
                    )
                    self._lost()
                self._healthy = False
                await asyncio.sleep(1)


class _LoopLayer(RedisPubSubLoopLayer):  # type: ignore[misc]
    """The layer of one event loop, on ``_Shard`` connections."""

    def __init__(self, hosts: Any = None, **kwargs: Any) -> None:
        super().__init__(hosts, **kwargs)
        self._shards = [_Shard(host, self) for host in decode_hosts(hosts)]
        # Channels whose own subscription (``new_channel``) has not completed yet.
        self.joining: set[str] = set()

    async def _subscribe_to_channel(self, channel: str) -> None:
        self.channels[channel] = asyncio.Queue()
        self.joining.add(channel)
        try:
            await self._get_shard(channel).subscribe(channel)
        except BaseException:
            # The base class keeps the queue of a channel it could not subscribe (Redis away, or a
            # caller's timeout): nobody will ever receive from it, and every report would fill it.
            self.channels.pop(channel, None)
            raise
        finally:
            self.joining.discard(channel)

    async def group_send_many(self, messages: Iterable[tuple[str, dict[str, Any]]]) -> None:
        by_shard: dict[_Shard, list[tuple[str, bytes]]] = {}
        for group, message in messages:
            channel = self._get_group_channel_name(group)
            shard = self._get_shard(channel)
            by_shard.setdefault(shard, []).append((channel, self.channel_layer.serialize(message)))
        await asyncio.gather(*(shard.publish_many(items) for shard, items in by_shard.items()))


class PubSubChannelLayer(RedisPubSubChannelLayer):  # type: ignore[misc]
    """``RedisPubSubChannelLayer`` with ``group_send_many`` and lost subscriptions reported."""

    def _get_layer(self) -> _LoopLayer:
        loop = asyncio.get_running_loop()
        layer: _LoopLayer | None = self._layers.get(loop)
        if layer is None:
            layer = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
        return layer

    async def group_send_many(self, messages: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """Send each ``(group, message)``: one pipelined round trip per Redis host."""
        await self._get_layer().group_send_many(messages)

    @property
    def hosts(self) -> list[dict[str, Any]]:
        """The Redis hosts, as connection keyword arguments (as ``RedisChannelLayer.hosts``)."""
        hosts: list[dict[str, Any]] = decode_hosts(self._kwargs.get("hosts"))
        return hosts

    def group_channel(self, group: str) -> str:
        """The Redis pub/sub channel that carries ``group``'s messages."""
        return f"{self._kwargs.get('prefix', 'asgi')}__group__{group}"
