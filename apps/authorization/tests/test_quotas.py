"""Quotas counted by the engine in the database: refusals with 429 and the reset time, what remains."""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.authorization.services import (
    StatusPermissions,
    access_ban_set,
    access_statuses_set,
    quota_consume,
    quota_refund,
    quota_remaining,
    quota_states,
    role_assign,
)
from forum.errors import Forbidden, RateLimited
from forum.testing.fixtures import Clock

pytestmark = pytest.mark.django_db

THREADS = "thread.create_per_day"


def give_agent(member: int, *, threads: int = 10) -> None:
    access_statuses_set(
        user_id=member,
        grants=[
            StatusPermissions(
                status_code="agent",
                values={THREADS: threads},
                starts_at=timezone.now() - datetime.timedelta(minutes=1),
                ends_at=None,
            )
        ],
    )


def test_uses_count_down_and_the_one_over_the_quota_is_refused_with_its_reset_time(
    make_member: Callable[..., int], clock: Clock
) -> None:
    member = make_member()
    first_use_at = clock.now
    assert quota_remaining(user_id=member, permission=THREADS).remaining == 3

    remaining = []
    for _use in range(3):
        remaining.append(quota_consume(user_id=member, permission=THREADS).state.remaining)
        clock.move(minutes=10)
    assert remaining == [2, 1, 0]

    with pytest.raises(RateLimited) as refused:
        quota_consume(user_id=member, permission=THREADS)
    error = refused.value
    assert error.status == 429
    # The first use leaves the rolling window one day after it was taken; 30 minutes have passed.
    assert error.retry_after == int(datetime.timedelta(days=1, minutes=-30).total_seconds())
    assert error.headers["Retry-After"] == str(error.retry_after)
    expected_reset = first_use_at + datetime.timedelta(days=1)
    assert datetime.datetime.fromisoformat(error.headers["X-Quota-Resets-At"]) == expected_reset.replace(
        microsecond=expected_reset.microsecond // 1000 * 1000
    )
    assert expected_reset.strftime("%Y-%m-%d %H:%M") in error.message

    state = quota_remaining(user_id=member, permission=THREADS)
    assert (state.limit, state.used, state.remaining) == (3, 3, 0)
    assert state.resets_at == datetime.datetime.fromisoformat(error.headers["X-Quota-Resets-At"])


def test_the_window_rolls_one_use_at_a_time(make_member: Callable[..., int], clock: Clock) -> None:
    member = make_member()
    for _use in range(3):
        quota_consume(user_id=member, permission=THREADS)
        clock.move(hours=1)
    clock.move(hours=21)  # the first use is exactly one day old: it has left the window
    state = quota_remaining(user_id=member, permission=THREADS)
    assert (state.used, state.remaining) == (2, 1)
    quota_consume(user_id=member, permission=THREADS)
    with pytest.raises(RateLimited):
        quota_consume(user_id=member, permission=THREADS)


def test_a_status_raises_the_quota(make_member: Callable[..., int]) -> None:
    member = make_member()
    give_agent(member)
    for _use in range(10):
        quota_consume(user_id=member, permission=THREADS)
    with pytest.raises(RateLimited):
        quota_consume(user_id=member, permission=THREADS)


def test_when_the_quota_shrinks_the_uses_already_taken_still_count(make_member: Callable[..., int]) -> None:
    member = make_member()
    give_agent(member)
    for _use in range(5):
        quota_consume(user_id=member, permission=THREADS)
    access_statuses_set(user_id=member, grants=[])  # the status is gone
    state = quota_remaining(user_id=member, permission=THREADS)
    assert (state.limit, state.used, state.remaining) == (3, 5, 0)
    with pytest.raises(RateLimited):
        quota_consume(user_id=member, permission=THREADS)


def test_over_a_shrunken_quota_the_reset_is_when_enough_uses_have_left_the_window(
    make_member: Callable[..., int], clock: Clock
) -> None:
    member = make_member()
    give_agent(member)
    taken_at = []
    for _use in range(5):
        taken_at.append(clock.now.replace(microsecond=clock.now.microsecond // 1000 * 1000))
        quota_consume(user_id=member, permission=THREADS)
        clock.move(minutes=10)
    access_statuses_set(user_id=member, grants=[])  # the allowance drops from 10 to 3
    state = quota_remaining(user_id=member, permission=THREADS)
    # Five uses over a limit of three: one comes back when the third oldest leaves the window.
    assert (state.used, state.remaining) == (5, 0)
    assert state.resets_at == taken_at[2] + datetime.timedelta(seconds=state.period_seconds)
    give_agent(member)
    state = quota_consume(user_id=member, permission=THREADS).state
    assert (state.used, state.resets_at) == (
        6,
        taken_at[0] + datetime.timedelta(seconds=state.period_seconds),
    )


def test_a_large_allowance_costs_the_same_queries_as_a_small_one(
    make_member: Callable[..., int], django_assert_max_num_queries: Any
) -> None:
    """Uses are counted in the database; a member with thousands in the window is not read row by row
    (the bench's member, with every benchmark reply in the window, spent half a post's time here)."""
    from apps.authorization.models import QuotaEntry

    member = make_member()
    give_agent(member, threads=5_000)
    now = timezone.now()
    QuotaEntry.objects.bulk_create(
        QuotaEntry(
            user_id=member, permission=THREADS, use_id=f"u{n}", used_at=now - datetime.timedelta(seconds=n)
        )
        for n in range(1, 3_001)
    )
    with CaptureQueriesContext(connection) as captured:
        state = quota_consume(user_id=member, permission=THREADS).state
    assert (state.used, state.remaining) == (3_001, 1_999)
    assert state.resets_at == now - datetime.timedelta(seconds=3_000) + datetime.timedelta(
        seconds=state.period_seconds
    )
    # After the member's permissions: their lock, then one statement that drops the old uses, counts
    # the rest and takes one.
    statements = [query["sql"] for query in captured.captured_queries][-2:]
    assert "pg_advisory_xact_lock" in statements[0], statements
    assert "authorization_quotaentry" in statements[1] and "count(*)" in statements[1], statements
    assert sum("authorization_quotaentry" in query["sql"] for query in captured.captured_queries) == 1


def test_a_use_given_back_can_be_taken_again(make_member: Callable[..., int]) -> None:
    member = make_member()
    uses = [quota_consume(user_id=member, permission=THREADS) for _use in range(3)]
    quota_refund(user_id=member, permission=THREADS, use_id=uses[1].use_id)
    assert quota_remaining(user_id=member, permission=THREADS).remaining == 1
    quota_consume(user_id=member, permission=THREADS)


def test_members_are_counted_apart(make_member: Callable[..., int]) -> None:
    first, second = make_member(), make_member()
    for _use in range(3):
        quota_consume(user_id=first, permission=THREADS)
    assert quota_remaining(user_id=second, permission=THREADS).remaining == 3


def test_without_any_quota_the_refusal_is_403_not_429(make_member: Callable[..., int]) -> None:
    with pytest.raises(Forbidden) as guest:
        quota_consume(user_id=None, permission=THREADS)
    assert guest.value.code == "not_authenticated"
    banned = make_member()
    access_ban_set(user_id=banned)
    with pytest.raises(Forbidden) as refused:
        quota_consume(user_id=banned, permission=THREADS)
    assert refused.value.code == "banned"


def test_an_unlimited_quota_is_never_refused(make_member: Callable[..., int]) -> None:
    admin = make_member()
    role_assign(user_id=admin, role="admin")
    for _use in range(20):
        use = quota_consume(user_id=admin, permission=THREADS)
    assert use.state.limit is None and use.state.remaining is None


def test_every_quota_is_listed_for_the_composer(make_member: Callable[..., int]) -> None:
    member = make_member()
    quota_consume(user_id=member, permission=THREADS)
    states = {state.permission: state for state in quota_states(user_id=member)}
    assert {THREADS, "post.create_per_day", "dialog.start_per_day"} <= set(states)
    assert states[THREADS].remaining == 2 and states["post.create_per_day"].used == 0


def test_a_quota_only_accepts_quota_permissions(make_member: Callable[..., int]) -> None:
    member = make_member()
    with pytest.raises(TypeError):
        quota_consume(user_id=member, permission="dialog.max_participants")


def test_when_redis_is_down_the_quota_still_holds(make_member: Callable[..., int], settings: Any) -> None:
    member = make_member()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    uses = [quota_consume(user_id=member, permission=THREADS) for _use in range(3)]
    assert all(use.use_id for use in uses)
    with pytest.raises(RateLimited):
        quota_consume(user_id=member, permission=THREADS)
    assert quota_remaining(user_id=member, permission=THREADS).remaining == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_uses_never_exceed_the_quota(make_member: Callable[..., int]) -> None:
    """Eight requests at once for three uses, each on its own connection: exactly three get one."""
    member = make_member()
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def attempt() -> None:
        try:
            barrier.wait()
            quota_consume(user_id=member, permission=THREADS)
            outcomes.append("taken")
        except RateLimited:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _attempt in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["taken"] * 3
