"""Facts the status app publishes: versioned, JSON-serializable frozen dataclasses.

Imports only the standard library and forum.events (checked by import-linter).
"""

import datetime

from forum.events import Event, event


@event("status.granted", version=1)
class StatusGranted(Event):
    """A member was given a status; ``ends_at`` None means for good. ``source``: purchase, automatic
    or staff; ``granted_by`` is the staff member's id for staff grants."""

    grant_id: int
    user_id: int
    status_code: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime | None
    source: str
    granted_by: int | None = None


@event("status.expired", version=1)
class StatusExpired(Event):
    """A grant ran out (noticed by the periodic ``status.expire_grants`` task)."""

    grant_id: int
    user_id: int
    status_code: str
    ended_at: datetime.datetime


@event("status.revoked", version=1)
class StatusRevoked(Event):
    """Staff took a status back before its end."""

    grant_id: int
    user_id: int
    status_code: str
    revoked_by: int | None = None


@event("status.rule_granted", version=1)
class StatusRuleGranted(Event):
    """The rules of a status given automatically came to hold for a member, who now holds it."""

    grant_id: int
    user_id: int
    status_code: str


@event("status.rule_revoked", version=1)
class StatusRuleRevoked(Event):
    """The rules stopped holding for longer than the grace period: the automatic grant was taken back."""

    grant_id: int
    user_id: int
    status_code: str
    failing_since: datetime.datetime
