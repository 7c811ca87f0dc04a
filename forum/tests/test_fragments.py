"""Jinja2 fragments: the same URLs as reverse(), the same words as the Django templates, escaped."""

from __future__ import annotations

import datetime

import pytest
from django.template import engines
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation

from forum.fragments import fragment_context, render_fragment, url


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("thread-forum", (5,)),
        ("thread-post", (123456,)),
        ("thread-attachment", (7, "report final.pdf")),
        ("thread-attachment", (7, "отчёт №1 (копия)?.txt")),
        ("thread-attachment", (8, "100%25 & more#.png")),
        ("thread-attachment-thumbnail", (9, "a b.webp")),
    ],
)
def test_url_says_what_reverse_says(name: str, args: tuple[object, ...]) -> None:
    expected = reverse(name, args=args)
    assert url(name, *args) == expected
    assert url(name, *args) == expected  # the second time from the cached shape


def test_url_refuses_what_reverse_refuses() -> None:
    with pytest.raises(NoReverseMatch):
        url("thread-attachment", 7, "a/b.txt")
    with pytest.raises(NoReverseMatch):
        url("no-such-route", 1)


@pytest.mark.parametrize(
    "moment",
    [
        datetime.datetime(2026, 3, 4, 5, 6, tzinfo=datetime.UTC),
        datetime.datetime(2026, 3, 4, 21, 0, tzinfo=datetime.UTC),  # midnight in Moscow
        datetime.datetime(2026, 12, 31, 9, 0, tzinfo=datetime.UTC),  # noon in Moscow
        datetime.datetime(2026, 7, 1, 10, 30, tzinfo=datetime.UTC),
    ],
)
def test_dates_read_as_the_date_filter_shows_them(moment: datetime.datetime) -> None:
    django = engines["django"].from_string('{{ when|date:"SHORT_DATETIME_FORMAT" }}|{{ when|date:"c" }}')
    jinja = engines["jinja2"].env.from_string("{{ when|datetime_short }}|{{ when|datetime_iso }}")
    for language in ("en", "ru"):
        for zone in ("Europe/Moscow", "America/New_York"):
            with translation.override(language), timezone.override(zone):
                expected = django.render({"when": moment})
                # Twice: the second answer comes from the cache, which must know the language and zone.
                for _ in range(2):
                    assert jinja.render(fragment_context({"when": moment})) == expected
    assert jinja.render(fragment_context({"when": None})) == "|"


def test_year_month_reads_as_the_date_filter_shows_it() -> None:
    django = engines["django"].from_string('{{ when|date:"YEAR_MONTH_FORMAT" }}')
    jinja = engines["jinja2"].env.from_string("{{ when|year_month }}")
    moment = datetime.datetime(2026, 3, 31, 22, 30, tzinfo=datetime.UTC)  # April already in Moscow
    for language in ("en", "ru"):
        for zone in ("Europe/Moscow", "America/New_York"):
            with translation.override(language), timezone.override(zone):
                expected = django.render({"when": moment})
                for _ in range(2):  # the second answer from the cache, which must know the language
                    assert jinja.render(fragment_context({"when": moment})) == expected
    with translation.override("en"), timezone.override("Europe/Moscow"):
        assert jinja.render(fragment_context({"when": moment})) == "April 2026"
    assert jinja.render(fragment_context({"when": None})) == ""


def test_fragments_escape_and_translate() -> None:
    template = engines["jinja2"].from_string(
        "<b>{{ name }}</b> "
        "{% trans counter=n %}{{ counter }} thread{% pluralize %}{{ counter }} threads{% endtrans %}"
    )
    for _ in range(2):  # the second time from the cache of translations, which must know the language
        with translation.override("ru"):
            html = template.render(fragment_context({"name": "<script>x</script>", "n": 5}))
        assert "<b>&lt;script&gt;x&lt;/script&gt;</b>" in html
        assert "5 тем" in html
        with translation.override("en"):
            assert "5 threads" in template.render(fragment_context({"name": "", "n": 5}))


def test_fragments_get_the_request_and_its_csrf_field() -> None:
    request = RequestFactory().get("/")
    html = engines["jinja2"].from_string("{{ csrf_input }}|{{ request.path }}").render({}, request)
    assert 'name="csrfmiddlewaretoken"' in html and html.endswith("|/")


def test_render_fragment_is_safe_html_for_a_django_page() -> None:
    html = render_fragment("thread/_forum_table.jinja", {"forums": []}, RequestFactory().get("/"))
    page = engines["django"].from_string("{{ fragment }}").render({"fragment": html})
    assert page.startswith('<ul class="forum-tree">')
