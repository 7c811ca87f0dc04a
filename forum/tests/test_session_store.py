"""The session engine (forum.session_store): Django's database sessions, read in plain SQL."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.utils import timezone

from forum.session_store import SessionStore

pytestmark = pytest.mark.django_db


def test_it_is_the_configured_engine() -> None:
    assert settings.SESSION_ENGINE == "forum.session_store"


def test_a_saved_session_reads_back_with_its_data() -> None:
    store = SessionStore()
    store["answer"] = 42
    store.create()
    again = SessionStore(store.session_key)
    assert again["answer"] == 42
    assert again.session_key == store.session_key


def test_an_expired_session_reads_as_empty_and_gets_a_new_key(django_assert_num_queries: Any) -> None:
    store = SessionStore()
    store["answer"] = 42
    store.create()
    Session.objects.filter(session_key=store.session_key).update(
        expire_date=timezone.now() - datetime.timedelta(seconds=1)
    )
    again = SessionStore(store.session_key)
    with django_assert_num_queries(1):
        assert again.load() == {}
    assert again.session_key is None


@pytest.mark.parametrize("key", ["x" * 32, "", "short"])
def test_an_unknown_or_invalid_key_reads_as_empty(key: str) -> None:
    store = SessionStore(key)
    assert store.load() == {}
    assert store.session_key is None


def test_a_session_whose_data_was_tampered_with_reads_as_empty() -> None:
    store = SessionStore()
    store["answer"] = 42
    store.create()
    Session.objects.filter(session_key=store.session_key).update(session_data="bm90IHNpZ25lZA:tampered")
    assert SessionStore(store.session_key).load() == {}
