"""Subscribers of the status app to other apps' events.

- ``payment.invoice_settled``: a plan bought is granted, once per invoice (``plan_fulfil``).
- What the automatic rules count (posts written, reactions received), kept in this app's own table
  (``MemberActivity``) from the thread app's events, after which the member's rules are evaluated.

The thread app's events are taken by name and version (their JSON contract), not by importing
``apps.thread.events``: the thread app imports this app's services (badges), so importing it back
would make the two apps a cycle, which ``apps-acyclic`` forbids. ``ThreadFact`` below stands for the
event class in the subscription; the bus hands the handler the real event, read field by field.
import-linter cannot see a renamed field, so test_rules.py checks that each event named here exists
with the fields read.
"""

from __future__ import annotations

from apps.payment.events import InvoiceSettled
from apps.status import services
from forum.bus import subscribe
from forum.events import Event

# The events of other apps counted, and the fields read of each.
COUNTED_EVENTS: dict[str, tuple[str, ...]] = {
    "thread.post_created": ("author_id",),
    "thread.post_deleted": ("author_id",),
    "thread.post_restored": ("author_id",),
    "thread.reaction_added": ("post_author_id", "reactor_id"),
    "thread.reaction_cleared": ("post_author_id", "reactor_id"),
}


@subscribe(InvoiceSettled, name="status.on_invoice_settled")
def on_invoice_settled(event: InvoiceSettled) -> None:
    if event.product_app != services.PLAN_PRODUCT_APP:
        return
    services.plan_fulfil(
        invoice_id=event.invoice_id,
        member_id=event.member_id,
        product_code=event.product_code,
        paid_sats=event.paid_sats,
    )


def _fact(name: str) -> type[Event]:
    """A stand-in with the name and version the bus subscribes by."""

    class ThreadFact(Event):
        pass

    ThreadFact.name = name
    ThreadFact.version = 1
    ThreadFact.__qualname__ = f"ThreadFact[{name}]"
    fact: type[Event] = ThreadFact
    return fact


def _int(event: Event, field: str) -> int:
    value = getattr(event, field, 0)
    return value if isinstance(value, int) else 0


@subscribe(_fact("thread.post_created"), name="status.on_post_created")
def on_post_created(event: Event) -> None:
    author_id = _int(event, "author_id")
    services.activity_count(user_id=author_id, posts=1)
    services.rules_evaluate(user_id=author_id)


@subscribe(_fact("thread.post_restored"), name="status.on_post_restored")
def on_post_restored(event: Event) -> None:
    author_id = _int(event, "author_id")
    services.activity_count(user_id=author_id, posts=1)
    services.rules_evaluate(user_id=author_id)


@subscribe(_fact("thread.post_deleted"), name="status.on_post_deleted")
def on_post_deleted(event: Event) -> None:
    author_id = _int(event, "author_id")
    services.activity_count(user_id=author_id, posts=-1)
    services.rules_evaluate(user_id=author_id)


@subscribe(_fact("thread.reaction_added"), name="status.on_reaction_added")
def on_reaction_added(event: Event) -> None:
    author_id = _int(event, "post_author_id")
    if author_id != _int(event, "reactor_id"):
        services.activity_count(user_id=author_id, reaction_score=1)
        services.rules_evaluate(user_id=author_id)


@subscribe(_fact("thread.reaction_cleared"), name="status.on_reaction_cleared")
def on_reaction_cleared(event: Event) -> None:
    author_id = _int(event, "post_author_id")
    if author_id != _int(event, "reactor_id"):
        services.activity_count(user_id=author_id, reaction_score=-1)
        services.rules_evaluate(user_id=author_id)
