"""The session engine: Django's database sessions, read with one plain SQL statement.

Every signed-in request reads its session first. Django's database store builds that read with the
ORM, which costs about three times the query itself; this store runs the same query in SQL and is
otherwise Django's (``SESSION_ENGINE = "forum.session_store"``: saving, expiry, cycling the key,
``clearsessions``).
"""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

__all__ = ["SessionStore"]


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self) -> Session | None:
        key = self.session_key
        row = None
        if key is not None:
            with connection.cursor() as cursor:
                cursor.execute(
                    f'SELECT "session_data", "expire_date" FROM "{Session._meta.db_table}" '
                    'WHERE "session_key" = %s AND "expire_date" > %s',
                    [key, timezone.now()],
                )
                row = cursor.fetchone()
        if key is None or row is None:
            self._session_key = None
            return None
        return Session(session_key=key, session_data=row[0], expire_date=row[1])
