"""Facts the frame app publishes: versioned, JSON-serializable frozen dataclasses.

Imports only the standard library and forum.events (checked by import-linter).
"""

from forum.events import Event, event


@event("frame.bought", version=1)
class FrameBought(Event):
    """A member's invoice for a frame was settled and the frame is theirs (once per invoice)."""

    frame_id: int
    member_id: int
    invoice_id: str
    paid_sats: int


@event("frame.granted", version=1)
class FrameGranted(Event):
    """Staff gave a member a frame."""

    frame_id: int
    member_id: int
    granted_by: int | None


@event("frame.equipped", version=1)
class FrameEquipped(Event):
    """A member put on one of their frames (``previous_frame_id``: the one it replaced, if any)."""

    frame_id: int
    member_id: int
    previous_frame_id: int | None


@event("frame.unequipped", version=1)
class FrameUnequipped(Event):
    """A member took their frame off and wears none."""

    frame_id: int
    member_id: int
