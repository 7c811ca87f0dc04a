"""Kept answers of ``service.run`` (docs/search.md "Kept results"): shared only by viewers who would
get the same answer, and given up at the index's next write."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from forum.search import service
from forum.search.base import (
    KIND_MESSAGE,
    KIND_POST,
    Document,
    ForumChoice,
    SearchQuery,
    SearchScope,
    get_backend,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("kept_parts")]

FORUMS = [
    ForumChoice(id=1, name="Open", depth=0, subtree=(1,)),
    ForumChoice(id=2, name="Shut", depth=0, subtree=(2,)),
]


def post(pk: int, forum_id: int, body: str) -> Document:
    return Document(
        kind=KIND_POST, id=pk, app="thread", title="Tea", body=body, forum_id=forum_id, thread_id=pk
    )


def message(pk: int, participants: tuple[int, ...], body: str) -> Document:
    return Document(
        kind=KIND_MESSAGE,
        id=pk,
        app="dialog",
        title="",
        body=body,
        dialog_id=pk,
        participant_ids=participants,
    )


def found(query: SearchQuery, scope: SearchScope) -> list[int]:
    return [hit.id for hit in service.run(query, scope, FORUMS).hits]


def test_two_reading_sets_never_share_an_answer(django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        get_backend("postgres").index([post(1, 1, "kettle open"), post(2, 2, "kettle shut")])
    query = SearchQuery(text="kettle", kinds=(KIND_POST,))
    both = SearchScope(readable_forum_ids=frozenset({1, 2}))
    one = SearchScope(readable_forum_ids=frozenset({1}))
    assert sorted(found(query, both)) == [1, 2]
    assert found(query, one) == [1]
    assert sorted(found(query, both)) == [1, 2]
    with CaptureQueriesContext(connection) as again:
        assert found(query, one) == [1]
    assert len(again) == 0  # the same reading set: kept


def test_a_members_messages_are_never_anybody_elses(django_capture_on_commit_callbacks: Any) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        get_backend("postgres").index(
            [message(1, (7, 8), "kettle between us"), message(2, (9,), "kettle mine")]
        )
    query = SearchQuery(text="kettle", kinds=(KIND_MESSAGE,))
    forums = frozenset({1})
    assert found(query, SearchScope(readable_forum_ids=forums, viewer_id=7)) == [1]
    assert found(query, SearchScope(readable_forum_ids=forums, viewer_id=9)) == [2]
    # Counted beside posts, they still make the answer the viewer's own.
    counted = SearchQuery(text="kettle", kinds=(KIND_POST,), count_kinds=(KIND_MESSAGE,))
    assert (
        service.run(counted, SearchScope(readable_forum_ids=forums, viewer_id=7), FORUMS).result.counts[
            KIND_MESSAGE
        ]
        == 1
    )
    assert (
        service.run(counted, SearchScope(readable_forum_ids=forums, viewer_id=5), FORUMS).result.counts[
            KIND_MESSAGE
        ]
        == 0
    )


def test_every_write_to_the_index_is_searched_at_once(django_capture_on_commit_callbacks: Any) -> None:
    backend = get_backend("postgres")
    scope = SearchScope(readable_forum_ids=frozenset({1}))
    query = SearchQuery(text="kettle", kinds=(KIND_POST,))
    assert found(query, scope) == []
    with django_capture_on_commit_callbacks(execute=True):
        backend.index([post(1, 1, "kettle")])
    assert found(query, scope) == [1]
    with django_capture_on_commit_callbacks(execute=True):
        backend.delete(KIND_POST, [1])
    assert found(query, scope) == []
    with django_capture_on_commit_callbacks(execute=True):
        backend.index([post(2, 1, "kettle")])
    assert found(query, scope) == [2]
    with django_capture_on_commit_callbacks(execute=True):
        backend.clear(KIND_POST)
    assert found(query, scope) == []
