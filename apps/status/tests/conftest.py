"""Fixtures of the status tests: the shared ones of forum.testing.fixtures, some made automatic here."""

from collections.abc import Iterator

import pytest

from .helpers import Handler


@pytest.fixture(autouse=True)
def isolated(english: None, redis_namespace: str) -> Iterator[None]:
    """Every test in English and with Redis keys of its own."""
    yield


@pytest.fixture
def handle() -> Handler:
    """Plays the worker for this app's subscribers (see helpers.Handler)."""
    return Handler()
