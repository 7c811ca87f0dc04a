"""The Meilisearch backend: what is pure (documents, settings, filter expressions, results) always,
what needs a server against a real one when MEILISEARCH_URL is set, and behaviour cases that both
backends must pass (titles above bodies, typos in names, word forms, permissions inside the search,
snippets that cannot inject markup, date sort and filters), parametrized over both: PostgreSQL
always, Meilisearch where a server is (the GitHub workflow has one)."""

from __future__ import annotations

import datetime
import re
import socket
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import meilisearch
import pytest
from django.conf import settings as django_settings
from django.utils import timezone

import forum.search  # noqa: F401  registers the built-in backends
from forum import health
from forum.errors import ApplicationError
from forum.search.base import (
    HIGHLIGHT_START,
    HIGHLIGHT_STOP,
    KIND_MEMBER,
    KIND_MESSAGE,
    KIND_POST,
    KIND_THREAD,
    Document,
    SearchBackend,
    SearchQuery,
    SearchScope,
    SearchUnavailable,
    get_backend,
)
from forum.search.meilisearch import (
    INDEX_SETTINGS,
    MeilisearchBackend,
    MeilisearchUnavailable,
    document_from_meilisearch,
    document_to_meilisearch,
    filter_value,
    query_filter,
    register_health_detail,
    result_from_response,
    scope_filter,
    search_request,
    settings_differ,
)
from forum.testing.tcp_proxy import TcpProxy

NO_SERVER = (
    "no Meilisearch server: set MEILISEARCH_URL (the GitHub workflow runs these with a service container)"
)

MOMENT = datetime.datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=datetime.UTC)

# Forums of the permission cases: 1 is public, 2 needs the Agent status, 3 is staff-only.
PUBLIC, EXCLUSIVE, STAFF_ONLY = 1, 2, 3
GUEST = SearchScope.guest({PUBLIC})
MEMBER_WITHOUT_AGENT = SearchScope(readable_forum_ids=frozenset({PUBLIC}), viewer_id=10)
AGENT = SearchScope(readable_forum_ids=frozenset({PUBLIC, EXCLUSIVE}), viewer_id=11)
OTHER_MEMBER = SearchScope(readable_forum_ids=frozenset({PUBLIC}), viewer_id=12)
STAFF = SearchScope(
    readable_forum_ids=frozenset({PUBLIC, EXCLUSIVE, STAFF_ONLY}), viewer_id=99, is_staff=True
)


def post(id: int, body: str, *, forum_id: int = PUBLIC, title: str = "A thread", **fields: Any) -> Document:
    return Document(
        kind=KIND_POST, id=id, app="thread", title=title, body=body, forum_id=forum_id, thread_id=1, **fields
    )


def thread(id: int, title: str, body: str = "", *, forum_id: int = PUBLIC, **fields: Any) -> Document:
    return Document(
        kind=KIND_THREAD,
        id=id,
        app="thread",
        title=title,
        body=body,
        forum_id=forum_id,
        thread_id=id,
        **fields,
    )


def member(id: int, display_name: str, username: str, **fields: Any) -> Document:
    return Document(kind=KIND_MEMBER, id=id, app="user", title=display_name, body=username, **fields)


def message(id: int, body: str, participant_ids: tuple[int, ...], **fields: Any) -> Document:
    return Document(
        kind=KIND_MESSAGE,
        id=id,
        app="dialog",
        body=body,
        dialog_id=5,
        participant_ids=participant_ids,
        **fields,
    )


# --- documents (pure) -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        post(
            7,
            "a body",
            title="Its thread",
            author_id=3,
            created_at=MOMENT,
            updated_at=MOMENT,
            has_attachments=True,
            language="en",
            url="/threads/1/#post-7",
        ),
        thread(8, "Заголовок", "первое сообщение", forum_id=4, author_id=3, created_at=MOMENT, language="ru"),
        member(9, "Margarita", "margarita_k", visible=False),
        message(10, "hello", (3, 4), author_id=3, created_at=MOMENT),
    ],
    ids=["post", "thread", "member", "message"],
)
def test_a_document_comes_back_from_the_index_as_it_went_in(document: Document) -> None:
    stored = document_to_meilisearch(document)
    assert stored["uid"] == f"{document.kind}-{document.id}"
    assert document_from_meilisearch(stored) == document


def test_a_posts_thread_title_is_kept_for_display_and_not_searched() -> None:
    stored = document_to_meilisearch(post(7, "reply text", title="Gardening"))
    assert stored["title"] == ""  # the searchable attribute
    assert stored["thread_title"] == "Gardening"
    assert "thread_title" not in INDEX_SETTINGS["searchableAttributes"]
    threads = document_to_meilisearch(thread(8, "Gardening"))
    assert threads["title"] == "Gardening"


def test_dates_are_whole_seconds_to_filter_on_and_exact_to_show() -> None:
    stored = document_to_meilisearch(post(7, "x", created_at=MOMENT))
    assert stored["created_ts"] == int(MOMENT.timestamp())
    assert document_from_meilisearch(stored).created_at == MOMENT
    assert document_to_meilisearch(member(1, "a", "b"))["created_ts"] is None


def test_content_cannot_carry_highlight_markers() -> None:
    stored = document_to_meilisearch(post(7, f"a {HIGHLIGHT_START}fake{HIGHLIGHT_STOP} b\x00", title="t\x02"))
    assert stored["body"] == "a fake b"
    assert stored["thread_title"] == "t"


# --- index settings (pure) ----------------------------------------------------------------------------


def test_titles_are_searched_before_bodies_and_typos_are_forgiven() -> None:
    assert INDEX_SETTINGS["searchableAttributes"] == ["title", "body"]
    assert INDEX_SETTINGS["typoTolerance"]["enabled"] is True
    assert INDEX_SETTINGS["typoTolerance"]["disableOnAttributes"] == []
    assert "attribute" in INDEX_SETTINGS["rankingRules"]
    assert INDEX_SETTINGS["sortableAttributes"] == ["created_ts"]
    # Sorting by date is strict: "sort" comes before every relevance rule.
    assert INDEX_SETTINGS["rankingRules"][0] == "sort"


def _attributes_in(expression: str) -> set[str]:
    """The attribute names a filter expression tests (the word before each operator)."""
    return set(re.findall(r"([a-z_]+) (?:IN|=|>=|<)", expression))


def test_every_attribute_the_filters_use_is_filterable() -> None:
    query = SearchQuery(
        text="x",
        forum_ids=(1,),
        author_id=2,
        thread_id=3,
        dialog_id=4,
        date_from=datetime.date(2026, 1, 1),
        date_to=datetime.date(2026, 1, 2),
        with_attachments=True,
        count_kinds=(KIND_MEMBER,),
    )
    used: set[str] = set()
    for request in search_request(query, STAFF, "i"):
        used |= _attributes_in(request["filter"])
    used |= _attributes_in(scope_filter(STAFF))
    assert used >= {
        "kind",
        "visible",
        "forum_id",
        "participant_ids",
        "author_id",
        "created_ts",
        "has_attachments",
    }
    assert used <= set(INDEX_SETTINGS["filterableAttributes"])
    # Deleting by kind and id filters on these.
    assert {"kind", "id"} <= set(INDEX_SETTINGS["filterableAttributes"])


def test_settings_are_compared_as_the_server_reports_them() -> None:
    reported: dict[str, Any] = {
        **INDEX_SETTINGS,
        # The server lists attributes in its own order and adds defaults of its own.
        "filterableAttributes": list(reversed(INDEX_SETTINGS["filterableAttributes"])),
        "typoTolerance": {**INDEX_SETTINGS["typoTolerance"], "disableOnNumbers": False},
        "faceting": {"maxValuesPerFacet": 100, "sortFacetValuesBy": {"*": "alpha"}},
        "stopWords": [],
    }
    assert settings_differ(reported, INDEX_SETTINGS) == []
    # The order of searchable attributes and ranking rules is the ranking: it must match.
    swapped = {**reported, "searchableAttributes": ["body", "title"]}
    assert settings_differ(swapped, INDEX_SETTINGS) == ["searchableAttributes"]
    fresh: dict[str, Any] = {"filterableAttributes": [], "typoTolerance": {"enabled": True}}
    assert "filterableAttributes" in settings_differ(fresh, INDEX_SETTINGS)
    assert "typoTolerance" in settings_differ(fresh, INDEX_SETTINGS)
    assert "rankingRules" in settings_differ(fresh, INDEX_SETTINGS)


# --- filter expressions (pure) -------------------------------------------------------------------------


def test_values_are_quoted_so_that_none_can_end_its_string() -> None:
    assert filter_value(42) == "42"
    assert filter_value(True) == "true"
    assert filter_value(False) == "false"
    assert filter_value("post") == '"post"'
    assert filter_value('x" OR kind = "message') == '"x\\" OR kind = \\"message"'
    assert filter_value("ends with \\") == '"ends with \\\\"'


def test_a_guest_finds_visible_posts_and_threads_of_public_forums_and_visible_members() -> None:
    assert scope_filter(GUEST) == (
        '(kind IN ["post", "thread"] AND visible = true AND forum_id IN [1])'
        ' OR (kind = "member" AND visible = true)'
    )
    assert "message" not in scope_filter(GUEST)


def test_a_member_finds_their_own_dialogs_and_the_forums_they_may_read() -> None:
    assert scope_filter(MEMBER_WITHOUT_AGENT) == (
        '(kind IN ["post", "thread"] AND visible = true AND forum_id IN [1])'
        ' OR (kind = "message" AND visible = true AND participant_ids = 10)'
        ' OR (kind = "member" AND visible = true)'
    )


def test_the_agent_status_adds_its_forums_and_nothing_else() -> None:
    # The member without it (viewer 10) and the Agent (viewer 11) differ in the exclusive forum only.
    with_agent = scope_filter(AGENT)
    assert "forum_id IN [1, 2]" in with_agent
    assert with_agent.replace("forum_id IN [1, 2]", "forum_id IN [1]").replace(
        "participant_ids = 11", "participant_ids = 10"
    ) == scope_filter(MEMBER_WITHOUT_AGENT)


def test_staff_find_deactivated_members_but_only_their_own_dialogs() -> None:
    assert scope_filter(STAFF) == (
        '(kind IN ["post", "thread"] AND visible = true AND forum_id IN [1, 2, 3])'
        ' OR (kind = "message" AND visible = true AND participant_ids = 99)'
        ' OR kind = "member"'
    )


def test_a_viewer_who_may_read_no_forum_finds_no_post_or_thread() -> None:
    scope = SearchScope(readable_forum_ids=frozenset(), viewer_id=5)
    assert "forum_id" not in scope_filter(scope)
    assert "post" not in scope_filter(scope)


def test_the_querys_filters_narrow_the_scope() -> None:
    # Dates are days of the site's time zone (here three hours east of UTC).
    timezone.activate("Europe/Moscow")
    try:
        query = SearchQuery(
            text="x",
            forum_ids=(4, 2, 4),
            author_id=7,
            date_from=datetime.date(2026, 1, 1),
            date_to=datetime.date(2026, 1, 31),
            with_attachments=True,
        )
        start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=3)))
        end = datetime.datetime(2026, 2, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=3)))
        assert query_filter(query) == [
            "forum_id IN [2, 4]",
            "author_id = 7",
            f"created_ts >= {int(start.timestamp())}",
            f"created_ts < {int(end.timestamp())}",
            "has_attachments = true",
        ]
    finally:
        timezone.deactivate()
    assert query_filter(SearchQuery(text="x")) == []


def test_the_request_pages_counts_and_highlights() -> None:
    query = SearchQuery(text="  two   words ", page=3, per_page=10, sort="date", count_kinds=(KIND_MEMBER,))
    main, counting = search_request(query, MEMBER_WITHOUT_AGENT, "forum_documents")
    assert main["indexUid"] == counting["indexUid"] == "forum_documents"
    assert main["q"] == "two words"
    assert (main["page"], main["hitsPerPage"]) == (3, 10)
    assert main["sort"] == ["created_ts:desc"]
    assert main["filter"] == f'(kind IN ["post", "thread"]) AND ({scope_filter(MEMBER_WITHOUT_AGENT)})'
    assert (main["highlightPreTag"], main["highlightPostTag"]) == (HIGHLIGHT_START, HIGHLIGHT_STOP)
    assert counting["hitsPerPage"] == 0
    assert counting["filter"].startswith('(kind IN ["member"]) AND (')
    relevance = search_request(SearchQuery(text="x", threads_only=True), GUEST, "i")
    assert len(relevance) == 1
    assert "sort" not in relevance[0]
    assert relevance[0]["filter"].startswith('(kind IN ["thread"]) AND (')


def test_snippets_escape_the_content_and_keep_only_our_marks() -> None:
    stored = document_to_meilisearch(post(7, '<script>alert(1)</script> zebra <img src=x onerror="y">'))
    raw = {
        **stored,
        "_rankingScore": 0.75,
        "_formatted": {
            **stored,
            "thread_title": f"{HIGHLIGHT_START}<b>zebra</b>{HIGHLIGHT_STOP}",
            "body": f"<script>alert(1)</script> {HIGHLIGHT_START}zebra{HIGHLIGHT_STOP} "
            '<img src=x onerror="y">',
        },
    }
    counted = {"facetDistribution": {"kind": {"member": 4}}}
    query = SearchQuery(text="zebra", count_kinds=(KIND_MEMBER,))
    result = result_from_response(
        query, [{"hits": [raw], "totalHits": 1, "facetDistribution": {"kind": {"post": 1}}}, counted]
    )
    assert result.total == 1
    assert result.counts == {KIND_POST: 1, KIND_THREAD: 0, KIND_MEMBER: 4}
    (hit,) = result.hits
    assert (hit.kind, hit.id, hit.score) == (KIND_POST, 7, 0.75)
    assert hit.snippet_html == (
        "&lt;script&gt;alert(1)&lt;/script&gt; <mark>zebra</mark> &lt;img src=x onerror=&quot;y&quot;&gt;"
    )
    assert hit.title_html == "<mark>&lt;b&gt;zebra&lt;/b&gt;</mark>"


# --- failures of the server (no server needed) ----------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[str]:
    """An address that takes connections and never answers (a server stuck or overloaded)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def test_a_server_that_is_down_makes_search_unavailable_not_a_crash() -> None:
    backend = MeilisearchBackend(
        url=f"http://127.0.0.1:{_closed_port()}", api_key="k" * 16, index_prefix="t_"
    )
    with pytest.raises(MeilisearchUnavailable) as raised:
        backend.search(SearchQuery(text="x"), GUEST)
    assert isinstance(raised.value, SearchUnavailable)
    assert isinstance(raised.value, ApplicationError)
    assert (raised.value.status, raised.value.code) == (503, "search_unavailable")
    # People read a sentence; what went wrong goes to the log.
    assert raised.value.message == "Search is not available right now. Please try again in a minute."
    assert raised.value.reason == "the server did not read the index."
    with pytest.raises(SearchUnavailable):
        backend.index([post(1, "x")])


def test_a_server_that_never_answers_makes_search_unavailable(silent_server: str) -> None:
    backend = MeilisearchBackend(url=silent_server, api_key="k" * 16, index_prefix="t_", timeout=1)
    with pytest.raises(MeilisearchUnavailable):
        backend.search(SearchQuery(text="x"), GUEST)


def test_after_a_server_hung_searches_fail_at_once_without_asking_it_again() -> None:
    proxy = TcpProxy("127.0.0.1", _closed_port())
    proxy.hang()  # takes connections, never answers
    try:
        backend = MeilisearchBackend(url=f"http://{proxy.url_host}", index_prefix="t_", timeout=1)
        with pytest.raises(MeilisearchUnavailable):
            backend.search(SearchQuery(text="x"), GUEST)
        tried = proxy.accepted
        assert tried >= 1
        with pytest.raises(MeilisearchUnavailable):
            backend.search(SearchQuery(text="x"), GUEST)
        with pytest.raises(MeilisearchUnavailable):
            backend.index([post(1, "x")])
        assert proxy.accepted == tried
    finally:
        proxy.close()


def test_no_url_is_unavailable_too() -> None:
    with pytest.raises(MeilisearchUnavailable):
        MeilisearchBackend(url="", index_prefix="t_").search(SearchQuery(text="x"), GUEST)


def test_the_health_detail_names_the_failure_and_never_the_key() -> None:
    port = _closed_port()
    detail = MeilisearchBackend(
        url=f"http://127.0.0.1:{port}", api_key="secret-key-123456", index_prefix="t_"
    ).health()
    assert detail["status"] == "error"
    assert detail["server"] == f"127.0.0.1:{port}"
    assert "secret-key-123456" not in repr(detail)


def test_the_health_detail_is_registered_for_the_configured_server(settings: Any) -> None:
    settings.MEILISEARCH_URL = f"http://127.0.0.1:{_closed_port()}"
    settings.MEILISEARCH_INDEX_PREFIX = "site_"
    register_health_detail()
    try:
        assert health.DETAILS["search"]()["status"] == "error"
    finally:
        health.DETAILS.pop("search", None)


# --- against a real server -------------------------------------------------------------------------


def _server_client() -> meilisearch.Client:
    return meilisearch.Client(django_settings.MEILISEARCH_URL, django_settings.MEILISEARCH_API_KEY or None)


@pytest.fixture
def meilisearch_backend() -> Iterator[MeilisearchBackend]:
    """A backend on an index of this test's own, deleted afterwards."""
    if not django_settings.MEILISEARCH_URL:
        pytest.skip(NO_SERVER)
    backend = MeilisearchBackend(index_prefix=f"test_{uuid.uuid4().hex[:12]}_", task_timeout=120)
    backend.ensure()
    try:
        yield backend
    finally:
        client = _server_client()
        client.wait_for_task(client.delete_index(backend.index_uid).task_uid, timeout_in_ms=120_000)


# The PostgreSQL backend keeps its documents in the test database (the marker, on each case).
@pytest.fixture(params=["postgres", "meilisearch"])
def backend(request: pytest.FixtureRequest) -> SearchBackend:
    """Each backend in turn: the behaviour cases below hold for both."""
    if request.param == "postgres":
        chosen = get_backend("postgres")
        chosen.ensure()
        return chosen
    found: MeilisearchBackend = request.getfixturevalue("meilisearch_backend")
    return found


def test_ensure_applies_the_settings_once(meilisearch_backend: MeilisearchBackend) -> None:
    index = _server_client().index(meilisearch_backend.index_uid)
    assert settings_differ(index.get_settings(), INDEX_SETTINGS) == []
    before = _server_client().get_tasks({"indexUids": [meilisearch_backend.index_uid]}).total
    meilisearch_backend.ensure()  # nothing differs: no new task
    assert _server_client().get_tasks({"indexUids": [meilisearch_backend.index_uid]}).total == before


def test_a_server_cut_off_mid_way_makes_search_unavailable(meilisearch_backend: MeilisearchBackend) -> None:
    target = urlsplit(django_settings.MEILISEARCH_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 7700)
    try:
        through = MeilisearchBackend(
            url=f"http://{proxy.url_host}",
            index_prefix=meilisearch_backend.index_uid.removesuffix("documents"),
        )
        assert through.search(SearchQuery(text="x"), GUEST).total == 0
        proxy.cut()
        with pytest.raises(MeilisearchUnavailable):
            through.search(SearchQuery(text="x"), GUEST)
    finally:
        proxy.close()


def test_stats_count_each_kind(meilisearch_backend: MeilisearchBackend) -> None:
    meilisearch_backend.index([post(1, "a"), post(2, "b"), member(3, "c", "c")])
    stats = meilisearch_backend.stats()
    assert stats.backend == "meilisearch"
    assert stats.documents == {KIND_POST: 2, KIND_THREAD: 0, KIND_MEMBER: 1, KIND_MESSAGE: 0}
    assert stats.last_indexed_at is not None


# --- the behaviour cases of both backends -----------------------------------------------------------


def _ids(backend: SearchBackend, text: str, scope: SearchScope, **fields: Any) -> list[tuple[str, int]]:
    result = backend.search(SearchQuery(text=text, **fields), scope)
    return [(hit.kind, hit.id) for hit in result.hits]


@pytest.mark.django_db
def test_a_match_in_a_title_ranks_above_one_in_a_body(backend: SearchBackend) -> None:
    backend.index(
        [
            thread(1, "Notes on the weather", "nothing of note here, just quince jam and more words"),
            thread(2, "Quince jam", "a recipe"),
            thread(3, "Unrelated", "no match at all"),
        ]
    )
    assert _ids(backend, "quince", GUEST, kinds=(KIND_THREAD,)) == [(KIND_THREAD, 2), (KIND_THREAD, 1)]


@pytest.mark.django_db
def test_a_member_is_found_by_a_name_with_a_typo_and_by_its_start(backend: SearchBackend) -> None:
    backend.index([member(1, "Margarita", "rita_garden"), member(2, "Boris", "boris_the_blade")])
    assert _ids(backend, "Margorita", GUEST, kinds=(KIND_MEMBER,)) == [(KIND_MEMBER, 1)]
    assert _ids(backend, "marg", GUEST, kinds=(KIND_MEMBER,)) == [(KIND_MEMBER, 1)]


@pytest.mark.django_db
def test_russian_and_english_word_forms_meet(backend: SearchBackend) -> None:
    backend.index([post(1, "Обсуждаем форум и его правила"), post(2, "This thread is about gardens")])
    assert _ids(backend, "форумы", GUEST) == [(KIND_POST, 1)]
    assert _ids(backend, "threads", GUEST) == [(KIND_POST, 2)]


@pytest.mark.django_db
def test_permissions_apply_inside_the_search(backend: SearchBackend) -> None:
    backend.index(
        [
            thread(1, "zebra in public", forum_id=PUBLIC),
            thread(2, "zebra for agents", forum_id=EXCLUSIVE),
            thread(3, "zebra for staff", forum_id=STAFF_ONLY),
            thread(4, "zebra waiting for moderation", forum_id=PUBLIC, visible=False),
            post(5, "a deleted zebra", forum_id=PUBLIC, visible=False),
            post(6, "a zebra reply", forum_id=PUBLIC),
            message(7, "our zebra secret", (AGENT.viewer_id or 0, OTHER_MEMBER.viewer_id or 0)),
            message(8, "a deleted zebra message", (AGENT.viewer_id or 0,), visible=False),
            member(9, "Zebra Fan", "zebrafan"),
            member(10, "Zebra Gone", "zebragone", visible=False),
        ]
    )
    every_kind = (KIND_POST, KIND_THREAD, KIND_MEMBER, KIND_MESSAGE)

    def seen(scope: SearchScope) -> tuple[set[tuple[str, int]], dict[str, int], int]:
        result = backend.search(SearchQuery(text="zebra", kinds=every_kind, per_page=50), scope)
        return {(hit.kind, hit.id) for hit in result.hits}, dict(result.counts), result.total

    public = {(KIND_THREAD, 1), (KIND_POST, 6), (KIND_MEMBER, 9)}
    hits, counts, total = seen(GUEST)
    assert hits == public
    assert counts == {KIND_POST: 1, KIND_THREAD: 1, KIND_MEMBER: 1, KIND_MESSAGE: 0}
    assert total == 3
    assert seen(MEMBER_WITHOUT_AGENT)[0] == public
    hits, counts, total = seen(AGENT)
    assert hits == public | {(KIND_THREAD, 2), (KIND_MESSAGE, 7)}
    assert counts == {KIND_POST: 1, KIND_THREAD: 2, KIND_MEMBER: 1, KIND_MESSAGE: 1}
    assert total == 5
    assert seen(OTHER_MEMBER)[0] == public | {(KIND_MESSAGE, 7)}
    # Staff read the staff forum and find deactivated members, and no one else's dialog.
    assert seen(STAFF)[0] == public | {(KIND_THREAD, 2), (KIND_THREAD, 3), (KIND_MEMBER, 10)}
    # A forum filter never widens the scope; counts for the tabs obey the scope too.
    narrowed = backend.search(
        SearchQuery(text="zebra", forum_ids=(EXCLUSIVE, STAFF_ONLY), count_kinds=(KIND_MESSAGE,)),
        MEMBER_WITHOUT_AGENT,
    )
    assert (narrowed.hits, narrowed.total) == ((), 0)
    assert narrowed.counts == {KIND_POST: 0, KIND_THREAD: 0, KIND_MESSAGE: 0}


@pytest.mark.django_db
def test_a_snippet_cannot_inject_markup(backend: SearchBackend) -> None:
    backend.index(
        [
            post(
                1,
                '<script>alert(1)</script> the zebra <img src=x onerror="alert(2)"> '
                f"{HIGHLIGHT_START}fake{HIGHLIGHT_STOP}",
                title="<b>bold</b> zebra",
            )
        ]
    )
    (hit,) = backend.search(SearchQuery(text="zebra"), GUEST).hits
    for html in (hit.snippet_html, hit.title_html):
        assert set(re.findall(r"</?([a-zA-Z]+)", html)) <= {"mark"}, html
    assert "<mark>zebra</mark>" in hit.snippet_html
    assert "<mark>fake</mark>" not in hit.snippet_html
    assert "&lt;b&gt;" in hit.title_html


@pytest.mark.django_db
def test_date_sort_filters_and_idempotent_writes(backend: SearchBackend) -> None:
    day = datetime.datetime(2026, 5, 10, 12, tzinfo=datetime.UTC)
    backend.index(
        [
            post(1, "kiwi kiwi kiwi", created_at=day - datetime.timedelta(days=3), author_id=1),
            post(2, "kiwi", created_at=day, author_id=2, has_attachments=True),
            post(3, "kiwi once", created_at=day - datetime.timedelta(days=1), author_id=1),
        ]
    )
    backend.index([post(3, "kiwi once more", created_at=day - datetime.timedelta(days=1), author_id=1)])
    assert _ids(backend, "kiwi", GUEST, sort="date") == [(KIND_POST, 2), (KIND_POST, 3), (KIND_POST, 1)]
    assert _ids(backend, "kiwi", GUEST, author_id=1, sort="date") == [(KIND_POST, 3), (KIND_POST, 1)]
    assert _ids(backend, "kiwi", GUEST, with_attachments=True) == [(KIND_POST, 2)]
    since = (day - datetime.timedelta(days=1)).date()
    assert {i for _, i in _ids(backend, "kiwi", GUEST, date_from=since)} == {2, 3}
    assert _ids(backend, "kiwi", GUEST, date_to=since - datetime.timedelta(days=1)) == [(KIND_POST, 1)]
    assert backend.delete(KIND_POST, [3, 3, 404]) >= 1
    assert backend.delete(KIND_POST, []) == 0
    assert {i for _, i in _ids(backend, "kiwi", GUEST)} == {1, 2}
    backend.clear(KIND_POST)
    assert _ids(backend, "kiwi", GUEST) == []
