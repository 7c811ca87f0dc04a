"""The real-time gateway: the public API that apps use to reach members' open WebSockets.

Send from any process (views, Celery tasks, management commands) with ``send_to_user``,
``send_to_users`` (a fan-out, pipelined) and ``send_to_topic``, or their async forms in async code;
declare topics from ``AppConfig.ready`` with ``register_topic``. The protocol is described in
docs/realtime.md.
"""

from forum.realtime.auth import Authenticator, SocketIdentity, register_authenticator, session_credential
from forum.realtime.delivery import (
    OutsideTransactionError,
    adisconnect_credential,
    adisconnect_user,
    asend_to_topic,
    asend_to_user,
    asend_to_users,
    disconnect_credential,
    disconnect_user,
    send_to_topic,
    send_to_user,
    send_to_users,
)
from forum.realtime.frames import CLOSE_UNAUTHENTICATED, MAX_INBOUND_FRAME_BYTES, MAX_SUBSCRIPTIONS
from forum.realtime.topics import InvalidTopicError, TopicCheck, register_topic

__all__ = [
    "CLOSE_UNAUTHENTICATED",
    "MAX_INBOUND_FRAME_BYTES",
    "MAX_SUBSCRIPTIONS",
    "Authenticator",
    "InvalidTopicError",
    "OutsideTransactionError",
    "SocketIdentity",
    "TopicCheck",
    "adisconnect_credential",
    "adisconnect_user",
    "asend_to_topic",
    "asend_to_user",
    "asend_to_users",
    "disconnect_credential",
    "disconnect_user",
    "register_authenticator",
    "register_topic",
    "send_to_topic",
    "send_to_user",
    "send_to_users",
    "session_credential",
]
