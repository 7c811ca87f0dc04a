"""The parts of the results page built per request, made cheap: the filters' form (fields shared with
the class but the forum's), the tabs' links and labels."""

from __future__ import annotations

from django.http import QueryDict
from django.utils import translation

from forum.search.base import ForumChoice
from forum.search.service import SearchForm
from forum.search.views import _link, _tab_label

ONE = ForumChoice(id=1, name="One", depth=0, subtree=(1,))
TWO = ForumChoice(id=2, name="Two", depth=0, subtree=(2,))


def test_each_form_checks_the_forum_against_its_own_viewers_forums() -> None:
    with translation.override("en"):
        mine = SearchForm(QueryDict("q=kettle&forum=1"), forums=[ONE])
        theirs = SearchForm(QueryDict("q=kettle&forum=1"), forums=[TWO])
        garbage = SearchForm(QueryDict("q=kettle&forum=abc"), forums=[ONE, TWO])
        assert mine.is_valid() and mine.cleaned_data["forum"] == 1
        assert not theirs.is_valid()
        assert theirs.errors["forum"] == ["Select a valid choice. 1 is not one of the available choices."]
        assert not garbage.is_valid() and garbage.errors["forum"]
        both = SearchForm(QueryDict("q=kettle&forum=2"), forums=[ONE, TWO])
        assert both.is_valid() and both.cleaned_data["forum"] == 2


def test_the_forms_share_every_field_but_the_forum() -> None:
    first = SearchForm(QueryDict("q=a"), forums=[ONE])
    second = SearchForm(QueryDict("q=b"), forums=[TWO])
    assert first.fields["q"] is second.fields["q"] is SearchForm.base_fields["q"]
    assert first.fields["forum"] is not second.fields["forum"]
    assert SearchForm.base_fields["forum"].allowed == frozenset()  # type: ignore[attr-defined]
    assert first.is_valid() and second.is_valid()
    assert (first.cleaned_data["q"], second.cleaned_data["q"]) == ("a", "b")


def test_a_link_is_the_query_string_with_its_changes() -> None:
    params = QueryDict("q=%D1%84%D0%BE%D1%80%D1%83%D0%BC+&kind=post&page=3&forum=1&forum=2&sort=date")

    def expected(**changes: object) -> str:  # what copying the QueryDict gave
        copy = params.copy()
        for name, value in changes.items():
            copy.pop(name, None)
            if value is not None:
                copy[name] = str(value)
        return "?" + copy.urlencode()

    for changes in ({"kind": "thread", "page": None}, {"page": 4}, {"page": None}, {"absent": None}, {}):
        assert _link(params, **changes) == expected(**changes)


def test_a_tab_says_its_count_in_either_language() -> None:
    with translation.override("en"):
        assert _tab_label("post", None, False) == "Posts"
        assert _tab_label("thread", 1, False) == "1 thread"
        assert _tab_label("member", 200, True) == "more than 200 members"
        assert _tab_label("message", 3, False) == "3 of your messages"
    with translation.override("ru"):
        assert _tab_label("post", None, False) == "Сообщения"
        assert _tab_label("post", 200, True) == "более 200 сообщений"
