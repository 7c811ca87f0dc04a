"""How far the search index is behind: events a search handler has not handled yet.

Search handlers are the subscribers named ``<app>.search_*`` (each owning app's handlers.py). An
event is behind while its outbox row exists and that handler has not recorded it as processed:
pending in the outbox, queued in the broker, or failing and being retried. Rows older than the
outbox retention are pruned with their records, so old history never counts.
"""

from __future__ import annotations

from django.db import connection

from forum.bus import subscribers_of
from forum.events import registered_events
from forum.models import OutboxEvent, ProcessedEvent


def search_handlers() -> list[tuple[str, int, str]]:
    """(event name, version, handler name) of every search handler registered in this process."""
    found = []
    for name, version in registered_events():
        for subscriber in subscribers_of(name, version):
            if subscriber.task_name.split(".", 1)[-1].startswith("search_"):
                found.append((name, version, subscriber.task_name))
    return sorted(found)


def events_behind() -> int:
    """Events not yet handled by the search handler they are for (one query)."""
    handlers = search_handlers()
    if not handlers:
        return 0
    outbox, processed = OutboxEvent._meta.db_table, ProcessedEvent._meta.db_table
    wanted = " UNION ALL ".join(["SELECT %s, %s, %s"] * len(handlers))
    sql = (
        f"WITH h(name, version, handler) AS ({wanted}) "
        f"SELECT count(*) FROM {outbox} o JOIN h ON o.name = h.name AND o.version = h.version::int "
        f"WHERE NOT EXISTS (SELECT 1 FROM {processed} p WHERE p.event_id = o.id AND p.handler = h.handler)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value for handler in handlers for value in handler])
        return int(cursor.fetchone()[0])
