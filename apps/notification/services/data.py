"""The plain data the notification services return (frozen dataclasses, never model instances)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from forum.paging import Page


@dataclass(frozen=True)
class KindInfo:
    code: str
    label: str
    description: str
    default_site: bool
    default_email: str
    grouping: str
    app: str


@dataclass(frozen=True)
class KindPreference:
    kind: str
    label: str
    site: bool
    email: str  # immediate, digest or off
    default_site: bool
    default_email: str


@dataclass(frozen=True)
class MemberPreferences:
    auto_watch: bool
    email_enabled: bool
    language: str  # empty: the forum's default
    kinds: tuple[KindPreference, ...]


@dataclass(frozen=True)
class NotificationItem:
    id: int
    kind: str
    text: str  # in the active language
    url: str
    actor_ids: tuple[int, ...]  # newest first
    count: int
    thread_id: int | None
    post_id: int | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    read_at: datetime.datetime | None

    @property
    def is_unread(self) -> bool:
        return self.read_at is None


@dataclass(frozen=True)
class NotificationPage(Page[NotificationItem]):
    unread_count: int
    kind: str  # the filter; empty for every kind


@dataclass(frozen=True)
class WatchItem:
    target: str
    target_id: int
    title: str


@dataclass(frozen=True)
class WatchList:
    threads: tuple[WatchItem, ...]
    forums: tuple[WatchItem, ...]


@dataclass(frozen=True)
class Unsubscribe:
    user_id: int
    kind: str  # a kind's code, or ALL_EMAILS
    label: str
