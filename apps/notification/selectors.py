"""Reads of the notification app: a member's notifications, choices and watches, and what is due.

Every read a page makes is a fixed number of queries whatever it holds.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, models
from django.db.models import Count, QuerySet
from django.db.models.expressions import RawSQL

from apps.notification.kinds import EmailChannel
from apps.notification.models import MemberSettings, Notification, PendingDialogNotice, Preference, Watch
from forum import sql

_BIGINT = 2**63


def _ids(values: Collection[int]) -> list[int]:
    return [value for value in set(values) if 0 < value < _BIGINT]


def _among(model: type[models.Model], column: str, values: list[int]) -> RawSQL:
    """``column = ANY(array)``: one parameter for a thousand ids, where ``__in`` binds a thousand
    placeholders one by one (most of the time a fan-out's reads would take)."""
    table = model._meta.db_table
    # Names from the models, never from input; the ids are a parameter.
    return RawSQL(  # noqa: S611
        f'"{table}"."{column}" = ANY(%s::bigint[])', (values,), output_field=models.BooleanField()
    )


def shown_to(*, user_id: int, kind: str | None = None) -> QuerySet[Notification]:
    """The member's notifications shown on the site, newest activity first."""
    rows = Notification.objects.filter(recipient_id=user_id, on_site=True)
    if kind:
        rows = rows.filter(kind=kind)
    return rows.order_by("-updated_at", "-id")


def unread_count(*, user_id: int) -> int:
    """The bell's count: one query, in SQL (on every page a member opens; the ORM took three times
    the query's own time)."""
    if not 0 < user_id < 2**63:
        return 0
    table = Notification._meta.db_table
    return sql.count(
        f'SELECT count(*) FROM "{table}" WHERE "recipient_id" = %s AND "on_site" AND "read_at" IS NULL',
        [user_id],
    )


def unread_counts(*, user_ids: Collection[int]) -> dict[int, int]:
    """Unread counts of many members in one query (members with none are left out)."""
    wanted = _ids(user_ids)
    if not wanted:
        return {}
    rows = (
        Notification.objects.filter(
            _among(Notification, "recipient_id", wanted), on_site=True, read_at__isnull=True
        )
        .values("recipient_id")
        .annotate(unread=Count("id"))
        .values_list("recipient_id", "unread")
    )
    return {int(recipient): int(unread) for recipient, unread in rows}


def kinds_present(*, user_id: int) -> list[str]:
    """The kinds among the member's notifications on the site (for the filter)."""
    return sorted(
        Notification.objects.filter(recipient_id=user_id, on_site=True)
        .values_list("kind", flat=True)
        .distinct()
    )


def preference_rows(
    *, user_ids: Collection[int], kinds: Collection[str]
) -> dict[tuple[int, str], tuple[bool, str]]:
    """The stored choices ``(site, email)`` by (member, kind), in one query."""
    wanted = _ids(user_ids)
    if not wanted or not kinds:
        return {}
    rows = Preference.objects.filter(_among(Preference, "user_id", wanted), kind__in=list(kinds)).values_list(
        "user_id", "kind", "site", "email"
    )
    return {(int(user_id), str(kind)): (bool(site), str(email)) for user_id, kind, site, email in rows}


def emails_off(*, user_ids: Collection[int]) -> set[int]:
    """The members among ``user_ids`` who turned every email off (one query)."""
    wanted = _ids(user_ids)
    if not wanted:
        return set()
    return set(
        MemberSettings.objects.filter(user_id__in=wanted, email_enabled=False).values_list(
            "user_id", flat=True
        )
    )


def settings_of(*, user_id: int) -> MemberSettings | None:
    return MemberSettings.objects.filter(user_id=user_id).first()


def auto_watchers(*, user_ids: Collection[int]) -> set[int]:
    """The members among ``user_ids`` whose setting says to watch what they write in (the default)."""
    wanted = _ids(user_ids)
    if not wanted:
        return set()
    off = set(
        MemberSettings.objects.filter(user_id__in=wanted, auto_watch=False).values_list("user_id", flat=True)
    )
    return set(wanted) - off


def watchers_of(*, target: str, target_id: int) -> list[int]:
    """Who watches a thread or a forum (one query)."""
    return list(
        Watch.objects.filter(target=target, target_id=target_id, watching=True).values_list(
            "user_id", flat=True
        )
    )


def watched_among(*, user_id: int, target: str, target_ids: Collection[int]) -> set[int]:
    wanted = _ids(target_ids)
    if not wanted:
        return set()
    # Plain SQL: the thread page and a forum's page ask this on every request, and building the query
    # with the ORM cost several times running it.
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT "target_id" FROM "{Watch._meta.db_table}" WHERE "user_id" = %s AND "target" = %s '
            'AND "target_id" = ANY(%s) AND "watching"',
            [user_id, target, list(wanted)],
        )
        return {int(row[0]) for row in cursor.fetchall()}


def watched_by(*, user_id: int, target: str) -> list[int]:
    """The ids a member watches, most recently watched first."""
    return list(
        Watch.objects.filter(user_id=user_id, target=target, watching=True)
        .order_by("-created_at", "-id")
        .values_list("target_id", flat=True)
    )


def existing_for(*, source: str, recipient_ids: Collection[int]) -> dict[int, Notification]:
    """The rows about ``source`` of the recipients who have one, locked for this transaction."""
    wanted = _ids(recipient_ids)
    if not wanted:
        return {}
    rows = Notification.objects.select_for_update().filter(
        _among(Notification, "recipient_id", wanted), source=source
    )
    return {row.recipient_id: row for row in rows}


def sources_existing(*, sources: Collection[str], kind: str) -> set[tuple[int, str]]:
    """(recipient, source) of the rows of a kind about any of ``sources`` (one query)."""
    if not sources:
        return set()
    rows = Notification.objects.filter(kind=kind, source__in=list(sources)).values_list(
        "recipient_id", "source"
    )
    return {(int(recipient), str(source)) for recipient, source in rows}


def accounts(*, user_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """Address, verification and activity of accounts, from the shared user model (one query)."""
    wanted = _ids(user_ids)
    if not wanted:
        return {}
    rows = get_user_model().objects.filter(pk__in=wanted).values("pk", "email", "email_verified", "is_active")
    return {int(row["pk"]): dict(row) for row in rows}


def languages_of(*, user_ids: Collection[int]) -> dict[int, str]:
    wanted = _ids(user_ids)
    if not wanted:
        return {}
    return {
        int(user_id): str(language)
        for user_id, language in MemberSettings.objects.filter(user_id__in=wanted).values_list(
            "user_id", "language"
        )
    }


def for_email(*, notification_ids: Sequence[int]) -> list[Notification]:
    """Notifications still waiting to be mailed at once, locked (skipping rows another worker holds)."""
    wanted = [pk for pk in notification_ids if 0 < pk < _BIGINT]
    if not wanted:
        return []
    return list(
        Notification.objects.select_for_update(skip_locked=True)
        .filter(pk__in=wanted, email=EmailChannel.IMMEDIATE, emailed_at__isnull=True)
        .order_by("pk")
    )


def digest_members(*, today: datetime.date) -> list[int]:
    """Members with notifications waiting for a digest who have had no digest today."""
    waiting = (
        Notification.objects.filter(email=EmailChannel.DIGEST, emailed_at__isnull=True)
        .values_list("recipient_id", flat=True)
        .distinct()
    )
    done = MemberSettings.objects.filter(last_digest_on__gte=today).values_list("user_id", flat=True)
    return sorted(set(waiting) - set(done))


def digest_rows(*, user_id: int) -> list[Notification]:
    """The member's notifications waiting for a digest, oldest first, locked."""
    return list(
        Notification.objects.select_for_update()
        .filter(recipient_id=user_id, email=EmailChannel.DIGEST, emailed_at__isnull=True)
        .order_by("created_at", "id")
    )


def notices_of_message(*, message_id: int) -> list[PendingDialogNotice]:
    return list(
        PendingDialogNotice.objects.select_for_update(skip_locked=True)
        .filter(message_id=message_id)
        .order_by("pk")
    )


def notice_messages_due(*, before: datetime.datetime, batch: int) -> list[int]:
    """Messages with notices past their time (the countdown task was lost), oldest first."""
    return list(
        PendingDialogNotice.objects.filter(due_at__lte=before)
        .order_by("due_at")
        .values_list("message_id", flat=True)
        .distinct()[:batch]
    )
