"""Plays a later app (support tickets) that adds a kind of notification without this app changing:
what its ``AppConfig.ready`` would call, through the published services only."""

from __future__ import annotations

from typing import Any

from apps.notification.services import (
    EmailChannel,
    NotificationFacts,
    NotificationKind,
    notification_kind_register,
)

TICKET_ANSWERED = "support.ticket_answered"


def _describe(facts: NotificationFacts) -> str:
    return f"Your ticket “{facts.param('subject')}” has an answer"


def _link(facts: NotificationFacts) -> str:
    return f"/support/tickets/{facts.param('ticket_id')}/"


def kind(**overrides: Any) -> NotificationKind:
    values: dict[str, Any] = {
        "code": TICKET_ANSWERED,
        "label": "Answers to your tickets",
        "describe": _describe,
        "link": _link,
        "default_email": EmailChannel.IMMEDIATE,
        "app": "support",
    }
    values.update(overrides)
    return NotificationKind(**values)


def ready() -> None:
    notification_kind_register(kind())
