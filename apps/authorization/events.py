"""Facts the authorization app publishes: versioned, JSON-serializable frozen dataclasses.

Imports only the standard library and forum.events (checked by import-linter).
"""

from forum.events import Event, event


@event("authorization.role_assigned", version=1)
class RoleAssigned(Event):
    """A member's role changed (``user``, ``support`` or ``admin``); ``assigned_by`` is a staff id."""

    user_id: int
    role: str
    previous_role: str
    assigned_by: int | None = None
