"""Reads of the authorization app: the one query that loads what the engine knows of a member."""

from __future__ import annotations

import datetime
import json
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from apps.authorization.models import MemberAccess


@dataclass(frozen=True)
class AccessFacts:
    """A member's account flags and access row, as stored (interpreted by the engine in services)."""

    user_id: int
    is_active: bool
    is_staff: bool
    is_superuser: bool
    role: str | None
    banned: bool
    banned_until: datetime.datetime | None
    statuses: list[dict[str, Any]]
    restrictions: list[dict[str, Any]] = field(default_factory=list)


_FACT_FIELDS = (
    "is_active",
    "is_staff",
    "is_superuser",
    "forum_access__role",
    "forum_access__banned",
    "forum_access__banned_until",
    "forum_access__statuses",
    "forum_access__restrictions",
)


def _facts(user_id: int, row: dict[str, Any]) -> AccessFacts:
    return AccessFacts(
        user_id=user_id,
        is_active=row["is_active"],
        is_staff=row["is_staff"],
        is_superuser=row["is_superuser"],
        role=row["forum_access__role"],
        banned=bool(row["forum_access__banned"]),
        banned_until=row["forum_access__banned_until"],
        statuses=list(row["forum_access__statuses"] or []),
        restrictions=list(row["forum_access__restrictions"] or []),
    )


def members_access_facts(*, user_ids: Collection[int]) -> dict[int, AccessFacts]:
    """The facts of many members in ONE query (for fan-outs: who of a thousand watchers may read a
    thread); accounts that do not exist are left out."""
    wanted = [user_id for user_id in set(user_ids) if 0 < user_id < 2**63]
    if not wanted:
        return {}
    users = get_user_model()
    # One array parameter, not a placeholder per id: binding a thousand of them costs more than the query.
    among = RawSQL(  # noqa: S611 - the table's name is the model's; the ids are a parameter
        f'"{users._meta.db_table}"."id" = ANY(%s::bigint[])', (wanted,), output_field=BooleanField()
    )
    rows = users.objects.filter(among).values("pk", *_FACT_FIELDS)
    return {int(row["pk"]): _facts(int(row["pk"]), row) for row in rows}


@dataclass(frozen=True)
class RoleFacts:
    """What a member's role is made of: the account's flags and the stored role."""

    is_active: bool
    is_staff: bool
    is_superuser: bool
    role: str | None


def members_role_facts(*, user_ids: Collection[int]) -> dict[int, RoleFacts]:
    """The role facts of many members in ONE query (the author cards of a page of posts); accounts
    that do not exist are left out. In SQL, as member_access_facts: it runs for every thread page."""
    wanted = [user_id for user_id in set(user_ids) if 0 < user_id < 2**63]
    if not wanted:
        return {}
    users = get_user_model()._meta.db_table
    access = MemberAccess._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT u."id", u."is_active", u."is_staff", u."is_superuser", a."role" FROM "{users}" u '
            f'LEFT JOIN "{access}" a ON a."user_id" = u."id" WHERE u."id" = ANY(%s::bigint[])',
            [wanted],
        )
        return {int(row[0]): RoleFacts(*row[1:]) for row in cursor.fetchall()}


def member_access_facts(*, user_id: int) -> AccessFacts | None:
    """The member's facts in ONE query (the account left-joined to its access row); None if no account.

    The join is along the one relation allowed between apps: a foreign key to the user model. Written
    in SQL: it runs on every signed-in request, and the ORM took three times the query's own time to
    build it.
    """
    if not 0 < user_id < 2**63:
        return None
    users = get_user_model()._meta.db_table
    access = MemberAccess._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT u."is_active", u."is_staff", u."is_superuser", a."role", a."banned", a."banned_until", '
            f'a."statuses", a."restrictions" FROM "{users}" u '
            f'LEFT JOIN "{access}" a ON a."user_id" = u."id" WHERE u."id" = %s',
            [user_id],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    values = dict(zip(_FACT_FIELDS, row, strict=True))
    # JSON arrives as text through a plain cursor (Django leaves decoding to the field).
    statuses = values["forum_access__statuses"]
    values["forum_access__statuses"] = json.loads(statuses) if statuses is not None else None
    restrictions = values["forum_access__restrictions"]
    values["forum_access__restrictions"] = json.loads(restrictions) if restrictions is not None else None
    return _facts(user_id, values)
