"""Tickets: members open them in help topics; staff reply, write internal notes, assign (by hand or the
topic's round robin), change state and priority; SLA due times; a reply within the reopen window
reopens a resolved ticket, after it the hourly task closes it; canned replies; the whole history; and
the notifications each change causes."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from apps.authorization.services import access_ban_set
from apps.notification.services import notifications_page
from apps.support import selectors, services
from apps.support.models import CannedReply, HelpTopic, SlaTarget, Ticket, TicketEvent
from apps.support.tests.conftest import Handler
from forum.errors import Conflict, Forbidden, NotFound, ValidationFailed
from forum.testing.fixtures import Clock


def topic(code: str = "account") -> int:
    return HelpTopic.objects.get(code=code).pk


def open_ticket(member_id: int, subject: str = "Cannot sign in", body: str = "Help me **please**") -> int:
    return services.ticket_open(member_id=member_id, topic_id=topic(), subject=subject, body=body).id


def test_a_member_opens_a_ticket_in_a_public_topic_with_its_sla(
    reporter: int, clock: Clock, outbox: Any
) -> None:
    SlaTarget.objects.filter(priority=2).update(first_response_minutes=90, resolution_minutes=600)
    ticket = services.ticket_open(
        member_id=reporter, topic_id=topic(), subject="  Cannot\n sign in ", body="Help"
    )
    assert ticket.state == "open" and ticket.priority == "normal" and ticket.subject == "Cannot sign in"
    row = Ticket.objects.get(pk=ticket.id)
    assert row.first_response_due == clock.now + datetime.timedelta(minutes=90)
    assert row.resolution_due == clock.now + datetime.timedelta(minutes=600)
    message = row.messages.get()
    assert message.body_html.strip() == "<p>Help</p>" and not message.internal
    assert outbox("support.ticket_opened")[0]["member_id"] == reporter
    with pytest.raises(ValidationFailed):
        services.ticket_open(member_id=reporter, topic_id=topic("reports"), subject="x", body="y")
    with pytest.raises(ValidationFailed):
        services.ticket_open(member_id=reporter, topic_id=topic(), subject=" ", body="y")


def test_round_robin_goes_through_support_staff_in_turn(
    reporter: int, support: int, admin: int, make_member: Callable[..., int]
) -> None:
    second_support = make_member(is_staff=True)
    staff = sorted([support, admin, second_support])
    assignees = [Ticket.objects.get(pk=open_ticket(reporter, f"Question {n}")).assignee_id for n in range(4)]
    assert assignees == [*staff, staff[0]]
    # A banned staff member drops out of the turn.
    access_ban_set(user_id=staff[1])
    assert Ticket.objects.get(pk=open_ticket(reporter, "Fifth")).assignee_id == staff[2]

    HelpTopic.objects.filter(code="account").update(assign_policy="manual")
    assert Ticket.objects.get(pk=open_ticket(reporter, "Sixth")).assignee_id is None


def test_the_conversation_between_member_and_staff(
    reporter: int, support: int, admin: int, clock: Clock
) -> None:
    HelpTopic.objects.update(assign_policy="manual")
    ticket_id = open_ticket(reporter)
    clock.move(minutes=5)
    services.ticket_reply(author_id=support, ticket_id=ticket_id, body="Looking", internal=True)
    row = Ticket.objects.get(pk=ticket_id)
    # A note is no answer to the member.
    assert row.first_response_at is None and row.state == "open" and row.assignee_id is None

    clock.move(minutes=5)
    services.ticket_reply(author_id=support, ticket_id=ticket_id, body="Which browser?")
    row.refresh_from_db()
    assert row.first_response_at == clock.now
    assert row.state == "waiting_on_member"
    assert row.assignee_id == support  # whoever answers an unassigned ticket takes it

    services.ticket_reply(author_id=reporter, ticket_id=ticket_id, body="Firefox")
    row.refresh_from_db()
    assert row.state == "open"

    seen_by_member = selectors.ticket_detail(viewer_id=reporter, ticket_id=ticket_id)
    seen_by_staff = selectors.ticket_detail(viewer_id=admin, ticket_id=ticket_id)
    assert seen_by_member is not None and seen_by_staff is not None
    assert [m.body for m in seen_by_member.messages] == ["Help me **please**", "Which browser?", "Firefox"]
    assert [m.body for m in seen_by_staff.messages] == [
        "Help me **please**",
        "Looking",
        "Which browser?",
        "Firefox",
    ]
    assert seen_by_member.history == () and seen_by_staff.history
    with pytest.raises(Forbidden):
        services.ticket_reply(author_id=reporter, ticket_id=ticket_id, body="secret", internal=True)


def test_a_ticket_keeps_its_whole_history(reporter: int, support: int, admin: int) -> None:
    HelpTopic.objects.update(assign_policy="manual")
    ticket_id = open_ticket(reporter)
    services.ticket_assign(actor_id=admin, ticket_id=ticket_id, assignee_id=support)
    services.ticket_priority_set(actor_id=support, ticket_id=ticket_id, priority="urgent")
    services.ticket_state_set(actor_id=support, ticket_id=ticket_id, state="in_progress")
    services.ticket_reply(author_id=support, ticket_id=ticket_id, body="Fixed", state="resolved")
    history = list(
        TicketEvent.objects.filter(ticket_id=ticket_id).order_by("id").values_list("kind", "actor_id", "data")
    )
    assert [(kind, actor) for kind, actor, _data in history] == [
        ("opened", reporter),
        ("assigned", admin),
        ("priority", support),
        ("state", support),
        ("replied", support),
        ("state", support),
    ]
    assert history[1][2] == {"from": None, "to": support}
    assert history[2][2] == {"from": "normal", "to": "urgent"}
    assert history[5][2] == {"from": "in_progress", "to": "resolved", "outcome": ""}
    row = Ticket.objects.get(pk=ticket_id)
    # Urgent: the due times are counted again from the opening.
    assert row.first_response_due == row.created_at + datetime.timedelta(minutes=60)
    assert row.state == "resolved" and row.resolved_at is not None


def test_only_staff_assign_and_only_to_staff(reporter: int, support: int, other: int) -> None:
    ticket_id = open_ticket(reporter)
    with pytest.raises(Forbidden):
        services.ticket_assign(actor_id=reporter, ticket_id=ticket_id, assignee_id=support)
    with pytest.raises(NotFound):
        services.ticket_assign(actor_id=other, ticket_id=ticket_id, assignee_id=support)
    with pytest.raises(ValidationFailed):
        services.ticket_assign(actor_id=support, ticket_id=ticket_id, assignee_id=other)
    services.ticket_assign(actor_id=support, ticket_id=ticket_id, assignee_id=None)
    assert Ticket.objects.get(pk=ticket_id).assignee_id is None


def test_the_member_may_only_mark_their_ticket_resolved(reporter: int, other: int) -> None:
    ticket_id = open_ticket(reporter)
    with pytest.raises(Forbidden):
        services.ticket_state_set(actor_id=reporter, ticket_id=ticket_id, state="closed")
    with pytest.raises(NotFound):
        services.ticket_state_set(actor_id=other, ticket_id=ticket_id, state="resolved")
    services.ticket_state_set(actor_id=reporter, ticket_id=ticket_id, state="resolved")
    assert Ticket.objects.get(pk=ticket_id).state == "resolved"


def test_a_reply_within_the_window_reopens_and_after_it_the_ticket_closes(
    reporter: int, support: int, clock: Clock, outbox: Any
) -> None:
    ticket_id = open_ticket(reporter)
    services.ticket_reply(author_id=support, ticket_id=ticket_id, body="Done", state="resolved")
    clock.move(days=6, hours=23)
    assert services.tickets_close_resolved() == 0
    services.ticket_reply(author_id=reporter, ticket_id=ticket_id, body="It broke again")
    row = Ticket.objects.get(pk=ticket_id)
    assert row.state == "open" and row.resolved_at is None

    services.ticket_reply(author_id=support, ticket_id=ticket_id, body="Fixed again", state="resolved")
    clock.move(days=7, minutes=1)
    assert services.tickets_close_resolved() == 1
    row.refresh_from_db()
    assert row.state == "closed" and row.closed_at == clock.now
    with pytest.raises(Conflict) as refused:
        services.ticket_reply(author_id=reporter, ticket_id=ticket_id, body="Hello?")
    assert refused.value.code == "ticket_closed"
    assert outbox("support.ticket_state_changed")[-1] == {
        "ticket_id": ticket_id,
        "actor_id": None,
        "old_state": "resolved",
        "new_state": "closed",
        "outcome": "",
    }


def test_a_member_past_the_window_but_before_the_task_cannot_reopen(
    reporter: int, support: int, clock: Clock
) -> None:
    ticket_id = open_ticket(reporter)
    services.ticket_reply(author_id=support, ticket_id=ticket_id, body="Done", state="resolved")
    clock.move(days=7, minutes=1)
    with pytest.raises(Conflict):
        services.ticket_reply(author_id=reporter, ticket_id=ticket_id, body="Again")


def test_canned_replies_fill_in_the_member_and_the_number(
    reporter: int, support: int, django_user_model: Any
) -> None:
    canned = CannedReply.objects.create(title="Hello", body="Hi {member}, about {ticket}: {member}!")
    ticket_id = open_ticket(reporter)
    name = django_user_model.objects.get(pk=reporter).username
    assert services.canned_reply_render(actor_id=support, canned_id=canned.pk, ticket_id=ticket_id) == (
        f"Hi {name}, about #{ticket_id}: {name}!"
    )
    with pytest.raises(Forbidden):
        services.canned_reply_render(actor_id=reporter, canned_id=canned.pk, ticket_id=ticket_id)


def test_a_banned_member_can_still_ask_and_floods_are_capped(reporter: int) -> None:
    access_ban_set(user_id=reporter)
    for number in range(services.OPEN_TICKETS_MAX):
        open_ticket(reporter, f"Why am I banned {number}")
    with pytest.raises(Conflict) as refused:
        open_ticket(reporter, "One more")
    assert refused.value.code == "too_many_open_tickets"


def test_each_change_notifies_whom_it_concerns(
    reporter: int, support: int, admin: int, handle: Handler
) -> None:
    HelpTopic.objects.update(assign_policy="manual")
    handle.skip()
    ticket_id = open_ticket(reporter)
    services.ticket_assign(actor_id=admin, ticket_id=ticket_id, assignee_id=support)
    services.ticket_reply(author_id=support, ticket_id=ticket_id, body="Which browser?")
    services.ticket_reply(author_id=support, ticket_id=ticket_id, body="Note", internal=True)
    services.ticket_reply(author_id=reporter, ticket_id=ticket_id, body="Firefox")
    services.ticket_state_set(actor_id=support, ticket_id=ticket_id, state="resolved")
    handle()
    assert [(item.kind, item.text) for item in notifications_page(user_id=support).items] == [
        ("support.ticket_reply", f"{name_of(reporter)} replied on the ticket “Cannot sign in”"),
        ("support.ticket_assigned", f"Ticket #{ticket_id} “Cannot sign in” is assigned to you"),
    ]
    assert [(item.kind, item.text) for item in notifications_page(user_id=reporter).items] == [
        ("support.ticket_state", "Your ticket “Cannot sign in” is now: Resolved"),
        ("support.ticket_reply", f"{name_of(support)} replied on the ticket “Cannot sign in”"),
    ]
    assert notifications_page(user_id=admin).items == ()


def name_of(user_id: int) -> str:
    return str(get_user_model().objects.get(pk=user_id).username)
