"""forum.ratelimit: a fixed window per name and subject in the real Redis, refused past the limit with
the rest of the window as Retry-After, and open (not refusing) while Redis is unreachable."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from forum.errors import RateLimited
from forum.ratelimit import rate_limit_breaker, rate_limit_hit
from forum.testing.processes import free_port


@pytest.fixture(autouse=True)
def namespace(redis_namespace: str) -> Iterator[None]:
    rate_limit_breaker.reset()
    yield
    rate_limit_breaker.reset()


def test_past_the_limit_a_subject_is_refused_until_the_window_ends() -> None:
    for _ in range(3):
        rate_limit_hit(name="things", subject="7", limit=3, window=60)
    with pytest.raises(RateLimited) as refused:
        rate_limit_hit(name="things", subject="7", limit=3, window=60)
    assert 1 <= refused.value.retry_after <= 60
    assert refused.value.headers["Retry-After"] == str(refused.value.retry_after)
    # Other subjects and other names count on their own.
    rate_limit_hit(name="things", subject="8", limit=3, window=60)
    rate_limit_hit(name="other", subject="7", limit=3, window=60)


def test_a_limit_of_zero_is_no_limit() -> None:
    for _ in range(5):
        rate_limit_hit(name="things", subject="7", limit=0, window=60)


def test_while_redis_is_unreachable_nothing_is_refused(settings: Any) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    for _ in range(3):
        rate_limit_hit(name="things", subject="7", limit=1, window=60)
    assert rate_limit_breaker.down(settings.REDIS_URL)
