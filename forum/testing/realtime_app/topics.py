"""Topics of the realtime tests, with checks that read the database the way an app's checks do.

``room:<key>`` carries whispers; keys starting with ``staff`` are for staff only. ``news:<key>`` is
open to every active member but carries no whispers. ``broken:<key>`` has a check that fails.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model

from forum.realtime import register_topic


def _active_member(user_id: int) -> tuple[bool, bool]:
    """(exists and is active, is staff)."""
    row = get_user_model().objects.filter(pk=user_id, is_active=True).values_list("is_staff").first()
    return (row is not None, bool(row and row[0]))


def may_join_room(user_id: int, key: str) -> bool:
    active, staff = _active_member(user_id)
    if not active:
        return False
    return staff if key.startswith("staff") else True


def may_read_news(user_id: int, key: str) -> bool:
    active, _ = _active_member(user_id)
    return active


def broken_check(user_id: int, key: str) -> bool:
    raise RuntimeError("this check is broken on purpose")


def register() -> None:
    register_topic("room", may_join_room, allow_whisper=True)
    register_topic("news", may_read_news)
    register_topic("broken", broken_check)
