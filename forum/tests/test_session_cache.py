"""The session engine's cache (forum.session_store): sessions read from Redis with the database behind,
every change and deletion seen at once, and the database alone while Redis is down."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.core.cache import cache

from forum import cache_client, member_cache, session_store
from forum.session_store import SessionStore
from forum.testing.tcp_proxy import TcpProxy
from forum.tests.test_faults import redis_behind_proxy, redis_proxy  # noqa: F401  fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def kept(settings: Any, redis_namespace: str) -> Iterator[None]:
    settings.KEPT_PARTS_SECONDS = 300
    member_cache.breaker.reset()
    yield
    member_cache.breaker.reset()
    session_store._undone.clear()


def saved(**data: Any) -> str:
    store = SessionStore()
    store.update(data)
    store.create()
    assert store.session_key is not None
    return store.session_key


def test_a_saved_session_reads_back_from_redis_without_a_query(django_assert_num_queries: Any) -> None:
    key = saved(answer=42)
    with django_assert_num_queries(0):
        assert SessionStore(key)["answer"] == 42


def test_a_session_missing_from_redis_is_read_from_the_database_and_kept(
    django_assert_num_queries: Any,
) -> None:
    key = saved(answer=42)
    cache_client.delete_many([session_store._key(key)])
    with django_assert_num_queries(1):
        assert SessionStore(key)["answer"] == 42
    with django_assert_num_queries(0):
        assert SessionStore(key)["answer"] == 42


def test_a_change_is_read_at_once() -> None:
    key = saved(answer=42)
    store = SessionStore(key)
    store["answer"] = 43
    store.save()
    assert SessionStore(key)["answer"] == 43


def test_a_deleted_session_is_gone_at_once() -> None:
    key = saved(answer=42)
    assert SessionStore(key)["answer"] == 42
    SessionStore(key).delete()
    assert SessionStore(key).load() == {}
    assert not Session.objects.filter(session_key=key).exists()


def test_cycling_the_key_leaves_nothing_under_the_old_one() -> None:
    key = saved(answer=42)
    store = SessionStore(key)
    store.cycle_key()
    assert store.session_key != key
    assert SessionStore(key).load() == {}
    assert SessionStore(store.session_key)["answer"] == 42


def test_a_copy_lives_no_longer_than_kept_parts_seconds(settings: Any) -> None:
    settings.KEPT_PARTS_SECONDS = 120
    key = saved(answer=42)
    client, _serializer = cache_client._backend()
    assert 0 < client.ttl(cache.make_key(session_store._key(key))) <= 120


def test_without_kept_parts_the_database_alone_answers(settings: Any, django_assert_num_queries: Any) -> None:
    settings.KEPT_PARTS_SECONDS = 0
    key = saved(answer=42)
    with django_assert_num_queries(1):
        assert SessionStore(key)["answer"] == 42


def test_with_redis_down_sessions_come_from_the_database_and_a_sign_out_holds_after(
    redis_behind_proxy: TcpProxy,  # noqa: F811  the fixture
    django_assert_num_queries: Any,
) -> None:
    key = saved(answer=42)
    with django_assert_num_queries(0):
        assert SessionStore(key)["answer"] == 42
    redis_behind_proxy.cut()
    with django_assert_num_queries(1):
        assert SessionStore(key)["answer"] == 42
    SessionStore(key).delete()  # the copy in Redis cannot be dropped now
    assert SessionStore(key).load() == {}
    redis_behind_proxy.restore()
    # Back: the copy left behind is dropped before anything is read from Redis.
    assert SessionStore(key).load() == {}
    assert django_settings.SESSION_ENGINE == "forum.session_store"
