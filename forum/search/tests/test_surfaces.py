"""The page and the API say when counting stopped: "more than N", in English and Russian with the
right plural, and fields that tell it a client (``total_is_lower_bound``, ``count_is_lower_bound``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client
from django.utils import translation

from forum.search import base
from forum.search.base import Document, ForumChoice, get_backend

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_forum() -> Iterator[None]:
    """A directory of one forum everybody reads, in place of the thread app's."""
    saved = list(base._FORUM_DIRECTORY)
    base.register_forum_directory(
        lambda viewer_id: [ForumChoice(id=1, name="Kettles", depth=0, subtree=(1,))]
    )
    yield
    base._FORUM_DIRECTORY[:] = saved


def posts(*pks: int) -> list[Document]:
    return [
        Document(kind="post", id=pk, app="thread", title="Tea", body=f"kettle {pk}", forum_id=1, thread_id=1)
        for pk in pks
    ]


def test_past_the_limit_the_page_and_the_api_say_more_than(
    monkeypatch: pytest.MonkeyPatch, one_forum: None
) -> None:
    from forum.search import postgres

    monkeypatch.setattr(postgres, "COUNT_LIMIT", 21)
    backend = get_backend("postgres")
    backend.index(posts(*range(1, 22)))
    client = Client()
    exact = client.get("/api/v1/search", {"q": "kettle"}).json()
    assert (exact["total"], exact["total_is_lower_bound"], exact["count_limit"]) == (21, False, 21)
    assert exact["count_is_lower_bound"]["post"] is False
    assert "21 results" in client.get("/search/", {"q": "kettle"}).content.decode()

    backend.index(posts(22))
    more = client.get("/api/v1/search", {"q": "kettle", "counts": "thread,member"}).json()
    assert (more["total"], more["total_is_lower_bound"], more["pages"]) == (21, True, 2)
    assert more["count_is_lower_bound"] == {"post": True, "thread": False, "member": False}
    assert more["counts"] == {"post": 21, "thread": 0, "member": 0}
    page = client.get("/search/", {"q": "kettle"}).content.decode()
    assert "More than 21 results" in page and "more than 21 posts" in page


def test_only_the_kind_searched_is_counted_unless_the_api_asks_for_more(one_forum: None) -> None:
    """The page's other tabs are links without a count (each count cost about what the search's own
    does); the API counts the kinds ``counts`` names, each one the caller may search."""
    get_backend("postgres").index(posts(1, 2))
    client = Client()
    plain = client.get("/api/v1/search", {"q": "kettle"}).json()
    assert plain["counts"] == {"post": 2} and plain["count_is_lower_bound"] == {"post": False}
    asked = client.get("/api/v1/search", {"q": "kettle", "kind": "thread", "counts": "post, member,post"})
    assert asked.json()["counts"] == {"post": 2, "thread": 0, "member": 0}
    page = client.get("/search/", {"q": "kettle"}).content.decode()
    assert "2 posts" in page and ">Threads</a>" in page and ">Members</a>" in page
    # The tab open found nothing: the others say how many they hold, so the reader sees where to go.
    page = client.get("/search/", {"q": "kettle", "kind": "thread"}).content.decode()
    assert "0 threads" in page and "2 posts" in page and "0 members" in page
    for bad, field in (("posts", "counts"), ("message", "counts")):
        answer = client.get("/api/v1/search", {"q": "kettle", "counts": bad})
        assert answer.status_code == 400 and field in answer.json()["error"]["fields"], answer.content


def test_more_than_in_russian_takes_the_genitive_of_its_number() -> None:
    from forum.search.views import _tab_label, _total_label

    with translation.override("ru"):
        # 21 takes the singular genitive after «более», 2 to 4 and 5 and more the plural.
        assert _total_label(21, True) == "Более 21 результата" and _total_label(21, False) == "21 результат"
        assert _total_label(200, True) == "Более 200 результатов"
        assert _tab_label("post", 21, True) == "более 21 сообщения"
        assert _tab_label("post", 3, True) == "более 3 сообщений"
        assert _tab_label("thread", 200, True) == "более 200 тем"
        assert _tab_label("member", 1, True) == "более 1 участника"
        assert _tab_label("message", 200, True) == "более 200 ваших личных сообщений"
        assert _tab_label("post", 200, False) == "200 сообщений"
