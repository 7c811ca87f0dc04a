"""Help topics a ticket is opened in."""

from __future__ import annotations

from apps.support import selectors
from apps.support.models import HelpTopic

from .data import TopicRef, _topic_ref

# --- Topics ---------------------------------------------------------------------------------------------


def topics_public() -> tuple[TopicRef, ...]:
    """The topics a member may open a ticket in, in the admin's order."""
    return tuple(
        TopicRef(id=t.id, code=t.code, name=t.name, description=t.description) for t in selectors.topics()
    )


def topic_by_code(*, code: str) -> TopicRef | None:
    topic = HelpTopic.objects.filter(code=code).first()
    return _topic_ref(topic) if topic is not None else None
