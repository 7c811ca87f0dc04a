"""Fixtures of the notification tests: a small forum, members with verified addresses, clients, and
``handle``: the notification app's subscribers run on what the other apps really published.

Tests run in a transaction that never commits, so the bus never sends what is published; ``handle``
plays the worker: it takes the outbox rows not handled yet, in order, and runs every subscriber of
this app on each, exactly as a Celery worker would (the same task, the same event id, its dedup).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from apps.status.services import status_grant
from apps.thread.services import forum_create, thread_create
from forum.testing.outbox import OutboxWorker


@pytest.fixture(autouse=True)
def isolated(english: None, redis_namespace: str, db: None, settings: Any) -> Iterator[None]:
    settings.FORUM_BASE_URL = "https://forum.example.com"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    yield


@dataclass(frozen=True)
class Tree:
    category: int
    general: int
    other: int
    exclusive: int


@pytest.fixture
def tree() -> Tree:
    category = forum_create(name="Community", kind="category", position=1).id
    general = forum_create(name="General", parent_id=category, position=1).id
    other = forum_create(name="Other", parent_id=category, position=2).id
    exclusive = forum_create(
        name="Agents only", parent_id=category, position=3, read_permission="forum.read_exclusive"
    ).id
    return Tree(category, general, other, exclusive)


Member = Callable[..., int]


@pytest.fixture
def member_with_mail(make_member: Callable[..., int], django_user_model: Any, handle: Handler) -> Member:
    """A member with a verified address; ``reader=True`` (the default) also skips premoderation: the
    Reader status, whose own notification is passed over."""

    def make(*, reader: bool = True, **fields: Any) -> int:
        user_id = make_member(email_verified=True, **fields)
        django_user_model.objects.filter(pk=user_id).update(email=f"member{user_id}@example.com")
        if reader:
            status_grant(user_id=user_id, status_code="reader", source="staff")
            handle.skip("status.granted")
        return user_id

    return make


@pytest.fixture
def alice(member_with_mail: Member) -> int:
    return member_with_mail()


@pytest.fixture
def bob(member_with_mail: Member) -> int:
    return member_with_mail()


@pytest.fixture
def carol(member_with_mail: Member) -> int:
    return member_with_mail()


@pytest.fixture
def staff(make_member: Callable[..., int]) -> int:
    return make_member(is_staff=True)


class Handler(OutboxWorker):
    """Runs this app's subscribers on the events published so far and not yet handled here."""

    PREFIXES = ("notification.",)


@pytest.fixture
def handle() -> Handler:
    return Handler()


def start_thread(
    author_id: int, forum_id: int, title: str = "A thread", body: str = "Hello"
) -> tuple[int, int]:
    """A public thread (the author skips premoderation): (thread id, first post id)."""
    thread = thread_create(author_id=author_id, forum_id=forum_id, title=title, body=body)
    assert thread.state == "approved" and thread.first_post_id is not None
    return thread.id, thread.first_post_id
