"""Warnings and the status app's automatic rules, from the outside: a status given for "active warning
points at most N" is taken back once a warning has counted for the grace period, given again when the
warning is revoked (at once) or runs out (the daily evaluation), and the owner's profile says how far
they are, in English and Russian.

Here, not in apps/status/tests nor apps/admin/tests: the warnings are given through the moderation app,
which the status app may not import (the moderation app imports it), and the rules are written to the
status app's tables, which the moderation app's package may not import."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.admin.models import WarningType
from apps.authorization.services import limit, role_assign
from apps.status.models import RuleKind, StatusGrant, StatusRule
from apps.status.selectors import status_by_code
from apps.status.services import (
    automatic_progress_for,
    rule_fact_register,
    rules_evaluate_all,
    status_define,
)
from forum.testing.fixtures import Clock
from forum.testing.outbox import OutboxWorker

Api = Callable[[int | None], APIClient]
Web = Callable[[int | None], Client]


class Handler(OutboxWorker):
    """Runs this app's and the status app's subscribers on the events not handled yet."""

    PREFIXES = ("forum_admin.", "status.")


@pytest.fixture
def handle() -> Handler:
    return Handler()


@pytest.fixture(autouse=True)
def isolated(english: None, redis_namespace: str) -> None:
    """Every test in English and with Redis keys of its own."""


@pytest.fixture
def support(make_member: Callable[..., int]) -> int:
    user_id = make_member()
    role_assign(user_id=user_id, role="support")
    return user_id


@pytest.fixture
def api_as(django_user_model: Any) -> Api:
    def make(user_id: int | None) -> APIClient:
        client = APIClient()
        if user_id is not None:
            client.force_authenticate(django_user_model.objects.get(pk=user_id))
        return client

    return make


@pytest.fixture
def web(django_user_model: Any) -> Web:
    def make(user_id: int | None) -> Client:
        client = Client()
        if user_id is not None:
            client.force_login(django_user_model.objects.get(pk=user_id))
        return client

    return make


@pytest.fixture(autouse=True)
def regular(db: None, settings: Any) -> None:
    settings.STATUS_AUTOMATIC_GRACE_DAYS = 7
    status_define(code="regular", name="Regular", permissions={"post.attachments_max": 10})
    status = status_by_code(code="regular")
    StatusRule.objects.create(status=status, kind=RuleKind.DAYS_MEMBER_MIN, threshold=1)
    StatusRule.objects.create(status=status, kind=RuleKind.WARNING_POINTS_MAX, threshold=0)


def _type(name: str) -> int:
    return int(WarningType.objects.get(name=name).pk)  # seeded: Off-topic, 1 point, 30 days


def held(user_id: int) -> list[StatusGrant]:
    """The member's automatic grants of "regular" that are not revoked."""
    return list(
        StatusGrant.objects.filter(
            user_id=user_id, source="automatic", status__code="regular", revoked_at__isnull=True
        )
    )


def warning_label(user_id: int) -> str:
    (regular,) = automatic_progress_for(user_id=user_id)
    return next(rule.label for rule in regular.rules if rule.kind == "warning_points_max")


def warn(api_as: Api, support: int, member: int) -> int:
    off_topic = _type("Off-topic")
    answer = api_as(support).post(f"/api/v1/members/{member}/warnings", {"warning_type_id": off_topic})
    assert answer.status_code == 201, answer.content
    return int(answer.json()["id"])


def regular_member(make_member: Callable[..., int], clock: Clock) -> int:
    """A member who holds "regular" by its rules (a day on the forum, no warnings)."""
    member = make_member()
    clock.move(days=1, minutes=1)
    assert rules_evaluate_all() >= 1
    assert len(held(member)) == 1
    assert warning_label(member) == "No active warnings"
    return member


def test_a_warning_takes_the_status_back_after_the_grace_and_its_revocation_gives_it_again(
    make_member: Callable[..., int],
    support: int,
    api_as: Api,
    handle: Handler,
    clock: Clock,
    outbox: Callable[[str], list[dict[str, Any]]],
) -> None:
    member = regular_member(make_member, clock)
    assert limit(user_id=member, permission="post.attachments_max") == 10
    warning_id = warn(api_as, support, member)
    handle()  # the warning's handler evaluates the member: the rule fails from now
    assert warning_label(member) == "1 active warning point"
    assert len(held(member)) == 1  # within the grace period it stays

    clock.move(days=6)
    assert rules_evaluate_all() == 0
    assert len(held(member)) == 1

    clock.move(days=1, minutes=1)  # seven days since the warning, not since a daily run saw it
    assert rules_evaluate_all() == 1
    assert held(member) == []
    assert [(event["user_id"], event["status_code"]) for event in outbox("status.rule_revoked")] == [
        (member, "regular")
    ]
    assert limit(user_id=member, permission="post.attachments_max") != 10

    answer = api_as(support).post(f"/api/v1/warnings/{warning_id}/revoke", {"reason": "a mistake"})
    assert answer.status_code == 200, answer.content
    handle()  # no daily run: the revocation's handler gives it again
    assert len(held(member)) == 1
    assert warning_label(member) == "No active warnings"
    assert limit(user_id=member, permission="post.attachments_max") == 10
    assert [event["user_id"] for event in outbox("status.rule_granted")].count(member) == 2


def test_a_warning_revoked_within_the_grace_keeps_the_status(
    make_member: Callable[..., int], support: int, api_as: Api, handle: Handler, clock: Clock
) -> None:
    member = regular_member(make_member, clock)
    (grant,) = held(member)
    warning_id = warn(api_as, support, member)
    handle()
    clock.move(days=3)
    assert api_as(support).post(f"/api/v1/warnings/{warning_id}/revoke").status_code == 200
    handle()
    clock.move(days=5)  # past the grace counted from the warning: forgotten on the revocation
    assert rules_evaluate_all() == 0
    assert held(member) == [grant]


def test_a_warning_that_runs_out_gives_the_status_again_on_the_daily_run(
    make_member: Callable[..., int], support: int, api_as: Api, handle: Handler, clock: Clock
) -> None:
    member = regular_member(make_member, clock)
    warn(api_as, support, member)
    handle()
    clock.move(days=8)
    assert rules_evaluate_all() == 1
    assert held(member) == []
    clock.move(days=22, minutes=1)  # thirty days: the Off-topic warning ran out
    assert warning_label(member) == "No active warnings"
    assert rules_evaluate_all() == 1
    assert len(held(member)) == 1


def test_the_profile_shows_the_owner_their_warning_points_in_both_languages(
    make_member: Callable[..., int], support: int, api_as: Api, web: Web, handle: Handler
) -> None:
    StatusRule.objects.filter(kind=RuleKind.WARNING_POINTS_MAX).update(threshold=3)
    member = make_member()
    page = web(member).get(f"/members/{member}/").content.decode()
    assert "No active warnings" in page
    warn(api_as, support, member)
    warn(api_as, support, member)
    handle()
    page = web(member).get(f"/members/{member}/").content.decode()
    assert "2 of at most 3 active warning points" in page
    russian = web(member).get(f"/members/{member}/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "2 из не более чем 3 активных баллов предупреждений" in russian

    StatusRule.objects.filter(kind=RuleKind.WARNING_POINTS_MAX).update(threshold=0)
    page = web(member).get(f"/members/{member}/").content.decode()
    assert "2 active warning points" in page
    russian = web(member).get(f"/members/{member}/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "2 активных балла предупреждений" in russian
    (regular,) = automatic_progress_for(user_id=member)
    assert [rule.met for rule in regular.rules if rule.kind == "warning_points_max"] == [False]


def test_only_known_rule_kinds_take_a_fact() -> None:
    with pytest.raises(ValueError):
        rule_fact_register("warnings_at_least", lambda user_id, now: 0)
