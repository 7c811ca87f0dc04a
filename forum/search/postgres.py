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
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Max
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from forum.models import SearchDocument
from forum.search.base import (
    HIGHLIGHT_START,
    HIGHLIGHT_STOP,
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
# Counts stop here (a count equal to it means "at least"), and ranking by relevance looks at the
# newest this many matches: a common word matches tens of thousands of posts, and ranking or
# counting them all would cost ten times a page (docs/search.md, "What a search costs").
COUNT_LIMIT = 1000
RELEVANCE_WINDOW = COUNT_LIMIT

_HEADLINE_OPTIONS = (
    f'StartSel="{HIGHLIGHT_START}", StopSel="{HIGHLIGHT_STOP}", MaxWords=35, MinWords=15, ShortWord=2'
)
_TITLE_OPTIONS = f'StartSel="{HIGHLIGHT_START}", StopSel="{HIGHLIGHT_STOP}", HighlightAll=true'

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


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class PostgresBackend:
    """The embedded default: no server beyond the database the forum already has."""

    name = "postgres"

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
        return len(rows)

    def after_rebuild(self) -> None:
        """Fresh statistics after a bulk rebuild (search_reindex calls it): autovacuum would get there
        later, and until then the planner, which thinks the table is small, picks slow plans."""
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {_table()}")

    def delete(self, kind: str, ids: Iterable[int]) -> int:
        wanted = list({int(i) for i in ids})
        if not wanted:
            return 0
        deleted, _ = SearchDocument.objects.filter(kind=kind, object_id__in=wanted).delete()
        return deleted

    def clear(self, kind: str | None = None) -> None:
        documents = SearchDocument.objects.all()
        if kind is not None:
            documents = documents.filter(kind=kind)
        documents.delete()

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
        kinds = query.effective_kinds()
        counted = tuple(k for k in KINDS if k in kinds or k in query.count_kinds)
        text = " ".join(query.text.split())
        filters, params = self._filters(query)
        counts = dict.fromkeys(counted, 0)
        count_clauses = [self._kind_clause(kind, text, scope, params) for kind in counted]
        count_clauses = [c for c in count_clauses if c]
        if count_clauses:
            # One capped count per kind: counting every match of a common word (tens of thousands of
            # rows) costs more than the page; past COUNT_LIMIT "at least" is what a reader needs.
            params["count_limit"] = COUNT_LIMIT
            counters = ", ".join(
                f"(SELECT count(*) FROM (SELECT 1 FROM {_table()} d WHERE {clause}{filters}"
                " LIMIT %(count_limit)s) c)"
                for clause in count_clauses
            )
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {counters}", params)
                row = cursor.fetchone()
            counted_kinds = [kind for kind in counted if self._kind_clause(kind, text, scope, {})]
            for kind, n in zip(counted_kinds, row, strict=True):
                counts[kind] = n
        total = sum(counts[k] for k in kinds)
        hits: tuple[Hit, ...] = ()
        if total and query.offset < total:
            hits = self._page(query, scope, text, kinds, filters)
        return SearchResult(
            hits=hits,
            total=total,
            page=query.page,
            per_page=query.per_page,
            counts=counts,
            count_limit=COUNT_LIMIT,
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
        fulltext = f"d.search_vector @@ websearch_to_tsquery('{CONFIG}', %(text)s)"
        if kind != KIND_MEMBER:
            return f" AND {fulltext}"
        params["lowered"] = text.lower()
        params["prefix"] = _like_prefix(text.lower())
        # Only trigram operators, so that the partial trigram index answers all of it: similar as a
        # whole (a typo; one word of a short full name is similar enough), or a prefix.
        return (
            " AND (lower(d.title) %% %(lowered)s OR lower(d.body) %% %(lowered)s"
            " OR lower(d.title) LIKE %(prefix)s OR lower(d.body) LIKE %(prefix)s)"
        )

    def _page(
        self, query: SearchQuery, scope: SearchScope, text: str, kinds: tuple[str, ...], filters: str
    ) -> tuple[Hit, ...]:
        _, params = self._filters(query)
        clauses = [c for c in (self._kind_clause(k, text, scope, params) for k in kinds) if c]
        if text:
            params["text"] = text
            params["lowered"] = text.lower()
            params["prefix"] = _like_prefix(text.lower())
            tsquery = f"websearch_to_tsquery('{CONFIG}', %(text)s)"
            score = (
                f"CASE WHEN d.kind = '{KIND_MEMBER}' THEN "
                "GREATEST(similarity(lower(d.title), %(lowered)s), similarity(lower(d.body), %(lowered)s),"
                " word_similarity(%(lowered)s, lower(d.title)), word_similarity(%(lowered)s, lower(d.body)))"
                " + CASE WHEN lower(d.title) LIKE %(prefix)s OR lower(d.body) LIKE %(prefix)s"
                " THEN 1 ELSE 0 END"
                f" ELSE ts_rank(d.search_vector, {tsquery}) END"
            )
        else:
            score = "0"
        if query.sort == "date" or not text:
            order = "d.created_at DESC NULLS LAST, d.object_id DESC"
        else:
            order = "score DESC, d.created_at DESC NULLS LAST, d.object_id DESC"
        params["limit"] = query.per_page
        params["offset"] = query.offset
        if text:
            params["body_options"] = _HEADLINE_OPTIONS
            params["title_options"] = _TITLE_OPTIONS
            tsquery = f"websearch_to_tsquery('{CONFIG}', %(text)s)"
            headline = (
                f"ts_headline('{CONFIG}', p.body, {tsquery}, %(body_options)s),"
                f" ts_headline('{CONFIG}', p.title, {tsquery}, %(title_options)s)"
            )
        else:
            headline = "left(p.body, 240), p.title"
        columns = ", ".join(f"p.{name}" for name in _COLUMNS)
        inner_columns = ", ".join(f"d.{name}" for name in _COLUMNS)
        where = f"({' OR '.join(clauses)}){filters}"
        newest = "d.created_at DESC NULLS LAST, d.object_id DESC"
        if text and query.sort != "date" and KIND_MEMBER not in kinds:
            # Relevance among the newest RELEVANCE_WINDOW matches: found through the recency index
            # for a common word, through the GIN index for a rare one (the planner's choice).
            params["window"] = RELEVANCE_WINDOW
            source = f"(SELECT d.* FROM {_table()} d WHERE {where} ORDER BY {newest} LIMIT %(window)s) d"
            where = "TRUE"
        else:
            source = f"{_table()} d"
        # Headlines are costly: computed for the page's rows only, after ranking and paging.
        sql = (
            f"SELECT {columns}, p.score, {headline} FROM ("
            f"SELECT {inner_columns}, {score} AS score FROM {source} "
            f"WHERE {where} "
            f"ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s) p "
            "ORDER BY " + order.replace("d.", "p.").replace("score", "p.score")
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return tuple(self._hit(row, text) for row in rows)

    def _hit(self, row: Sequence[Any], text: str) -> Hit:
        values = dict(zip(_COLUMNS, row, strict=False))
        score, body_marked, title_marked = row[len(_COLUMNS) :]
        document = Document(
            kind=values["kind"],
            id=values["object_id"],
            app=values["app"],
            title=values["title"],
            body=values["body"],
            author_id=values["author_id"],
            forum_id=values["forum_id"],
            thread_id=values["thread_id"],
            dialog_id=values["dialog_id"],
            created_at=values["created_at"],
            updated_at=values["updated_at"],
            has_attachments=values["has_attachments"],
            language=values["language"],
            url=values["url"],
            visible=values["visible"],
            participant_ids=tuple(values["participant_ids"] or ()),
        )
        if document.kind == KIND_MEMBER:
            title_html = _mark_prefix(document.title, text)
            snippet_html = _mark_prefix(document.body, text)
        else:
            title_html = safe_highlight(title_marked or "")
            snippet_html = safe_highlight(body_marked or "")
        return Hit(
            kind=document.kind,
            id=document.id,
            score=float(score),
            document=document,
            title_html=title_html,
            snippet_html=snippet_html,
        )


def _mark_prefix(name: str, text: str) -> SafeString:
    """A member's name, escaped, with the query marked where the name starts with it."""
    if text and name.lower().startswith(text.lower()):
        head, tail = name[: len(text)], name[len(text) :]
        return mark_safe(f"<mark>{escape(head)}</mark>{escape(tail)}")  # noqa: S308  escaped
    return escape(name)
