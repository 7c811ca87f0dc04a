"""Fixtures of the status tests: the shared ones of forum.testing.fixtures, some made automatic here."""

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def isolated(english: None, redis_namespace: str) -> Iterator[None]:
    """Every test in English and with Redis keys of its own."""
    yield
