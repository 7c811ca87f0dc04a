"""Subscribers of the support app to other apps' events (none yet), and the checks of its live topics."""

from __future__ import annotations

from apps.support.services import ticket_topic_allowed


def ticket_topic_check(user_id: int, key: str) -> bool:
    """``ticket:<id>``: staff, the ticket's member and its reporters; False for anything else."""
    return ticket_topic_allowed(user_id=user_id, key=key)


def ticket_staff_topic_check(user_id: int, key: str) -> bool:
    """``ticketstaff:<id>``: staff only (internal notes and acts)."""
    return ticket_topic_allowed(user_id=user_id, key=key, staff_only=True)
