"""The Meilisearch search backend: one index of every kind, the viewer's scope as a filter expression.

One index (``<MEILISEARCH_INDEX_PREFIX>documents``) holds posts, threads, members and messages, told
apart by a filterable ``kind``. One index rather than one per kind, because a search over several
kinds must rank, page and sort them together and count each kind for the tabs: in one index that
is one request (``facets: ["kind"]`` gives the exact count per kind), with one ranking score, where
separate indexes would need a federated search for the hits and another request for the counts.
The cost: typo tolerance is set once for all kinds (the defaults, which forgive a typo in a member
name of five letters or more).

The viewer's scope becomes part of the ``filter`` of every search (``scope_filter``), so hits,
totals, per-kind counts and snippets never see a document the viewer may not read (the rules are
in ``forum.search.base``). Matches are wrapped in the kernel's control-character markers, which
``safe_highlight`` turns into ``<mark>`` after escaping everything else; those characters are
stripped from every document before it is sent, so content cannot forge a highlight.

Writes wait for their task (``MEILISEARCH_TASK_TIMEOUT_SECONDS``): an event handler that indexed
returns only once the server applied it, and a failed task is an error (the handler is retried)
instead of a silent loss. Every failure of the server (down, slow, refusing, a failed task) is
raised as ``MeilisearchUnavailable``: a ``SearchUnavailable`` to the search pages, a 503 to the API.
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import meilisearch
import requests
from django.conf import settings
from django.utils.translation import gettext
from meilisearch.errors import MeilisearchApiError, MeilisearchError
from meilisearch.models.task import TaskInfo

from forum.errors import ApplicationError
from forum.health import register_detail
from forum.search.base import (
    CUT_MARKER,
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
    SearchUnavailable,
    day_start,
    indexable_text,
    safe_highlight,
)

__all__ = [
    "INDEX_SETTINGS",
    "MeilisearchBackend",
    "MeilisearchUnavailable",
    "document_from_meilisearch",
    "document_to_meilisearch",
    "filter_value",
    "query_filter",
    "register_health_detail",
    "result_from_response",
    "scope_filter",
    "search_request",
    "settings_differ",
]

logger = logging.getLogger(__name__)

INDEX_SUFFIX = "documents"
PRIMARY_KEY = "uid"
# Words of a body around the first match in a snippet.
CROP_WORDS = 30
# How far a search may page (Meilisearch's default is 1,000 hits).
MAX_TOTAL_HITS = 10_000
# Seconds a health detail may take: /health/ready reads details inline.
HEALTH_TIMEOUT = 2
# Seconds during which a server that just failed to answer is not asked again (see _server).
DOWN_SKIP_SECONDS = 5.0

INDEX_SETTINGS: dict[str, Any] = {
    # In ranking order: a match in a title (a thread's title, a member's username) ranks above one
    # in a body (a post, a member's full name). A post's thread title is in ``thread_title``,
    # shown and never searched, as the PostgreSQL backend does: else every reply would match it.
    "searchableAttributes": ["title", "body"],
    # Every attribute of the scope and of the filters; ``id`` for deletions by kind and id.
    "filterableAttributes": [
        "kind",
        "id",
        "visible",
        "forum_id",
        "thread_id",
        "dialog_id",
        "author_id",
        "participant_ids",
        "has_attachments",
        "created_ts",
    ],
    "sortableAttributes": ["created_ts"],
    # "sort" first: sorting by date is then strictly by date, relevance only breaking ties; without
    # a sort it does nothing. Between equally relevant hits the newer comes first.
    "rankingRules": ["sort", "words", "typo", "proximity", "attribute", "exactness", "created_ts:desc"],
    # On for every attribute: member names ("Margorita" finds "Margarita"), and «форумы» finds
    # «форум», "threads" finds "thread" (Meilisearch has no stemmer; one typo in a word of five
    # letters or more, two from nine, and the last word of a query matches as a prefix).
    "typoTolerance": {
        "enabled": True,
        "minWordSizeForTypos": {"oneTypo": 5, "twoTypos": 9},
        "disableOnAttributes": [],
        "disableOnWords": [],
    },
    "pagination": {"maxTotalHits": MAX_TOTAL_HITS},
    "faceting": {"maxValuesPerFacet": 100},
}


class MeilisearchUnavailable(SearchUnavailable, ApplicationError):
    """The server could not answer: down, too slow, refusing the request, or a task failed.

    A ``SearchUnavailable`` for the search pages (they show a notice), and an ``ApplicationError``
    with status 503 for the API's one error handler, should a caller let it through.
    """

    status = 503
    code = "search_unavailable"

    def __init__(self, reason: str) -> None:
        # What people read (the search pages and the API show it); ``reason`` is for the log.
        super().__init__(gettext("Search is not available right now. Please try again in a minute."))
        self.reason = reason


# --- documents ----------------------------------------------------------------------------------


def _uid(kind: str, object_id: int) -> str:
    return f"{kind}-{int(object_id)}"


def _timestamp(moment: datetime.datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp())


def _iso(moment: datetime.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _from_iso(value: Any) -> datetime.datetime | None:
    return datetime.datetime.fromisoformat(value) if isinstance(value, str) and value else None


def document_to_meilisearch(document: Document) -> dict[str, Any]:
    """The JSON document of the index for ``document`` (pure; ``document_from_meilisearch`` undoes it).

    Dates go twice: ``created_ts`` (whole seconds since the epoch) to filter and sort on, the ISO
    forms to give back the exact ``Document``.
    """
    title = indexable_text(document.title)
    return {
        PRIMARY_KEY: _uid(document.kind, document.id),
        "kind": document.kind,
        "id": document.id,
        "app": document.app,
        # Searched: a thread's title, a member's username; not a post's.
        "title": "" if document.kind == KIND_POST else title,
        "thread_title": title if document.kind == KIND_POST else "",
        "body": indexable_text(document.body),
        "author_id": document.author_id,
        "forum_id": document.forum_id,
        "thread_id": document.thread_id,
        "dialog_id": document.dialog_id,
        "participant_ids": sorted(document.participant_ids),
        "created_ts": _timestamp(document.created_at),
        "created_at": _iso(document.created_at),
        "updated_at": _iso(document.updated_at),
        "has_attachments": document.has_attachments,
        "language": document.language,
        "url": document.url,
        "visible": document.visible,
    }


def document_from_meilisearch(stored: Mapping[str, Any]) -> Document:
    """The ``Document`` a hit of the index describes (pure)."""
    kind = str(stored["kind"])
    return Document(
        kind=kind,
        id=int(stored["id"]),
        app=str(stored.get("app") or ""),
        title=str(stored.get("thread_title" if kind == KIND_POST else "title") or ""),
        body=str(stored.get("body") or ""),
        author_id=stored.get("author_id"),
        forum_id=stored.get("forum_id"),
        thread_id=stored.get("thread_id"),
        dialog_id=stored.get("dialog_id"),
        created_at=_from_iso(stored.get("created_at")),
        updated_at=_from_iso(stored.get("updated_at")),
        has_attachments=bool(stored.get("has_attachments")),
        language=stored.get("language") or "",
        url=str(stored.get("url") or ""),
        visible=bool(stored.get("visible", True)),
        participant_ids=tuple(int(i) for i in stored.get("participant_ids") or ()),
    )


# --- filter expressions ---------------------------------------------------------------------------


def filter_value(value: str | int | bool) -> str:
    """One value written for a Meilisearch filter expression.

    Integers are written as numbers (``int()`` first: nothing but digits gets through), booleans as
    ``true``/``false``, strings in double quotes with backslashes and double quotes escaped, so that
    no value can end the string and add a condition of its own.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _in(attribute: str, values: Iterable[str | int]) -> str:
    return f"{attribute} IN [{', '.join(filter_value(v) for v in values)}]"


def scope_filter(scope: SearchScope) -> str:
    """What the viewer may find, as a filter expression (pure; the table in forum.search.base).

    Posts and threads: visible, in a forum the viewer may read (no clause at all when they may read
    none). Messages: visible, of a dialog the viewer takes part in (none for a guest, and staff
    read only their own dialogs). Members: visible ones, every one for staff.
    """
    clauses: list[str] = []
    if scope.readable_forum_ids:
        clauses.append(
            f"({_in('kind', (KIND_POST, KIND_THREAD))} AND visible = true"
            f" AND {_in('forum_id', sorted(scope.readable_forum_ids))})"
        )
    if scope.viewer_id is not None:
        clauses.append(
            f"(kind = {filter_value(KIND_MESSAGE)} AND visible = true"
            f" AND participant_ids = {filter_value(scope.viewer_id)})"
        )
    if scope.is_staff:
        clauses.append(f"kind = {filter_value(KIND_MEMBER)}")
    else:
        clauses.append(f"(kind = {filter_value(KIND_MEMBER)} AND visible = true)")
    return " OR ".join(clauses)


def query_filter(query: SearchQuery) -> list[str]:
    """The query's own filters as conditions to AND together (pure but for the site's time zone,
    which dates are read in). They narrow what the scope allows and never widen it."""
    conditions: list[str] = []
    if query.forum_ids is not None:
        conditions.append(_in("forum_id", sorted(set(query.forum_ids))))
    if query.author_id is not None:
        conditions.append(f"author_id = {filter_value(query.author_id)}")
    if query.thread_id is not None:
        conditions.append(f"thread_id = {filter_value(query.thread_id)}")
    if query.dialog_id is not None:
        conditions.append(f"dialog_id = {filter_value(query.dialog_id)}")
    if query.date_from is not None:
        conditions.append(f"created_ts >= {filter_value(int(day_start(query.date_from).timestamp()))}")
    if query.date_to is not None:
        next_day = day_start(query.date_to + datetime.timedelta(days=1))
        conditions.append(f"created_ts < {filter_value(int(next_day.timestamp()))}")
    if query.with_attachments:
        conditions.append("has_attachments = true")
    return conditions


def _filter(kinds: Sequence[str], query: SearchQuery, scope: SearchScope) -> str:
    parts = [_in("kind", kinds), scope_filter(scope), *query_filter(query)]
    return " AND ".join(f"({part})" for part in parts)


def search_request(query: SearchQuery, scope: SearchScope, index_uid: str) -> list[dict[str, Any]]:
    """The queries of one multi-search for ``query`` as ``scope`` sees it (pure).

    The first finds the page of hits of the query's kinds and counts them per kind; a second, when
    ``query.count_kinds`` names more kinds, only counts those (no hits) for the tabs.
    """
    text = " ".join(query.text.split())
    kinds = query.effective_kinds()
    main: dict[str, Any] = {
        "indexUid": index_uid,
        "q": text,
        "filter": _filter(kinds, query, scope),
        # page/hitsPerPage (not offset/limit): exact totals and counts, not estimates.
        "page": max(query.page, 1),
        "hitsPerPage": query.per_page,
        "facets": ["kind"],
        "attributesToHighlight": ["title", "thread_title", "body"],
        "highlightPreTag": HIGHLIGHT_START,
        "highlightPostTag": HIGHLIGHT_STOP,
        "attributesToCrop": ["body"],
        "cropLength": CROP_WORDS,
        "cropMarker": CUT_MARKER,
        "showRankingScore": True,
    }
    # Newest first when asked, and for an empty text (nothing to rank by), as PostgreSQL does.
    if query.sort == "date" or not text:
        main["sort"] = ["created_ts:desc"]
    queries = [main]
    extra = tuple(kind for kind in KINDS if kind in query.count_kinds and kind not in kinds)
    if extra:
        queries.append(
            {
                "indexUid": index_uid,
                "q": text,
                "filter": _filter(extra, query, scope),
                "page": 1,
                "hitsPerPage": 0,
                "facets": ["kind"],
            }
        )
    return queries


def result_from_response(query: SearchQuery, results: Sequence[Mapping[str, Any]]) -> SearchResult:
    """The ``SearchResult`` of a multi-search made by ``search_request`` (pure)."""
    kinds = query.effective_kinds()
    counted = tuple(kind for kind in KINDS if kind in kinds or kind in query.count_kinds)
    counts = dict.fromkeys(counted, 0)
    for result in results:
        distribution = (result.get("facetDistribution") or {}).get("kind") or {}
        for kind, n in distribution.items():
            if kind in counts:
                counts[kind] = int(n)
    main = results[0]
    hits = tuple(_hit(raw) for raw in main.get("hits") or ())
    total = int(main.get("totalHits") or 0)
    return SearchResult(hits=hits, total=total, page=query.page, per_page=query.per_page, counts=counts)


def _hit(raw: Mapping[str, Any]) -> Hit:
    document = document_from_meilisearch(raw)
    formatted = raw.get("_formatted") or {}
    title_field = "thread_title" if document.kind == KIND_POST else "title"
    title_marked = formatted.get(title_field, raw.get(title_field))
    body_marked = formatted.get("body", raw.get("body"))
    return Hit(
        kind=document.kind,
        id=document.id,
        score=float(raw.get("_rankingScore") or 0.0),
        document=document,
        title_html=safe_highlight(str(title_marked or "")),
        snippet_html=safe_highlight(str(body_marked or "")),
    )


def settings_differ(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """The names of the settings in ``wanted`` that ``current`` (as the server reports them) lacks
    or holds otherwise (pure). Lists of attributes compare as sets, except where order ranks; a
    nested setting compares only the keys we set (the server adds its own defaults)."""
    ordered = {"searchableAttributes", "rankingRules"}
    differing: list[str] = []
    for name, value in wanted.items():
        have = current.get(name)
        if isinstance(value, dict):
            same = isinstance(have, dict) and not settings_differ(have, value)
        elif isinstance(value, list) and name not in ordered:
            same = isinstance(have, list) and sorted(map(json.dumps, have)) == sorted(map(json.dumps, value))
        else:
            same = have == value
        if not same:
            differing.append(name)
    return differing


# --- the backend ----------------------------------------------------------------------------------


class MeilisearchBackend:
    """Full-text search on a Meilisearch server (``MEILISEARCH_URL``), through the official client."""

    name = "meilisearch"

    def __init__(
        self,
        *,
        url: str | None = None,
        api_key: str | None = None,
        index_prefix: str | None = None,
        timeout: int | None = None,
        task_timeout: int | None = None,
    ) -> None:
        self.url = url if url is not None else settings.MEILISEARCH_URL
        self.api_key = api_key if api_key is not None else settings.MEILISEARCH_API_KEY
        prefix = index_prefix if index_prefix is not None else settings.MEILISEARCH_INDEX_PREFIX
        self.index_uid = f"{prefix}{INDEX_SUFFIX}"
        self.timeout = timeout if timeout is not None else settings.MEILISEARCH_TIMEOUT_SECONDS
        task_seconds = task_timeout if task_timeout is not None else settings.MEILISEARCH_TASK_TIMEOUT_SECONDS
        self.task_timeout_ms = int(task_seconds * 1000)
        # The client changes its own headers around every request (Content-Type), so a client
        # shared by a web process's threads could send one request with another's headers.
        self._local = threading.local()
        self._ensured = False
        self._ensure_lock = threading.Lock()
        # After the server failed to answer, calls fail at once until then (time.monotonic()).
        self._down_until = 0.0

    # --- plumbing -------------------------------------------------------------------------------

    @contextmanager
    def _server(self, action: str) -> Iterator[None]:
        """Turn every failure of the server (or of reaching it) into ``MeilisearchUnavailable``.

        A server that is down or hangs is not asked again for ``DOWN_SKIP_SECONDS``: every search
        meanwhile would wait the whole timeout for the same answer, holding a worker each time.
        """
        if time.monotonic() < self._down_until:
            raise MeilisearchUnavailable(f"the server did not answer a moment ago ({action}).")
        try:
            yield
        except MeilisearchApiError as error:
            # Refused: a misconfiguration (key, index) or a request of ours it does not accept.
            if error.code == "index_not_found":
                self._ensured = False  # deleted behind our back: made again by the next call
            logger.error("meilisearch refused to %s: %s (%s)", action, error.message, error.code)
            raise MeilisearchUnavailable(f"the server refused to {action}.") from error
        except (MeilisearchError, requests.RequestException) as error:
            # Down, unreachable, or slower than MEILISEARCH_TIMEOUT_SECONDS.
            self._down_until = time.monotonic() + DOWN_SKIP_SECONDS
            logger.warning("meilisearch did not %s: %s", action, error)
            raise MeilisearchUnavailable(f"the server did not {action}.") from error

    def _client(self) -> meilisearch.Client:
        client: meilisearch.Client | None = getattr(self._local, "client", None)
        if client is None:
            if not self.url:
                raise MeilisearchUnavailable("MEILISEARCH_URL is not set.")
            client = meilisearch.Client(self.url, self.api_key or None, timeout=self.timeout)
            self._local.client = client
        return client

    def _wait(self, task: TaskInfo, action: str, *, harmless: tuple[str, ...] = ()) -> dict[str, Any]:
        """Wait until the server applied ``task``; its details. A failed task is an error, unless
        it failed with one of the ``harmless`` error codes."""
        with self._server(action):
            done = self._client().wait_for_task(
                task.task_uid, timeout_in_ms=self.task_timeout_ms, interval_in_ms=50
            )
        if done.status == "failed" and (done.error or {}).get("code") in harmless:
            return {}
        if done.status != "succeeded":
            reason = (done.error or {}).get("message", done.status)
            logger.error("meilisearch task %s (%s) %s: %s", done.uid, action, done.status, reason)
            raise MeilisearchUnavailable(f"the server could not {action}.")
        return dict(done.details or {})

    def _ready(self) -> None:
        """``ensure`` once per process, before the first search or write."""
        if not self._ensured:
            with self._ensure_lock:
                if not self._ensured:
                    self.ensure()

    # --- the protocol ---------------------------------------------------------------------------

    def ensure(self) -> None:
        client = self._client()
        with self._server("read the index"):
            try:
                client.get_raw_index(self.index_uid)
            except MeilisearchApiError as error:
                if error.code != "index_not_found":
                    raise
                missing = True
            else:
                missing = False
        if missing:
            with self._server("create the index"):
                task = client.create_index(self.index_uid, {"primaryKey": PRIMARY_KEY})
            # Another process may have made it meanwhile: the same index, as wanted.
            self._wait(task, "create the index", harmless=("index_already_exists",))
        index = client.index(self.index_uid)
        with self._server("read the index settings"):
            current = index.get_settings()
        differing = settings_differ(current, INDEX_SETTINGS)
        if differing:
            # Changing filterable or searchable attributes reindexes every document on the server:
            # done only when a setting really differs, and awaited, so that no search runs with
            # attributes it cannot filter on yet.
            logger.info("meilisearch index %s: updating %s", self.index_uid, ", ".join(differing))
            with self._server("update the index settings"):
                task = index.update_settings(dict(INDEX_SETTINGS))
            self._wait(task, "update the index settings")
        self._ensured = True

    def index(self, documents: Sequence[Document]) -> int:
        # One document per (kind, id), the last one given winning, as the PostgreSQL backend does.
        latest = {(doc.kind, doc.id): doc for doc in documents}
        if not latest:
            return 0
        self._ready()
        payload = [document_to_meilisearch(doc) for doc in latest.values()]
        with self._server("index documents"):
            task = self._client().index(self.index_uid).add_documents(payload, primary_key=PRIMARY_KEY)
        self._wait(task, "index documents")
        return len(payload)

    def delete(self, kind: str, ids: Iterable[int]) -> int:
        wanted = sorted({int(i) for i in ids})
        if not wanted:
            return 0
        self._ready()
        expression = f"kind = {filter_value(kind)} AND {_in('id', wanted)}"
        with self._server("delete documents"):
            task = self._client().index(self.index_uid).delete_documents(filter=expression)
        details = self._wait(task, "delete documents")
        return int(details.get("deletedDocuments", len(wanted)))

    def clear(self, kind: str | None = None) -> None:
        self._ready()
        index = self._client().index(self.index_uid)
        with self._server("delete documents"):
            if kind is None:
                task = index.delete_all_documents()
            else:
                task = index.delete_documents(filter=f"kind = {filter_value(kind)}")
        self._wait(task, "delete documents")

    def search(self, query: SearchQuery, scope: SearchScope) -> SearchResult:
        self._ready()
        queries = search_request(query, scope, self.index_uid)
        with self._server("search"):
            response = self._client().multi_search(queries)
        return result_from_response(query, response["results"])

    def stats(self) -> BackendStats:
        self._ready()
        client = self._client()
        with self._server("read the index statistics"):
            counted = client.index(self.index_uid).search(
                "", {"page": 1, "hitsPerPage": 0, "facets": ["kind"]}
            )
            last = client.get_tasks(
                {"indexUids": [self.index_uid], "statuses": ["succeeded"], "limit": 1}
            ).results
            pending = client.get_tasks(
                {"indexUids": [self.index_uid], "statuses": ["enqueued", "processing"], "limit": 1}
            ).total
            version = client.get_version().get("pkgVersion", "?")
        per_kind = dict.fromkeys(KINDS, 0)
        for kind, n in ((counted.get("facetDistribution") or {}).get("kind") or {}).items():
            if kind in per_kind:
                per_kind[kind] = int(n)
        return BackendStats(
            backend=self.name,
            documents=per_kind,
            last_indexed_at=last[0].finished_at if last else None,
            detail=f"Meilisearch {version}, index {self.index_uid}, {pending} tasks waiting",
        )

    # --- health ---------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The detail /health/ready shows: the server's answer and its queue, within two seconds.

        Never the key, and of the address only its host.
        """
        client = meilisearch.Client(self.url, self.api_key or None, timeout=HEALTH_TIMEOUT)
        try:
            status = client.health().get("status", "?")
            pending = client.get_tasks(
                {"indexUids": [self.index_uid], "statuses": ["enqueued", "processing"], "limit": 1}
            ).total
        except (MeilisearchError, requests.RequestException) as error:
            return {"status": "error", "server": urlsplit(self.url).netloc, "error": type(error).__name__}
        return {
            "status": status,
            "server": urlsplit(self.url).netloc,
            "index": self.index_uid,
            "tasks_waiting": pending,
        }


def register_health_detail() -> None:
    """Show the configured server under "details" of /health/ready (informative: a search server
    that is down never makes a process unready, the pages degrade instead). Called by the kernel's
    ``AppConfig.ready`` when ``SEARCH_BACKEND`` is "meilisearch"."""
    register_detail("search", MeilisearchBackend().health)
