"""Statuses given automatically: counted from the thread app's events, granted when every rule of
the status holds, taken back once the rules have failed for longer than the grace period, shown with
the member's progress on their profile.

Here, not in apps/status/tests: the posts are written through the thread app, which the status app's
package may not import (the thread app imports it)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from apps.authorization.services import access_ban_set, limit
from apps.status.handlers import COUNTED_EVENTS
from apps.status.models import RuleKind, StatusGrant, StatusRule
from apps.status.selectors import status_by_code
from apps.status.services import automatic_progress_for, rules_evaluate_all, status_define
from apps.status.tests.helpers import Handler
from apps.thread.services import forum_create, post_create, post_delete, thread_create
from forum.events import event_class
from forum.testing.fixtures import Clock


@pytest.fixture(autouse=True)
def regular(db: None, settings: Any) -> None:
    settings.STATUS_AUTOMATIC_GRACE_DAYS = 7
    status_define(code="regular", name="Regular", permissions={"post.attachments_max": 10})
    status = status_by_code(code="regular")
    StatusRule.objects.create(status=status, kind=RuleKind.POSTS_MIN, threshold=3)
    StatusRule.objects.create(status=status, kind=RuleKind.DAYS_MEMBER_MIN, threshold=2)
    StatusRule.objects.create(status=status, kind=RuleKind.NOT_BANNED)


@pytest.fixture(autouse=True)
def isolated(english: None, redis_namespace: str) -> None:
    """Every test in English and with Redis keys of its own."""


@pytest.fixture
def handle() -> Handler:
    return Handler()


@pytest.fixture
def moderator(make_member: Callable[..., int]) -> int:
    return make_member(is_staff=True, is_superuser=True)


@pytest.fixture
def thread_id(moderator: int) -> int:
    forum = forum_create(name="General")
    return thread_create(author_id=moderator, forum_id=forum.id, title="Hello", body="Say hello").id


def posts_label(user_id: int) -> str:
    (regular,) = automatic_progress_for(user_id=user_id)
    return next(rule.label for rule in regular.rules if rule.kind == "posts_min")


def automatic(user_id: int) -> list[StatusGrant]:
    return list(StatusGrant.objects.filter(user_id=user_id, source="automatic").order_by("pk"))


def test_the_events_counted_exist_with_the_fields_read() -> None:
    # The thread app's events are taken by name (importing them would be a cycle): a renamed event
    # or field would silently count nothing, so this says it.
    for name, fields in COUNTED_EVENTS.items():
        known = {field.name for field in dataclasses.fields(event_class(name, 1))}
        assert set(fields) <= known, name


def test_a_status_is_granted_when_its_rules_hold_and_taken_back_after_the_grace(
    make_member: Callable[..., int],
    moderator: int,
    thread_id: int,
    handle: Handler,
    clock: Clock,
    outbox: Callable[[str], list[dict[str, Any]]],
) -> None:
    alice = make_member()
    posts = [post_create(author_id=alice, thread_id=thread_id, body=f"Reply {n}").id for n in range(3)]
    handle()
    assert automatic(alice) == []  # three posts, but a member for less than two days
    assert posts_label(alice) == "3 of 3 posts"

    clock.move(days=2, minutes=1)
    assert rules_evaluate_all() == 1  # the daily run sees the days pass
    (grant,) = automatic(alice)
    assert grant.status.code == "regular" and grant.ends_at is None and grant.revoked_at is None
    assert [event["user_id"] for event in outbox("status.rule_granted")] == [alice]
    assert limit(user_id=alice, permission="post.attachments_max") == 10
    assert rules_evaluate_all() == 0  # nothing changes twice

    post_delete(user_id=moderator, post_id=posts[0])
    handle()
    assert posts_label(alice) == "2 of 3 posts"
    grant.refresh_from_db()
    assert grant.revoked_at is None  # within the grace period it stays

    clock.move(days=6)
    assert rules_evaluate_all() == 0
    post_create(author_id=alice, thread_id=thread_id, body="Back again")  # holds again: the grace restarts
    handle()
    post_delete(user_id=moderator, post_id=posts[1])
    handle()
    clock.move(days=6)
    assert rules_evaluate_all() == 0
    grant.refresh_from_db()
    assert grant.revoked_at is None

    clock.move(days=2)
    assert rules_evaluate_all() == 1
    grant.refresh_from_db()
    assert grant.revoked_at is not None
    (revoked,) = outbox("status.rule_revoked")
    assert (revoked["user_id"], revoked["status_code"], revoked["grant_id"]) == (alice, "regular", grant.pk)


def test_a_ban_stops_the_rules_holding(make_member: Callable[..., int], clock: Clock) -> None:
    alice = make_member()
    clock.move(days=3)
    access_ban_set(user_id=alice)
    progress = automatic_progress_for(user_id=alice)[0]
    met = {rule.kind: rule.met for rule in progress.rules}
    assert met == {"posts_min": False, "days_member_min": True, "not_banned": False}
    assert rules_evaluate_all() == 0


def test_the_profile_shows_the_owner_their_progress(
    make_member: Callable[..., int], thread_id: int, handle: Handler, django_user_model: Any
) -> None:
    alice, bob = make_member(), make_member()
    post_create(author_id=alice, thread_id=thread_id, body="One")
    handle()
    owner = Client()
    owner.force_login(django_user_model.objects.get(pk=alice))
    text = owner.get(f"/members/{alice}/").content.decode()
    assert "Statuses for activity" in text and "1 of 3 posts" in text and "0 of 2 days on the forum" in text
    other = Client()
    other.force_login(django_user_model.objects.get(pk=bob))
    assert "Statuses for activity" not in other.get(f"/members/{alice}/").content.decode()

    russian = owner.get(f"/members/{alice}/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "1 из 3 сообщений" in russian and "Статусы за активность" in russian
