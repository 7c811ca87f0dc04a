"""The static files' storages keep each path's URL (forum/static_urls.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.storage import StaticFilesStorage, staticfiles_storage
from django.template import engines

from forum.static_urls import ManifestStorage, PlainStorage


def test_the_configured_storage_keeps_urls() -> None:
    assert settings.STORAGES["staticfiles"]["BACKEND"] in {
        "forum.static_urls.PlainStorage",
        "forum.static_urls.ManifestStorage",
    }
    staticfiles_storage.url("img/logo.svg")
    assert isinstance(staticfiles_storage._wrapped, PlainStorage | ManifestStorage)  # type: ignore[attr-defined]


def test_the_static_tag_gives_what_django_gives_and_asks_once(monkeypatch: Any) -> None:
    storage = PlainStorage()
    asked: list[str] = []
    original = StaticFilesStorage.url

    def counting(self: Any, name: str) -> str:
        asked.append(name)
        return str(original(self, name))

    monkeypatch.setattr(StaticFilesStorage, "url", counting)
    assert storage.url("css/forum.css") == storage.url("css/forum.css") == original(storage, "css/forum.css")
    assert asked == ["css/forum.css"]


def test_the_manifest_storage_keeps_the_hashed_names(tmp_path: Path, settings: Any) -> None:
    settings.STATIC_ROOT = str(tmp_path)
    (tmp_path / "staticfiles.json").write_text(
        json.dumps({"version": "1.1", "paths": {"css/forum.css": "css/forum.abc123.css"}, "hash": "x"})
    )
    storage = ManifestStorage(location=str(tmp_path))
    assert storage.url("css/forum.css") == "/static/css/forum.abc123.css"
    storage.hashed_files.clear()  # the manifest forgotten: the kept URL still answers
    assert storage.url("css/forum.css") == "/static/css/forum.abc123.css"


def test_pages_get_their_static_urls_through_it() -> None:
    template = engines["django"].from_string("{% load static %}{% static 'img/logo.svg' %}")
    assert template.render({}) == staticfiles_storage.url("img/logo.svg")
    assert "img/logo.svg" in staticfiles_storage._kept  # type: ignore[attr-defined]
