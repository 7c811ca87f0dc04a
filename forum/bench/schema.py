"""The bench dataset: plain tables in the dedicated bench database, created and seeded by raw SQL.

They live outside Django's migrations on purpose: no app owns them, and they exist only in the
database that ``manage.py bench_servers`` creates (``forum_bench`` by default).
"""

from __future__ import annotations

FORUM_COUNT = 5
TOPICS_PER_FORUM = 400
PAGE_SIZE = 20
# How long /bench/wait waits, standing for a call to another service; the "mixed" load sends one
# request in MIXED_WAIT_EVERY there.
WAIT_SECONDS = 0.2
MIXED_WAIT_EVERY = 100

# Idempotent: the command runs it before every benchmark, and a second run finds the rows there.
SETUP_SQL = [
    """
    CREATE TABLE IF NOT EXISTS bench_forum (
        id integer PRIMARY KEY,
        title text NOT NULL,
        description text NOT NULL,
        topic_count integer NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS bench_topic (
        id integer PRIMARY KEY,
        forum_id integer NOT NULL REFERENCES bench_forum (id),
        title text NOT NULL,
        author text NOT NULL,
        replies integer NOT NULL,
        views integer NOT NULL,
        last_post_at timestamptz NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS bench_topic_forum_recent ON bench_topic (forum_id, last_post_at DESC)",
    f"""
    INSERT INTO bench_forum (id, title, description, topic_count)
    SELECT n, 'Forum ' || n, 'Talk about subject number ' || n || ', with friends and strangers.',
           {TOPICS_PER_FORUM}
    FROM generate_series(1, {FORUM_COUNT}) AS n
    ON CONFLICT (id) DO NOTHING
    """,
    f"""
    INSERT INTO bench_topic (id, forum_id, title, author, replies, views, last_post_at)
    SELECT n,
           1 + (n - 1) % {FORUM_COUNT},
           'Topic number ' || n || ': a title of ordinary length for a forum thread',
           'member' || (n * 7919) % 250,
           (n * 31) % 97,
           (n * 131) % 5000,
           timestamptz '2025-01-01 00:00:00+00' + n * interval '17 minutes'
    FROM generate_series(1, {FORUM_COUNT * TOPICS_PER_FORUM}) AS n
    ON CONFLICT (id) DO NOTHING
    """,
    "ANALYZE bench_forum",
    "ANALYZE bench_topic",
]
