"""Static files' URLs kept per path (forum/static_urls.py) behind Django's {% static %} syntax."""

from __future__ import annotations

from typing import Any

from django.template import engines
from django.templatetags.static import StaticNode

from forum.fragments import render_fragment
from forum.static_urls import static_url


def test_the_static_tag_gives_what_django_gives_and_asks_the_storage_once(monkeypatch: Any) -> None:
    static_url.cache_clear()
    asked: list[str] = []
    original = StaticNode.handle_simple.__func__  # type: ignore[attr-defined]

    def counting(cls: Any, path: str) -> str:
        asked.append(path)
        return str(original(cls, path))

    monkeypatch.setattr(StaticNode, "handle_simple", classmethod(counting))
    template = engines["django"].from_string(
        "{% load static %}{% static 'css/forum.css' %}|{% static 'css/forum.css' as kept %}{{ kept }}"
    )
    first = template.render({})
    assert first == template.render({})
    url = original(StaticNode, "css/forum.css")
    assert first == f"{url}|{url}"
    assert asked == ["css/forum.css"]


def test_changing_the_static_settings_empties_the_cache(settings: Any) -> None:
    before = static_url("img/logo.svg")
    settings.STATIC_URL = "/elsewhere/"
    after = static_url("img/logo.svg")
    assert after != before and "/elsewhere/" in after


def test_fragments_use_the_same_urls() -> None:
    engine = engines["jinja2"]
    assert engine.env.globals["static"] is static_url
    assert (
        render_fragment("_site_header.jinja", {"member": False, "languages": []}).count(
            static_url("img/logo.svg")
        )
        == 1
    )
