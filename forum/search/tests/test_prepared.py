"""The PostgreSQL backend's statements are prepared once a connection and planned once for every text
(forum.search.postgres._run): the plan made for a rare word must find a common one's newest matches
and counts as well, and a statement gone from the session is prepared again."""

from __future__ import annotations

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from forum.search.base import Document, SearchQuery, SearchScope, get_backend

NOW = timezone.now()
READER = SearchScope(readable_forum_ids=frozenset({1}), viewer_id=7)


def post(pk: int, body: str, *, minutes: int, forum: int = 1, visible: bool = True) -> Document:
    return Document(
        kind="post",
        id=pk,
        app="thread",
        title="Thread title",
        body=body,
        forum_id=forum,
        thread_id=100,
        author_id=7,
        created_at=NOW - datetime.timedelta(minutes=minutes),
        visible=visible,
    )


def thread(pk: int, title: str, *, minutes: int, forum: int = 1, visible: bool = True) -> Document:
    return Document(
        kind="thread",
        id=pk,
        app="thread",
        title=title,
        forum_id=forum,
        thread_id=pk,
        author_id=7,
        created_at=NOW - datetime.timedelta(minutes=minutes),
        visible=visible,
    )


def searched(
    text: str, kind: str = "post", *, statements: int = 1
) -> tuple[list[int], dict[str, int], frozenset[str], str]:
    """The hits newest first, the counts, the kinds counted past the limit, and the SQL sent last."""
    other = "thread" if kind == "post" else "post"
    query = SearchQuery(text=text, kinds=(kind,), count_kinds=(other,), sort="date")
    with CaptureQueriesContext(connection) as queries:
        result = get_backend("postgres").search(query, READER)
    assert len(queries) == statements
    return [hit.id for hit in result.hits], dict(result.counts), result.lower_bounds, queries[-1]["sql"]


def plans(sql: str) -> tuple[int, int]:
    """How often the prepared statement that ``sql`` executed was planned generically, and custom."""
    name = re.match(r"EXECUTE (\w+)\(", sql)
    assert name, sql
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = %s", [name[1]]
        )
        row = cursor.fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["post", "thread"])
def test_one_plan_answers_rare_and_common_words_alike(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    from forum.search import postgres

    monkeypatch.setattr(postgres, "COUNT_LIMIT", 3)
    monkeypatch.setattr(postgres, "WALK_LIMIT", 100)  # the sample: the newest four documents
    backend = get_backend("postgres")
    # "kettle" in most posts and threads, the newest included (a common word: walked), "teapot" in two
    # old ones and not among the newest (a rare word: through the full-text index); never the hidden
    # or unreadable ones, the very newest.
    backend.index(
        [post(1, "kettle hidden", minutes=0, visible=False), post(2, "kettle elsewhere", minutes=0, forum=2)]
        + [post(pk, f"kettle {pk}", minutes=pk) for pk in range(3, 40)]
        + [post(50, "teapot", minutes=50), post(51, "teapot too", minutes=51)]
        + [thread(pk, f"Kettle {pk}", minutes=pk) for pk in range(60, 70)]
        + [thread(70, "Teapot", minutes=70)]
    )
    for _round in range(3):  # prepared at the first search of this shape, planned for every text
        rare, rare_counts, rare_more, _sql = searched("teapot", kind)
        common, common_counts, common_more, sql = searched("kettle", kind)
        assert rare == ([50, 51] if kind == "post" else [70])
        assert rare_counts == {"post": 2, "thread": 1} and rare_more == frozenset()
        assert common == ([3, 4, 5] if kind == "post" else [60, 61, 62])
        assert common_counts == {"post": 3, "thread": 3} and common_more == {"post", "thread"}
        assert sql.startswith("EXECUTE forum_searchdocument_") and "PREPARE" not in sql
    generic, custom = plans(sql)
    assert generic >= 6 and custom == 0


@pytest.mark.django_db(transaction=True)
def test_a_statement_gone_from_the_session_is_prepared_again() -> None:
    backend = get_backend("postgres")
    backend.index([post(1, "kettle", minutes=1)])
    assert searched("kettle")[0] == [1]
    assert searched("kettle")[3].startswith("EXECUTE ")
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    # The EXECUTE that found it gone, then the statement prepared again.
    hits, _counts, _more, sql = searched("kettle", statements=2)
    assert hits == [1] and "PREPARE" in sql
    assert searched("kettle")[3].startswith("EXECUTE ")


@pytest.mark.django_db
def test_without_prepared_statements_the_statement_is_sent_whole(
    settings: pytest.FixtureRequest,
) -> None:
    settings.SEARCH_PREPARED_STATEMENTS = False  # type: ignore[attr-defined]
    get_backend("postgres").index([post(1, "kettle", minutes=1)])
    hits, _counts, _more, sql = searched("kettle")
    assert hits == [1] and sql.startswith("WITH q AS MATERIALIZED")


def walked(sql: str, name: str) -> bool:
    """Whether the statement ``sql`` (sent whole) read the walk ``name`` when run."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}")
        lines = [row[0] for row in cursor.fetchall()]
    scans = [line for line in lines if f"CTE Scan on {name} " in line or line.endswith(f"CTE Scan on {name}")]
    assert scans, lines
    return any("never executed" not in line for line in scans)


@pytest.mark.django_db
def test_a_tabs_count_reads_the_full_text_index_where_walking_would_cost_more(
    monkeypatch: pytest.MonkeyPatch, settings: pytest.FixtureRequest
) -> None:
    """The other tab's count walks the newest documents only when the kind is large enough for its
    matches to cost more through the GIN index (postgres.GIN_COUNT_RATIO, from the sample and the
    index's statistics); exact up to the limit either way."""
    from forum.search import postgres

    settings.SEARCH_PREPARED_STATEMENTS = False  # type: ignore[attr-defined]
    monkeypatch.setattr(postgres, "COUNT_LIMIT", 3)
    monkeypatch.setattr(postgres, "WALK_LIMIT", 100)  # the sample: the newest two documents
    monkeypatch.setattr(postgres, "GIN_COUNT_RATIO", 100)  # the index below 400 threads
    backend = get_backend("postgres")
    backend.index(
        [post(pk, f"kettle {pk}", minutes=pk) for pk in range(1, 10)]
        + [thread(pk, f"Kettle {pk}", minutes=pk) for pk in range(60, 70)]
        + [thread(70, "Teapot", minutes=100), thread(71, "Kettle hidden", minutes=100, visible=False)]
    )
    with connection.cursor() as cursor:  # no statistics yet: as many threads as can be, walked
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'search_vector_thread'::regclass")
        assert cursor.fetchone()[0] <= 0
    hits, counts, more, sql = searched("kettle", "post")
    assert counts == {"post": 3, "thread": 3} and more == {"post", "thread"}
    assert walked(sql, "c_thread")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE forum_searchdocument")
    # A dozen threads: counted through the index, to the same answer.
    assert searched("kettle", "post")[:3] == (hits, counts, more)
    assert not walked(searched("kettle", "post")[3], "c_thread")
    # Exact below the limit too, and never a hidden or unreadable thread.
    backend.index([thread(pk, f"Teapot {pk}", minutes=pk, forum=1 if pk < 82 else 2) for pk in range(80, 84)])
    _hits, counts, more, sql = searched("teapot", "post")
    assert counts == {"post": 0, "thread": 3} and more == frozenset()
    assert not walked(sql, "c_thread")


def _index_columns(name: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
            " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
            " WHERE i.indexrelid = %s::regclass",
            [name],
        )
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db
def test_the_walk_of_a_search_reads_only_columns_the_recency_index_holds() -> None:
    """A word's or a phrase's walk of the newest posts and threads, with the scope of a member or a
    guest, names only columns of ``search_document_newest``: an index-only scan once the pages are
    all visible, never a read of the table's rows. A filter the index does not hold (an author) reads
    the rows, and finds as before."""
    from forum.search import postgres

    held = _index_columns("search_document_newest")
    backend = get_backend("postgres")
    for kind, text in (("post", "kettle"), ("thread", '"kettle lid"')):
        params: dict[str, object] = {}
        where = backend._kind_clause(kind, text, READER, params)
        walked = postgres._walked(where, "d.id, d.created_at, d.object_id, d.search_vector")
        named = {column.removeprefix("d.") for column in walked.split(", ")}
        assert named <= held and {"search_vector", "forum_id", "visible"} <= named, (named, held)
    authored = postgres._walked(f"{where} AND d.author_id = %(author)s", "1")
    assert "d.author_id" in authored
    backend.index([post(1, "kettle", minutes=1), post(2, "kettle", minutes=2)])
    query = SearchQuery(text="kettle", kinds=("post",), author_id=7, sort="date")
    assert [hit.id for hit in backend.search(query, READER).hits] == [1, 2]


@pytest.mark.django_db(transaction=True)
def test_a_rebuild_leaves_the_table_vacuumed() -> None:
    """``search_reindex`` ends with VACUUM (ANALYZE): the visibility map set, so the walk's index-only
    scan reads no rows of the table (in a transaction, where VACUUM may not run, ANALYZE alone)."""
    backend = get_backend("postgres")
    backend.index([post(pk, f"kettle {pk}", minutes=pk) for pk in range(1, 400)])

    def visible_pages() -> tuple[int, int]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relpages, relallvisible FROM pg_class WHERE oid = 'forum_searchdocument'::regclass"
            )
            pages, all_visible = cursor.fetchone()
            return int(pages), int(all_visible)

    assert visible_pages()[1] == 0
    backend.after_rebuild()
    pages, all_visible = visible_pages()
    assert pages > 1 and all_visible == pages
