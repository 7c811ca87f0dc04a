"""The one WebSocket consumer at /ws/: a member's personal group, topic subscriptions and whispers.

Every frame from the client is checked here; whatever is wrong with it earns an error frame and the
connection stays up. The member id comes from ``forum.realtime.auth``; what a member may subscribe to
comes from the checks apps registered in ``forum.realtime.topics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from channels.utils import await_many_dispatch
from redis.exceptions import RedisError

from forum import gc_policy
from forum.outage import Breaker
from forum.realtime.auth import IDENTITY_SCOPE_KEY, MEMBER_ID_SCOPE_KEY, SocketIdentity, identity_still_valid
from forum.realtime.delivery import SEND_TIMEOUT_SECONDS, WHISPER_MESSAGE
from forum.realtime.frames import (
    CLOSE_UNAUTHENTICATED,
    MAX_INBOUND_FRAME_BYTES,
    MAX_SUBSCRIPTIONS,
    error_frame,
    validate_kind,
    whisper_frame,
)
from forum.realtime.topics import (
    InvalidTopicError,
    credential_group,
    parse_topic,
    registration_for,
    topic_group,
    user_group,
)

__all__ = ["RealtimeConsumer", "RefusingConsumer", "TokenBucket"]

logger = logging.getLogger(__name__)

# channels-redis's list-based layer forgets group members after a day (group_expiry); connections
# live longer than that, so every connection adds itself to its groups again well before then. (The
# pub/sub layer keeps groups in the process: there, a refresh costs nothing and changes nothing.)
GROUP_REFRESH_SECONDS = 3600.0
# Closes a socket whose layer subscription may have missed messages: the client reconnects and
# fetches what it missed (forum.realtime.layer).
CLOSE_LAYER_LOST = 1011
# What the channel layer raises when Redis is away (refused, reset, or silent past a timeout);
# redis-py wraps socket errors in its own. (Not OSError: uvicorn's ClientDisconnected is one.)
LAYER_ERRORS = (RedisError, TimeoutError)
# The longest a handshake waits for its channel's subscription, as a send waits for the layer: a
# Redis host that takes the connection and never answers would otherwise hold it (no read timeout
# is configured) and, through the subscriber's lock, every handshake queued behind it.
SUBSCRIBE_TIMEOUT_SECONDS = SEND_TIMEOUT_SECONDS
# Notes when handshakes start and stop failing for want of the layer: one warning an outage, not
# one a handshake.
handshake_breaker = Breaker("realtime-handshake")
_LAYER = "channel layer"


def _layer_unreachable(error: BaseException) -> None:
    detail = {"error": f"{type(error).__name__}: {error}"}
    if handshake_breaker.failed(_LAYER):
        logger.warning(
            "real-time connections closed with 1011: the channel layer is unreachable", extra=detail
        )
    else:
        logger.debug("real-time connection closed with 1011: the channel layer is unreachable", extra=detail)


def _layer_reachable() -> None:
    if handshake_breaker.succeeded(_LAYER):
        logger.info("real-time connections accepted again: the channel layer is reachable")


@dataclass
class TokenBucket:
    """At most ``burst`` actions at once, refilled by ``rate`` per second."""

    burst: float
    rate: float
    clock: Callable[[], float] = time.monotonic
    tokens: float = field(init=False)
    updated: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.burst
        self.updated = self.clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class ClientError(Exception):
    """What was wrong with one client frame; becomes an error frame."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


def _reference(message: dict[str, Any]) -> dict[str, Any]:
    """The client's ``ref`` (a short string or an int), echoed so that it can match answers."""
    ref = message.get("ref")
    if (isinstance(ref, str) and len(ref) <= 64) or (isinstance(ref, int) and not isinstance(ref, bool)):
        return {"ref": ref}
    return {}


def _topic_of(message: dict[str, Any]) -> tuple[str, str, str]:
    topic = message.get("topic")
    try:
        prefix, key = parse_topic(topic)
    except InvalidTopicError as error:
        raise ClientError("invalid_topic", str(error)) from None
    assert isinstance(topic, str)  # parse_topic accepted it
    return topic, prefix, key


class RealtimeConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """One member's connection. Frames are handled one at a time, in order."""

    accepted = False  # the handshake was answered (websocket.accept sent)
    closed = False  # websocket.close sent: nothing more may be

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # channels' AsyncConsumer.__call__, with one difference: it subscribes the consumer's
        # channel (new_channel(), a Redis SUBSCRIBE on the pub/sub layer) before reading the
        # handshake and lets a failure escape, which the server answers with HTTP 500 and a
        # traceback, on every retry. Here the subscription is bounded and a failure is answered as
        # docs/realtime.md says: the handshake is accepted, then closed with 1011 (retry later).
        self.scope = scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        if self.channel_layer is None:
            await super().__call__(scope, receive, send)
            return
        self.base_send = send
        try:
            self.channel_name = await asyncio.wait_for(
                self.channel_layer.new_channel(), timeout=SUBSCRIBE_TIMEOUT_SECONDS
            )
        except LAYER_ERRORS as error:
            _layer_unreachable(error)
            if (await receive())["type"] == "websocket.connect":
                await self.accept()
                await self.close(code=CLOSE_LAYER_LOST)
            return
        _layer_reachable()
        self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
        with contextlib.suppress(StopConsumer):
            await await_many_dispatch([receive, self.channel_receive], self.dispatch)

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        try:
            await super().websocket_connect(message)
        except LAYER_ERRORS as error:
            # connect() joins the member's groups: on the pub/sub layer, a subscription each.
            _layer_unreachable(error)
            if not self.accepted:
                await self.accept()
            await self.close(code=CLOSE_LAYER_LOST)

    async def accept(self, subprotocol: str | None = None, headers: Any = None) -> None:
        await super().accept(subprotocol, headers)
        self.accepted = True

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        # Once: a second close (a layer report after a 4401, two layer reports: the failure and
        # the reconnect) is a protocol error the server would log as the application's exception.
        if self.closed:
            return
        self.closed = True
        await super().close(code, reason)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user_id: int | None = None
        self.subscriptions: dict[str, str] = {}  # topic -> group
        self.inbound = TokenBucket(burst=100, rate=20)
        self.whispers = TokenBucket(burst=10, rate=2)
        self.refresher: asyncio.Task[None] | None = None
        self.expiry: asyncio.Task[None] | None = None
        # The groups this connection is in beyond its topics: the member's and its sign-in's.
        self.own_groups: list[str] = []
        # Set once the sign-in is over: nothing more is sent on this socket, whatever is still queued.
        self.ended = False

    async def dispatch(self, message: dict[str, Any]) -> None:
        # channels' AsyncConsumer.dispatch first runs close_old_connections in the sync thread for
        # every message (a thread hop per frame in or out, all sockets of the process queued on one
        # thread). This consumer reads the database only in topic checks, which run under
        # database_sync_to_async and close old connections themselves; uvicorn's websocket
        # messages and the layer's go straight to their handlers.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- connection ------------------------------------------------------------------------------
    async def connect(self) -> None:
        gc_policy.unit_done()
        user_id = self.scope.get(MEMBER_ID_SCOPE_KEY)
        identity: SocketIdentity | None = self.scope.get(IDENTITY_SCOPE_KEY)
        if identity is None and user_id is not None:
            identity = SocketIdentity(user_id)
        # Accept, then close: a refusal before the handshake reaches a browser as a bare failure,
        # while a close code tells the client not to retry.
        await self.accept()
        if identity is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = identity.member_id
        self.own_groups = [user_group(identity.member_id)]
        if identity.credential is not None:
            self.own_groups.append(credential_group(identity.credential))
        for group in self.own_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        # The sign-in may have ended between the handshake's check and joining its group (whose
        # disconnect this socket would then have missed): ask once more, now that nothing is missed.
        if identity.credential is not None and not await identity_still_valid(self.scope, identity):
            await self._end()
            return
        if identity.expires_at is not None:
            self.expiry = asyncio.create_task(self._end_at(identity.expires_at))
        self.refresher = asyncio.create_task(self._refresh_groups())
        await self._send(
            {
                "type": "ready",
                "user_id": identity.member_id,
                "max_subscriptions": MAX_SUBSCRIPTIONS,
                "max_frame_bytes": MAX_INBOUND_FRAME_BYTES,
            }
        )

    async def _end(self) -> None:
        """The sign-in is over: send nothing more, and close with 4401 (the client signs in again)."""
        if self.ended:
            return
        self.ended = True
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def _end_at(self, expires_at: float) -> None:
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        await self._end()

    async def disconnect(self, code: int) -> None:
        self.ended = True
        for task in (self.refresher, self.expiry):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.user_id is None:
            return
        for group in [*self.own_groups, *self.subscriptions.values()]:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:  # the group entry expires on its own
                logger.warning("real-time group not left", extra={"group": group}, exc_info=True)
        self.subscriptions.clear()

    async def _refresh_groups(self) -> None:
        while True:
            await asyncio.sleep(GROUP_REFRESH_SECONDS)
            if self.user_id is None:
                return
            for group in [*self.own_groups, *self.subscriptions.values()]:
                try:
                    await self.channel_layer.group_add(group, self.channel_name)
                except Exception:  # tried again at the next refresh
                    logger.warning("real-time group not refreshed", extra={"group": group}, exc_info=True)

    async def _send(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content, separators=(",", ":")))

    # --- frames from the client -----------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.user_id is None or self.ended:
            return  # closing: the refusal is already on its way
        try:
            message = self._decode(text_data, bytes_data)
        except ClientError as error:
            await self._send(error_frame(error.code, error.message, **error.extra))
            return
        handler = {
            "ping": self._ping,
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "whisper": self._whisper,
        }.get(message["type"])
        ref = _reference(message)
        try:
            if handler is None:
                raise ClientError("unknown_type", "type must be one of ping, subscribe, unsubscribe, whisper")
            await handler(message, ref)
        except ClientError as error:
            await self._send(error_frame(error.code, error.message, **error.extra, **ref))
        except Exception:  # one failed frame must not end the member's connection
            logger.exception("real-time frame failed", extra={"user_id": self.user_id})
            await self._send(error_frame("internal", "The server could not handle this message.", **ref))

    def _decode(self, text_data: str | None, bytes_data: bytes | None) -> dict[str, Any]:
        if text_data is None:
            raise ClientError("invalid_message", "Frames must be text (JSON), not binary.")
        # A character is at least one byte, so only long texts need to be encoded to be measured.
        if len(text_data) > MAX_INBOUND_FRAME_BYTES or (
            len(text_data) * 4 > MAX_INBOUND_FRAME_BYTES
            and len(text_data.encode("utf-8", "surrogatepass")) > MAX_INBOUND_FRAME_BYTES
        ):
            raise ClientError("too_large", f"A frame may have at most {MAX_INBOUND_FRAME_BYTES} bytes.")
        if not self.inbound.take():
            raise ClientError("rate_limited", "Too many messages; slow down.")
        try:
            message = json.loads(text_data)
        except (ValueError, RecursionError):
            raise ClientError("invalid_json", "A frame must be one JSON object.") from None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise ClientError("invalid_message", 'A frame must be a JSON object with a string "type".')
        return message

    async def _ping(self, message: dict[str, Any], ref: dict[str, Any]) -> None:
        await self._send({"type": "pong", **ref})

    async def _subscribe(self, message: dict[str, Any], ref: dict[str, Any]) -> None:
        topic, prefix, key = _topic_of(message)
        if topic in self.subscriptions:
            await self._send({"type": "subscribed", "topic": topic, **ref})
            return
        registration = registration_for(prefix)
        if registration is None:
            raise ClientError("unknown_topic", f"No topics start with {prefix!r}.", topic=topic)
        if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            raise ClientError(
                "too_many_subscriptions",
                f"A connection may subscribe to at most {MAX_SUBSCRIPTIONS} topics.",
                topic=topic,
            )
        assert self.user_id is not None
        try:
            allowed = await database_sync_to_async(registration.check)(self.user_id, key)
        except Exception:  # a failing check denies, and is logged for its owner
            logger.exception("real-time topic check failed", extra={"topic": topic, "user_id": self.user_id})
            raise ClientError("unavailable", "The subscription could not be checked.", topic=topic) from None
        if allowed is not True:
            # The same answer whether the object is hidden or does not exist.
            raise ClientError("forbidden", "You may not subscribe to this topic.", topic=topic)
        group = topic_group(topic)
        await self.channel_layer.group_add(group, self.channel_name)
        self.subscriptions[topic] = group
        await self._send({"type": "subscribed", "topic": topic, **ref})

    async def _unsubscribe(self, message: dict[str, Any], ref: dict[str, Any]) -> None:
        topic, _, _ = _topic_of(message)
        group = self.subscriptions.pop(topic, None)
        if group is not None:
            await self.channel_layer.group_discard(group, self.channel_name)
        await self._send({"type": "unsubscribed", "topic": topic, **ref})

    async def _whisper(self, message: dict[str, Any], ref: dict[str, Any]) -> None:
        topic, prefix, _ = _topic_of(message)
        group = self.subscriptions.get(topic)
        if group is None:
            raise ClientError("not_subscribed", "Subscribe to a topic before whispering to it.", topic=topic)
        registration = registration_for(prefix)
        if registration is None or not registration.allow_whisper:
            raise ClientError("whisper_not_allowed", "This topic does not carry whispers.", topic=topic)
        try:
            kind = validate_kind(message.get("kind"))
        except ValueError as error:
            raise ClientError("invalid_message", str(error), topic=topic) from None
        payload = message.get("payload", {})
        if not isinstance(payload, dict):
            raise ClientError("invalid_message", "A whisper payload must be a JSON object.", topic=topic)
        if not self.whispers.take():
            raise ClientError("rate_limited", "Too many whispers; slow down.", topic=topic)
        assert self.user_id is not None
        # The sender id is the server's: whatever the client put in its frame is not copied.
        text = whisper_frame(topic, kind, payload, sender_id=self.user_id)
        await self.channel_layer.group_send(
            group, {"type": WHISPER_MESSAGE, "topic": topic, "sender": self.channel_name, "text": text}
        )

    # --- messages from the channel layer --------------------------------------------------------
    async def realtime_frame(self, message: dict[str, Any]) -> None:
        if self.ended:
            return  # queued before the sign-in ended, handled after: not for this socket any more
        topic = message.get("topic")
        # A group refresh may race an unsubscribe; the member asked to stop, so stop.
        if topic is not None and topic not in self.subscriptions:
            return
        await self.send(text_data=message["text"])

    async def realtime_whisper(self, message: dict[str, Any]) -> None:
        if (
            self.ended
            or message.get("sender") == self.channel_name
            or message.get("topic") not in self.subscriptions
        ):
            return
        await self.send(text_data=message["text"])

    async def realtime_disconnect(self, message: dict[str, Any]) -> None:
        await self._end()

    async def realtime_layer_lost(self, message: dict[str, Any]) -> None:
        await self.close(code=CLOSE_LAYER_LOST)


class RefusingConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Every other WebSocket path: refused at the handshake (HTTP 403), nothing logged as an error."""

    async def connect(self) -> None:
        await self.close()
