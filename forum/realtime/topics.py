"""Names on the channel layer: personal groups, topic groups, and the registry of who may subscribe.

A topic is ``"<prefix>:<key>"`` (``"thread:42"``). The app that owns the prefix registers it once,
from its ``AppConfig.ready``, with a check that answers whether a member may subscribe to one key.
Group names on the layer must be ASCII letters, digits, ``-_.`` and shorter than 100 characters, so
topics are held to a stricter shape and mapped one to one onto groups (``"t.thread.42"``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "InvalidTopicError",
    "TopicCheck",
    "TopicRegistration",
    "credential_group",
    "parse_topic",
    "register_topic",
    "registered_prefixes",
    "registration_for",
    "topic_group",
    "user_group",
]

# A prefix has no dot and a key has no colon, so "t.<prefix>.<key>" maps back to exactly one topic.
_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,23}$")
_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")

TopicCheck = Callable[[int, str], bool]
"""``check(user_id, key) -> bool``: may this member subscribe to ``<prefix>:<key>``? Runs in a thread."""


class InvalidTopicError(ValueError):
    """A topic that is not ``<prefix>:<key>`` in the allowed characters and lengths."""


@dataclass(frozen=True)
class TopicRegistration:
    prefix: str
    check: TopicCheck
    allow_whisper: bool


_REGISTRY: dict[str, TopicRegistration] = {}


def register_topic(prefix: str, check: TopicCheck, *, allow_whisper: bool = False) -> None:
    """Declare the topics ``<prefix>:<key>`` and who may subscribe to them.

    ``check(user_id, key)`` must return False both when the member may not see the object and when
    the object does not exist, so that a subscription never tells the two apart. ``allow_whisper``
    lets subscribers relay ephemeral messages ("typing...") to each other on these topics.
    Registering the same prefix again with the same check replaces nothing; another check is an error.
    """
    if not isinstance(prefix, str) or not _PREFIX.match(prefix):
        raise InvalidTopicError(
            f"topic prefix {prefix!r} must be 1-24 characters: a lowercase letter, then a-z, 0-9 or _"
        )
    if not callable(check):
        raise TypeError(f"the check of topic prefix {prefix!r} must be callable")
    registration = TopicRegistration(prefix=prefix, check=check, allow_whisper=allow_whisper)
    existing = _REGISTRY.get(prefix)
    if existing is not None and existing != registration:
        raise ValueError(f"topic prefix {prefix!r} is already registered with another check")
    _REGISTRY[prefix] = registration


def unregister_topic(prefix: str) -> None:
    """Forget a prefix (for tests that register their own)."""
    _REGISTRY.pop(prefix, None)


def registration_for(prefix: str) -> TopicRegistration | None:
    return _REGISTRY.get(prefix)


def registered_prefixes() -> list[str]:
    return sorted(_REGISTRY)


def parse_topic(topic: object) -> tuple[str, str]:
    """Split ``"<prefix>:<key>"``; raises InvalidTopicError for anything else."""
    if not isinstance(topic, str):
        raise InvalidTopicError("a topic must be a string '<prefix>:<key>'")
    prefix, separator, key = topic.partition(":")
    if not separator or not _PREFIX.match(prefix) or not _KEY.match(key):
        raise InvalidTopicError(
            "a topic must be '<prefix>:<key>': the prefix lowercase a-z, 0-9, _ (up to 24), "
            "the key A-Z, a-z, 0-9, '.', '_', '-' (up to 64)"
        )
    return prefix, key


def topic_group(topic: str) -> str:
    """The layer group of a topic (``"thread:42"`` -> ``"t.thread.42"``)."""
    prefix, key = parse_topic(topic)
    return f"t.{prefix}.{key}"


def credential_group(credential: str) -> str:
    """The group of every connection opened with one credential (a session, a token family).

    The credential is hashed: a session key is a secret, and group names travel through Redis."""
    if not isinstance(credential, str) or not credential:
        raise ValueError(f"a credential must be a non-empty string, not {credential!r}")
    return "c." + hashlib.sha256(credential.encode()).hexdigest()[:40]


def user_group(user_id: int) -> str:
    """The personal group of a member: every connection of theirs is in it."""
    if isinstance(user_id, bool) or not isinstance(user_id, int) or user_id <= 0:
        raise ValueError(f"a user id must be a positive integer, not {user_id!r}")
    return f"u.{user_id}"
