"""Plain SQL for the few reads on every page, where building the query with the ORM costs more than
PostgreSQL takes to run it (the header's counts, the session). Values are always parameters; table
and column names come from the models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection

__all__ = ["count"]


def count(sql: str, params: Sequence[Any]) -> int:
    """The number a ``SELECT count(*) ...`` gives (0 when it gives no row)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        row = cursor.fetchone()
    return int(row[0]) if row else 0
