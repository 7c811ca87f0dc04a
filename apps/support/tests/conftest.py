"""Fixtures of the support tests: English messages, an isolated Redis namespace, files on a temporary
disk, a small forum with a thread to report, members of every kind (the reporter, another member,
support, an admin), clients signed in as any of them (pages and API), and ``handle``: the
notification app's subscribers run on what was really published, as a worker would run them.

Tests run in a transaction that never commits, so the bus never sends what is published; ``handle``
takes the outbox rows not handled yet, in order, and runs the notification app's tasks on each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.authorization.services import role_assign
from apps.status.services import status_grant
from apps.thread.services import forum_create, post_create, thread_create
from forum.testing.fixtures import local_upload_storages
from forum.testing.outbox import OutboxWorker


@pytest.fixture(autouse=True)
def isolated(english: None, redis_namespace: str, db: None, settings: Any, tmp_path: Path) -> Iterator[None]:
    local_upload_storages(settings, tmp_path)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    yield


def _member(make_member: Callable[..., int], **fields: Any) -> int:
    user_id = make_member(**fields)
    # Readers skip premoderation: their threads are public at once, as the tests need.
    status_grant(user_id=user_id, status_code="reader", source="staff")
    return user_id


@pytest.fixture
def reporter(make_member: Callable[..., int]) -> int:
    return _member(make_member)


@pytest.fixture
def author(make_member: Callable[..., int]) -> int:
    return _member(make_member)


@pytest.fixture
def other(make_member: Callable[..., int]) -> int:
    return _member(make_member)


@pytest.fixture
def support(make_member: Callable[..., int]) -> int:
    user_id = make_member()
    role_assign(user_id=user_id, role="support")
    return user_id


@pytest.fixture
def admin(make_member: Callable[..., int]) -> int:
    user_id = make_member()
    role_assign(user_id=user_id, role="admin")
    return user_id


@dataclass(frozen=True)
class Content:
    forum_id: int
    thread_id: int
    first_post_id: int
    reply_id: int


@pytest.fixture
def content(author: int, other: int) -> Content:
    """A public thread by ``author`` with a reply by ``other``."""
    category = forum_create(name="Community", kind="category", position=1).id
    general = forum_create(name="General", parent_id=category, position=1).id
    thread = thread_create(
        author_id=author, forum_id=general, title="Cheap watches", body="Buy now at example.com"
    )
    assert thread.first_post_id is not None
    reply = post_create(author_id=other, thread_id=thread.id, body="This is spam.")
    return Content(general, thread.id, thread.first_post_id, reply.id)


Api = Callable[[int | None], APIClient]
Web = Callable[[int | None], Client]


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
    """A browser signed in by the session (pages and downloads), or a guest for None."""

    def make(user_id: int | None) -> Client:
        client = Client()
        if user_id is not None:
            client.force_login(django_user_model.objects.get(pk=user_id))
        return client

    return make


class Handler(OutboxWorker):
    """Runs the notification app's subscribers on the events published so far and not yet handled."""

    PREFIXES = ("notification.",)


@pytest.fixture
def handle() -> Handler:
    return Handler()
