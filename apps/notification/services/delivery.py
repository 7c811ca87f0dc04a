"""Delivery: each member's channels, the one insert (or update) of a fan-out, the emails it asks for,
and the live frames pushed after the commit (``notification.new``, ``notification.read``)."""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from django.db import connection, transaction
from django.utils import timezone

from apps.notification import kinds as registry
from apps.notification import selectors
from apps.notification.events import NotificationEmailsRequested, NotificationsPushRequested
from apps.notification.kinds import EmailChannel, Grouping, NotificationKind
from apps.notification.models import SOURCE_MAX_LENGTH, Notification
from apps.notification.services._common import _EMAIL_VALUES, logger
from forum import member_cache
from forum.bus import publish
from forum.realtime import asend_to_user, send_to_users

# A fan-out to more members than this is pushed in shares of _PUSH_SHARE, one event each, which the
# notification queue's worker processes take side by side.
_PUSH_INLINE_MAX = 200
_PUSH_SHARE = 250
# Kept per grouped notification (reactors): enough to count them and name the latest.
_ACTORS_KEPT = 10_000
NEW_FRAME = "notification.new"
READ_FRAME = "notification.read"

# --- Choices ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Channels:
    site: bool
    email: EmailChannel

    @property
    def any(self) -> bool:
        return self.site or self.email is not EmailChannel.OFF


def _channels(user_ids: Collection[int], kind_codes: Collection[str]) -> dict[tuple[int, str], _Channels]:
    """Each member's channels for each kind: their choice, else the kind's default; no email at all
    for members who turned emails off (two queries)."""
    stored = selectors.preference_rows(user_ids=user_ids, kinds=kind_codes)
    silent = selectors.emails_off(user_ids=user_ids)
    found: dict[tuple[int, str], _Channels] = {}
    for code in kind_codes:
        kind = registry.get(code)
        if kind is None:
            continue
        for user_id in user_ids:
            site, email = stored.get((user_id, code), (kind.default_site, str(kind.default_email)))
            channel = EmailChannel(email) if email in _EMAIL_VALUES else EmailChannel.OFF
            if user_id in silent:
                channel = EmailChannel.OFF
            found[(user_id, code)] = _Channels(site=site, email=channel)
    return found


# --- The header's count ----------------------------------------------------------------------------------

# The member's unread notifications on the site, kept per member in Redis (forum.member_cache): every
# change of a member's unread rows moves their scope in its transaction; a change too wide to name its
# members (a deleted thread's or post's notifications) moves the shared scope, which every count has.
UNREAD_PART = "notification.unread"
UNREAD_SCOPE = "notification-unread:{id}"
UNREAD_ALL_SCOPE = "notification-unread"
member_cache.register(UNREAD_PART, UNREAD_SCOPE, UNREAD_ALL_SCOPE)


def _unread_changed(user_ids: Collection[int]) -> None:
    """The counts of ``user_ids`` change with the current transaction."""
    member_cache.changed(UNREAD_SCOPE, user_ids)


def unread_count_kept(*, user_id: int) -> int:
    """The header's count on every page: kept until the member's unread notifications change, read
    from the database otherwise (one query)."""
    return member_cache.read(UNREAD_PART, user_id, lambda: selectors.unread_count(user_id=user_id))


# --- Delivery ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _About:
    """What a notification is about, the same for all its recipients."""

    source: str
    actor_id: int | None
    params: Mapping[str, Any]
    thread_id: int | None = None
    post_id: int | None = None


def _deliver(candidates: Mapping[int, Sequence[str]], about: _About, *, upgrade: bool = False) -> list[int]:
    """Notify each candidate of ``about`` under the first of their candidate kinds they have not
    switched off. Returns the members who got something new. Must run in a transaction.

    A constant number of queries whatever the number of recipients: their choices (two), their rows
    about this source (one), one insert, at most one update, one outbox row for the emails and one
    count for the live badges. ``upgrade`` lets a row of a weaker kind become a mention (an edit that
    mentions a member who was told of the post as a reply).
    """
    recipients = {
        user_id: tuple(codes)
        for user_id, codes in candidates.items()
        if 0 < user_id < 2**63 and user_id != about.actor_id and codes
    }
    if not recipients:
        return []
    if len(about.source) > SOURCE_MAX_LENGTH:
        raise ValueError(f"notification source {about.source!r} is too long")
    codes = {code for kinds in recipients.values() for code in kinds}
    channels = _channels(recipients, codes)
    chosen: dict[int, tuple[NotificationKind, _Channels]] = {}
    for user_id, kinds in recipients.items():
        for code in kinds:
            kind = registry.get(code)
            wanted = channels.get((user_id, code))
            if kind is not None and wanted is not None and wanted.any:
                chosen[user_id] = (kind, wanted)
                break
    if not chosen:
        return []

    now = timezone.now()
    existing = selectors.existing_for(source=about.source, recipient_ids=chosen)
    fresh: list[tuple[int, str, bool, str]] = []  # recipient, kind, on the site, email
    changed: list[Notification] = []
    for user_id, (kind, wanted) in chosen.items():
        row = existing.get(user_id)
        if row is None:
            fresh.append((user_id, kind.code, wanted.site, wanted.email.value))
        elif _update(row, kind, wanted, about, now, upgrade=upgrade):
            changed.append(row)

    made = _insert(fresh, about, now)
    _unread_changed([*made, *(row.recipient_id for row in changed)])
    if changed:
        Notification.objects.bulk_update(
            changed,
            [
                "kind",
                "actor_ids",
                "count",
                "params",
                "on_site",
                "email",
                "emailed_at",
                "updated_at",
                "read_at",
            ],
        )
    to_mail = [made[user_id] for user_id, _kind, _site, email in fresh if email == EmailChannel.IMMEDIATE]
    to_mail += [row.pk for row in changed if row.email == EmailChannel.IMMEDIATE and row.emailed_at is None]
    if to_mail:
        publish(NotificationEmailsRequested(notification_ids=tuple(to_mail)))
    shown = {user_id: (made[user_id], code) for user_id, code, site, _email in fresh if site}
    shown.update({row.recipient_id: (row.pk, row.kind) for row in changed if row.on_site})
    _push_after_commit(shown)
    return sorted([*made, *(row.recipient_id for row in changed)])


def _insert(
    rows: Sequence[tuple[int, str, bool, str]], about: _About, now: datetime.datetime
) -> dict[int, int]:
    """Write the new rows in ONE statement (an INSERT from arrays, whatever their number: binding
    the columns of a thousand rows one placeholder each costs more than the insert itself); returns
    each recipient's new notification id. A row made meanwhile by another worker fails the unique
    index, and the bus retries the whole handler, which then finds and updates it."""
    if not rows:
        return {}
    recipients, kinds, sites, emails = (list(column) for column in zip(*rows, strict=True))
    table = Notification._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (recipient_id, kind, source, actor_ids, count, params, thread_id, post_id, "
            "on_site, email, emailed_at, created_at, updated_at, read_at) "
            "SELECT r, k, %s, %s::bigint[], 1, %s::jsonb, %s, %s, s, e, NULL, %s, %s, NULL "
            "FROM unnest(%s::bigint[], %s::varchar[], %s::boolean[], %s::varchar[]) AS t(r, k, s, e) "
            "RETURNING id, recipient_id",
            [
                about.source,
                [about.actor_id] if about.actor_id else [],
                json.dumps(dict(about.params)),
                about.thread_id,
                about.post_id,
                now,
                now,
                recipients,
                kinds,
                sites,
                emails,
            ],
        )
        return {int(recipient): int(pk) for pk, recipient in cursor.fetchall()}


def _update(
    row: Notification,
    kind: NotificationKind,
    wanted: _Channels,
    about: _About,
    now: datetime.datetime,
    *,
    upgrade: bool,
) -> bool:
    """Fold another event about the same thing into a member's row; False when nothing changes."""
    if kind.grouping is Grouping.ACTORS and row.kind == kind.code:
        if about.actor_id is None or about.actor_id in row.actor_ids:
            return False  # a reactor changing their reaction is not news
        row.actor_ids = [about.actor_id, *row.actor_ids][:_ACTORS_KEPT]
        row.count = len(row.actor_ids)
    elif kind.grouping is Grouping.EVENTS and row.kind == kind.code:
        others = [actor for actor in row.actor_ids if actor != about.actor_id]
        row.count = 1 if row.read_at is not None else row.count + 1
        row.actor_ids = ([about.actor_id] if about.actor_id else []) + (others if row.read_at is None else [])
    elif upgrade and row.kind != kind.code:
        row.kind = kind.code
        row.actor_ids = [about.actor_id] if about.actor_id else []
        row.count = 1
    else:
        return False
    was_read = row.read_at is not None
    row.params = dict(about.params)
    row.on_site = wanted.site
    row.email = wanted.email.value
    if was_read or row.email == EmailChannel.DIGEST:
        row.emailed_at = None  # news again: it may be mailed again (once), or go in the next digest
    row.read_at = None
    row.updated_at = now
    return True


def _push_after_commit(rows: Mapping[int, tuple[int, str]]) -> None:
    """One ``notification.new`` frame per member (``rows``: member -> notification id and kind)
    after the commit, with their unread count (counted for all of them in one query now, so that
    the frame is never ahead of what the page shows). A large fan-out is cut into shares published
    as events, so that several worker processes push side by side; a small one is pushed right after
    the commit by this process."""
    if not rows:
        return
    counts = selectors.unread_counts(user_ids=rows)
    frames = [(user_id, pk, kind, counts.get(user_id, 0)) for user_id, (pk, kind) in rows.items()]
    if len(frames) > _PUSH_INLINE_MAX:
        for start in range(0, len(frames), _PUSH_SHARE):
            publish(NotificationsPushRequested(frames=tuple(frames[start : start + _PUSH_SHARE])))
        return
    transaction.on_commit(functools.partial(notifications_push, frames=frames), robust=True)


def notifications_push(*, frames: Sequence[tuple[int, int, str, int]]) -> int:
    """Send each ``(user_id, notification_id, kind, unread_count)`` as a ``notification.new`` frame
    (all in one ``send_to_users``: pipelined to the layer); best effort, never raises."""
    payloads = [
        (user_id, NEW_FRAME, {"id": pk, "kind": kind, "unread_count": unread})
        for user_id, pk, kind, unread in frames
    ]
    try:
        send_to_users(payloads)
    except Exception as error:  # noqa: BLE001 - live delivery is best effort (docs/realtime.md)
        logger.warning("notification frames not sent", extra={"error": f"{type(error).__name__}: {error}"})
        return 0
    return len(payloads)


def _push_read(user_id: int) -> None:
    """Tell the member's other tabs the new unread count (after the commit); the header's count moves."""
    _unread_changed([user_id])
    frame = {"unread_count": selectors.unread_count(user_id=user_id)}
    transaction.on_commit(lambda: async_to_sync(asend_to_user)(user_id, READ_FRAME, frame), robust=True)
