"""Fixtures of the user app's tests: English pages, an isolated Redis namespace, files on a temporary
disk, and a stand-in for the thread app's member activity source."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from apps.user.services import ActivityItem, ActivityPage, MemberCounters, member_activity_source_register


@pytest.fixture(autouse=True)
def isolated(english: None, redis_namespace: str, db: None, tmp_path: Path, settings: Any) -> None:
    settings.MEDIA_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }


@dataclass
class FakeActivity:
    """Answers what the thread app would, and records who asked: the pages must pass the viewer on."""

    threads: dict[int, list[ActivityItem]] = field(default_factory=dict)
    posts: dict[int, list[ActivityItem]] = field(default_factory=dict)
    calls: list[tuple[str, int | None, int, int, int]] = field(default_factory=list)

    def member_counters(self, *, user_id: int) -> MemberCounters:
        return MemberCounters(post_count=len(self.posts.get(user_id, [])), reaction_score=7)

    def _page(self, items: list[ActivityItem], page: int, per_page: int) -> ActivityPage:
        start = (page - 1) * per_page
        return ActivityPage(
            items=tuple(items[start : start + per_page]), number=page, per_page=per_page, total=len(items)
        )

    def member_threads(
        self, *, viewer_id: int | None, author_id: int, page: int, per_page: int
    ) -> ActivityPage:
        self.calls.append(("threads", viewer_id, author_id, page, per_page))
        return self._page(self.threads.get(author_id, []), page, per_page)

    def member_posts(
        self, *, viewer_id: int | None, author_id: int, page: int, per_page: int
    ) -> ActivityPage:
        self.calls.append(("posts", viewer_id, author_id, page, per_page))
        return self._page(self.posts.get(author_id, []), page, per_page)


def activity_item(number: int, title: str, excerpt: str = "") -> ActivityItem:
    return ActivityItem(
        id=number,
        thread_id=number,
        title=title,
        url=f"/threads/{number}/",
        excerpt=excerpt,
        created_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
    )


@pytest.fixture
def activity() -> Iterator[FakeActivity]:
    fake = FakeActivity()
    previous = member_activity_source_register(fake)
    yield fake
    member_activity_source_register(previous)


@pytest.fixture
def no_activity() -> Iterator[None]:
    previous = member_activity_source_register(None)
    yield
    member_activity_source_register(previous)
