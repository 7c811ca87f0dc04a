"""The PostgreSQL search backend: one table (forum.models.SearchDocument), full text and trigrams.

Every document's ``search_vector`` is built in the upsert with the ``russian`` text search
configuration, which sends Cyrillic words through the Russian Snowball stemmer and Latin words
through the English one: «форумы» and «форум» meet, and so do "threads" and "thread", in any
document whatever its language, mixed ones included (docs/search.md says why one configuration).
Titles get weight A, bodies weight B, so that a match in a title ranks above one in a body.

Members are found by name with pg_trgm: similarity forgives typos, ``LIKE 'prefix%'`` finds a name
from its first letters; both use the partial trigram index of member documents.

The viewer's scope is part of the SQL (see forum.search.base for the rules), so hits, totals, tab
counts and snippets only ever see what the viewer may read. Snippets come from ``ts_headline`` on
the page's rows only, with control characters as markers, then escaped by ``safe_highlight``.
"""

from __future__ import annotations

import datetime
import functools
import html
import itertools
import re
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from django.conf import settings
from django.db import ProgrammingError, connection, transaction
from django.db.models import Count, Max
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from forum import versioned_cache
from forum.models import SearchDocument
from forum.search.base import (
    CUT_MARKER,
    HIGHLIGHT_START,
    HIGHLIGHT_STOP,
    INDEX_SCOPE,
    KIND_MEMBER,
    KIND_MESSAGE,
    KIND_POST,
    KIND_THREAD,
    KINDS,
    BackendStats,
    Document,
    Hit,
    SearchQuery,
    SearchResult,
    SearchScope,
    day_start,
    indexable_text,
    safe_highlight,
)

CONFIG = "russian"
# Trigram similarity a member's name must reach to match a query with a typo (pg_trgm's default).
MEMBER_SIMILARITY = 0.3
UPSERT_BATCH = 500
# Counts are exact up to here and say "more than" beyond (COUNT_LIMIT + 1 found), and a search
# ranks (and pages through) the newest this many matches: a common word matches tens of thousands
# of posts, and ranking or counting them all cost ten times a page; the walk to the newest 1,000
# cost five times that to 200 (docs/search.md, "What a search costs").
COUNT_LIMIT = 200
# A common word's newest matches are looked for among this many newest documents of the kind (the
# recency index, a walk that stops there): a word in more than one in 25 of them (4%); a rarer one
# is found through the full-text index instead. Read at about 0.4 microseconds a document.
WALK_LIMIT = 25 * COUNT_LIMIT
# Whether to walk is decided by the matches among the newest WALK_LIMIT / SAMPLE_SHARE documents of
# the kind (100: a word in one in 25 of them is found there 4 times, one in 5 about 20 times). It is
# read by every search of posts or threads, rare words' too: 200 cost 0.05 to 0.1 ms more a search.
SAMPLE_SHARE = 50
# A tab's count (never its page, which needs the newest matches in order) reads the GIN index rather
# than walking the newest documents when that is cheaper: the index costs about the matches in the
# whole kind (a bitmap of every one, then COUNT_LIMIT + 1 of them read), the walk about COUNT_LIMIT
# divided by the word's share of the documents (a heap row each). With ``n`` matches among the
# sample's ``S`` documents and ``N`` documents of the kind (its full-text index's statistics), that
# is n N / S postings against (COUNT_LIMIT + 1) S / n rows: the walk is kept when n^2 N reaches
# GIN_COUNT_RATIO (COUNT_LIMIT + 1) S^2, a walked row costing about 3 postings (0.4 microseconds
# against 0.05 to 0.2: a phrase's words are intersected and rechecked). "option" among 10,000
# threads (n = 20 of 100: 4 million against 6): the index, 0.22 ms against 0.45; a phrase there
# (n = 10): the index, 0.25 against 0.8. The word of every thread's title (n = 100), "option"
# among 200,000 posts (n = 17: 58 million), a phrase there (n = 7: 10 million): the walk.
GIN_COUNT_RATIO = 3
# What the walk reads of each document: the columns its filter and its caller name, and nothing else,
# so that the common walk (the scope's columns and the window's) is answered by the recency index
# alone (``search_document_newest`` includes them, migration forum/0005).
_COLUMN_NAMED = re.compile(r"\bd\.(\w+)")


@functools.lru_cache(maxsize=256)
def _walked(where: str, picked: str) -> str:
    named = _COLUMN_NAMED.findall(f"{picked} {where} {_NEWEST}")
    return ", ".join(f"d.{name}" for name in sorted(set(named)))


# The query's words, parsed once a statement (``q``, the first step) and read by every step: a
# ``websearch_to_tsquery(%(text)s)`` in a plan made for any text is evaluated again for every row.
_QUERY_STEP = f"q AS MATERIALIZED (SELECT websearch_to_tsquery('{CONFIG}', %(text)s) AS tsq)"
_TSQUERY = "(SELECT tsq FROM q)"
# A snippet is cut from at most SNIPPET_WINDOW characters of a text: ``ts_headline`` parses and stems
# every word of what it is given (20 posts of 5,000 characters: 8 ms of PostgreSQL's CPU, against
# 2 for 1,200 characters of each), and shows about 35 words. A text of more than SNIPPET_WINDOW
# bytes (its size is known without reading it) is cut to as many characters, from SNIPPET_LEAD
# characters before the first place one of the query's lexemes appears in it (a stem is how its
# words start: «форум» in «форумы», "option" in "options"; none found: its start), the word cut in
# two dropped.
SNIPPET_WINDOW = 600
SNIPPET_LEAD = 200
_SNIPPET_START = (
    "greatest(1, coalesce((SELECT min(p) FROM unnest((SELECT ARRAY(SELECT m[1] FROM"
    " regexp_matches(querytree(tsq), $re$'([^']+)'$re$, 'g') m) FROM q)) l,"
    " LATERAL strpos(lower(d.body), l) p WHERE p > 0), 1) - %(snippet_lead)s::int)"
)
_SNIPPET_TEXT = (
    "CASE WHEN octet_length(d.body) <= %(snippet_window)s::int THEN d.body ELSE"
    " (SELECT CASE WHEN s = 1 THEN substr(d.body, 1, %(snippet_window)s::int)"
    r" ELSE regexp_replace(substr(d.body, s, %(snippet_window)s::int), $re$^\S*\s+$re$, '') END"
    f" FROM (SELECT {_SNIPPET_START} AS s) start) END"
)

_HEADLINE_OPTIONS = (
    f'StartSel="{HIGHLIGHT_START}", StopSel="{HIGHLIGHT_STOP}", MaxWords=35, MinWords=15, ShortWord=2'
)
_TITLE_OPTIONS = f'StartSel="{HIGHLIGHT_START}", StopSel="{HIGHLIGHT_STOP}", HighlightAll=true'
# A text of at most SNIPPET_WHOLE characters (about the 35 words of a snippet) is its own snippet,
# every match marked: ts_headline makes a snippet of the stretch between the matches it ranks best and
# fills it only to its minimum, so a short post with two matches lost its first words although all of
# it fits. (The bytes are checked first: a long text's length is known without reading it.)
SNIPPET_WHOLE = 240
_SHORT = (
    "(octet_length(d.body) <= 4 * %(snippet_whole)s::int AND char_length(d.body) <= %(snippet_whole)s::int)"
)
_BODY_OPTIONS = f"CASE WHEN {_SHORT} THEN %(title_options)s ELSE %(body_options)s END"
# A longer text's snippet is cut from it: its first and last CUT_EDGE characters come back too, and
# the snippet is marked CUT_MARKER where it starts after the text's start or ends before its end (as the
# Meilisearch backend's crop marker does), found by comparing their words (_cut_ends).
CUT_EDGE = 80
_EDGES = ", ".join(
    f"CASE WHEN d.kind = '{KIND_MEMBER}' OR {_SHORT} THEN NULL ELSE {side}(d.body, {CUT_EDGE}) END"
    for side in ("left", "right")
)
# Newest first, the order of the recency index (kind, created_at DESC NULLS LAST, object_id DESC).
_NEWEST = "d.created_at DESC NULLS LAST, d.object_id DESC"
# A member's name: starting with the text typed, or similar to it (a typo; one word of a short full
# name is similar enough). Only trigram operators, so that the partial trigram index answers them.
_PREFIX = "(lower(d.title) LIKE %(prefix)s OR lower(d.body) LIKE %(prefix)s)"
_SIMILAR = "(lower(d.title) %% %(lowered)s OR lower(d.body) %% %(lowered)s)"
# The best similarity of either name, plus 1 for a name starting with the text.
_MEMBER_SCORE = (
    "(GREATEST(similarity(lower(d.title), %(lowered)s), similarity(lower(d.body), %(lowered)s),"
    " word_similarity(%(lowered)s, lower(d.title)), word_similarity(%(lowered)s, lower(d.body)))"
    f" + CASE WHEN {_PREFIX} THEN 1 ELSE 0 END)"
)

_COLUMNS = (
    "kind",
    "object_id",
    "app",
    "title",
    "body",
    "author_id",
    "forum_id",
    "thread_id",
    "dialog_id",
    "participant_ids",
    "created_at",
    "updated_at",
    "has_attachments",
    "language",
    "url",
    "visible",
)


# A page's columns, the dates as whole microseconds since the epoch: psycopg's loader of a
# timestamptz, through Django's, costs 4 microseconds of the web process a date, 40 dates a page (0.15
# ms, a twentieth of the request); an integer is read in C and made a datetime in a third of that.
# The body only of a member (their full name, shown as it is): a post's, a thread's or a message's is
# shown as its snippet, and sending twenty whole posts (kilobytes each on a real forum) to be dropped
# cost the database and the web process for nothing.
_PAGE_COLUMNS = ", ".join(
    f"(extract(epoch FROM d.{name}) * 1000000)::bigint"
    if name in ("created_at", "updated_at")
    else f"CASE WHEN d.kind = '{KIND_MEMBER}' THEN d.body ELSE '' END"
    if name == "body"
    else f"d.{name}"
    for name in _COLUMNS
)
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _moment(microseconds: int | None) -> datetime.datetime | None:
    """A date read as microseconds since the epoch (``_PAGE_COLUMNS``), in UTC as Django reads one."""
    if microseconds is None:
        return None
    return _EPOCH + datetime.timedelta(microseconds=microseconds)


def _table() -> str:
    return SearchDocument._meta.db_table


def _row(document: Document) -> list[Any]:
    return [
        document.kind,
        document.id,
        document.app,
        indexable_text(document.title),
        indexable_text(document.body),
        document.author_id,
        document.forum_id,
        document.thread_id,
        document.dialog_id,
        list(document.participant_ids),
        document.created_at,
        document.updated_at,
        document.has_attachments,
        document.language,
        document.url[:500],
        document.visible,
    ]


def _upsert_sql(count: int) -> str:
    # The vector is computed from the row's own values: a post's title is kept for display only.
    # Typed, or a NULL in VALUES is text to PostgreSQL.
    one = (
        "(%s::varchar, %s::bigint, %s::varchar, %s::text, %s::text, %s::bigint, %s::bigint,"
        " %s::bigint, %s::bigint, %s::bigint[], %s::timestamptz, %s::timestamptz, %s::boolean,"
        " %s::varchar, %s::varchar, %s::boolean)"
    )
    values = ", ".join([one] * count)
    listed = ", ".join(_COLUMNS)
    updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in _COLUMNS[2:])
    return (
        f"INSERT INTO {_table()} ({listed}, search_vector, indexed_at) "
        f"SELECT v.*, "
        f"setweight(to_tsvector('{CONFIG}', CASE WHEN v.kind = '{KIND_POST}' THEN '' ELSE v.title END), 'A')"
        f" || setweight(to_tsvector('{CONFIG}', v.body), 'B'), now() "
        f"FROM (VALUES {values}) AS v ({listed}) "
        f"ON CONFLICT (kind, object_id) DO UPDATE SET {updates}, "
        "search_vector = EXCLUDED.search_vector, indexed_at = now()"
    )


def _walk_steps(
    kind: str, where: str, name: str, picked: str, params: dict[str, Any]
) -> tuple[str, str, str]:
    """The first two steps of finding a kind's newest matches (``PostgresBackend._window_page``): the
    sample ``s_<name>`` (the matches among the newest WALK_LIMIT / SAMPLE_SHARE documents of
    ``kind``) and the walk ``<name>`` (the newest COUNT_LIMIT + 1 matches among the newest
    WALK_LIMIT, with the columns ``picked``). Returns their SQL, the test "the sample promises
    COUNT_LIMIT + 1 in the walk" and the walk's count."""
    params["walk"] = WALK_LIMIT
    params["sample"] = sample = max(1, WALK_LIMIT // SAMPLE_SHARE)
    params["dense"] = -(-(COUNT_LIMIT + 1) * sample // WALK_LIMIT)
    newest = f"SELECT {_walked(where, picked)} FROM {_table()} d WHERE d.kind = '{kind}' ORDER BY {_NEWEST}"
    sql = (
        f"s_{name} AS MATERIALIZED (SELECT 1 FROM ({newest} LIMIT %(sample)s) d WHERE {where}), "
        f"{name} AS MATERIALIZED (SELECT {picked} FROM ({newest} LIMIT %(walk)s) d WHERE {where}"
        f" ORDER BY {_NEWEST} LIMIT %(over)s)"
    )
    return sql, f"(SELECT count(*) FROM s_{name}) >= %(dense)s", f"(SELECT count(*) FROM {name})"


def _walk_beats_index(kind: str, name: str, params: dict[str, Any]) -> str:
    """The test "walking is cheaper than the GIN index" for a count (GIN_COUNT_RATIO), from the sample
    ``s_<name>`` and the number of documents of ``kind`` as the planner's statistics know them (none
    yet, -1 or the 0 of an index built on an empty table, counts as many: the walk, as before; they
    come with autovacuum's ANALYZE, and with ``search_reindex``'s)."""
    sample = max(1, WALK_LIMIT // SAMPLE_SHARE)
    params["gin_break"] = GIN_COUNT_RATIO * (COUNT_LIMIT + 1) * sample * sample
    documents = (
        f"(SELECT CASE WHEN c.reltuples <= 0 THEN 1e9 ELSE c.reltuples END FROM pg_class c"
        f" WHERE c.oid = 'search_vector_{kind}'::regclass)"
    )
    return f"(SELECT count(*) FROM s_{name})^2 * {documents} >= %(gin_break)s"


# --- running a search statement: prepared once a connection, planned once ---------------------------

# The search statements prepared on each database connection: their SQL -> the EXECUTE that runs it.
_PREPARED: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()
# At most this many a connection (one per shape of query: kinds, filters, sort); past it, run as is.
PREPARED_MAX = 64
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
_names = itertools.count(1)


def _sql_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, datetime.datetime):
        return "timestamptz"
    if isinstance(value, list | tuple):
        return "bigint[]"
    return "text"


def _fetch(cursor: Any, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    cursor.execute(sql, params)
    while cursor.description is None and cursor.nextset():  # past the SET and the PREPARE
        pass
    rows: list[tuple[Any, ...]] = cursor.fetchall()
    return rows


def _run(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Run a search statement and return its rows.

    Planning one cost more than running it (0.6 to 1.1 ms of PostgreSQL's CPU, against 0.2 for the
    execution of a rare word's), and parsing it more: each statement is prepared once a connection
    (``PREPARE``, in the same round trip as its first ``EXECUTE``) and planned once for every text
    (``plan_cache_mode = force_generic_plan``, set for the session: Django prepares nothing of its
    own). Which is why no step relies on the planner's estimate of the words (``_window_page``'s steps
    decide by what they find). The prepared name starts with the table's: the statement says what it
    reads. ``SEARCH_PREPARED_STATEMENTS = False`` sends the whole statement each time (for a pooler
    that shares server sessions between transactions, which prepared statements do not survive).
    """
    with connection.cursor() as cursor:
        if not getattr(settings, "SEARCH_PREPARED_STATEMENTS", True):
            return _fetch(cursor, sql, params)
        prepared = _PREPARED.setdefault(connection.connection, {})
        execute = prepared.get(sql)
        if execute is not None:
            try:
                return _fetch(cursor, execute, params)
            except ProgrammingError as error:
                # Gone from the session (DEALLOCATE ALL, DISCARD ALL): prepared again, unless this
                # transaction is now aborted.
                if not isinstance(error.__cause__, psycopg.errors.InvalidSqlStatementName):
                    raise
                prepared.clear()
                if connection.in_atomic_block:
                    raise
        if len(prepared) >= PREPARED_MAX:
            return _fetch(cursor, sql, params)
        order = list(dict.fromkeys(_PLACEHOLDER.findall(sql)))
        # A new name each time: a first run that failed may have left its PREPARE behind.
        name = f"{_table()}_{next(_names)}"
        arguments = ", ".join(f"%({key})s::{_sql_type(params[key])}" for key in order)
        numbered = _PLACEHOLDER.sub(lambda match: f"${order.index(match.group(1)) + 1}", sql)
        types = ", ".join(_sql_type(params[key]) for key in order)
        execute = f"EXECUTE {name}({arguments})"
        rows = _fetch(
            cursor,
            f"SET plan_cache_mode = force_generic_plan; PREPARE {name}({types}) AS {numbered}; {execute}",
            params,
        )
        prepared[sql] = execute
        return rows


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class PostgresBackend:
    """The embedded default: no server beyond the database the forum already has."""

    name = "postgres"
    # A write is searchable once it commits: identical searches may be kept until the next write.
    keeps_results = True

    def ensure(self) -> None:
        # The table, its indexes and pg_trgm come with the kernel's migrations.
        return None

    def index(self, documents: Sequence[Document]) -> int:
        # One row per (kind, id), the last one given winning: ON CONFLICT refuses a row twice.
        latest = {(doc.kind, doc.id): doc for doc in documents}
        rows = list(latest.values())
        with transaction.atomic(), connection.cursor() as cursor:
            for start in range(0, len(rows), UPSERT_BATCH):
                chunk = rows[start : start + UPSERT_BATCH]
                params = [value for doc in chunk for value in _row(doc)]
                cursor.execute(_upsert_sql(len(chunk)), params)
            if rows:
                versioned_cache.changed(INDEX_SCOPE)
        return len(rows)

    def after_rebuild(self) -> None:
        """Fresh statistics after a bulk rebuild (search_reindex calls it): autovacuum would get there
        later, and until then the planner, which thinks the table is small, picks slow plans. And the
        full-text indexes' pending lists merged, which every search would otherwise read through.
        Vacuumed too (outside a transaction, where VACUUM may run): the visibility map it sets is what
        lets a search's walk read the recency index alone (migration forum/0005)."""
        with connection.cursor() as cursor:
            if connection.in_atomic_block:
                cursor.execute(f"ANALYZE {_table()}")
            else:
                cursor.execute(f"VACUUM (ANALYZE) {_table()}")
            for kind in (KIND_POST, KIND_THREAD, KIND_MESSAGE):
                cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [f"search_vector_{kind}"])

    def delete(self, kind: str, ids: Iterable[int]) -> int:
        wanted = list({int(i) for i in ids})
        if not wanted:
            return 0
        with transaction.atomic():
            deleted, _ = SearchDocument.objects.filter(kind=kind, object_id__in=wanted).delete()
            versioned_cache.changed(INDEX_SCOPE)
        return deleted

    def clear(self, kind: str | None = None) -> None:
        documents = SearchDocument.objects.all()
        if kind is not None:
            documents = documents.filter(kind=kind)
        with transaction.atomic():
            documents.delete()
            versioned_cache.changed(INDEX_SCOPE)

    def stats(self) -> BackendStats:
        per_kind = dict.fromkeys(KINDS, 0)
        for row in SearchDocument.objects.values("kind").annotate(n=Count("id")).order_by():
            per_kind[row["kind"]] = row["n"]
        last = SearchDocument.objects.aggregate(last=Max("indexed_at"))["last"]
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_size_pretty(pg_total_relation_size(%s))", [_table()])
            size = cursor.fetchone()[0]
        return BackendStats(
            backend=self.name, documents=per_kind, last_indexed_at=last, detail=f"table and indexes: {size}"
        )

    # --- searching ------------------------------------------------------------------------------

    def search(self, query: SearchQuery, scope: SearchScope) -> SearchResult:
        """One statement a search: every tab's capped count and the page with its snippets."""
        kinds = query.effective_kinds()
        counted = tuple(k for k in KINDS if k in kinds or k in query.count_kinds) if query.counted else ()
        text = " ".join(query.text.split())
        filters, params = self._filters(query)
        clauses = {kind: self._kind_clause(kind, text, scope, params) for kind in (*kinds, *counted)}
        page_clauses = [clauses[kind] for kind in kinds if clauses[kind]]
        params["limit"] = query.per_page
        params["offset"] = query.offset
        params["count_limit"] = COUNT_LIMIT
        # One more than the limit: finding it is what tells "more than COUNT_LIMIT" from "exactly".
        params["over"] = COUNT_LIMIT + 1
        from_window: str | None = None
        if not page_clauses:
            page = ""
        elif text and len(kinds) == 1 and kinds[0] != KIND_MEMBER:
            # What the page and the API send: one kind, by relevance or newest first.
            page = self._window_page(kinds[0], page_clauses[0], filters, query, params)
            from_window = kinds[0]
        elif text and query.sort != "date" and KIND_MEMBER not in kinds:
            page = self._ranked_window(text, page_clauses, filters, params)
        elif text and query.sort != "date" and kinds == (KIND_MEMBER,):
            page = self._members_page(scope, filters, params)
        else:
            page = self._plain_page(text, page_clauses, filters, query, params)
        # The statement's named steps: the query's words first (parsed once, every step reads them).
        steps = [_QUERY_STEP] if text else []
        if page:
            steps.append(page)
        counters: list[str] = []
        counted_kinds: list[str] = []
        for kind in counted:
            if not clauses[kind]:
                continue
            counted_kinds.append(kind)
            # Capped: counting every match of a common word (tens of thousands of rows) costs more
            # than the page; past COUNT_LIMIT "more than" is what a reader needs.
            capped = f"SELECT 1 FROM {_table()} d WHERE {clauses[kind]}{filters}"
            if kind == from_window:
                # The window holds every match of this kind when there are at most COUNT_LIMIT, one
                # more than that otherwise: its size is the count, without a second scan.
                counters.append("(SELECT count(*) FROM w)")
            elif text and kind in (KIND_POST, KIND_THREAD):
                # Found as the window is (``_window_page``), whatever the word: a common one by the
                # walk of the newest documents, a rarer one through the full-text index.
                # And the walk only where it is cheaper than the index (GIN_COUNT_RATIO): a count
                # needs no order, so the index reads no more than COUNT_LIMIT + 1 rows either.
                walk, dense, walked = _walk_steps(kind, f"{clauses[kind]}{filters}", f"c_{kind}", "1", params)
                steps.append(walk)
                cheaper = _walk_beats_index(kind, f"c_{kind}", params)
                counters.append(
                    f"(CASE WHEN {dense} AND {cheaper} AND {walked} > %(count_limit)s THEN {walked}"
                    f" ELSE (SELECT count(*) FROM (SELECT * FROM ({capped} OFFSET 0) c"
                    " LIMIT %(over)s) c) END)"
                )
            else:
                counters.append(f"(SELECT count(*) FROM ({capped} LIMIT %(over)s) c)")
        if not page and not counters:
            return SearchResult(
                hits=(),
                total=0,
                page=query.page,
                per_page=query.per_page,
                counts=dict.fromkeys(counted, 0),
                count_limit=COUNT_LIMIT if query.counted else None,
            )
        head = ", ".join(counters) if counters else "NULL"
        if page:
            columns = _PAGE_COLUMNS
            # Headlines are costly (each re-parses its text): computed for the page's rows only, and
            # a title only where it was searched (a post's title is its thread's, shown as it is).
            if text:
                params["body_options"] = _HEADLINE_OPTIONS
                params["title_options"] = _TITLE_OPTIONS
                params["snippet_window"] = SNIPPET_WINDOW
                params["snippet_lead"] = SNIPPET_LEAD
                tsquery = _TSQUERY
                headline = (
                    f"CASE WHEN d.kind = '{KIND_MEMBER}' THEN NULL"
                    f" ELSE ts_headline('{CONFIG}', {_SNIPPET_TEXT}, {tsquery}, {_BODY_OPTIONS}) END,"
                    f" CASE WHEN d.kind IN ('{KIND_MEMBER}', '{KIND_POST}') THEN NULL"
                    f" ELSE ts_headline('{CONFIG}', d.title, {tsquery}, %(title_options)s) END"
                )
            else:
                headline = "left(d.body, %(snippet_whole)s::int), NULL"
            params["snippet_whole"] = SNIPPET_WHOLE
            # The author's name from the member documents, in the same statement (the unique index
            # on (kind, object_id) answers each row's look-up).
            # (A member is its own author: named from its own document, in _hit.)
            author = (
                "NULL"
                if kinds == (KIND_MEMBER,)
                else f"(SELECT a.title FROM {_table()} a"
                f" WHERE a.kind = '{KIND_MEMBER}' AND a.object_id = d.author_id)"
            )
            order = "p.created_at DESC NULLS LAST, p.object_id DESC"
            if query.sort != "date" and text:
                order = f"p.score DESC, {order}"
            # The counts come back on every row, and on one row of NULLs when the page is empty.
            sql = (
                f"SELECT {head}, {columns}, p.score, {headline}, {_EDGES}, {author} "
                f"FROM (SELECT 1) one LEFT JOIN (p JOIN {_table()} d ON d.id = p.id) ON TRUE ORDER BY {order}"
            )
        else:
            sql = f"SELECT {head}"
        if steps:
            sql = f"WITH {', '.join(steps)} {sql}"
        rows = _run(sql, params)
        counts = dict.fromkeys(counted, 0)
        lower_bounds: set[str] = set()
        width = len(counters)
        if counters:
            for kind, n in zip(counted_kinds, rows[0][:width], strict=True):
                counts[kind] = min(n, COUNT_LIMIT)
                if n > COUNT_LIMIT:
                    lower_bounds.add(kind)
        skip = max(width, 1)
        hits = tuple(self._hit(row[skip:], text) for row in rows if page and row[skip] is not None)
        total = sum(counts[k] for k in kinds) if query.counted else query.offset + len(hits)
        return SearchResult(
            hits=hits,
            total=total,
            page=query.page,
            per_page=query.per_page,
            counts=counts,
            count_limit=COUNT_LIMIT if query.counted else None,
            lower_bounds=frozenset(lower_bounds),
            total_is_lower_bound=any(kind in lower_bounds for kind in kinds),
        )

    def _filters(self, query: SearchQuery) -> tuple[str, dict[str, Any]]:
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if query.forum_ids is not None:
            clauses.append("d.forum_id = ANY(%(filter_forums)s::bigint[])")
            params["filter_forums"] = sorted(set(query.forum_ids))
        if query.author_id is not None:
            clauses.append("d.author_id = %(author)s")
            params["author"] = query.author_id
        if query.thread_id is not None:
            clauses.append("d.thread_id = %(thread)s")
            params["thread"] = query.thread_id
        if query.dialog_id is not None:
            clauses.append("d.dialog_id = %(dialog)s")
            params["dialog"] = query.dialog_id
        if query.date_from is not None:
            clauses.append("d.created_at >= %(date_from)s")
            params["date_from"] = day_start(query.date_from)
        if query.date_to is not None:
            clauses.append("d.created_at < %(date_to)s")
            params["date_to"] = day_start(query.date_to + datetime.timedelta(days=1))
        if query.with_attachments:
            clauses.append("d.has_attachments")
        return "".join(f" AND {c}" for c in clauses), params

    def _kind_clause(self, kind: str, text: str, scope: SearchScope, params: dict[str, Any]) -> str:
        """What a document of ``kind`` must be to match ``text`` and be seen by the viewer; "" when
        the viewer may see none of that kind."""
        if kind in (KIND_POST, KIND_THREAD):
            if not scope.readable_forum_ids:
                return ""
            params["readable"] = sorted(scope.readable_forum_ids)
            allowed = "d.visible AND d.forum_id = ANY(%(readable)s::bigint[])"
        elif kind == KIND_MESSAGE:
            if scope.viewer_id is None:
                return ""
            params["viewer"] = scope.viewer_id
            allowed = "d.visible AND d.participant_ids @> ARRAY[%(viewer)s]::bigint[]"
        else:
            allowed = "TRUE" if scope.is_staff else "d.visible"
        match = self._match(kind, text, params)
        return f"(d.kind = '{kind}' AND {allowed}{match})"

    def _match(self, kind: str, text: str, params: dict[str, Any]) -> str:
        if not text:
            return ""
        params["text"] = text
        fulltext = f"d.search_vector @@ {_TSQUERY}"
        if kind != KIND_MEMBER:
            return f" AND {fulltext}"
        params["lowered"] = text.lower()
        params["prefix"] = _like_prefix(text.lower())
        return f" AND ({_SIMILAR} OR {_PREFIX})"

    def _window_page(
        self, kind: str, clause: str, filters: str, query: SearchQuery, params: dict[str, Any]
    ) -> str:
        """The page of one kind among its newest COUNT_LIMIT matches (``w``, one more when there are
        more), by relevance or newest first. How ``w`` is found is decided by what the first steps
        find, never by the planner's estimate (the statement is planned once, for every text: see
        ``_run``), which misjudges phrases and words found together anyway (it read 19,000 rows
        through the full-text index for a phrase in one post in ten):

        - ``s``: the matches among the newest WALK_LIMIT / SAMPLE_SHARE documents (100). Fewer
          than would promise COUNT_LIMIT + 1 in the whole walk: straight to the full-text index (the
          last step): the index would spend milliseconds on a common word's postings.
        - ``r``, the walk: the matches among the newest WALK_LIMIT documents of the kind (the recency
          index; it stops there). COUNT_LIMIT + 1 found: they are the newest matches (a common word
          or phrase; about COUNT_LIMIT divided by its share of the documents are read).
        - Else every match through the full-text index, newest first (a rare word or phrase, words
          rarely found together, a word common in older documents only).

        Each step runs only when the ones before it did not answer (one-time filters over
        materialized CTEs, evaluated when first read). The window carries only what ranking needs;
        the page's other columns are read for its rows alone."""
        table = _table()
        where = f"{clause}{filters}"
        picked = "d.id, d.created_at, d.object_id, d.search_vector"
        walk, dense, walked = _walk_steps(kind, where, "r", picked, params)
        # OFFSET 0 keeps the ORDER BY ... LIMIT away from the scan: every match is read through the
        # full-text index rather than by walking the recency index until there are enough.
        every = (
            f"SELECT * FROM (SELECT {picked} FROM {table} d WHERE {where} OFFSET 0) d"
            f" WHERE NOT {dense} OR {walked} <= %(count_limit)s ORDER BY {_NEWEST} LIMIT %(over)s"
        )
        windows = (
            f"{walk}, w AS MATERIALIZED (SELECT * FROM r WHERE {dense} AND {walked} > %(count_limit)s"
            f" UNION ALL ({every}))"
        )
        if query.sort == "date":
            score = "0"
            order = "w.created_at DESC NULLS LAST, w.object_id DESC"
        else:
            score = f"ts_rank(w.search_vector, {_TSQUERY})"
            order = "score DESC, w.created_at DESC NULLS LAST, w.object_id DESC"
        # Ranked among the newest COUNT_LIMIT: the one more only tells that there are more.
        page = (
            f"p AS (SELECT w.id, w.created_at, w.object_id, {score} AS score FROM (SELECT * FROM w"
            f" ORDER BY created_at DESC NULLS LAST, object_id DESC LIMIT %(count_limit)s) w"
            f" ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s)"
        )
        return f"{windows}, {page}"

    def _ranked_window(self, text: str, clauses: list[str], filters: str, params: dict[str, Any]) -> str:
        """The page by relevance among the newest matches of several kinds (``w``, COUNT_LIMIT a kind),
        as the planner finds them (the page and the API ask for one kind: ``_window_page``)."""
        params["text"] = text
        # As many as the counts of these kinds can add up to (what the pages reach).
        params["window"] = COUNT_LIMIT * len(clauses)
        tsquery = _TSQUERY
        where = f"({' OR '.join(clauses)}){filters}"
        window = (
            f"w AS MATERIALIZED (SELECT d.id, d.created_at, d.object_id, d.search_vector FROM {_table()} d"
            f" WHERE {where} ORDER BY {_NEWEST} LIMIT %(window)s)"
        )
        page = (
            f"p AS (SELECT w.id, w.created_at, w.object_id, ts_rank(w.search_vector, {tsquery}) AS score"
            " FROM w ORDER BY score DESC, w.created_at DESC NULLS LAST, w.object_id DESC"
            " LIMIT %(limit)s OFFSET %(offset)s)"
        )
        return f"{window}, {page}"

    def _members_page(self, scope: SearchScope, filters: str, params: dict[str, Any]) -> str:
        """Members best first, where a name starting with the text always ranks above one only similar
        to it (its score is at least 1, a similarity at most 1): when the names starting so fill the
        page, the merely similar ones (every "bench-NNNN" is similar to "bench-00") are not scored."""
        allowed = "TRUE" if scope.is_staff else "d.visible"
        base = f"d.kind = '{KIND_MEMBER}' AND {allowed}{filters}"
        params["reach"] = params["offset"] + params["limit"]
        score = f"{_MEMBER_SCORE} AS score"
        order = f"ORDER BY score DESC, {_NEWEST} LIMIT %(reach)s"
        starting = (
            f"m AS MATERIALIZED (SELECT d.id, d.created_at, d.object_id, {score} FROM {_table()} d"
            f" WHERE {base} AND {_PREFIX} {order})"
        )
        similar = (
            f"SELECT d.id, d.created_at, d.object_id, {score} FROM {_table()} d WHERE {base} AND {_SIMILAR}"
            f" AND NOT {_PREFIX} AND (SELECT count(*) FROM m) < %(reach)s {order}"
        )
        page = (
            f"p AS (SELECT * FROM (SELECT * FROM m UNION ALL ({similar})) t"
            " ORDER BY score DESC, created_at DESC NULLS LAST, object_id DESC"
            " LIMIT %(limit)s OFFSET %(offset)s)"
        )
        return f"{starting}, {page}"

    def _plain_page(
        self, text: str, clauses: list[str], filters: str, query: SearchQuery, params: dict[str, Any]
    ) -> str:
        """The page newest first, or by relevance over every match (members among other kinds)."""
        if text:
            params["text"] = text
            params["lowered"] = text.lower()
            params["prefix"] = _like_prefix(text.lower())
            tsquery = _TSQUERY
            score = (
                f"CASE WHEN d.kind = '{KIND_MEMBER}' THEN {_MEMBER_SCORE}"
                f" ELSE ts_rank(d.search_vector, {tsquery}) END"
            )
        else:
            score = "0"
        order = _NEWEST if query.sort == "date" or not text else f"score DESC, {_NEWEST}"
        return (
            f"p AS (SELECT d.id, d.created_at, d.object_id, {score} AS score FROM {_table()} d"
            f" WHERE ({' OR '.join(clauses)}){filters} ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s)"
        )

    def _hit(self, row: Sequence[Any], text: str) -> Hit:
        (
            kind,
            object_id,
            app,
            title,
            body,
            author_id,
            forum_id,
            thread_id,
            dialog_id,
            participant_ids,
            created_at,
            updated_at,
            has_attachments,
            language,
            url,
            visible,
            score,
            body_marked,
            title_marked,
            text_start,
            text_end,
            author_name,
        ) = row
        # The row was a valid Document when indexed: rebuilt without the dataclass's __init__ and its
        # checks, which were a third of building a page of hits.
        document = _new_document(Document)
        document.__dict__.update(
            kind=kind,
            id=object_id,
            app=app,
            title=title,
            body=body,
            author_id=author_id,
            forum_id=forum_id,
            thread_id=thread_id,
            dialog_id=dialog_id,
            created_at=_moment(created_at),
            updated_at=_moment(updated_at),
            has_attachments=has_attachments,
            language=language,
            url=url,
            visible=visible,
            participant_ids=tuple(participant_ids or ()),
        )
        if kind == KIND_MEMBER:
            title_html = _mark_prefix(title, text)
            snippet_html = _mark_prefix(body, text)
            author_name = title
        else:
            if title_marked is None:  # a post's title (its thread's), not searched: shown as it is
                title_html = SafeString(html.escape(title))
            else:
                title_html = safe_highlight(title_marked)
            snippet_html = safe_highlight(body_marked or "")
            if text_start is not None and body_marked:
                snippet_html = _cut_ends(snippet_html, body_marked, text_start, text_end or "")
        return Hit(
            kind=kind,
            id=object_id,
            score=float(score),
            document=document,
            title_html=title_html,
            snippet_html=snippet_html,
            author_name=author_name,
        )


_new_document = object.__new__

_WORDS = re.compile(r"\w+")
# Words compared at each end of a snippet with the text's (fewer when the snippet has fewer).
_EDGE_WORDS = 3


def _cut_ends(snippet_html: SafeString, marked: str, text_start: str, text_end: str) -> SafeString:
    """``snippet_html`` with ``CUT_MARKER`` where the snippet starts after its text's start or ends
    before its end: its first (last) words against those of the text's first (last) ``CUT_EDGE``
    characters, without the word those may have cut in two. An edge too short to compare (one long
    word) adds no marker."""
    words = _WORDS.findall(marked.replace(HIGHLIGHT_START, "").replace(HIGHLIGHT_STOP, ""))
    if not words:
        return snippet_html
    first = _WORDS.findall(text_start)
    last = _WORDS.findall(text_end)
    if len(text_start) >= CUT_EDGE:
        first = first[:-1]
    if len(text_end) >= CUT_EDGE:
        last = last[1:]
    count = min(_EDGE_WORDS, len(words))
    before = CUT_MARKER if len(first) >= count and words[:count] != first[:count] else ""
    after = CUT_MARKER if len(last) >= count and words[-count:] != last[-count:] else ""
    return SafeString(before + snippet_html + after) if before or after else snippet_html


def _mark_prefix(name: str, text: str) -> SafeString:
    """A member's name, escaped, with the query marked where the name starts with it."""
    if text and name.lower().startswith(text.lower()):
        head, tail = name[: len(text)], name[len(text) :]
        return mark_safe(f"<mark>{escape(head)}</mark>{escape(tail)}")  # noqa: S308  escaped
    return escape(name)
