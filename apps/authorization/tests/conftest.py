"""Fixtures of the authorization tests: the shared ones (forum.testing.fixtures), some made automatic."""

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def isolated(english: None, redis_namespace: str) -> Iterator[None]:
    """Every test in English and with Redis keys of its own."""
    yield
