"""Fixtures of the authentication tests: members, clients, clean limits for every test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from rest_framework.test import APIClient

from apps.authentication.models import User
from apps.authentication.tests.helpers import PASSWORD


@pytest.fixture(autouse=True)
def own_limits(settings: Any) -> Iterator[str]:
    """Counters of this test only: a key prefix no other test (nor another run on this Redis) shares."""
    prefix = f"test-auth-{uuid.uuid4().hex[:12]}"
    url = settings.REDIS_URL  # before a test points it elsewhere (an outage)
    settings.REDIS_KEY_PREFIX = prefix
    yield prefix
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{prefix}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def make_member(db: None) -> Callable[..., User]:
    def make(
        username: str = "alice",
        email: str = "alice@example.com",
        password: str = PASSWORD,
        verified: bool = True,
        **extra: Any,
    ) -> User:
        user: User = User.objects.create_user(
            username=username, email=email, password=password, email_verified=verified, **extra
        )
        return user

    return make


@pytest.fixture
def member(make_member: Callable[..., User]) -> User:
    return make_member()
