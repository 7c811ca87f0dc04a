"""Fixtures of the dialog tests: English messages, an isolated Redis namespace, files on a temporary
disk, members, and clients signed in as any of them (pages and API)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from forum.testing.fixtures import local_upload_storages


@pytest.fixture(autouse=True)
def isolated(english: None, redis_namespace: str, db: None, settings: Any, tmp_path: Path) -> Iterator[None]:
    local_upload_storages(settings, tmp_path)
    yield


@pytest.fixture
def alice(make_member: Callable[..., int]) -> int:
    return make_member()


@pytest.fixture
def bob(make_member: Callable[..., int]) -> int:
    return make_member()


@pytest.fixture
def carol(make_member: Callable[..., int]) -> int:
    return make_member()


@pytest.fixture
def superuser(make_member: Callable[..., int]) -> int:
    return make_member(is_staff=True, is_superuser=True)


Api = Callable[[int | None], APIClient]
Web = Callable[[int | None], Client]


@pytest.fixture
def web(web_as: Web) -> Web:
    """A browser signed in by the session (pages and downloads), or a guest for None: the kernel's
    ``web_as`` under this app's tests' name."""
    return web_as


def username(django_user_model: Any, user_id: int) -> str:
    return str(django_user_model.objects.get(pk=user_id).username)
