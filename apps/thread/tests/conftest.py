"""Fixtures of the thread tests: a small forum tree, members of each kind, API clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from apps.thread.services import forum_create


@pytest.fixture(autouse=True)
def isolated(english: None, redis_namespace: str, db: None) -> Iterator[None]:
    yield


@dataclass(frozen=True)
class Tree:
    category: int
    general: int
    sub: int
    subsub: int
    other: int
    exclusive: int


@pytest.fixture
def tree() -> Tree:
    category = forum_create(name="Community", kind="category", position=1).id
    general = forum_create(name="General", parent_id=category, description="Anything goes.", position=1).id
    sub = forum_create(name="Introductions", parent_id=general).id
    subsub = forum_create(name="Long stories", parent_id=sub).id
    other = forum_create(name="Other", parent_id=category, position=2).id
    exclusive = forum_create(
        name="Agents only", parent_id=category, position=3, read_permission="forum.read_exclusive"
    ).id
    return Tree(category, general, sub, subsub, other, exclusive)


@pytest.fixture
def member(make_member: Callable[..., int]) -> int:
    return make_member()


@pytest.fixture
def other(make_member: Callable[..., int]) -> int:
    return make_member()


@pytest.fixture
def staff(make_member: Callable[..., int]) -> int:
    return make_member(is_staff=True)


@pytest.fixture
def api_as(django_user_model: Any) -> Callable[[int | None], APIClient]:
    def make(user_id: int | None) -> APIClient:
        client = APIClient()
        if user_id is not None:
            client.force_authenticate(django_user_model.objects.get(pk=user_id))
        return client

    return make


@pytest.fixture
def client_for(django_user_model: Any) -> Callable[..., Client]:
    """A browser signed in as the member (a guest's for None), checking CSRF tokens if asked, asking
    for a language if given."""

    def make(user_id: int | None, *, csrf_checks: bool = False, language: str = "") -> Client:
        client = Client(
            enforce_csrf_checks=csrf_checks, headers={"Accept-Language": language} if language else None
        )
        if user_id is not None:
            client.force_login(django_user_model.objects.get(pk=user_id))
        return client

    return make


def page(client: Client, url: str) -> tuple[str, int]:
    """The page at ``url`` (a 200) and how many queries it took."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), len(queries)
