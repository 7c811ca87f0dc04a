"""Sending to members and topics over the channel layer, from any process: views, tasks, consumers.

Live delivery is best effort on top of what is already stored: a member who was offline, or whose
frame was lost, sees the stored state on the next page load or reconnect. So bad input raises at the
call site (a bug), while an unreachable layer is logged and swallowed (a page or a task does not fail
because Redis blinked). A send waits at most ``SEND_TIMEOUT_SECONDS``, and after a failure the sends of
the next ``REDIS_OUTAGE_SKIP_SECONDS`` are dropped without trying (``forum.outage``): a handler that
fans out to a thousand members during an outage ends in milliseconds, not in a thousand timeouts.
Nothing is retried: a live frame that arrives late is worse than none, since the page re-fetches what
it missed when its socket comes back (docs/realtime.md, "When Redis is down").
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction

from forum.outage import Breaker
from forum.realtime.frames import event_frame
from forum.realtime.topics import credential_group, topic_group, user_group

__all__ = [
    "OutsideTransactionError",
    "adisconnect_credential",
    "adisconnect_user",
    "asend_to_topic",
    "asend_to_user",
    "asend_to_users",
    "disconnect_credential",
    "disconnect_user",
    "send_to_topic",
    "send_to_user",
    "send_to_users",
]

logger = logging.getLogger(__name__)

# Message types on the layer; the consumer has one handler for each (dots become underscores).
FRAME_MESSAGE = "realtime.frame"
WHISPER_MESSAGE = "realtime.whisper"
DISCONNECT_MESSAGE = "realtime.disconnect"

# The longest a send may wait for the layer (a Redis that stopped answering, not one that refuses).
SEND_TIMEOUT_SECONDS = 3.0
# A bulk send on a layer without ``group_send_many`` (channels-redis's list-based layer): this many
# group sends at once, each bounded by SEND_TIMEOUT_SECONDS.
BULK_CONCURRENCY = 50

layer_breaker = Breaker("realtime-layer")


class OutsideTransactionError(RuntimeError):
    """``on_commit=True`` was asked for with no transaction open."""


def channel_layer() -> Any:
    layer = get_channel_layer()
    if layer is None:
        raise ImproperlyConfigured("CHANNEL_LAYERS has no 'default' layer: real-time delivery needs one")
    return layer


def _layer_address() -> str:
    """What the breaker keys the layer's outages by: its configured hosts."""
    layers: dict[str, Any] = settings.CHANNEL_LAYERS
    return repr(layers.get("default", {}).get("CONFIG", {}).get("hosts"))


async def _group_send(group: str, message: dict[str, Any]) -> None:
    layer = channel_layer()
    address = _layer_address()
    if layer_breaker.skipping(address):
        logger.debug("real-time message dropped: the layer is down", extra={"group": group})
        return
    try:
        await asyncio.wait_for(layer.group_send(group, message), timeout=SEND_TIMEOUT_SECONDS)
    except Exception as error:  # noqa: BLE001 - best effort: any layer failure is logged, not raised
        layer_breaker.failed(address)
        logger.warning(
            "real-time message not sent",
            extra={"group": group, "error": f"{type(error).__name__}: {error}"},
        )
    else:
        if layer_breaker.succeeded(address):
            logger.info("real-time layer reachable again")


async def _group_send_many(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Every ``(group, message)``, best effort as ``_group_send``: pipelined when the layer can
    (``forum.realtime.layer``: one round trip per Redis host, the whole batch bounded by
    ``SEND_TIMEOUT_SECONDS``), else group sends a few at once, each bounded."""
    if not messages:
        return
    layer = channel_layer()
    send_many = getattr(layer, "group_send_many", None)
    if send_many is None:
        gate = asyncio.Semaphore(BULK_CONCURRENCY)

        async def send(group: str, message: dict[str, Any]) -> None:
            async with gate:
                await _group_send(group, message)

        await asyncio.gather(*(send(group, message) for group, message in messages))
        return
    address = _layer_address()
    if layer_breaker.skipping(address):
        logger.debug("real-time messages dropped: the layer is down", extra={"count": len(messages)})
        return
    try:
        await asyncio.wait_for(send_many(messages), timeout=SEND_TIMEOUT_SECONDS)
    except Exception as error:  # noqa: BLE001 - best effort: any layer failure is logged, not raised
        layer_breaker.failed(address)
        logger.warning(
            "real-time message not sent",
            extra={"count": len(messages), "error": f"{type(error).__name__}: {error}"},
        )
    else:
        if layer_breaker.succeeded(address):
            logger.info("real-time layer reachable again")


def _user_message(user_id: int, kind: str, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # Encoded at once: the caller may change ``payload`` before an on-commit send runs.
    return user_group(user_id), {"type": FRAME_MESSAGE, "text": event_frame(kind, payload)}


def _topic_message(topic: str, kind: str, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    text = event_frame(kind, payload, topic=topic)
    return topic_group(topic), {"type": FRAME_MESSAGE, "topic": topic, "text": text}


async def asend_to_user(user_id: int, kind: str, payload: dict[str, Any]) -> None:
    """Send ``{"type": "event", "kind": kind, "payload": payload}`` to every connection of a member."""
    await _group_send(*_user_message(user_id, kind, payload))


def _user_messages(messages: Iterable[tuple[int, str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    return [_user_message(user_id, kind, payload) for user_id, kind, payload in messages]


async def asend_to_users(messages: Iterable[tuple[int, str, dict[str, Any]]]) -> None:
    """``asend_to_user`` for each ``(user_id, kind, payload)``, all in one go: a fan-out costs one
    round trip to the layer (pipelined), not one per member. Members' frames may arrive in any order
    relative to each other; one member's frames keep their order."""
    await _group_send_many(_user_messages(messages))


async def asend_to_topic(topic: str, kind: str, payload: dict[str, Any]) -> None:
    """Send an event frame (with ``"topic"``) to every connection subscribed to ``topic``."""
    await _group_send(*_topic_message(topic, kind, payload))


async def adisconnect_user(user_id: int) -> None:
    """Close every connection of a member with 4401 (a ban, a password change)."""
    await _group_send(user_group(user_id), {"type": DISCONNECT_MESSAGE})


async def adisconnect_credential(credential: str) -> None:
    """Close with 4401 every connection opened with one sign-in (``SocketIdentity.credential``: a
    session that signed out, a token family that was revoked), and no other of the member's."""
    await _group_send(credential_group(credential), {"type": DISCONNECT_MESSAGE})


class _SenderLoop:
    """The event loop the sync sends run on: one per process, on a daemon thread, made on first use
    and again in a forked child (gunicorn and Celery fork their workers).

    ``async_to_sync`` would start a new event loop on a new thread for every send, and the layer
    keeps its Redis connections per loop, so each send would also connect to Redis anew: a few
    milliseconds on the path of every live frame. On this loop the layer's connections stay open.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0

    def _current(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            alive = self._thread is not None and self._thread.is_alive()
            if self._loop is None or self._pid != os.getpid() or not alive:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="realtime-sender", daemon=True)
                thread.start()
                self._loop, self._thread, self._pid = loop, thread, os.getpid()
            return self._loop

    def run(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run ``coroutine`` there and wait for it (it bounds itself by SEND_TIMEOUT_SECONDS)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            coroutine.close()
            raise RuntimeError("a sync send was called from async code: await the asend_* function instead")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._current())
        try:
            future.result(timeout=SEND_TIMEOUT_SECONDS + 1)
        except concurrent.futures.TimeoutError:
            future.cancel()
            logger.warning("real-time send did not finish in time")


_sender = _SenderLoop()


def _now_or_on_commit(group: str, message: dict[str, Any], *, on_commit: bool, what: str) -> None:
    _run_now_or_on_commit(lambda: _sender.run(_group_send(group, message)), on_commit, what)


def _run_now_or_on_commit(send: Callable[[], None], on_commit: bool, what: str) -> None:
    if not on_commit:
        send()
        return
    if not connection.in_atomic_block:
        raise OutsideTransactionError(
            f"{what}(on_commit=True) needs an open transaction; without one, call it with on_commit=False"
        )
    transaction.on_commit(send, robust=True)


def send_to_user(user_id: int, kind: str, payload: dict[str, Any], *, on_commit: bool = False) -> None:
    """Sync ``asend_to_user``, for views and Celery tasks (in async code, await ``asend_to_user``).

    ``on_commit=True`` sends once the open transaction commits (and never if it rolls back); the
    input is checked, and the frame encoded, at once either way.
    """
    group, message = _user_message(user_id, kind, payload)
    _now_or_on_commit(group, message, on_commit=on_commit, what="send_to_user")


def send_to_users(messages: Iterable[tuple[int, str, dict[str, Any]]], *, on_commit: bool = False) -> None:
    """Sync ``asend_to_users``: one frame per ``(user_id, kind, payload)``, sent together on one
    event-loop run; ``on_commit`` as in ``send_to_user`` (one callback for the whole batch)."""
    batch = _user_messages(messages)
    _run_now_or_on_commit(lambda: _sender.run(_group_send_many(batch)), on_commit, "send_to_users")


def send_to_topic(topic: str, kind: str, payload: dict[str, Any], *, on_commit: bool = False) -> None:
    """Sync ``asend_to_topic``; ``on_commit`` as in ``send_to_user``."""
    group, message = _topic_message(topic, kind, payload)
    _now_or_on_commit(group, message, on_commit=on_commit, what="send_to_topic")


def disconnect_user(user_id: int, *, on_commit: bool = False) -> None:
    """Sync ``adisconnect_user``; ``on_commit`` as in ``send_to_user``.

    Sent from the request that ended the sign-in (after its commit, before it answers): a private
    frame sent after that answer travels behind the close on the layer, so it never reaches them."""
    message = {"type": DISCONNECT_MESSAGE}
    _now_or_on_commit(user_group(user_id), message, on_commit=on_commit, what="disconnect_user")


def disconnect_credential(credential: str, *, on_commit: bool = False) -> None:
    """Sync ``adisconnect_credential``; ``on_commit`` as in ``send_to_user``, and sent as
    ``disconnect_user`` is, before the request that ended the sign-in answers."""
    message = {"type": DISCONNECT_MESSAGE}
    _now_or_on_commit(
        credential_group(credential), message, on_commit=on_commit, what="disconnect_credential"
    )
