"""Fixtures of the moderation tests: English messages, an isolated Redis namespace, members of every
kind (a member, another member, support, an admin), clients signed in as any of them, and ``handle``:
the subscribers of this app and of the notification app run on what was really published, as a worker
would run them (tests run in a transaction that never commits, so the bus never sends anything)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.authorization.services import role_assign
from forum.testing.outbox import OutboxWorker


@pytest.fixture(autouse=True)
def isolated(english: None, redis_namespace: str, db: None, settings: Any) -> Iterator[None]:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    yield


@pytest.fixture
def member(make_member: Callable[..., int]) -> int:
    return make_member()


@pytest.fixture
def other(make_member: Callable[..., int]) -> int:
    return make_member()


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
    def make(user_id: int | None) -> Client:
        client = Client()
        if user_id is not None:
            client.force_login(django_user_model.objects.get(pk=user_id))
        return client

    return make


class Handler(OutboxWorker):
    """Runs this app's and the notification app's subscribers on the events not handled yet."""

    PREFIXES = ("forum_admin.", "notification.")


@pytest.fixture
def handle() -> Handler:
    return Handler()
