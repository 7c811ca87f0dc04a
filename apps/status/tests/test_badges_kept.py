"""The badges of a page of members, kept (``status_badges_kept``): no query while kept, and a grant, a
revocation, a status renamed (in the admin too) or a grant starting or ending by the clock alone (no task
running, no event) shows at the very next read. The thread page's cards:
config/tests/test_status_badges_page.py (the thread app, which this package may not import, makes the
thread)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from apps.authorization.services import role_assign
from apps.status.models import Status
from apps.status.services import status_badges_kept, status_define, status_get, status_grant, status_revoke
from apps.status.tests.test_admin import status_fields
from forum.testing.fixtures import Clock

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("kept_parts")]

GRANTS_SQL = '"status_statusgrant"'
Committed = Callable[[], AbstractContextManager[Any]]


def badges(*user_ids: int) -> tuple[dict[int, list[tuple[str, str]]], bool]:
    """Each member's badges as (code, name), and whether the grants were read in the database."""
    with CaptureQueriesContext(connection) as captured:
        held = status_badges_kept(user_ids=list(user_ids))
    queried = any(GRANTS_SQL in query["sql"] for query in captured.captured_queries)
    return {
        user_id: [(badge.code, badge.name) for badge in found] for user_id, found in held.items()
    }, queried


def test_badges_are_kept_and_a_grant_or_a_revocation_shows_at_once(
    make_member: Callable[..., int], committed: Committed
) -> None:
    alice, bob = make_member(), make_member()
    with committed():
        granted = status_grant(user_id=alice, status_code="agent", source="staff")
    assert badges(alice, bob) == ({alice: [("agent", "Agent")], bob: []}, True)
    assert badges(bob, alice) == ({alice: [("agent", "Agent")], bob: []}, False)  # kept, in any order

    with committed():
        status_grant(user_id=bob, status_code="reader", source="purchase")
    assert badges(alice, bob) == ({alice: [("agent", "Agent")], bob: [("reader", "Reader")]}, True)
    assert badges(alice, bob)[1] is False

    with committed():
        status_revoke(grant_id=granted.grant_id)
    assert badges(alice, bob) == ({alice: [], bob: [("reader", "Reader")]}, True)
    assert badges(alice, bob)[1] is False


def test_without_kept_parts_every_read_makes_its_one_query(
    make_member: Callable[..., int], settings: Any, django_assert_num_queries: Callable[..., Any]
) -> None:
    settings.KEPT_PARTS_SECONDS = 0
    alice = make_member()
    status_grant(user_id=alice, status_code="agent", source="staff")
    for _read in range(2):
        with django_assert_num_queries(1):
            assert [badge.code for badge in status_badges_kept(user_ids=[alice])[alice]] == ["agent"]


def test_a_timed_grant_goes_exactly_at_its_end_and_a_later_one_comes_at_its_start(
    make_member: Callable[..., int], clock: Clock, committed: Committed
) -> None:
    alice, bob = make_member(), make_member()
    with committed():
        status_grant(
            user_id=alice,
            status_code="agent",
            source="purchase",
            ends_at=clock.now + datetime.timedelta(minutes=10),
        )
        status_grant(
            user_id=bob,
            status_code="reader",
            source="purchase",
            starts_at=clock.now + datetime.timedelta(minutes=20),
        )
    assert badges(alice, bob) == ({alice: [("agent", "Agent")], bob: []}, True)

    clock.move(minutes=10, microseconds=-1)
    assert badges(alice, bob) == ({alice: [("agent", "Agent")], bob: []}, False)  # kept until the end
    clock.move(microseconds=1)  # the end: no expiry task ran, no event was published
    assert badges(alice, bob) == ({alice: [], bob: []}, True)
    assert badges(alice, bob)[1] is False  # kept anew, until the next start

    clock.move(minutes=10, microseconds=-1)
    assert badges(alice, bob) == ({alice: [], bob: []}, False)
    clock.move(microseconds=1)
    assert badges(alice, bob) == ({alice: [], bob: [("reader", "Reader")]}, True)
    assert badges(alice, bob)[1] is False  # for good now: kept until an event


def test_a_status_renamed_shows_at_once_and_the_name_is_kept_per_language(
    make_member: Callable[..., int], committed: Committed
) -> None:
    alice = make_member()
    with committed():
        status_grant(user_id=alice, status_code="agent", source="staff")
    assert badges(alice) == ({alice: [("agent", "Agent")]}, True)
    with translation.override("ru"):
        russian, queried = badges(alice)
        assert queried and russian[alice][0][1] != "Agent"  # the seeded name, translated
    assert badges(alice) == ({alice: [("agent", "Agent")]}, False)

    agent = status_get(code="agent")
    with committed():
        status_define(
            code="agent", name="Field agent", permissions=agent.permissions, position=agent.position
        )
    assert badges(alice) == ({alice: [("agent", "Field agent")]}, True)


def test_a_status_renamed_in_the_admin_shows_at_once(
    make_member: Callable[..., int], committed: Committed
) -> None:
    alice, staff = make_member(), make_member()
    role_assign(user_id=staff, role="admin")
    admin = Client()
    admin.force_login(get_user_model().objects.get(pk=staff))
    with committed():
        status_grant(user_id=alice, status_code="agent", source="staff")
    assert badges(alice) == ({alice: [("agent", "Agent")]}, True)
    assert badges(alice)[1] is False

    agent = Status.objects.get(code="agent")
    form = status_fields(
        agent,
        name="Secret agent",
        permission__forum__read_exclusive="on",
        permission__thread__create_per_day_0="number",
        permission__thread__create_per_day_1="10",
    )
    with committed():
        assert admin.post(f"/admin/status/status/{agent.pk}/change/", form).status_code == 302
    assert badges(alice) == ({alice: [("agent", "Secret agent")]}, True)


def test_the_rules_a_profile_shows_progress_on_are_kept_and_a_rule_saved_shows_at_once(
    make_member: Callable[..., int], committed: Committed
) -> None:
    from apps.status.models import StatusRule
    from apps.status.services import automatic_progress_for

    member = make_member()
    rules_sql = '"status_statusrule"'

    def progress() -> tuple[list[tuple[str, list[str]]], bool]:
        with CaptureQueriesContext(connection) as captured:
            found = automatic_progress_for(user_id=member)
        queried = any(rules_sql in query["sql"] for query in captured.captured_queries)
        return [(status.code, [rule.kind for rule in status.rules]) for status in found], queried

    before, _queried = progress()
    assert progress()[1] is False  # kept
    with committed():  # a rule added (as the admin saves it: no event) shows at once
        StatusRule.objects.create(status=Status.objects.get(code="agent"), kind="posts_min", threshold=5)
    after, queried = progress()
    assert queried and ("agent", ["posts_min"]) in after and ("agent", ["posts_min"]) not in before
    with committed():  # and a rule deleted
        StatusRule.objects.filter(status__code="agent").delete()
    assert ("agent", ["posts_min"]) not in progress()[0]
