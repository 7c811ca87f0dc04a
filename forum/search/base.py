"""The search interface of the kernel: documents, queries, a viewer's scope, results, backends.

Everything a backend (PostgreSQL in ``forum.search.postgres``, Meilisearch in
``forum.search.meilisearch``) and an owning app (thread, user, dialog) agree on lives here, in plain
frozen dataclasses and one protocol, so that either side can be written, tested and replaced
without the other. The kernel never imports an app: apps register their ``DocumentSource`` in
``AppConfig.ready()`` and keep their documents current from their own events by calling
``refresh(kind, ids)``.

Permissions travel INTO the backend as a ``SearchScope`` and are applied inside the query (SQL
``WHERE`` clause, Meilisearch filter expression), never to a page of results afterwards, so that
hits, totals, per-kind counts and snippets never reveal a document the viewer may not read:

=========  ====================================================================================
kind       a viewer may see a document of this kind when
=========  ====================================================================================
post       ``visible`` and ``forum_id`` in ``scope.readable_forum_ids``
thread     ``visible`` and ``forum_id`` in ``scope.readable_forum_ids``
message    ``visible`` and ``scope.viewer_id`` in ``participant_ids`` (staff included: a dialog
           is read by its participants only)
member     ``visible``, or ``scope.is_staff`` (deactivated accounts are found by staff only)
=========  ====================================================================================

``visible`` is False for what is waiting for moderation, deleted (soft or hard) or otherwise not
public; the source decides it, the backend only filters on it. A source may as well answer
``None`` for such an object (``refresh`` then deletes it from the index): both are correct.
"""

from __future__ import annotations

import dataclasses
import datetime
import html
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Literal, Protocol, runtime_checkable

from django.conf import settings
from django.utils import timezone
from django.utils.safestring import SafeString

__all__ = [
    "HIGHLIGHT_START",
    "HIGHLIGHT_STOP",
    "INDEX_SCOPE",
    "KINDS",
    "KIND_MEMBER",
    "KIND_MESSAGE",
    "KIND_POST",
    "KIND_THREAD",
    "BackendStats",
    "Document",
    "DocumentSource",
    "ForumChoice",
    "Hit",
    "SearchBackend",
    "SearchQuery",
    "SearchResult",
    "SearchScope",
    "SearchUnavailable",
    "backend_names",
    "day_start",
    "detect_language",
    "forum_choices",
    "get_backend",
    "indexable_text",
    "refresh",
    "register_backend",
    "register_forum_directory",
    "register_source",
    "safe_highlight",
    "scope_for",
    "source_for",
    "sources",
]

# --- kinds -------------------------------------------------------------------------------------

KIND_POST = "post"
KIND_THREAD = "thread"
KIND_MEMBER = "member"
KIND_MESSAGE = "message"
KINDS: tuple[str, ...] = (KIND_POST, KIND_THREAD, KIND_MEMBER, KIND_MESSAGE)

# The version (forum.versioned_cache) of the index's content: a backend whose writes are searchable
# once they commit moves it after the commit of every write (index, delete, clear), and the results
# kept for identical searches (forum.search.service.run) are kept under it.
INDEX_SCOPE = "search_index"

# Languages a document may declare; "" lets the backend decide (both backends treat "" as
# "mixed": see docs/search.md on morphology).
Language = Literal["ru", "en", ""]

Sort = Literal["relevance", "date"]


class SearchUnavailable(Exception):
    """The backend cannot answer now (server down, index missing): pages show a notice, the API
    answers 503. Never raised for bad input: a query is always valid once built."""


# --- the document --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Document:
    """One searchable thing, as its owning app describes it. ``(kind, id)`` is its identity.

    - post: ``title`` is the thread's title (shown, weighted like the body, see below), ``body``
      the post's Markdown source as plain text; ``thread_id`` and ``forum_id`` set.
    - thread: ``title`` the thread's title, ``body`` its opening post; ``thread_id == id``.
    - member: ``title`` the display name, ``body`` the username (both searched, typo-tolerant).
    - message: ``body`` the message, ``title`` the dialog's subject if any; ``dialog_id`` and
      ``participant_ids`` set.

    Titles weigh more than bodies (PostgreSQL weight A against B; Meilisearch attribute order
    ``title`` before ``body``) so a match in a title ranks first. For a post, ``title`` is kept
    for display only and is NOT searched (else every reply would match its thread's title):
    backends search ``title`` for every kind except ``post``.
    """

    kind: str
    id: int
    app: str  # the owning app's label ("thread", "user", "dialog")
    title: str = ""
    body: str = ""
    author_id: int | None = None
    forum_id: int | None = None
    thread_id: int | None = None
    dialog_id: int | None = None
    created_at: datetime.datetime | None = None
    updated_at: datetime.datetime | None = None
    has_attachments: bool = False
    language: Language = ""
    # Where the document is shown: a path on this site ("/threads/7/#post-42"), stored so that a
    # results page needs no call into the owning app per hit.
    url: str = ""
    # Permission attributes, see the module docstring.
    visible: bool = True
    participant_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown document kind {self.kind!r}")
        if self.kind in (KIND_POST, KIND_THREAD) and self.forum_id is None:
            raise ValueError(f"a {self.kind} document needs its forum_id")
        if self.kind == KIND_MESSAGE and not self.participant_ids:
            raise ValueError("a message document needs its participant_ids")


# --- the query, the viewer, the result -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SearchQuery:
    """What the viewer asked for. Built from validated input; backends may trust every field.

    ``forum_ids`` narrows to those forums; the caller resolves subforums (the thread app knows the
    tree) and passes every id. It never widens the scope: a forum id outside
    ``scope.readable_forum_ids`` simply finds nothing.
    """

    text: str
    kinds: tuple[str, ...] = (KIND_POST, KIND_THREAD)
    forum_ids: tuple[int, ...] | None = None  # None: every forum the viewer may read
    author_id: int | None = None
    date_from: datetime.date | None = None  # inclusive, on created_at (site time zone)
    date_to: datetime.date | None = None  # inclusive
    threads_only: bool = False  # only thread documents (titles and opening posts)
    with_attachments: bool = False
    thread_id: int | None = None  # within one thread
    dialog_id: int | None = None  # within one dialog (message documents)
    sort: Sort = "relevance"  # "date": newest first
    page: int = 1
    per_page: int = 20
    # More kinds to count in ``SearchResult.counts`` (a results page's tabs) without returning
    # their hits; the same text, filters and scope apply.
    count_kinds: tuple[str, ...] = ()
    # False when the caller reads the hits only (a name lookup): a backend may then skip counting,
    # and ``total`` only says how far the hits reach (``offset`` plus their number).
    counted: bool = True

    def effective_kinds(self) -> tuple[str, ...]:
        """The kinds to search: ``threads_only`` leaves only threads."""
        if self.threads_only:
            return (KIND_THREAD,)
        return tuple(kind for kind in KINDS if kind in self.kinds)

    @property
    def offset(self) -> int:
        return (max(self.page, 1) - 1) * self.per_page


@dataclasses.dataclass(frozen=True)
class SearchScope:
    """Who is searching, as the authorization app sees them; built by the caller per request.

    ``readable_forum_ids`` is every forum whose threads the viewer may read (for a guest, the
    forums guests may read). ``viewer_id`` is None for a guest, who then finds no messages.
    """

    readable_forum_ids: frozenset[int]
    viewer_id: int | None = None
    is_staff: bool = False

    @classmethod
    def guest(cls, readable_forum_ids: Iterable[int]) -> SearchScope:
        return cls(readable_forum_ids=frozenset(readable_forum_ids))


@dataclasses.dataclass(frozen=True)
class Hit:
    """One result. ``title_html`` and ``snippet_html`` are safe HTML: every character of the
    content escaped, the only markup our own ``<mark>`` around matched words (``safe_highlight``)."""

    kind: str
    id: int
    score: float
    # The document found. Its ``body`` may be left empty but for a member's (the PostgreSQL backend
    # does not send a whole post to show its snippet): show ``snippet_html``.
    document: Document
    title_html: SafeString
    snippet_html: SafeString
    # The author's username as the index knows it (the member document of ``document.author_id``),
    # when the backend read it with the hit; None when it did not (the caller asks the member
    # source instead, as for an author the index does not hold yet).
    author_name: str | None = None


@dataclasses.dataclass(frozen=True)
class SearchResult:
    hits: tuple[Hit, ...]
    total: int  # matches of the query's kinds, within the scope
    page: int
    per_page: int
    # Matches per kind within the scope and filters (for the tabs): every kind of
    # ``query.effective_kinds()`` and ``query.count_kinds`` present, 0 included.
    counts: Mapping[str, int] = dataclasses.field(default_factory=dict)
    # When set, counting stops there: every count is exact up to it, and a kind in ``lower_bounds``
    # has MORE matches than its count (which is then ``count_limit``); a backend that counts
    # exactly leaves it None.
    count_limit: int | None = None
    lower_bounds: frozenset[str] = frozenset()
    # ``total`` is a lower bound: one of the query's kinds has more matches than counted.
    total_is_lower_bound: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclasses.dataclass(frozen=True)
class BackendStats:
    """What the Django admin shows of an index."""

    backend: str
    documents: Mapping[str, int]  # per kind
    last_indexed_at: datetime.datetime | None
    detail: str = ""  # free text: server version, index size, pending tasks


# --- the backend protocol --------------------------------------------------------------------------


@runtime_checkable
class SearchBackend(Protocol):
    """What every backend offers. Every write is idempotent: indexing a document twice leaves one
    (the newest wins on ``(kind, id)``), deleting a missing one does nothing."""

    name: str

    def ensure(self) -> None:
        """Create what the backend needs (index, settings); safe to call again at any time."""

    def index(self, documents: Sequence[Document]) -> int:
        """Insert or replace these documents; returns how many were written."""

    def delete(self, kind: str, ids: Iterable[int]) -> int:
        """Remove these documents of ``kind``; returns how many there were (best effort)."""

    def search(self, query: SearchQuery, scope: SearchScope) -> SearchResult:
        """Find, rank, page and highlight, with the scope applied inside the query."""

    def stats(self) -> BackendStats:
        """Counts per kind and the last time anything was indexed."""

    def clear(self, kind: str | None = None) -> None:
        """Remove every document (of ``kind``, or of all kinds)."""


BackendFactory = Callable[[], SearchBackend]

_BACKENDS: dict[str, BackendFactory] = {}
_INSTANCES: dict[str, SearchBackend] = {}


def register_backend(name: str, factory: BackendFactory) -> None:
    """Make a backend available by name (the built-in ones are registered by forum.search)."""
    _BACKENDS[name] = factory
    _INSTANCES.pop(name, None)


def backend_names() -> tuple[str, ...]:
    return tuple(sorted(_BACKENDS))


def get_backend(name: str | None = None) -> SearchBackend:
    """The backend called ``name``, or the configured one (``settings.SEARCH_BACKEND``:
    "meilisearch" when ``MEILISEARCH_URL`` is set, otherwise "postgres"). One instance per process."""
    chosen = name or getattr(settings, "SEARCH_BACKEND", "") or "postgres"
    if chosen not in _BACKENDS:
        raise LookupError(f"no search backend {chosen!r}; known: {', '.join(backend_names())}")
    instance = _INSTANCES.get(chosen)
    if instance is None:
        instance = _BACKENDS[chosen]()
        _INSTANCES[chosen] = instance
    return instance


# --- the registry of document sources --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DocumentSource:
    """How an owning app hands its documents of one kind to the kernel.

    ``batches(batch_size)`` yields every current document (visible or not) in batches, for
    ``manage.py search_reindex``, cheaply enough to run while the site is up (keyset pagination,
    not OFFSET). ``fetch(ids)`` answers the current document of each id, or None for an id whose
    object is gone; handlers call it through ``refresh``. ``count()`` is an estimate of how many
    ``batches`` will yield, for the progress bar.
    """

    kind: str
    app: str
    batches: Callable[[int], Iterator[Sequence[Document]]]
    fetch: Callable[[Sequence[int]], Mapping[int, Document | None]]
    count: Callable[[], int]


_SOURCES: dict[str, DocumentSource] = {}


def register_source(source: DocumentSource) -> None:
    """Register the source of one kind (in the owning app's ``AppConfig.ready``)."""
    if source.kind not in KINDS:
        raise ValueError(f"unknown document kind {source.kind!r}")
    existing = _SOURCES.get(source.kind)
    if existing is not None and existing.app != source.app:
        raise ValueError(f"{source.kind} documents already belong to the {existing.app} app")
    _SOURCES[source.kind] = source


def sources(app: str | None = None) -> tuple[DocumentSource, ...]:
    """Every registered source, or those of one app, in the order of ``KINDS``."""
    return tuple(
        _SOURCES[kind] for kind in KINDS if kind in _SOURCES and (app is None or _SOURCES[kind].app == app)
    )


def source_for(kind: str) -> DocumentSource:
    try:
        return _SOURCES[kind]
    except KeyError:
        raise LookupError(f"no source registered for {kind!r} documents") from None


def refresh(kind: str, ids: Iterable[int], *, backend: SearchBackend | None = None) -> None:
    """Bring the index up to date for these objects: what exists is (re)indexed, what is gone is
    deleted. Idempotent and order-free (it reads the current state, not an event's), so an
    event handler retried or run out of order ends with the right index."""
    wanted = sorted(set(ids))
    if not wanted:
        return
    target = backend or get_backend()
    current = source_for(kind).fetch(wanted)
    present = [doc for doc in (current.get(i) for i in wanted) if doc is not None]
    gone = [i for i in wanted if current.get(i) is None]
    if present:
        target.index(present)
    if gone:
        target.delete(kind, gone)


# --- the forums a viewer may search (registered by the app that owns forums) -----------------------


@dataclasses.dataclass(frozen=True)
class ForumChoice:
    """A forum the viewer may read, for the forum filter and the scope; ``subtree`` is the forum and
    every subforum of it the viewer may read (what filtering on this forum searches)."""

    id: int
    name: str
    depth: int
    subtree: tuple[int, ...]
    is_category: bool = False


ForumDirectory = Callable[[int | None], Sequence[ForumChoice]]

_FORUM_DIRECTORY: list[ForumDirectory] = []


def register_forum_directory(directory: ForumDirectory) -> None:
    """The owner of forums (the thread app) tells which forums a viewer may read, in tree order."""
    _FORUM_DIRECTORY[:] = [directory]


def forum_choices(viewer_id: int | None) -> Sequence[ForumChoice]:
    """The forums ``viewer_id`` (None: a guest) may read, in tree order; none when no app owns forums."""
    return _FORUM_DIRECTORY[0](viewer_id) if _FORUM_DIRECTORY else ()


def scope_for(
    viewer_id: int | None, *, is_staff: bool = False, forums: Sequence[ForumChoice] | None = None
) -> SearchScope:
    """A viewer's scope: the forums they may read (``forums`` when the caller already has them)."""
    readable = forum_choices(viewer_id) if forums is None else forums
    return SearchScope(
        readable_forum_ids=frozenset(forum.id for forum in readable),
        viewer_id=viewer_id,
        is_staff=is_staff,
    )


# --- helpers both backends share -------------------------------------------------------------------

# Backends ask their engine to wrap matches in these (characters no text of ours contains: they
# are stripped from content by safe_highlight before it reads the markers).
HIGHLIGHT_START = "\x02"
HIGHLIGHT_STOP = "\x03"
# Where a snippet was cut from a longer text (Meilisearch's crop marker; the PostgreSQL backend adds it).
CUT_MARKER = "…"

_MARKED = re.compile(f"{HIGHLIGHT_START}(.*?){HIGHLIGHT_STOP}", re.DOTALL)


def safe_highlight(marked_text: str) -> SafeString:
    """Escape everything in ``marked_text`` and turn only our markers into ``<mark>`` tags.

    Whatever the content held (``<script>``, an attribute, an entity) comes out as text.
    """
    # Escaping leaves the markers alone and maps each character on its own, so the whole text is
    # escaped at once, then each marked stretch becomes a <mark> and stray markers go (as escaping
    # each piece between markers did, in half the time or less: 20 hits' snippets and titles a page).
    escaped = html.escape(marked_text, quote=True)
    if HIGHLIGHT_START in escaped:
        escaped = _MARKED.sub(_mark, escaped).replace(HIGHLIGHT_START, "")
    # SafeString itself: mark_safe's checks cost as much as the escaping.
    return SafeString(escaped.replace(HIGHLIGHT_STOP, ""))


def _mark(match: re.Match[str]) -> str:
    return "<mark>" + match.group(1) + "</mark>"


# Characters content must not carry into an index: our highlight markers (only the engine may put
# them in, so content cannot forge a highlight), and NUL, which PostgreSQL cannot store in text.
_NOT_INDEXED = re.compile(f"[\x00{HIGHLIGHT_START}{HIGHLIGHT_STOP}]")


def indexable_text(text: str) -> str:
    """``text`` without the characters no backend keeps: NUL and the highlight markers."""
    return _NOT_INDEXED.sub("", text)


def day_start(day: datetime.date) -> datetime.datetime:
    """Midnight at the start of ``day`` in the site's time zone: the dates of a query are read there."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_LATIN = re.compile(r"[A-Za-z]")


def detect_language(text: str) -> Language:
    """ "ru" when Cyrillic letters outnumber Latin ones, "en" when Latin ones do, "" for neither."""
    cyrillic = len(_CYRILLIC.findall(text))
    latin = len(_LATIN.findall(text))
    if cyrillic == latin == 0:
        return ""
    return "ru" if cyrillic >= latin else "en"


# INTERFACE READY
