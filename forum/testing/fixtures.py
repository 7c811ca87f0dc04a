"""Shared pytest fixtures for every app's tests (loaded by forum.testing.plugin).

An app's tests may not import another app's, so fixtures more than one app needs live here.
"""

from __future__ import annotations

import datetime
import itertools
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import redis
from django.apps import apps as django_apps
from django.conf import settings as django_settings
from django.utils import timezone, translation

if TYPE_CHECKING:
    from django.test import Client
    from playwright.sync_api import Page
    from rest_framework.test import APIClient

_numbers = itertools.count(1)


@pytest.fixture
def english() -> Iterator[None]:
    """Messages in English unless a request asks otherwise: a request before may have left another
    language active in this thread (LocaleMiddleware activates it and nothing switches it back)."""
    with translation.override("en"):
        yield


@pytest.fixture
def redis_namespace(settings: Any) -> Iterator[str]:
    """Redis keys under a prefix of this test's own: concurrent runs (and xdist workers, whose
    databases hand out the same ids) share one Redis."""
    prefix = f"test-{uuid.uuid4().hex}"
    url = django_settings.REDIS_URL  # before a test points it elsewhere
    settings.REDIS_KEY_PREFIX = prefix
    yield prefix
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def make_member(django_user_model: Any, db: None) -> Callable[..., int]:
    """Makes an account (no usable password: signing in is done with force_login) and returns its id."""

    def make(**fields: Any) -> int:
        number = next(_numbers)
        user = django_user_model.objects.create_user(username=f"member{number}", **fields)
        return int(user.pk)

    return make


@pytest.fixture
def web_as() -> Callable[[int | None], Client]:
    """``web_as(user_id)``: a Django test client signed in by the session as that member (pages,
    downloads), or a guest for None (forum.testing.clients.web_client)."""
    # Imported here: this module is loaded before Django's settings are configured.
    from forum.testing.clients import web_client

    return web_client


@pytest.fixture
def api_as() -> Callable[[int | None], APIClient]:
    """``api_as(user_id)``: a DRF test client authenticated as that member, or a guest for None
    (forum.testing.clients.api_client)."""
    from forum.testing.clients import api_client

    return api_client


def local_upload_storages(settings: Any, root: Path) -> None:
    """Uploads on local disk under ``root`` for one test (``settings``: pytest-django's fixture), laid
    out as in the development profile: public media in ``root/media`` (MEDIA_ROOT, the default
    storage), attachments in ``root/private`` (``STORAGES["private"]``, outside MEDIA_ROOT)."""
    settings.MEDIA_ROOT = root / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "private": {
            "BACKEND": "forum.uploads.PrivateFileSystemStorage",
            "OPTIONS": {"location": str(root / "private")},
        },
    }


@pytest.fixture
def browser_page(monkeypatch: pytest.MonkeyPatch, settings: Any, tmp_path: Path) -> Iterator[Page]:
    """A page of Debian's Chromium (a browser context of its own, in English) for a test against the
    live server, with uploads on local disk under ``tmp_path``; the test is skipped without Chromium."""
    # Imported here: this module is loaded before Django's settings are configured.
    from forum.testing import browser as web

    local_upload_storages(settings, tmp_path)
    web.require_chromium(monkeypatch)
    with web.chromium() as browser:
        yield web.new_page(browser)


class Clock:
    """``django.utils.timezone.now`` under the test's control: it stands still until moved."""

    def __init__(self) -> None:
        self.now = timezone.now()

    def move(self, **delta: float) -> datetime.datetime:
        self.now += datetime.timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    frozen = Clock()
    monkeypatch.setattr(timezone, "now", lambda: frozen.now)
    return frozen


@pytest.fixture
def outbox() -> Callable[[str], list[dict[str, Any]]]:
    """The payloads of the events of one name written to the outbox, oldest first."""

    def events(name: str) -> list[dict[str, Any]]:
        # Looked up by label: this module is loaded before Django's app registry is ready.
        rows = django_apps.get_model("forum", "OutboxEvent").objects.filter(name=name)
        return [row.payload for row in rows.order_by("created_at", "id")]

    return events


@pytest.fixture
def no_open_connection(request: pytest.FixtureRequest, django_db_blocker: Any) -> None:
    """For a test without the database whose code runs ``database_sync_to_async`` (a socket's
    handshake): channels first checks the thread's open connection (``close_old_connections``), and
    one left open by a database test before it on the same worker would count as database access.
    Closed first, so the test passes whatever ran before it."""
    if request.node.get_closest_marker("django_db") is None:
        from django.db import connections

        with django_db_blocker.unblock():
            connections.close_all()


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Callable[[], Any]:
    """``with committed():`` runs what the block's transaction queued for its commit: kept parts'
    versions move, guests' pages are let go and handlers are queued on commit, which never comes inside
    a test's transaction."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def kept_parts(settings: Any, redis_namespace: str) -> None:
    """Kept parts and pages switched on for this test (the test profile's KEPT_PARTS_SECONDS is 0),
    under this test's own Redis keys, with nothing left in the process from a test before."""
    from forum import kept_html, versioned_cache

    settings.KEPT_PARTS_SECONDS = 300
    versioned_cache.local_forget()
    kept_html.forget()
