"""Facts the user app publishes: versioned, JSON-serializable frozen dataclasses.

Imports only the standard library and forum.events (checked by import-linter).
"""

from forum.events import Event, event


@event("user.followed", version=1)
class MemberFollowed(Event):
    """``follower_id`` started following ``target_id`` (not published again for a follow that stood)."""

    follower_id: int
    target_id: int
