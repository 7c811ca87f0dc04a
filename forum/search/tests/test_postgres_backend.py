"""The PostgreSQL backend on documents given directly: matching, ranking, morphology, members,
permissions inside the query and safe snippets."""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from forum.search.base import CUT_MARKER, Document, SearchQuery, SearchScope, get_backend

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def post(pk: int, body: str, *, forum: int = 1, thread: int = 100, **extra: object) -> Document:
    fields: dict[str, object] = {
        "kind": "post",
        "id": pk,
        "app": "thread",
        "title": "Thread title",
        "body": body,
        "forum_id": forum,
        "thread_id": thread,
        "author_id": 7,
        "created_at": NOW,
        **extra,
    }
    return Document(**fields)  # type: ignore[arg-type]


def thread(pk: int, title: str, body: str = "", *, forum: int = 1, **extra: object) -> Document:
    fields: dict[str, object] = {
        "kind": "thread",
        "id": pk,
        "app": "thread",
        "title": title,
        "body": body,
        "forum_id": forum,
        "thread_id": pk,
        "author_id": 7,
        "created_at": NOW,
        **extra,
    }
    return Document(**fields)  # type: ignore[arg-type]


def member(pk: int, display: str, username: str) -> Document:
    return Document(kind="member", id=pk, app="user", title=display, body=username, created_at=NOW)


READER = SearchScope(readable_forum_ids=frozenset({1}), viewer_id=7)


def ids(result: object) -> list[tuple[str, int]]:
    return [(hit.kind, hit.id) for hit in result.hits]  # type: ignore[attr-defined]


def test_title_ranks_above_body() -> None:
    backend = get_backend("postgres")
    backend.index(
        [thread(1, "Unrelated words", "the kettle is boiling"), thread(2, "Kettle repair", "nothing")]
    )
    result = backend.search(SearchQuery(text="kettle", kinds=("thread",)), READER)
    assert ids(result) == [("thread", 2), ("thread", 1)]
    assert result.total == 2


def test_russian_and_english_morphology() -> None:
    backend = get_backend("postgres")
    backend.index([post(1, "Лучший форум о чайниках"), post(2, "Open a thread about kettles")])
    assert ids(backend.search(SearchQuery(text="форумы"), READER)) == [("post", 1)]
    assert ids(backend.search(SearchQuery(text="threads"), READER)) == [("post", 2)]
    assert ids(backend.search(SearchQuery(text="чайник"), READER)) == [("post", 1)]


def test_index_is_idempotent_and_replaces() -> None:
    backend = get_backend("postgres")
    backend.index([post(1, "first words")])
    backend.index([post(1, "second words"), post(1, "third words")])
    assert backend.search(SearchQuery(text="first"), READER).total == 0
    assert backend.search(SearchQuery(text="second"), READER).total == 0
    assert ids(backend.search(SearchQuery(text="third"), READER)) == [("post", 1)]
    assert backend.stats().documents["post"] == 1
    backend.delete("post", [1, 2])
    assert backend.search(SearchQuery(text="third"), READER).total == 0


def test_permissions_are_inside_the_query() -> None:
    backend = get_backend("postgres")
    backend.index(
        [
            post(1, "secret kettle", forum=2),
            post(2, "hidden kettle", visible=False),
            post(3, "public kettle"),
            Document(kind="message", id=4, app="dialog", body="kettle in private", participant_ids=(8, 9)),
            Document(kind="message", id=5, app="dialog", body="kettle for me", participant_ids=(7, 9)),
        ]
    )
    everything = ("post", "thread", "message")
    result = backend.search(SearchQuery(text="kettle", kinds=everything), READER)
    assert sorted(ids(result)) == [("message", 5), ("post", 3)]
    assert result.counts == {"post": 1, "thread": 0, "message": 1}
    guest = backend.search(SearchQuery(text="kettle", kinds=everything), SearchScope.guest([1]))
    assert ids(guest) == [("post", 3)]
    # A forum filter never widens the scope.
    narrowed = backend.search(SearchQuery(text="kettle", forum_ids=(2,)), READER)
    assert narrowed.total == 0 and narrowed.hits == ()


def test_members_by_prefix_and_typo() -> None:
    backend = get_backend("postgres")
    backend.index(
        [member(1, "Alice Liddell", "alice"), member(2, "Bob Builder", "bobby"), member(3, "Алёна", "alyona")]
    )
    assert ids(backend.search(SearchQuery(text="ali", kinds=("member",)), READER))[0] == ("member", 1)
    assert ids(backend.search(SearchQuery(text="alise", kinds=("member",)), READER)) == [("member", 1)]
    assert ids(backend.search(SearchQuery(text="bob", kinds=("member",)), READER)) == [("member", 2)]
    assert ids(backend.search(SearchQuery(text="Алё", kinds=("member",)), READER)) == [("member", 3)]


def test_snippets_escape_the_content() -> None:
    backend = get_backend("postgres")
    hostile = '<script>alert("x")</script> <b onclick="y">kettle</b> \x02boom\x03 &amp; <img src=x>'
    backend.index([post(1, f"kettle {hostile}"), thread(2, f"kettle {hostile}", "kettle")])
    hits = backend.search(SearchQuery(text="kettle"), READER).hits
    assert len(hits) == 2
    for hit in hits:
        for html in (hit.snippet_html, hit.title_html):
            # The only markup is our own <mark>; whatever else the content held is text.
            assert re.sub(r"</?mark>", "", html).count("<") == 0, html
        assert "<mark>kettle</mark>" in hit.snippet_html
        assert "<mark>boom</mark>" not in hit.snippet_html
    thread_hit = next(hit for hit in hits if hit.kind == "thread")
    assert "&lt;script&gt;" in thread_hit.title_html or "script" not in thread_hit.title_html


def test_safe_highlight_marks_only_paired_markers() -> None:
    """Escaped whole, then marked (forum.search.base.safe_highlight): the same answer as escaping each
    piece between the markers, stray and nested markers dropped."""
    from django.utils.safestring import SafeString

    from forum.search.base import safe_highlight

    cases = {
        "a \x02kettle\x03 & <b>": "a <mark>kettle</mark> &amp; &lt;b&gt;",
        "\x02a\x02b\x03c\x03": "<mark>ab</mark>c",
        "stray \x03 and \x02 open": "stray  and  open",
        "\"\x02<x>\x03'": "&quot;<mark>&lt;x&gt;</mark>&#x27;",
        "": "",
    }
    for marked, expected in cases.items():
        result = safe_highlight(marked)
        assert result == expected and isinstance(result, SafeString), marked


def test_a_hits_dates_come_back_exactly() -> None:
    """The page's dates are read as microseconds since the epoch (cheaper to load than a timestamptz):
    the same aware datetimes, to the microsecond, and None where there is none."""
    backend = get_backend("postgres")
    created = datetime.datetime(2026, 3, 1, 12, 30, 45, 123456, tzinfo=datetime.UTC)
    updated = created + datetime.timedelta(days=400, microseconds=1)
    backend.index(
        [
            post(1, "kettle", created_at=created, updated_at=updated),
            post(2, "kettle", created_at=datetime.datetime(1969, 7, 20, 20, 17, 40, 1, tzinfo=datetime.UTC)),
            member(3, "kettle_fan", "Kettle Fan"),
        ]
    )
    hits = {hit.id: hit.document for hit in backend.search(SearchQuery(text="kettle"), READER).hits}
    assert hits[1].created_at == created and hits[1].updated_at == updated
    assert hits[1].created_at.utcoffset() == datetime.timedelta(0)
    assert hits[2].created_at == datetime.datetime(1969, 7, 20, 20, 17, 40, 1, tzinfo=datetime.UTC)
    assert hits[2].updated_at is None
    member_hits = backend.search(SearchQuery(text="kettle_fan", kinds=("member",)), READER).hits
    assert [hit.document.created_at for hit in member_hits] == [NOW]


def test_filters_and_date_sort() -> None:
    backend = get_backend("postgres")
    old = NOW - datetime.timedelta(days=10)
    backend.index(
        [
            post(1, "kettle old", created_at=old),
            post(2, "kettle new kettle kettle", has_attachments=True, author_id=8),
            post(3, "kettle middle", created_at=NOW - datetime.timedelta(days=1)),
        ]
    )
    by_date = backend.search(SearchQuery(text="kettle", sort="date"), READER)
    assert ids(by_date) == [("post", 2), ("post", 3), ("post", 1)]
    assert ids(backend.search(SearchQuery(text="kettle", with_attachments=True), READER)) == [("post", 2)]
    assert ids(backend.search(SearchQuery(text="kettle", author_id=8), READER)) == [("post", 2)]
    ranged = SearchQuery(text="kettle", date_to=(old + datetime.timedelta(days=1)).date())
    assert ids(backend.search(ranged, READER)) == [("post", 1)]
    paged = backend.search(SearchQuery(text="kettle", sort="date", per_page=2, page=2), READER)
    assert ids(paged) == [("post", 1)] and paged.total == 3 and paged.pages == 2


def test_counts_are_exact_up_to_the_limit_and_say_more_beyond(monkeypatch: pytest.MonkeyPatch) -> None:
    from forum.search import postgres

    monkeypatch.setattr(postgres, "COUNT_LIMIT", 2)
    backend = get_backend("postgres")
    backend.index([post(1, "kettle 1"), post(2, "kettle 2"), thread(3, "Kettles")])
    exact = backend.search(SearchQuery(text="kettle", kinds=("post",), count_kinds=("thread",)), READER)
    # Exactly the limit is not "more than" it.
    assert (exact.total, exact.counts, exact.lower_bounds, exact.total_is_lower_bound) == (
        2,
        {"post": 2, "thread": 1},
        frozenset(),
        False,
    )
    backend.index(
        [post(pk, f"kettle {pk}") for pk in range(3, 6)] + [thread(4, "Kettle"), thread(5, "Kettle")]
    )
    for kinds in (("post",), ("post", "thread")):  # one kind (the page's window), several kinds
        more = backend.search(SearchQuery(text="kettle", kinds=kinds, count_kinds=("thread",)), READER)
        assert (more.total, more.counts["post"], more.counts["thread"], more.count_limit) == (
            2 * len(kinds),
            2,
            2,
            2,
        )
        assert more.lower_bounds == {"post", "thread"} and more.total_is_lower_bound
        assert len(more.hits) == 2 * len(kinds)  # the page reaches as far as the counts, no further
    beyond = backend.search(SearchQuery(text="kettle", kinds=("post",), per_page=2, page=2), READER)
    assert beyond.hits == () and beyond.total == 2


def test_one_statement_a_search_whatever_it_counts(django_assert_num_queries: object) -> None:
    backend = get_backend("postgres")
    backend.index([post(1, "kettle one"), thread(2, "kettle two"), member(3, "Kettle Fan", "kettler")])
    query = SearchQuery(text="kettle", kinds=("post",), count_kinds=("thread", "member", "message"))
    with django_assert_num_queries(1):  # type: ignore[operator]
        result = backend.search(query, READER)
    assert ids(result) == [("post", 1)]
    assert result.counts == {"post": 1, "thread": 1, "member": 1, "message": 0}
    nothing = SearchQuery(text="teapot", kinds=("post",), count_kinds=("thread",))
    with django_assert_num_queries(1):  # type: ignore[operator]
        empty = backend.search(nothing, READER)
    assert (empty.hits, empty.total, empty.counts) == ((), 0, {"post": 0, "thread": 0})


def test_the_window_counts_one_kind_and_ranks_its_newest_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    from forum.search import postgres

    monkeypatch.setattr(postgres, "COUNT_LIMIT", 3)
    backend = get_backend("postgres")
    # The oldest post matches best, but only the newest three matches are ranked.
    backend.index(
        [post(1, "kettle kettle kettle kettle", created_at=NOW - datetime.timedelta(days=9))]
        + [post(pk, f"kettle {pk}", created_at=NOW - datetime.timedelta(days=pk)) for pk in range(2, 6)]
        + [post(9, "kettle hidden", visible=False), post(10, "kettle elsewhere", forum=2)]
    )
    result = backend.search(SearchQuery(text="kettle", kinds=("post",)), READER)
    assert (result.total, result.counts["post"], result.total_is_lower_bound) == (3, 3, True)
    assert sorted(ids(result)) == [("post", 2), ("post", 3), ("post", 4)]
    monkeypatch.setattr(postgres, "COUNT_LIMIT", 10)
    everything = backend.search(SearchQuery(text="kettle", kinds=("post",)), READER)
    assert everything.total == 5 and ids(everything)[0] == ("post", 1)


def test_members_starting_with_the_text_come_before_similar_ones() -> None:
    backend = get_backend("postgres")
    backend.index(
        [
            member(1, "Alice Liddell", "alice"),
            member(2, "Alicia Keys", "alicia"),
            member(3, "Alise Smith", "alise"),
            Document(kind="member", id=4, app="user", title="Alice Closed", body="alice_c", visible=False),
        ]
    )
    full = backend.search(SearchQuery(text="alice", kinds=("member",)), READER)
    # Names starting with "alice" first (the closed account is not found), then the merely similar.
    assert ids(full)[:1] == [("member", 1)] and ("member", 4) not in ids(full)
    assert set(ids(full)[1:]) == {("member", 2), ("member", 3)} and full.total == 3
    # A page the names starting so fill, and the page after it, reached through the similar ones.
    first = backend.search(SearchQuery(text="alic", kinds=("member",), per_page=2), READER)
    second = backend.search(SearchQuery(text="alic", kinds=("member",), per_page=2, page=2), READER)
    everyone = backend.search(SearchQuery(text="alic", kinds=("member",), per_page=10), READER)
    assert ids(first) + ids(second) == ids(everyone)
    assert set(ids(first)) == {("member", 1), ("member", 2)} and ids(second) == [("member", 3)]
    staff = SearchScope(readable_forum_ids=frozenset({1}), viewer_id=7, is_staff=True)
    assert ("member", 4) in ids(backend.search(SearchQuery(text="alice", kinds=("member",)), staff))


def test_a_lookup_that_needs_no_counts_does_not_count() -> None:
    backend = get_backend("postgres")
    backend.index([member(pk, f"Bench {pk}", f"bench-{pk:04d}") for pk in range(1, 6)])
    lookup = backend.search(
        SearchQuery(text="bench-000", kinds=("member",), per_page=3, counted=False), READER
    )
    assert len(lookup.hits) == 3 and lookup.counts == {} and lookup.count_limit is None
    assert lookup.total == 3
    counted = backend.search(SearchQuery(text="bench-000", kinds=("member",), per_page=3), READER)
    assert ids(counted) == ids(lookup) and counted.counts == {"member": 5}


def test_members_newest_first_when_asked() -> None:
    backend = get_backend("postgres")
    backend.index(
        [
            Document(kind="member", id=1, app="user", title="Alice", body="alice", created_at=NOW),
            Document(
                kind="member",
                id=2,
                app="user",
                title="Alise",
                body="alise",
                created_at=NOW + datetime.timedelta(days=1),
            ),
        ]
    )
    by_relevance = backend.search(SearchQuery(text="alice", kinds=("member",)), READER)
    by_date = backend.search(SearchQuery(text="alice", kinds=("member",), sort="date"), READER)
    assert ids(by_relevance) == [("member", 1), ("member", 2)]
    assert ids(by_date) == [("member", 2), ("member", 1)]


@pytest.mark.parametrize("walk", [1, 100])
@pytest.mark.parametrize("text", ["kettle", '"red kettle"'])
def test_the_window_is_the_newest_matches_whichever_way_it_is_found(
    monkeypatch: pytest.MonkeyPatch, text: str, walk: int
) -> None:
    """Found through the full-text index (a few matches; or many, but not among the newest documents)
    or by the walk over the newest documents (many among them): the same matches, the same counts,
    and never a hidden or unreadable document, whichever way the window was found."""
    from forum.search import postgres

    monkeypatch.setattr(postgres, "COUNT_LIMIT", 3)
    monkeypatch.setattr(postgres, "WALK_LIMIT", walk)
    backend = get_backend("postgres")

    def ago(days: float) -> datetime.datetime:
        return NOW - datetime.timedelta(days=days)

    def newest_first() -> tuple[list[int], int, bool]:
        result = backend.search(SearchQuery(text=text, kinds=("post",), sort="date"), READER)
        return [hit.id for hit in result.hits], result.total, result.total_is_lower_bound

    # Newest of all, never found: hidden, or in a forum the reader may not read.
    backend.index(
        [
            post(90, "red kettle", created_at=NOW, visible=False),
            post(91, "red kettle", forum=2, created_at=NOW),
        ]
    )
    backend.index([post(1, "a red kettle", created_at=ago(10)), post(2, "red kettle", created_at=ago(11))])
    backend.index([post(80, "a blue teapot", created_at=ago(5))])
    assert newest_first() == ([1, 2], 2, False)  # a few: every match
    backend.index([post(pk, "the red kettle", created_at=ago(20 + pk)) for pk in range(3, 7)])
    backend.index([post(80 + pk, "a blue teapot", created_at=ago(1 + pk / 10)) for pk in range(1, 5)])
    assert newest_first() == ([1, 2, 3], 3, True)  # many, none among the newest documents
    backend.index([post(pk, "red kettle again", created_at=ago(pk / 100)) for pk in range(7, 11)])
    assert newest_first() == ([7, 8, 9], 3, True)  # many among the newest
    ranked = backend.search(SearchQuery(text=text, kinds=("post",)), READER)
    assert sorted(hit.id for hit in ranked.hits) == [7, 8, 9]
    # Words never found together: nothing, through either way.
    assert backend.search(SearchQuery(text='"kettle red"', kinds=("post",)), READER).total == 0
    assert backend.search(SearchQuery(text="kettle teapot", kinds=("post",)), READER).total == 0


def test_the_authors_names_come_with_the_hits(django_assert_num_queries: object) -> None:
    from forum.search.service import run

    backend = get_backend("postgres")
    backend.index(
        [post(1, "kettle one"), post(2, "kettle two", author_id=8), member(7, "kettle_fan", "Kettle Fan")]
    )
    result = backend.search(SearchQuery(text="kettle", kinds=("post",)), READER)
    assert {hit.id: hit.author_name for hit in result.hits} == {1: "kettle_fan", 2: None}  # 8 not indexed
    # The page names the authors the index holds without another query; one it does not hold yet
    # (its member document not written yet) through the member source.
    with django_assert_num_queries(1):  # type: ignore[operator]
        found = run(SearchQuery(text="one", kinds=("post",)), READER, ())
    assert found.authors == {7: "kettle_fan"}
    with django_assert_num_queries(2):  # type: ignore[operator]
        found = run(SearchQuery(text="two", kinds=("post",)), READER, ())
    assert found.authors == {}  # no member 8 anywhere


def test_a_page_sends_the_snippet_of_a_post_not_its_whole_body() -> None:
    """A post's text comes back as its highlighted snippet only (a whole post can be kilobytes); a
    member's body (the name shown beside the title) comes back whole."""
    backend = get_backend("postgres")
    long_body = "The kettle whistles. " + "Filler words about nothing in particular. " * 200
    backend.index([post(1, long_body), member(2, "Kettle Keeper", "kettle_keeper")])
    hit = backend.search(SearchQuery(text="kettle"), READER).hits[0]
    assert hit.document.body == "" and "<mark>kettle</mark>" in hit.snippet_html
    assert len(hit.snippet_html) < 400
    found = backend.search(SearchQuery(text="kettle", kinds=("member",)), READER).hits[0]
    assert (found.document.title, found.document.body) == ("Kettle Keeper", "kettle_keeper")


def test_a_long_posts_snippet_is_cut_around_its_first_match() -> None:
    """A snippet is made from a window of a long text (``SNIPPET_WINDOW`` characters from a little
    before the first place a word of the query appears, the word cut in two dropped): the match far
    down a long post is shown and marked, its start is not; Russian and English forms are found; a
    text where no form appears literally is cut from its start; a short one is whole."""
    from forum.search import postgres

    filler = "Nothing to see in this sentence at all. " * 300  # 12,000 characters
    backend = get_backend("postgres")
    backend.index(
        [
            post(1, "Opening words here. " + filler + "Kettles whistle loudly when the water boils."),
            post(2, "Начало текста. " + "Здесь ничего интересного нет. " * 300 + "Лучшие форумы о чайниках."),
            post(3, "A short kettle post."),
            # "happy" is indexed as "happi", which the word itself does not hold.
            post(4, filler + "We are happy."),
        ]
    )
    snippets = {
        hit.id: str(hit.snippet_html)
        for text in ("kettle", "форум", "happy")
        for hit in backend.search(SearchQuery(text=text), READER).hits
    }
    assert "<mark>Kettles</mark> whistle" in snippets[1] and "Opening" not in snippets[1]
    assert "<mark>форумы</mark> о чайниках" in snippets[2] and "Начало" not in snippets[2]
    assert snippets[3] == "A short <mark>kettle</mark> post."
    # Found, but cut from its start: the window never reaches the end of a long text.
    assert snippets[4].startswith("Nothing to see") and "<mark>" not in snippets[4]
    # Where a snippet starts after its text's start or ends before its end, it says so.
    marker = CUT_MARKER
    assert snippets[1].startswith(marker) and not snippets[1].endswith(marker), snippets[1][-60:]
    assert snippets[2].startswith(marker) and not snippets[2].endswith(marker), snippets[2][-60:]
    assert snippets[4].endswith(marker) and not snippets[4].startswith(marker)
    for text, words in ((snippets[1], filler), (snippets[2], "Здесь ничего интересного нет. ")):
        assert len(text) < postgres.SNIPPET_WINDOW
        # Starts on a whole word of the filler, not on the half of one cut in two.
        assert text.removeprefix(marker).split()[0] in words.split(), text[:40]


def test_a_short_posts_snippet_is_the_whole_post_every_match_marked() -> None:
    """ts_headline makes a snippet of the stretch between the matches it ranks best, then fills it to
    its minimum: a short post with two matches lost its first words although all of it fits in a
    snippet. Up to ``SNIPPET_WHOLE`` characters a text is shown whole; a longer one is still cut to
    about 35 words."""
    from forum.search import postgres

    short = "Мне больше всего нравятся небольшие форумы, где все знают друг друга. А какие форумы читаете вы?"
    english = "I like small forums, where everyone knows the name of everyone. Which forums do you read?"
    longer = "Some opening words that set the scene. " * 6 + "Then the forums come up. " + "More after. " * 10
    assert len(short) <= postgres.SNIPPET_WHOLE < len(longer)
    backend = get_backend("postgres")
    backend.index([post(1, short), post(2, english), post(3, longer)])
    russian = backend.search(SearchQuery(text="форум"), READER).hits
    assert [str(hit.snippet_html) for hit in russian] == [short.replace("форумы", "<mark>форумы</mark>")]
    found = backend.search(SearchQuery(text="forums"), READER).hits
    snippets = {hit.id: str(hit.snippet_html) for hit in found}
    assert snippets[2] == english.replace("forums", "<mark>forums</mark>")
    assert "<mark>forums</mark>" in snippets[3] and len(snippets[3].split()) <= 36


def test_a_cut_snippet_says_where_it_was_cut() -> None:
    """A long text's snippet starts with "…" where it starts after the text's start and ends with it
    where it ends before the text's end: a snippet around a match in the middle, the start of a text
    found by a filter alone (no words), and not a long text that a snippet holds whole."""
    from forum.search import postgres

    marker = CUT_MARKER
    middle = (
        "Early words open this long text. " * 8 + "The kettle sings here. " + "Later words close it. " * 8
    )
    words_only = "Thirty one words, " * 10 + "kettle."  # over 240 characters, under 35 words
    backend = get_backend("postgres")
    backend.index([post(1, middle), post(2, words_only, author_id=9)])
    found = {hit.id: str(hit.snippet_html) for hit in backend.search(SearchQuery(text="kettle"), READER).hits}
    assert found[1].startswith(marker) and found[1].endswith(marker) and "<mark>kettle</mark>" in found[1]
    assert not found[2].startswith(marker) and not found[2].endswith(marker), found[2]
    (by_filter,) = backend.search(SearchQuery(text="", author_id=7), READER).hits
    assert str(by_filter.snippet_html).startswith("Early words") and str(by_filter.snippet_html).endswith(
        marker
    )
    # An edge that is one long word cut in two is not compared: no marker rather than a wrong one.
    html = postgres.SafeString("longword")
    assert (
        postgres._cut_ends(html, "longword", "x" * postgres.CUT_EDGE, "x" * postgres.CUT_EDGE) == "longword"
    )
