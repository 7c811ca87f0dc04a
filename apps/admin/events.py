"""Facts the admin (moderation) app publishes: versioned, JSON-serializable frozen dataclasses.

Imports only the standard library and forum.events (checked by import-linter).
"""

from __future__ import annotations

import datetime

from forum.events import Event, event


@event("moderation.member_warned", version=1)
class MemberWarned(Event):
    warning_id: int
    member_id: int
    points: int
    active_points: int
    issued_by: int | None
    expires_at: datetime.datetime | None


@event("moderation.warning_revoked", version=1)
class WarningRevoked(Event):
    warning_id: int
    member_id: int
    revoked_by: int | None


@event("moderation.escalated", version=1)
class MemberEscalated(Event):
    """An escalation rule put a sanction on a member (``premoderate``, ``no_posting`` or ``ban``)."""

    restriction_id: int
    member_id: int
    sanction: str
    ends_at: datetime.datetime | None


@event("moderation.member_banned", version=1)
class MemberBanned(Event):
    """Staff banned a member: ``kind`` ``posting`` (reading stays) or ``full`` (no sign-in)."""

    ban_id: int
    member_id: int
    kind: str
    ends_at: datetime.datetime | None
    banned_by: int | None


@event("moderation.ban_lifted", version=1)
class BanLifted(Event):
    """A ban ended: lifted by staff (``lifted_by``), or at its end (``lifted_by`` None)."""

    ban_id: int
    member_id: int
    lifted_by: int | None
