"""Granting, revoking and expiring statuses, seen from the outside: the events, and what members may do."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from apps.authorization.services import has_perm, limit, permissions_for
from apps.status.services import (
    GrantState,
    StatusBadge,
    status_badges_for,
    status_grant,
    status_grants_of,
    status_revoke,
    statuses_active_for,
    statuses_expire_due,
    statuses_held_by,
)
from forum.errors import Conflict, NotFound, ValidationFailed
from forum.testing.fixtures import Clock

pytestmark = pytest.mark.django_db

THREADS = "thread.create_per_day"
Outbox = Callable[[str], list[dict[str, Any]]]


def test_agent_reads_exclusive_sections_and_opens_more_threads(
    make_member: Callable[..., int], outbox: Outbox
) -> None:
    member = make_member()
    assert limit(user_id=member, permission=THREADS) == 3
    assert not has_perm(user_id=member, permission="forum.read_exclusive")

    granted = status_grant(user_id=member, status_code="agent", source="purchase", reference="invoice-17")

    assert limit(user_id=member, permission=THREADS) == 10
    assert has_perm(user_id=member, permission="forum.read_exclusive")
    assert granted.state is GrantState.ACTIVE and granted.ends_at is None
    (event,) = outbox("status.granted")
    assert event["grant_id"] == granted.grant_id
    assert (event["user_id"], event["status_code"], event["source"], event["ends_at"]) == (
        member,
        "agent",
        "purchase",
        None,
    )


def test_reader_gets_extended_reading_and_participation(make_member: Callable[..., int]) -> None:
    member = make_member()
    status_grant(user_id=member, status_code="reader", source="automatic")
    assert has_perm(user_id=member, permission="forum.read_extended")
    assert has_perm(user_id=member, permission="thread.skip_premoderation")
    assert limit(user_id=member, permission="post.create_per_day") == 300
    assert limit(user_id=member, permission="dialog.max_participants") == 20
    assert not has_perm(user_id=member, permission="forum.read_exclusive")


def test_holding_both_gives_the_most_generous_of_each(make_member: Callable[..., int]) -> None:
    member, without = make_member(), make_member()
    status_grant(user_id=member, status_code="agent", source="purchase")
    status_grant(user_id=member, status_code="reader", source="purchase")
    held = permissions_for(user_id=member)
    assert held.statuses == ("agent", "reader")
    assert held.values[THREADS] == 10
    assert held.values["forum.read_exclusive"] is True and held.values["forum.read_extended"] is True
    assert statuses_held_by(user_ids=[member, without]) == {member: ["agent", "reader"], without: []}


def test_status_badges_for_a_page_of_members_in_one_query(make_member: Callable[..., int]) -> None:
    both, revoked, later, without = make_member(), make_member(), make_member(), make_member()
    status_grant(user_id=both, status_code="reader", source="purchase")
    status_grant(user_id=both, status_code="agent", source="purchase")
    status_grant(user_id=both, status_code="agent", source="staff")  # a second grant: one badge
    status_revoke(grant_id=status_grant(user_id=revoked, status_code="agent", source="staff").grant_id)
    status_grant(
        user_id=later,
        status_code="agent",
        source="purchase",
        starts_at=timezone.now() + datetime.timedelta(days=1),
    )
    asked = [both, revoked, later, without]

    with CaptureQueriesContext(connection) as queries:
        badges = status_badges_for(user_ids=asked)

    assert len(queries) == 1
    assert badges == {
        both: (StatusBadge("agent", "Agent"), StatusBadge("reader", "Reader")),  # in catalogue order
        revoked: (),
        later: (),
        without: (),
    }
    with translation.override("ru"):
        assert status_badges_for(user_ids=[both])[both][0].name == translation.gettext("Agent") != "Agent"


def test_a_revoked_grant_stops_granting_and_says_so(make_member: Callable[..., int], outbox: Outbox) -> None:
    member, staff = make_member(), make_member(is_staff=True)
    granted = status_grant(user_id=member, status_code="agent", source="staff", granted_by=staff)

    revoked = status_revoke(grant_id=granted.grant_id, revoked_by=staff)

    assert revoked.state is GrantState.REVOKED
    assert limit(user_id=member, permission=THREADS) == 3
    assert outbox("status.revoked") == [
        {"grant_id": granted.grant_id, "user_id": member, "status_code": "agent", "revoked_by": staff}
    ]
    with pytest.raises(Conflict):
        status_revoke(grant_id=granted.grant_id)
    with pytest.raises(NotFound):
        status_revoke(grant_id=granted.grant_id + 1000)


def test_the_expiry_task_ends_due_grants_and_publishes_status_expired(
    make_member: Callable[..., int], clock: Clock, outbox: Outbox
) -> None:
    member, other = make_member(), make_member()
    ends_at = clock.now + datetime.timedelta(days=30)
    month = status_grant(user_id=member, status_code="agent", source="purchase", ends_at=ends_at)
    forever = status_grant(user_id=member, status_code="reader", source="purchase")
    later = status_grant(
        user_id=other, status_code="agent", source="purchase", ends_at=clock.now + datetime.timedelta(days=60)
    )
    assert statuses_expire_due() == 0

    clock.move(days=31)
    assert statuses_expire_due() == 1
    assert statuses_expire_due() == 0  # nothing is expired twice

    assert outbox("status.expired") == [
        {
            "grant_id": month.grant_id,
            "user_id": member,
            "status_code": "agent",
            "ended_at": {"__datetime__": ends_at.isoformat()},
        }
    ]
    assert limit(user_id=member, permission=THREADS) == 3
    assert has_perm(user_id=member, permission="forum.read_extended")  # the permanent grant stays
    assert [grant.grant_id for grant in statuses_active_for(user_id=member)] == [forever.grant_id]
    states = {grant.grant_id: grant.state for grant in status_grants_of(user_id=member)}
    assert states == {month.grant_id: GrantState.ENDED, forever.grant_id: GrantState.ACTIVE}
    assert limit(user_id=other, permission=THREADS) == 10
    assert [grant.grant_id for grant in statuses_active_for(user_id=other)] == [later.grant_id]


def test_a_grant_can_start_later(make_member: Callable[..., int], clock: Clock) -> None:
    member = make_member()
    granted = status_grant(
        user_id=member,
        status_code="agent",
        source="purchase",
        starts_at=clock.now + datetime.timedelta(days=30),
        ends_at=clock.now + datetime.timedelta(days=60),
    )
    assert granted.state is GrantState.SCHEDULED
    assert limit(user_id=member, permission=THREADS) == 3
    clock.move(days=31)
    assert limit(user_id=member, permission=THREADS) == 10


def test_a_grant_that_rolls_back_grants_nothing(make_member: Callable[..., int], outbox: Outbox) -> None:
    member = make_member()
    with pytest.raises(RuntimeError), transaction.atomic():
        status_grant(user_id=member, status_code="agent", source="purchase")
        raise RuntimeError("the payment failed after all")
    assert limit(user_id=member, permission=THREADS) == 3
    assert outbox("status.granted") == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"source": "gift"}, "source"),
        ({"ends_at": "past"}, "ends_at"),
        ({"ends_at": "naive"}, "ends_at"),
        ({"ends_at": "before start"}, "ends_at"),
        ({"reference": "x" * 101}, "reference"),
    ],
)
def test_a_malformed_grant_is_refused_field_by_field(
    make_member: Callable[..., int], clock: Clock, change: dict[str, Any], field: str
) -> None:
    times = {
        "past": clock.now - datetime.timedelta(minutes=1),
        "naive": datetime.datetime(2099, 1, 1),
        "before start": clock.now + datetime.timedelta(days=1),
    }
    arguments: dict[str, Any] = {"user_id": make_member(), "status_code": "agent", "source": "staff"}
    if "ends_at" in change:
        arguments["ends_at"] = times[change["ends_at"]]
        if change["ends_at"] == "before start":
            arguments["starts_at"] = clock.now + datetime.timedelta(days=2)
    else:
        arguments.update(change)
    with pytest.raises(ValidationFailed) as refused:
        status_grant(**arguments)
    assert list(refused.value.fields) == [field]


def test_an_unknown_status_or_member_is_not_found(make_member: Callable[..., int]) -> None:
    with pytest.raises(NotFound):
        status_grant(user_id=make_member(), status_code="wizard", source="staff")
    with pytest.raises(NotFound):
        status_grant(user_id=10**12, status_code="agent", source="staff")
    with pytest.raises(NotFound):
        status_grant(user_id=make_member(), status_code="agent", source="staff", granted_by=10**12)
