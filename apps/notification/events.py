"""Facts the notification app publishes, and the one request other apps may publish to it.

Imports only the standard library and forum.events (checked by import-linter).
"""

from __future__ import annotations

from typing import Any

from forum.events import Event, event


@event("notification.requested", version=1)
class NotificationRequested(Event):
    """Another app asks to notify members of a kind it registered
    (``apps.notification.services.notification_kind_register``), publishing this in the transaction of
    its own change. The app vouches that the recipients may see what it is about. ``source`` names
    that thing ("ticket:12:answered"): a member gets one notification per source, updated rather than
    repeated when the kind groups. ``params`` are the kind's values for its text (plain JSON values)."""

    kind: str
    recipient_ids: tuple[int, ...]
    source: str
    actor_id: int | None = None
    params: dict[str, Any] | None = None


@event("notification.emails_requested", version=1)
class NotificationEmailsRequested(Event):
    """Notifications to mail at once (published by this app for its own email worker)."""

    notification_ids: tuple[int, ...]


@event("notification.push_requested", version=1)
class NotificationsPushRequested(Event):
    """Live frames for a share of a large fan-out, pushed by whichever worker process takes it (so
    that the processes of the notification queue push a thousand frames side by side).
    Each frame is ``(user_id, notification_id, kind, unread_count)``."""

    frames: tuple[tuple[int, int, str, int], ...]
