"""Published interface of the notification app: the functions other apps may call.

Functions here take and return plain data (ids, frozen dataclasses), never model instances, so that
each call could become an HTTP call when the app is split into its own service.

The app is fed by other apps' events (handlers.py). Every notification goes through ``_deliver``:
the recipients are filtered by what they may see (asked of the owning app, in one call for all of
them), the actor is never told of their own act, each member's choices decide the channels, and the
rows are written in one insert, unique per (member, the thing it is about), so that an event handled
twice or a change that both quotes and mentions someone makes one notification. After the commit each
member with something new gets one ``notification.new`` frame on their sockets.

Another app adds a kind without this app changing: ``notification_kind_register`` from its
``AppConfig.ready``, then ``NotificationRequested`` published in its own transactions.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.dialog import services as dialog_services
from apps.notification import kinds as registry
from apps.notification import mail, selectors
from apps.notification.events import NotificationEmailsRequested, NotificationsPushRequested
from apps.notification.kinds import EmailChannel, Grouping, NotificationFacts, NotificationKind
from apps.notification.models import (
    SOURCE_MAX_LENGTH,
    MemberSettings,
    Notification,
    PendingDialogNotice,
    Preference,
    Watch,
    WatchTarget,
)
from apps.status.services import status_get, status_grants_ending
from apps.thread.services import (
    forum_names_visible_to,
    forum_visible_to,
    thread_readers_filter,
    thread_titles_visible_to,
    thread_visible_to,
)
from apps.user.services import users_brief
from forum.bus import publish
from forum.errors import NotFound, ValidationFailed
from forum.paging import Page, page_in_range
from forum.realtime import asend_to_user, send_to_users

__all__ = [
    "EmailChannel",
    "Grouping",
    "KindInfo",
    "KindPreference",
    "MemberPreferences",
    "NotificationFacts",
    "NotificationItem",
    "NotificationKind",
    "NotificationPage",
    "Unsubscribe",
    "WatchItem",
    "WatchList",
    "dialog_message_deleted_forget",
    "dialog_message_pending",
    "dialog_notices_deliver",
    "dialog_notices_sweep",
    "dialog_read_forget",
    "digests_send",
    "member_settings_create",
    "notification_emails_send",
    "notification_kind_register",
    "notification_kind_unregister",
    "notification_kinds",
    "notification_mark_read",
    "notification_open",
    "notification_request",
    "notifications_latest",
    "notifications_mark_all_read",
    "notifications_page",
    "notifications_push",
    "post_created_notify",
    "post_deleted_forget",
    "post_edited_notify",
    "preferences_get",
    "preferences_update",
    "reaction_added_notify",
    "reaction_cleared_forget",
    "status_granted_notify",
    "statuses_expiring_notify",
    "thread_deleted_forget",
    "thread_moderated_notify",
    "unread_count",
    "unsubscribe_apply",
    "unsubscribe_read",
    "unsubscribe_token",
    "watch_list",
    "watch_set",
    "watch_target_check",
    "watch_unset",
    "watched_among",
]

logger = logging.getLogger(__name__)

PER_PAGE = 20
LATEST_COUNT = 8
# A fan-out to more members than this is pushed in shares of _PUSH_SHARE, one event each, which the
# notification queue's worker processes take side by side.
_PUSH_INLINE_MAX = 200
_PUSH_SHARE = 250
# Kept per grouped notification (reactors): enough to count them and name the latest.
_ACTORS_KEPT = 10_000
# The kind an email's unsubscribe link turns off when it is a digest (every email, any kind).
ALL_EMAILS = "*"
_UNSUBSCRIBE_SALT = "notification.unsubscribe"
NEW_FRAME = "notification.new"
_EMAIL_VALUES = frozenset(channel.value for channel in EmailChannel)
READ_FRAME = "notification.read"


# --- Data ---------------------------------------------------------------------------------------------


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


# --- The registry -------------------------------------------------------------------------------------


def notification_kind_register(kind: NotificationKind) -> NotificationKind:
    """Add a kind of another app (call it from its ``AppConfig.ready``)."""
    return registry.register(kind)


def notification_kind_unregister(*, code: str) -> None:
    registry.unregister(code)


def _kind_info(kind: NotificationKind) -> KindInfo:
    return KindInfo(
        code=kind.code,
        label=str(kind.label),
        description=str(kind.description),
        default_site=kind.default_site,
        default_email=str(kind.default_email),
        grouping=str(kind.grouping),
        app=kind.app,
    )


def notification_kinds() -> list[KindInfo]:
    """Every registered kind, with its defaults (labels in the active language)."""
    return [_kind_info(kind) for kind in registry.registered()]


def _kind(code: str) -> NotificationKind:
    kind = registry.get(code)
    if kind is None:
        raise ValidationFailed(_("There is no such kind of notification."), fields={"kind": [code]})
    return kind


# --- Choices ------------------------------------------------------------------------------------------


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


# --- Delivery -----------------------------------------------------------------------------------------


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
    """Tell the member's other tabs the new unread count (after the commit)."""
    frame = {"unread_count": selectors.unread_count(user_id=user_id)}
    transaction.on_commit(lambda: async_to_sync(asend_to_user)(user_id, READ_FRAME, frame), robust=True)


# --- From the thread app's events ---------------------------------------------------------------------


def _thread_title(thread_id: int, viewer_id: int) -> str | None:
    return thread_titles_visible_to(user_id=viewer_id, thread_ids=[thread_id]).get(thread_id)


def _watch_auto(user_id: int, thread_id: int) -> None:
    """Watch a thread one writes in, when the member's setting says so and they never unwatched it."""
    if user_id in selectors.auto_watchers(user_ids=[user_id]):
        Watch.objects.bulk_create(
            [Watch(user_id=user_id, target=WatchTarget.THREAD, target_id=thread_id)], ignore_conflicts=True
        )


def _drop_blockers(candidates: dict[int, list[str]], actor_id: int, *, addressed: Collection[int]) -> None:
    """Members who blocked the actor (in the dialog app) are not told of their mentions and quotes.
    Asked only of the members a post addresses (at most 50 mentions and 20 quotes a text), never of a
    thread's watchers, so a fan-out's cost does not grow with it."""
    personal = {registry.MENTION.code, registry.QUOTE.code}
    for user_id in set(addressed) & set(candidates):
        if dialog_services.block_exists(user_id=user_id, blocked_id=actor_id):
            # What they chose to watch still reaches them; what the blocked member aims at them does not.
            candidates[user_id] = [code for code in candidates[user_id] if code not in personal]
            if not candidates[user_id]:
                del candidates[user_id]


def post_created_notify(
    *,
    post_id: int,
    thread_id: int,
    forum_id: int,
    author_id: int,
    position: int,
    mentioned_ids: Sequence[int] = (),
    quoted_ids: Sequence[int] = (),
) -> list[int]:
    """A post became public: its thread's watchers (a reply) or its forum's (a new thread), and the
    members it mentions or quotes, each get one notification; the author watches the thread."""
    with transaction.atomic():
        _watch_auto(author_id, thread_id)
        candidates: dict[int, list[str]] = {}
        if position == 1:
            for user_id in selectors.watchers_of(target=WatchTarget.FORUM, target_id=forum_id):
                candidates.setdefault(user_id, []).append(registry.NEW_THREAD.code)
        else:
            for user_id in selectors.watchers_of(target=WatchTarget.THREAD, target_id=thread_id):
                candidates.setdefault(user_id, []).append(registry.REPLY.code)
        for user_id in mentioned_ids:
            candidates.setdefault(user_id, []).append(registry.MENTION.code)
        for user_id in quoted_ids:
            candidates.setdefault(user_id, []).append(registry.QUOTE.code)
        candidates.pop(author_id, None)
        _drop_blockers(candidates, author_id, addressed={*mentioned_ids, *quoted_ids})
        if not candidates:
            return []
        title = _thread_title(thread_id, author_id)
        if title is None:
            return []  # gone since (deleted, moved where the author cannot read)
        readers = thread_readers_filter(thread_id=thread_id, user_ids=candidates)
        params: dict[str, Any] = {"title": title}
        if position == 1:
            params["forum"] = forum_names_visible_to(user_id=author_id, forum_ids=[forum_id]).get(
                forum_id, ""
            )
        ordered = {
            user_id: sorted(set(kinds), key=registry.POST_PRIORITY.index)
            for user_id, kinds in candidates.items()
            if user_id in readers
        }
        about = _About(
            source=f"post:{post_id}", actor_id=author_id, params=params, thread_id=thread_id, post_id=post_id
        )
        return _deliver(ordered, about)


def post_edited_notify(
    *, post_id: int, thread_id: int, author_id: int, editor_id: int, mentioned_ids: Sequence[int]
) -> list[int]:
    """Members an edit newly mentions are told (once per post: a second edit changes nothing)."""
    with transaction.atomic():
        candidates = {user_id: [registry.MENTION.code] for user_id in mentioned_ids if user_id != editor_id}
        candidates.pop(author_id, None)
        _drop_blockers(candidates, author_id, addressed=set(candidates))
        if not candidates:
            return []
        title = _thread_title(thread_id, author_id)
        if title is None:
            return []
        readers = thread_readers_filter(thread_id=thread_id, user_ids=candidates)
        about = _About(
            source=f"post:{post_id}",
            actor_id=author_id,
            params={"title": title},
            thread_id=thread_id,
            post_id=post_id,
        )
        return _deliver({k: v for k, v in candidates.items() if k in readers}, about, upgrade=True)


def post_deleted_forget(*, post_id: int) -> int:
    """A deleted post's notifications go (replies, mentions, reactions to it)."""
    deleted, _counts = Notification.objects.filter(post_id=post_id).delete()
    return deleted


def thread_deleted_forget(*, thread_id: int) -> int:
    """A deleted thread's notifications and watches go."""
    with transaction.atomic():
        Watch.objects.filter(target=WatchTarget.THREAD, target_id=thread_id).delete()
        deleted, _counts = Notification.objects.filter(thread_id=thread_id).delete()
    return deleted


def reaction_added_notify(
    *, post_id: int, thread_id: int, post_author_id: int, reactor_id: int, kind: str
) -> list[int]:
    """A post's author learns of reactions to it: one row per post, naming the latest reactor and
    counting them all, unread again when someone new reacts."""
    with transaction.atomic():
        if post_author_id == reactor_id or dialog_services.block_exists(
            user_id=post_author_id, blocked_id=reactor_id
        ):
            return []
        title = _thread_title(thread_id, reactor_id)
        if title is None or post_author_id not in thread_readers_filter(
            thread_id=thread_id, user_ids=[post_author_id]
        ):
            return []
        about = _About(
            source=f"reactions:{post_id}",
            actor_id=reactor_id,
            params={"title": title, "reaction": kind},
            thread_id=thread_id,
            post_id=post_id,
        )
        return _deliver({post_author_id: [registry.REACTION.code]}, about)


def reaction_cleared_forget(*, post_id: int, post_author_id: int, reactor_id: int) -> None:
    """A reaction taken back leaves the author's row (gone with the last reactor)."""
    with transaction.atomic():
        row = (
            Notification.objects.select_for_update()
            .filter(recipient_id=post_author_id, source=f"reactions:{post_id}")
            .first()
        )
        if row is None or reactor_id not in row.actor_ids:
            return
        row.actor_ids = [actor for actor in row.actor_ids if actor != reactor_id]
        if not row.actor_ids:
            row.delete()
            return
        row.count = len(row.actor_ids)
        row.save(update_fields=["actor_ids", "count"])


def thread_moderated_notify(
    *, thread_id: int, author_id: int, moderator_id: int, approved: bool, reason: str = ""
) -> list[int]:
    """A thread's author learns that a moderator approved or rejected it."""
    with transaction.atomic():
        title = _thread_title(thread_id, author_id)
        if title is None:
            return []
        kind = registry.THREAD_APPROVED if approved else registry.THREAD_REJECTED
        about = _About(
            source=f"thread:{thread_id}:{'approved' if approved else 'rejected'}",
            actor_id=moderator_id,
            params={"title": title, "reason": reason},
            thread_id=thread_id,
        )
        return _deliver({author_id: [kind.code]}, about)


# --- From the status app's events ---------------------------------------------------------------------


def _status_name(code: str) -> str:
    # The catalogue's own text, untranslated: the reader's language is applied when it is shown.
    with translation.override(None):
        try:
            return status_get(code=code).name
        except NotFound:
            return code


def status_granted_notify(
    *,
    grant_id: int,
    user_id: int,
    status_code: str,
    ends_at: datetime.datetime | None,
    granted_by: int | None,
    starts_at: datetime.datetime | None = None,
) -> list[int]:
    """The member learns of a status given to them (from when, if it starts later)."""
    with transaction.atomic():
        later = starts_at is not None and starts_at > timezone.now()
        about = _About(
            source=f"grant:{grant_id}",
            actor_id=granted_by,
            params={
                "status_code": status_code,
                "status_name": _status_name(status_code),
                "user_id": user_id,
                "starts_on": starts_at.date().isoformat() if later and starts_at else "",
                "ends_on": ends_at.date().isoformat() if ends_at else "",
            },
        )
        return _deliver({user_id: [registry.STATUS_GRANTED.code]}, about)


def statuses_expiring_notify() -> int:
    """Warn members whose status grant ends within ``NOTIFICATION_STATUS_EXPIRY_WARNING_HOURS``,
    once per grant (run every hour by beat)."""
    within = datetime.timedelta(hours=float(settings.NOTIFICATION_STATUS_EXPIRY_WARNING_HOURS))
    grants = status_grants_ending(within=within)
    done = selectors.sources_existing(
        sources=[f"grant:{grant.grant_id}:expiring" for grant in grants], kind=registry.STATUS_EXPIRING.code
    )
    warned = 0
    for grant in grants:
        source = f"grant:{grant.grant_id}:expiring"
        if (grant.user_id, source) in done or grant.ends_at is None:
            continue
        with transaction.atomic():
            about = _About(
                source=source,
                actor_id=None,
                params={
                    "status_code": grant.status_code,
                    "status_name": _status_name(grant.status_code),
                    "user_id": grant.user_id,
                    "ends_on": grant.ends_at.date().isoformat(),
                },
            )
            warned += len(_deliver({grant.user_id: [registry.STATUS_EXPIRING.code]}, about))
    return warned


# --- From the dialog app's events ---------------------------------------------------------------------


def dialog_message_pending(
    *, dialog_id: int, message_id: int, author_id: int, recipient_ids: Sequence[int], excerpt: str
) -> list[int]:
    """Remember a new message for each recipient, to check after ``NOTIFICATION_DIALOG_DELAY_SECONDS``
    whether they saw it (the caller schedules that check after the commit). Returns the recipients."""
    due_at = timezone.now() + datetime.timedelta(seconds=float(settings.NOTIFICATION_DIALOG_DELAY_SECONDS))
    recipients = sorted(
        {user_id for user_id in recipient_ids if user_id != author_id and 0 < user_id < 2**63}
    )
    PendingDialogNotice.objects.bulk_create(
        [
            PendingDialogNotice(
                recipient_id=user_id,
                dialog_id=dialog_id,
                message_id=message_id,
                author_id=author_id,
                excerpt=excerpt[:200],
                due_at=due_at,
            )
            for user_id in recipients
        ],
        ignore_conflicts=True,
    )
    return recipients


def dialog_notices_deliver(*, message_id: int) -> list[int]:
    """After the delay: notify each recipient of a message they have not seen yet (asking the dialog
    app), one row per dialog that counts the messages since they last read it."""
    with transaction.atomic():
        notices = selectors.notices_of_message(message_id=message_id)
        if not notices:
            return []
        first = notices[0]
        unseen = [
            notice.recipient_id
            for notice in notices
            if not dialog_services.message_seen(
                user_id=notice.recipient_id, dialog_id=notice.dialog_id, message_id=notice.message_id
            )
        ]
        PendingDialogNotice.objects.filter(pk__in=[notice.pk for notice in notices]).delete()
        about = _About(
            source=f"dialog:{first.dialog_id}",
            actor_id=first.author_id,
            params={"dialog_id": first.dialog_id, "message_id": first.message_id, "excerpt": first.excerpt},
        )
        return _deliver({user_id: [registry.DIALOG_MESSAGE.code] for user_id in unseen}, about)


def dialog_notices_sweep(*, batch: int = 200) -> int:
    """Deliver notices whose check was lost (a worker down when it was due): run every minute."""
    before = timezone.now() - datetime.timedelta(seconds=30)
    messages = selectors.notice_messages_due(before=before, batch=batch)
    return sum(len(dialog_notices_deliver(message_id=message_id)) for message_id in messages)


def dialog_read_forget(*, user_id: int, dialog_id: int, message_id: int) -> None:
    """A member read a dialog up to a message: what they saw needs no notification any more."""
    with transaction.atomic():
        PendingDialogNotice.objects.filter(
            recipient_id=user_id, dialog_id=dialog_id, message_id__lte=message_id
        ).delete()
        row = (
            Notification.objects.select_for_update()
            .filter(recipient_id=user_id, source=f"dialog:{dialog_id}", read_at__isnull=True)
            .first()
        )
        latest = row.params.get("message_id") if row is not None else None
        if row is not None and isinstance(latest, int) and latest <= message_id:
            row.read_at = timezone.now()
            row.save(update_fields=["read_at"])
            _push_read(user_id)


def dialog_message_deleted_forget(*, message_id: int) -> None:
    PendingDialogNotice.objects.filter(message_id=message_id).delete()


# --- Other apps' kinds --------------------------------------------------------------------------------


def notification_request(
    *,
    kind: str,
    recipient_ids: Sequence[int],
    source: str,
    actor_id: int | None = None,
    params: Mapping[str, Any] | None = None,
) -> list[int]:
    """Notify members of a kind another app registered (``NotificationRequested``)."""
    registered = _kind(kind)
    if not source or len(source) > SOURCE_MAX_LENGTH:
        raise ValidationFailed(_("Say what the notification is about."), fields={"source": [source[:200]]})
    with transaction.atomic():
        about = _About(source=source, actor_id=actor_id, params=dict(params or {}))
        return _deliver({user_id: [registered.code] for user_id in recipient_ids}, about)


def member_settings_create(*, user_id: int) -> None:
    """A new account gets its settings row (with the defaults), so that support finds every member."""
    MemberSettings.objects.get_or_create(user_id=user_id)


# --- Reading and marking ------------------------------------------------------------------------------


def _names(actor_ids: Iterable[int]) -> dict[int, str]:
    wanted = list(dict.fromkeys(actor_ids))
    names: dict[int, str] = {}
    for start in range(0, len(wanted), 500):
        names.update(
            {brief.id: brief.username for brief in users_brief(user_ids=wanted[start : start + 500])}
        )
    return names


def _facts(row: Notification, names: Mapping[int, str]) -> NotificationFacts:
    return NotificationFacts(
        kind=row.kind,
        actor_names=tuple(names[actor] for actor in row.actor_ids[:1] if actor in names),
        count=row.count,
        params=row.params or {},
        thread_id=row.thread_id,
        post_id=row.post_id,
    )


def _rendered(row: Notification, names: Mapping[int, str]) -> tuple[str, str]:
    kind = registry.get(row.kind)
    facts = _facts(row, names)
    if kind is None:  # a kind whose app is gone: still shown, plainly
        return row.kind, "/"
    try:
        return kind.describe(facts), kind.link(facts)
    except Exception:  # one kind's broken text must not break the page
        logger.exception("notification text failed", extra={"kind": row.kind, "notification_id": row.pk})
        return str(kind.label), "/"


def _items(rows: Sequence[Notification]) -> tuple[NotificationItem, ...]:
    names = _names(actor for row in rows for actor in row.actor_ids[:1])
    items = []
    for row in rows:
        text, url = _rendered(row, names)
        items.append(
            NotificationItem(
                id=row.pk,
                kind=row.kind,
                text=text,
                url=url,
                actor_ids=tuple(row.actor_ids),
                count=row.count,
                thread_id=row.thread_id,
                post_id=row.post_id,
                created_at=row.created_at,
                updated_at=row.updated_at,
                read_at=row.read_at,
            )
        )
    return tuple(items)


def notifications_page(
    *, user_id: int, page: int = 1, kind: str = "", per_page: int = PER_PAGE
) -> NotificationPage:
    """A page of the member's notifications, newest activity first, optionally of one kind: four
    queries whatever the page holds (count, unread count, rows, the actors' names)."""
    if kind and registry.get(kind) is None:
        kind = ""
    rows = selectors.shown_to(user_id=user_id, kind=kind or None)
    total = rows.count()
    number = page_in_range(page, total, per_page)
    start = (number - 1) * per_page
    found = list(rows[start : start + per_page])
    return NotificationPage(
        items=_items(found),
        number=number,
        per_page=per_page,
        total=total,
        unread_count=selectors.unread_count(user_id=user_id),
        kind=kind,
    )


def notifications_latest(*, user_id: int, count: int = LATEST_COUNT) -> tuple[NotificationItem, ...]:
    """The member's latest notifications, for the bell's dropdown (two queries)."""
    return _items(list(selectors.shown_to(user_id=user_id)[:count]))


def unread_count(*, user_id: int) -> int:
    return selectors.unread_count(user_id=user_id)


def _own(user_id: int, notification_id: int) -> Notification:
    row = None
    if 0 < notification_id < 2**63:
        row = (
            Notification.objects.select_for_update().filter(pk=notification_id, recipient_id=user_id).first()
        )
    if row is None:
        raise NotFound(_("There is no such notification."))
    return row


def notification_mark_read(*, user_id: int, notification_id: int) -> int:
    """Mark one of the member's notifications read (404 for anyone else's); returns the unread count."""
    with transaction.atomic():
        row = _own(user_id, notification_id)
        if row.read_at is None:
            row.read_at = timezone.now()
            row.save(update_fields=["read_at"])
            _push_read(user_id)
    return selectors.unread_count(user_id=user_id)


def notification_open(*, user_id: int, notification_id: int) -> str:
    """Mark a notification read and answer where it leads (404 for anyone else's)."""
    with transaction.atomic():
        row = _own(user_id, notification_id)
        if row.read_at is None:
            row.read_at = timezone.now()
            row.save(update_fields=["read_at"])
            _push_read(user_id)
        names = _names(row.actor_ids[:1])
    return _rendered(row, names)[1]


def notifications_mark_all_read(*, user_id: int, kind: str = "") -> int:
    """Mark all the member's notifications read (of one kind when given); returns how many."""
    with transaction.atomic():
        rows = Notification.objects.filter(recipient_id=user_id, read_at__isnull=True)
        if kind:
            rows = rows.filter(kind=kind)
        marked = rows.update(read_at=timezone.now())
        if marked:
            _push_read(user_id)
    return marked


# --- Preferences --------------------------------------------------------------------------------------


def _languages() -> set[str]:
    return {code for code, _name in settings.LANGUAGES}


def preferences_get(*, user_id: int) -> MemberPreferences:
    """The member's settings and, for every kind, their channels (their choice or the default)."""
    member = selectors.settings_of(user_id=user_id)
    kinds = registry.registered()
    stored = selectors.preference_rows(user_ids=[user_id], kinds=[kind.code for kind in kinds])
    choices = []
    for kind in kinds:
        site, email = stored.get((user_id, kind.code), (kind.default_site, str(kind.default_email)))
        choices.append(
            KindPreference(
                kind=kind.code,
                label=str(kind.label),
                site=site,
                email=email,
                default_site=kind.default_site,
                default_email=str(kind.default_email),
            )
        )
    return MemberPreferences(
        auto_watch=member.auto_watch if member else True,
        email_enabled=member.email_enabled if member else True,
        language=member.language if member else "",
        kinds=tuple(choices),
    )


def preferences_update(
    *,
    user_id: int,
    auto_watch: bool | None = None,
    email_enabled: bool | None = None,
    language: str | None = None,
    kinds: Mapping[str, Mapping[str, Any]] | None = None,
) -> MemberPreferences:
    """Change what is given: the settings, and per kind ``{"site": bool, "email": "immediate" |
    "digest" | "off"}`` (either key may be left out). Unknown kinds or values refuse the whole change."""
    problems: dict[str, list[str]] = {}
    if language is not None and language and language not in _languages():
        problems["language"] = [_("Choose one of the forum's languages.")]
    changes: dict[str, tuple[bool | None, str | None]] = {}
    for code, choice in (kinds or {}).items():
        if registry.get(code) is None:
            problems[f"kinds.{code}"] = [_("There is no such kind of notification.")]
            continue
        site = choice.get("site")
        email = choice.get("email")
        if site is not None and not isinstance(site, bool):
            problems[f"kinds.{code}.site"] = [_("Say yes or no.")]
        if email is not None and email not in _EMAIL_VALUES:
            problems[f"kinds.{code}.email"] = [_("Choose immediately, daily digest or never.")]
        changes[code] = (site, email)
    if problems:
        raise ValidationFailed(_("Some choices are not valid."), fields=problems)
    with transaction.atomic():
        member, _created = MemberSettings.objects.select_for_update().get_or_create(user_id=user_id)
        if auto_watch is not None:
            member.auto_watch = auto_watch
        if email_enabled is not None:
            member.email_enabled = email_enabled
        if language is not None:
            member.language = language
        member.save()
        current = {choice.kind: choice for choice in preferences_get(user_id=user_id).kinds}
        for code, (site, email) in changes.items():
            Preference.objects.update_or_create(
                user_id=user_id,
                kind=code,
                defaults={
                    "site": current[code].site if site is None else site,
                    "email": current[code].email if email is None else email,
                },
            )
    return preferences_get(user_id=user_id)


# --- Watching -----------------------------------------------------------------------------------------


def watch_target_check(*, user_id: int, target: str, target_id: int) -> None:
    """NotFound unless the member may see the thread or forum (what watching it asks first)."""
    if target == WatchTarget.THREAD:
        visible = 0 < target_id < 2**63 and thread_visible_to(user_id=user_id, thread_id=target_id)
        if not visible:
            raise NotFound(_("There is no such thread."))
    elif target == WatchTarget.FORUM:
        if not (0 < target_id < 2**63 and forum_visible_to(user_id=user_id, forum_id=target_id)):
            raise NotFound(_("There is no such forum."))
    else:
        raise NotFound(_("There is nothing like that to watch."))


def _watch(user_id: int, target: str, target_id: int, watching: bool) -> bool:
    watch_target_check(user_id=user_id, target=target, target_id=target_id)
    with transaction.atomic():
        Watch.objects.update_or_create(
            user_id=user_id, target=target, target_id=target_id, defaults={"watching": watching}
        )
    return watching


def watch_set(*, user_id: int, target: str, target_id: int) -> bool:
    """Watch a thread (its replies) or a forum (its new threads) the member may see; 404 otherwise."""
    return _watch(user_id, target, target_id, True)


def watch_unset(*, user_id: int, target: str, target_id: int) -> bool:
    """Stop watching (and do not watch it again by replying, for a thread); 404 for what the member
    may not see."""
    return _watch(user_id, target, target_id, False)


def watched_among(*, user_id: int, target: str, target_ids: Collection[int]) -> set[int]:
    """Which of ``target_ids`` the member watches (one query): for the buttons of a page."""
    return selectors.watched_among(user_id=user_id, target=target, target_ids=target_ids)


def watch_list(*, user_id: int) -> WatchList:
    """What the member watches and may still see, with titles (a constant number of queries)."""
    thread_ids = selectors.watched_by(user_id=user_id, target=WatchTarget.THREAD)
    forum_ids = selectors.watched_by(user_id=user_id, target=WatchTarget.FORUM)
    titles = thread_titles_visible_to(user_id=user_id, thread_ids=thread_ids) if thread_ids else {}
    names = forum_names_visible_to(user_id=user_id, forum_ids=forum_ids) if forum_ids else {}
    return WatchList(
        threads=tuple(WatchItem(WatchTarget.THREAD, pk, titles[pk]) for pk in thread_ids if pk in titles),
        forums=tuple(WatchItem(WatchTarget.FORUM, pk, names[pk]) for pk in forum_ids if pk in names),
    )


# --- Email --------------------------------------------------------------------------------------------


def unsubscribe_token(*, user_id: int, kind: str) -> str:
    """The signed part of an unsubscribe link: who, and which emails (a kind, or ``*`` for all)."""
    return signing.dumps({"u": user_id, "k": kind}, salt=_UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_read(*, token: str) -> Unsubscribe:
    """What an unsubscribe link stands for; NotFound for a link that was altered or made up."""
    try:
        data = signing.loads(token, salt=_UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        raise NotFound(_("This unsubscribe link is not valid.")) from None
    user_id, kind = (data.get("u"), data.get("k")) if isinstance(data, dict) else (None, None)
    if not isinstance(user_id, int) or not isinstance(kind, str):
        raise NotFound(_("This unsubscribe link is not valid."))
    if kind == ALL_EMAILS:
        label = _("all emails")
    else:
        registered = registry.get(kind)
        if registered is None:
            raise NotFound(_("This unsubscribe link is not valid."))
        label = str(registered.label)
    return Unsubscribe(user_id=user_id, kind=kind, label=label)


def unsubscribe_apply(*, token: str) -> Unsubscribe:
    """Follow an unsubscribe link (no sign-in: the signature is the proof): a kind's emails stop, or,
    for a digest's link, every email."""
    found = unsubscribe_read(token=token)
    if found.kind == ALL_EMAILS:
        preferences_update(user_id=found.user_id, email_enabled=False)
    else:
        preferences_update(user_id=found.user_id, kinds={found.kind: {"email": EmailChannel.OFF.value}})
    return found


def _language_of(languages: Mapping[int, str], user_id: int) -> str:
    language = languages.get(user_id, "")
    return language if language in _languages() else str(settings.LANGUAGE_CODE)


def _address(accounts: Mapping[int, Mapping[str, Any]], user_id: int) -> str:
    account = accounts.get(user_id)
    if account is None or not account["is_active"] or not account["email_verified"] or not account["email"]:
        return ""
    return str(account["email"])


def notification_emails_send(*, notification_ids: Sequence[int]) -> int:
    """Mail each notification at once, in its member's language, to a verified address; returns how
    many went. Each row is marked mailed with its send, so a retry sends only what did not go."""
    sent = 0
    failures = 0
    with transaction.atomic():
        rows = selectors.for_email(notification_ids=notification_ids)
        recipients = {row.recipient_id for row in rows}
        accounts = selectors.accounts(user_ids=recipients)
        languages = selectors.languages_of(user_ids=recipients)
        silent = selectors.emails_off(user_ids=recipients)
        names = _names(actor for row in rows for actor in row.actor_ids[:1])
        now = timezone.now()
        for row in rows:
            address = _address(accounts, row.recipient_id)
            if address and row.recipient_id not in silent:
                with translation.override(_language_of(languages, row.recipient_id)):
                    text, url = _rendered(row, names)
                    kind = registry.get(row.kind)
                    message = mail.notification_message(
                        to=address,
                        text=text,
                        url=url,
                        label=str(kind.label) if kind else row.kind,
                        unsubscribe_token=unsubscribe_token(user_id=row.recipient_id, kind=row.kind),
                    )
                try:
                    message.send()
                except Exception as error:  # noqa: BLE001 - one bad address must not stop the others
                    failures += 1
                    logger.warning(
                        "notification email not sent",
                        extra={"notification_id": row.pk, "error": f"{type(error).__name__}: {error}"},
                    )
                    continue
                sent += 1
            row.emailed_at = now
        Notification.objects.bulk_update(rows, ["emailed_at"])
        if failures and not sent:
            # Nothing went (the mail server is down): roll back and let the bus retry them all.
            raise RuntimeError(f"no notification email could be sent ({failures} failed)")
    return sent


def digests_send() -> int:
    """Mail each member their digest: the notifications of digest kinds since their last one, once a
    day, from ``NOTIFICATION_DIGEST_HOUR`` (UTC) on. Run every hour by beat; a second run the same
    day sends nothing more. Returns how many digests went."""
    now = timezone.now()
    if now.hour < int(settings.NOTIFICATION_DIGEST_HOUR):
        return 0
    today = now.date()
    sent = 0
    for user_id in selectors.digest_members(today=today):
        try:
            sent += _digest_send(user_id, today, now)
        except Exception as error:  # noqa: BLE001 - this member's digest waits for the next run
            logger.warning(
                "digest not sent", extra={"user_id": user_id, "error": f"{type(error).__name__}: {error}"}
            )
    return sent


def _digest_send(user_id: int, today: datetime.date, now: datetime.datetime) -> int:
    with transaction.atomic():
        member, _created = MemberSettings.objects.select_for_update().get_or_create(user_id=user_id)
        if member.last_digest_on is not None and member.last_digest_on >= today:
            return 0  # another run got here first
        rows = selectors.digest_rows(user_id=user_id)
        address = _address(selectors.accounts(user_ids=[user_id]), user_id)
        sent = 0
        if rows and address and member.email_enabled:
            names = _names(actor for row in rows for actor in row.actor_ids[:1])
            with translation.override(_language_of({user_id: member.language}, user_id)):
                lines = [_rendered(row, names) for row in rows]
                message = mail.digest_message(
                    to=address,
                    lines=lines,
                    unsubscribe_token=unsubscribe_token(user_id=user_id, kind=ALL_EMAILS),
                )
            message.send()  # a failure rolls this member back, for the next run
            sent = 1
        Notification.objects.filter(pk__in=[row.pk for row in rows]).update(emailed_at=now)
        member.last_digest_on = today
        member.save(update_fields=["last_digest_on", "updated_at"])
    return sent
