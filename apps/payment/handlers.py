"""Subscribers of the payment app: none to other apps' events yet; the check of its WebSocket topic."""

from __future__ import annotations

from apps.payment.services import invoice_topic_allowed


def invoice_topic_check(user_id: int, key: str) -> bool:
    """``invoice:<public id>``: the invoice's owner only; False for anyone else and for no invoice."""
    return invoice_topic_allowed(user_id=user_id, public_id=key)
