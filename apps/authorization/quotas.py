"""Counting quota uses in the database over a rolling window, one member and permission at a time.

Each use is a row (``QuotaEntry``) with the moment it was taken. A call takes a transaction-scoped
advisory lock on (permission, member), drops that member's uses older than the window, counts the
rest, and (when asked to take one) adds a use if the count is under the limit, those three in one
statement after the lock; two concurrent calls for the same member wait for each other, so the limit
holds exactly (the statement starts, and reads, only once the lock is held). A rolling window is
fairer than a calendar day: a member who posts at 23:59 does not get a fresh allowance one minute
later. A use frees up exactly one window after it was taken.

Why not Redis, where the counts used to be: a quota must stay right through a Redis outage or
restart (an outage must not let anyone post past the limit), and every action a quota pays for writes
to this database anyway. Uses of members who stop acting stay behind, at most one quota's worth each.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Count as CountOf
from django.db.models import Min
from django.utils import timezone

from apps.authorization.models import QuotaEntry


@dataclass(frozen=True)
class Count:
    taken: bool
    used: int
    # When the next unit comes back (a use leaves the window); None when nothing is used.
    frees_at: datetime.datetime | None


def _lock(user_id: int, permission: str) -> None:
    """Serialise the calls for one member and permission until the transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"quota:{permission}:{user_id}"]
        )


_TAKE_SQL = f"""
WITH expired AS (
    DELETE FROM {QuotaEntry._meta.db_table}
    WHERE user_id = %(user_id)s AND permission = %(permission)s AND used_at <= %(start)s
),
counted AS (
    SELECT count(*) AS used, min(used_at) AS oldest FROM {QuotaEntry._meta.db_table}
    WHERE user_id = %(user_id)s AND permission = %(permission)s AND used_at > %(start)s
),
taken AS (
    INSERT INTO {QuotaEntry._meta.db_table} (user_id, permission, use_id, used_at)
    SELECT %(user_id)s, %(permission)s, %(use_id)s, %(now)s FROM counted WHERE counted.used < %(limit)s
    RETURNING used_at
)
SELECT counted.used, counted.oldest, EXISTS (SELECT 1 FROM taken) FROM counted
"""


def _take(
    user_id: int,
    permission: str,
    *,
    start: datetime.datetime,
    now: datetime.datetime,
    limit: int,
    use_id: str,
) -> tuple[int, datetime.datetime | None, bool]:
    """Under the lock: drop the uses older than the window, count the rest with the oldest, and add
    a use when under ``limit``, in one statement (its parts see the same rows: the dropped ones are
    not among those counted, and the new one is counted here). The uses in the window after it, the
    oldest of them, and whether one was taken."""
    with connection.cursor() as cursor:
        cursor.execute(
            _TAKE_SQL,
            {
                "user_id": user_id,
                "permission": permission,
                "start": start,
                "now": now,
                "limit": limit,
                "use_id": use_id,
            },
        )
        row = cursor.fetchone()
    assert row is not None  # an aggregate always answers one row
    used, oldest, taken = int(row[0]), row[1], bool(row[2])
    if taken:
        used += 1
        oldest = oldest or now
    return used, oldest, taken


def count(
    *, user_id: int, permission: str, window: datetime.timedelta, limit: int, use_id: str = ""
) -> Count:
    """Count the uses in the window, and take one more (as ``use_id``) if given and under ``limit``."""
    now = timezone.now()
    # To the millisecond, as before (when Redis kept them) and as X-Quota-Resets-At shows them.
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    start = now - window
    uses = QuotaEntry.objects.filter(user_id=user_id, permission=permission)
    # No savepoint when the caller's transaction is open: the use then commits or rolls back with
    # what it pays for, and a failure here fails that transaction anyway.
    with transaction.atomic(savepoint=False):
        if use_id:
            _lock(user_id, permission)
            used, oldest, taken = _take(user_id, permission, start=start, now=now, limit=limit, use_id=use_id)
        else:
            # A use exactly one window old has left it. Counted in the database, with the oldest use:
            # a member with a large allowance has as many rows, and none of them needs to come here.
            summary = uses.filter(used_at__gt=start).aggregate(used=CountOf("pk"), oldest=Min("used_at"))
            used, oldest, taken = int(summary["used"]), summary["oldest"], False
        # When over the limit (it may have dropped since the uses were taken), the next unit frees up
        # when enough of the oldest uses have left the window to bring the count under it.
        index = used - limit if used >= limit and limit > 0 else 0
        if index:
            in_window = uses.filter(used_at__gt=start).order_by("used_at")
            oldest = in_window.values_list("used_at", flat=True)[index]
    frees_at = oldest + window if used and oldest is not None else None
    return Count(taken=taken, used=used, frees_at=frees_at)


def give_back(*, user_id: int, permission: str, use_id: str) -> None:
    """Undo one use (the action it paid for did not happen)."""
    QuotaEntry.objects.filter(user_id=user_id, permission=permission, use_id=use_id).delete()
