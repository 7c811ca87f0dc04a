"""Panels other apps add to a ticket's staff page (the moderation app's acts from a report).

The support app sits below the moderation app (which calls its services), so it cannot ask that app
for anything: the moderation app hands in a provider from its ``ready()``, as apps register socket
authenticators with ``forum.realtime``. A provider gets the viewer and the ticket and returns the
context of its template, or None when it has nothing to offer that viewer on that ticket.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TicketSubject:
    """What a panel needs of a ticket: what it is about and whether it is still being worked."""

    id: int
    kind: str
    state: str
    is_active: bool
    link_kind: str
    link_id: int | None
    reported_member_id: int | None


@dataclass(frozen=True)
class TicketPanel:
    template: str
    context: Mapping[str, Any]


TicketPanelProvider = Callable[[int, TicketSubject], Mapping[str, Any] | None]

_providers: dict[str, tuple[str, TicketPanelProvider]] = {}


def ticket_panel_register(name: str, *, template: str, provider: TicketPanelProvider) -> None:
    """Show ``template`` on a ticket's staff page with the context ``provider`` returns (idempotent
    per ``name``: a second ``ready()`` replaces the first)."""
    _providers[name] = (template, provider)


def ticket_panels(*, viewer_id: int, subject: TicketSubject) -> tuple[TicketPanel, ...]:
    """The panels for a member of staff on a ticket, in the order they were registered."""
    panels = []
    for template, provider in _providers.values():
        context = provider(viewer_id, subject)
        if context is not None:
            panels.append(TicketPanel(template=template, context=context))
    return tuple(panels)
