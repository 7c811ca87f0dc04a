"""The benchmark's dataset (``manage.py seed_forum --bench [--scale N]``, run by ``bench_forum``).

At scale 1: 20 forums in 4 categories, 10,000 threads, 200,000 posts, 2,000 members and one thread of
5,000 posts; scale N multiplies all but the forums by N (at 10: 100,000 threads, 2,000,000 posts,
20,000 members, a thread of 50,000 posts), so the thread lists and the long thread grow with it.

Fast on purpose: the members through the ORM in bulk, the forums through the service (their tree and
its versions as the app keeps them), then threads, posts and read marks each in one
``INSERT ... SELECT`` over ``generate_series`` with explicit ids, into tables whose secondary indexes and
foreign keys are dropped for the load and rebuilt after it (as pg_restore does). Every counter the
pages read is written consistently: a thread's post count, last position, first and last post, last
poster and time; a forum's thread and post counts and last thread; each member's counted posts.

The whole reseed is one transaction, ending with a marker row (``bench_dataset``: scale, fraction, seed
version and the thread app's last migration that does more than add, drop or rename indexes): a run
that finds a matching marker reuses the data, any other reseeds, and an interrupted seed leaves the
previous dataset and its marker as they were.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.db.backends.utils import CursorWrapper
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import AddIndex, RemoveIndex, RenameIndex
from django.db.models import NOT_PROVIDED
from django.utils import timezone
from django.utils.text import slugify

from apps.status.services import status_grant, status_revoke, statuses_active_for
from apps.thread import services
from apps.thread.models import ForumKind, Post, ReadMark, Thread, ThreadState
from apps.thread.selectors import POSTS_PER_PAGE
from forum import member_cache
from forum.markup import render

BENCH_CATEGORIES = 4
BENCH_FORUMS = 20
# Scale 1; scale N multiplies each (the forums stay 20).
BENCH_THREADS = 10_000
BENCH_POSTS = 200_000
BENCH_MEMBERS = 2_000
BENCH_BIG_THREAD_POSTS = 5_000
BENCH_USERNAME = "bench-{number:04d}"
# Known on purpose: the accounts exist only in the bench database, for the benchmark to sign in with.
BENCH_PASSWORD = "bench-password-not-a-secret"  # noqa: S105
BENCH_BIG_THREAD_TITLE = "The long thread, page after page"
# A status older seeds gave the signed-in member: a million replies a day, no member's allowance. Taken
# back where it is still held; the benchmark posts as members under the allowance of the plain member.
BENCH_POSTER_STATUS = "bench-poster"
# Bump when the seed writes something else: a marker of another version makes the next run reseed.
SEED_VERSION = 2
MARKER_TABLE = "bench_dataset"
# Members post in a pseudo-random but repeatable order.
_MIX = 7919
# The long thread's posts spread over its year; the others' a few minutes apart.
_YEAR = datetime.timedelta(days=360)
_REPLY_STEP = datetime.timedelta(minutes=7)

BENCH_BODIES = (
    "Agreed. The **second** option is the one I would pick, for the reasons above.",
    "Has anyone tried this with a larger group?\n\n- How long did it take?\n- Did it scale?",
    "Quick note: the `settings` page moved, it's under *Account* now.",
    "> What about the weekend?\n\nSaturday works for me, Sunday does not.",
    "I wrote it up here: [notes](https://example.com/notes). Short version: measure first.",
    "```\nstep 1: read the docs\nstep 2: read them again\n```\n\nThat's the whole trick.",
    "Thanks, that fixed it. For anyone finding this later: restart after changing the option.",
    "Not sure I follow. Could you give an *example* of what you mean?",
    "1. Open the page\n2. Change the value\n3. Save\n\nDone in under a minute.",
    "Long-time reader, first post. This thread is gold.",
)


@dataclass(frozen=True)
class BenchSizes:
    forums: int = BENCH_FORUMS
    threads: int = BENCH_THREADS
    posts: int = BENCH_POSTS
    members: int = BENCH_MEMBERS
    big_thread_posts: int = BENCH_BIG_THREAD_POSTS


def bench_sizes(scale: int, fraction: float = 1.0) -> BenchSizes:
    """The dataset at ``scale`` (1, 2, ... 10): every size but the forums' times the scale. ``fraction``
    shrinks it further for tests and smoke runs (0.01 at scale 1: 100 threads, 2,000 posts)."""
    if scale < 1:
        raise ValueError("the scale is a whole number from 1")
    if not 0 < fraction <= 1:
        raise ValueError("the fraction is above 0 and at most 1")
    factor = scale * fraction
    threads = max(2, round(BENCH_THREADS * factor))
    big = max(1, round(BENCH_BIG_THREAD_POSTS * factor))
    return BenchSizes(
        forums=BENCH_FORUMS,
        threads=threads,
        # Every other thread has at least its opening post.
        posts=max(big + threads - 1, round(BENCH_POSTS * factor)),
        members=max(2, round(BENCH_MEMBERS * factor)),
        big_thread_posts=big,
    )


@dataclass(frozen=True)
class BenchTargets:
    """What ``bench_forum`` loads: a forum's thread list, the long thread, the signed-in member."""

    forum_id: int
    thread_id: int
    thread_last_page: int
    thread_posts: int
    member_id: int
    member_username: str
    password: str
    reply_thread_ids: tuple[int, ...]
    scale: int
    fraction: float
    sizes: dict[str, int]


@dataclass(frozen=True)
class SeedResult:
    seeded: bool  # False: a matching dataset was there and is reused
    seconds: float
    targets: BenchTargets


def positive_int(value: str) -> int:
    """An argparse type: a whole number from 1 (a scale)."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"a whole number from 1, not {value!r}")
    return number


def post_counts(sizes: BenchSizes) -> list[int]:
    """Posts per thread: the long thread first, the others between 1 and 38, adding up to the total."""
    others = sizes.threads - 1
    counts = [1 + (index * _MIX) % 38 for index in range(others)]
    difference = sizes.posts - sizes.big_thread_posts - sum(counts)
    index = 0
    while difference and others:
        step = 1 if difference > 0 else -1
        if counts[index % others] + step >= 1:
            counts[index % others] += step
            difference -= step
        index += 1
    return [sizes.big_thread_posts, *counts]


def _log(stdout: Any, message: str) -> None:
    stdout.write(message)
    stdout.flush()


# --- Members, statuses ------------------------------------------------------------------------------


def bench_members(*, count: int, password_hash: str) -> list[int]:
    """The bench accounts, made when missing (one precomputed hash for all), their ids in order.

    The password is set again on every run: the benchmark's server may run with another pepper.
    Accounts of a larger scale seeded before stay; the dataset refers only to the first ``count``.
    """
    user_model = get_user_model()
    usernames = [BENCH_USERNAME.format(number=number) for number in range(1, count + 1)]
    existing = set(user_model.objects.filter(username__in=usernames).values_list("username", flat=True))
    joined = timezone.now() - datetime.timedelta(days=400)
    user_model.objects.bulk_create(
        [
            user_model(
                username=name,
                email=f"{name}@bench.invalid",
                password=password_hash,
                date_joined=joined,
                email_verified=True,
            )
            for name in usernames
            if name not in existing
        ],
        batch_size=5000,
    )
    user_model.objects.filter(username__in=usernames).update(password=password_hash)
    # An UPDATE of many accounts saves none of them: what the member cache keeps of every member goes.
    member_cache.changed(member_cache.ALL_MEMBERS_SCOPE)
    ids = dict(user_model.objects.filter(username__in=usernames).values_list("username", "pk"))
    return [int(ids[name]) for name in usernames]


def bench_member_statuses(member_id: int) -> None:
    """The signed-in member is an Agent (another index than a guest's). Their replies, like every
    benchmark post, are under a real allowance: an older seed's million-a-day status is taken back."""
    held = statuses_active_for(user_id=member_id)
    for grant in held:
        if grant.status_code == BENCH_POSTER_STATUS:
            status_revoke(grant_id=grant.grant_id)
    if "agent" not in {grant.status_code for grant in held}:
        status_grant(user_id=member_id, status_code="agent", source="staff")


# The benchmark's posters: bench members (not the signed-in one, who reads the member pages) with the
# most replies left in their rolling day (post.create_per_day: a plain member's 100), those who used
# fewest first. Each keeps at most an allowance's worth of uses in their window, as a real member's.
# Plain SQL with %s parameters, for a Django cursor (--profile) as for psycopg (the load run).
POSTERS_SQL = """
SELECT u.id, u.username, (
    SELECT count(*) FROM authorization_quotaentry AS q
    WHERE q.user_id = u.id AND q.permission = 'post.create_per_day' AND q.used_at > now() - interval '1 day'
) AS used
FROM authentication_user AS u
WHERE u.username LIKE 'bench-%%' AND u.username <> %s AND u.is_active
ORDER BY used, u.id
LIMIT %s
"""


def bench_posters(cursor: Any, count: int) -> list[tuple[int, str, int]]:
    """Up to ``count`` posters (POSTERS_SQL): id, username and the uses in their window now."""
    cursor.execute(POSTERS_SQL, [BENCH_USERNAME.format(number=1), count])
    return [(int(user_id), str(name), int(used)) for user_id, name, used in cursor.fetchall()]


# --- The marker -------------------------------------------------------------------------------------


# Operations that leave the seeded rows as they are: migrate builds such an index over the data there.
_INDEX_ONLY = (AddIndex, RemoveIndex, RenameIndex)


def _rows_migration() -> str:
    """The thread app's last applied migration that may change what the seed writes: one that does
    more than add, drop or rename indexes (an index-only migration does not make the dataset stale)."""
    loader = MigrationLoader(connection, ignore_no_migrations=True)
    applied = sorted((name for app, name in loader.applied_migrations if app == "thread"), reverse=True)
    for name in applied:
        migration = loader.disk_migrations.get(("thread", name))
        if migration is None or not all(isinstance(op, _INDEX_ONLY) for op in migration.operations):
            return name
    return ""


def _marker_wanted(scale: int, fraction: float) -> dict[str, Any]:
    latest = _rows_migration()
    return {"scale": scale, "fraction": fraction, "version": SEED_VERSION, "migration": latest}


def _ensure_marker_table(cursor: CursorWrapper) -> None:
    cursor.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (
            id smallint PRIMARY KEY CHECK (id = 1),
            scale integer NOT NULL,
            fraction double precision NOT NULL,
            version integer NOT NULL,
            migration text NOT NULL,
            sizes jsonb NOT NULL,
            seconds double precision NOT NULL,
            seeded_at timestamptz NOT NULL
        )
        """
    )


def dataset_marker() -> dict[str, Any] | None:
    """The marker of the dataset in the database, or None when there is none."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [MARKER_TABLE])
        row = cursor.fetchone()
        if not row or not row[0]:
            return None
        cursor.execute(f"SELECT scale, fraction, version, migration, sizes FROM {MARKER_TABLE} WHERE id = 1")
        found = cursor.fetchone()
    if found is None:
        return None
    sizes = found[4] if isinstance(found[4], dict) else json.loads(found[4])
    return {
        "scale": found[0],
        "fraction": found[1],
        "version": found[2],
        "migration": found[3],
        "sizes": sizes,
    }


def _dataset_matches(scale: int, fraction: float) -> bool:
    marker = dataset_marker()
    if marker is None:
        return False
    wanted = _marker_wanted(scale, fraction)
    if any(marker[key] != value for key, value in wanted.items()):
        return False
    # The long thread is there with its posts (nothing emptied the tables behind the marker's back).
    big = Thread.objects.filter(title=BENCH_BIG_THREAD_TITLE).values_list("post_count", flat=True).first()
    return big is not None and big >= int(marker["sizes"]["big_thread_posts"])


# --- Seeding ----------------------------------------------------------------------------------------


def ensure_bench_dataset(
    *, scale: int, fraction: float = 1.0, fresh: bool = False, stdout: Any
) -> SeedResult:
    """The dataset at ``scale``: reused when the marker says it is there, else seeded (``fresh``: always).
    The members and the signed-in member's statuses are made sure of either way."""
    started = time.monotonic()
    sizes = bench_sizes(scale, fraction)
    member_ids = bench_members(count=sizes.members, password_hash=make_password(BENCH_PASSWORD))
    bench_member_statuses(member_ids[0])
    seeded = fresh or not _dataset_matches(scale, fraction)
    if seeded:
        with transaction.atomic():
            bench_seed(sizes=sizes, member_ids=member_ids, stdout=stdout)
            _write_marker(scale, fraction, sizes, time.monotonic() - started)
    targets = bench_targets(
        member_id=member_ids[0],
        member_username=BENCH_USERNAME.format(number=1),
        scale=scale,
        fraction=fraction,
        sizes=sizes,
    )
    return SeedResult(seeded=seeded, seconds=time.monotonic() - started, targets=targets)


def _write_marker(scale: int, fraction: float, sizes: BenchSizes, seconds: float) -> None:
    wanted = _marker_wanted(scale, fraction)
    with connection.cursor() as cursor:
        _ensure_marker_table(cursor)
        cursor.execute(f"DELETE FROM {MARKER_TABLE}")
        cursor.execute(
            f"""
            INSERT INTO {MARKER_TABLE} (id, scale, fraction, version, migration, sizes, seconds, seeded_at)
            VALUES (1, %s, %s, %s, %s, %s, %s, now())
            """,
            [scale, fraction, wanted["version"], wanted["migration"], json.dumps(asdict(sizes)), seconds],
        )


def _thread_tables() -> list[str]:
    return [model._meta.db_table for model in apps.get_app_config("thread").get_models()]


@contextmanager
def _bare(cursor: CursorWrapper, table: str) -> Iterator[None]:
    """``table`` without its secondary indexes, unique constraints and foreign keys while a bulk load
    runs; each rebuilt from its own definition after it (one sort per index instead of a row at a
    time, one join per foreign key instead of a trigger per row). The primary key stays."""
    cursor.execute(
        """
        SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid = %s::regclass AND contype IN ('f', 'u') ORDER BY contype DESC, conname
        """,
        [table],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index AS x JOIN pg_class AS i ON i.oid = x.indexrelid
        WHERE x.indrelid = %s::regclass AND NOT x.indisprimary
          AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = x.indexrelid)
        ORDER BY i.relname
        """,
        [table],
    )
    indexes = cursor.fetchall()
    quoted = connection.ops.quote_name(table)
    for name, _definition in reversed(constraints):
        cursor.execute(f"ALTER TABLE {quoted} DROP CONSTRAINT {connection.ops.quote_name(name)}")
    for name, _definition in indexes:
        cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    yield
    for _name, definition in indexes:
        cursor.execute(definition)
    # Unique constraints first (a foreign key may need one), in the order they were read.
    for name, definition in constraints:
        cursor.execute(f"ALTER TABLE {quoted} ADD CONSTRAINT {connection.ops.quote_name(name)} {definition}")


def bench_seed(*, sizes: BenchSizes, member_ids: Sequence[int], stdout: Any) -> None:
    """Empty the thread app's tables and fill them at ``sizes`` (call it inside a transaction)."""
    started = time.monotonic()
    tables = ", ".join(connection.ops.quote_name(table) for table in _thread_tables())
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        cursor.execute("SET LOCAL synchronous_commit = off")
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    forum_ids = _bench_forums(sizes)
    counts = post_counts(sizes)
    now = timezone.now()
    parameters: dict[str, Any] = {
        "counts": counts,
        "forums": forum_ids,
        "members": list(member_ids),
        "bodies": list(BENCH_BODIES),
        "html": [render(body).html for body in BENCH_BODIES],
        "first_at": now - datetime.timedelta(days=365),
        "spacing": _YEAR / max(1, sizes.threads),
        "big_step": _YEAR / max(1, sizes.big_thread_posts),
        "step": _REPLY_STEP,
        "big_title": BENCH_BIG_THREAD_TITLE,
        "big_slug": slugify(BENCH_BIG_THREAD_TITLE),
        "approved": ThreadState.APPROVED.value,
        "pending": ThreadState.PENDING.value,
    }
    with connection.cursor() as cursor:
        # The forums' rows are checked now, so that their table may be altered below.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        with _bare(cursor, "thread_thread"):
            cursor.execute(*_with_defaults(_THREADS_SQL, Thread, parameters))
            _log(stdout, f"  {cursor.rowcount} threads in {time.monotonic() - started:.1f}s")
            with _bare(cursor, "thread_post"):
                cursor.execute(*_with_defaults(_POSTS_SQL, Post, parameters))
                _log(stdout, f"  {cursor.rowcount} posts in {time.monotonic() - started:.1f}s")
            _log(stdout, f"  posts' indexes in {time.monotonic() - started:.1f}s")
            with _bare(cursor, "thread_readmark"):
                cursor.execute(*_with_defaults(_READ_MARKS_SQL, ReadMark, parameters))
                _log(stdout, f"  {cursor.rowcount} read marks in {time.monotonic() - started:.1f}s")
        for table in ("thread_thread", "thread_post", "thread_readmark"):
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), coalesce(max(id), 0) + 1, false) FROM "
                + connection.ops.quote_name(table),
                [table],
            )
        recount_forums_and_members(cursor)
        for table in _thread_tables():
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    _log(stdout, f"  indexes, counters and ANALYZE in {time.monotonic() - started:.1f}s")


def _with_defaults(
    statement: str, model: type[models.Model], parameters: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """``statement`` with the model's other columns that need a value (not null, no default in the
    table) set to the field's default: a column another change adds does not break the seed."""
    named = re.search(r"\(([^()]*)/\*columns\*/", statement, re.DOTALL)
    assert named is not None
    given = {column.strip() for column in named[1].split(",")}
    columns, values, more = [], [], dict(parameters)
    for field in model._meta.concrete_fields:
        if field.column in given or field.null or field.primary_key or field.db_default is not NOT_PROVIDED:
            continue
        default = field.get_default()  # the field's default, or "" for text
        if default is None:
            raise ValueError(f"{model.__name__}.{field.name} has no default: the bench seed must set it")
        key = f"default_{field.column}"
        columns.append(", " + connection.ops.quote_name(str(field.column)))
        values.append(f", %({key})s")
        more[key] = field.get_db_prep_save(default, connection)
    filled = statement.replace("/*columns*/", "".join(columns)).replace("/*values*/", "".join(values))
    return filled, more


# Thread number n (1, 2, ...) gets id n; the long thread is number 1. Its posts get the ids that follow
# the posts of the threads before it, in position order, so its counters are known before the posts are
# written: first post, last post, last poster (the posts' author formula at the last position), time.
_THREADS_SQL = """
INSERT INTO thread_thread (
    id, forum_id, author_id, title, slug, state, rejection_reason, closed, pinned, created_at,
    post_count, last_position, first_post_id, last_post_id, last_poster_id, last_post_at/*columns*/
)
SELECT
    t.n,
    CASE WHEN t.i = 0 THEN (%(forums)s::bigint[])[1]
         ELSE (%(forums)s::bigint[])[t.i %% cardinality(%(forums)s::bigint[]) + 1] END,
    (%(members)s::bigint[])[(t.i * 7919) %% cardinality(%(members)s::bigint[]) + 1],
    CASE WHEN t.i = 0 THEN %(big_title)s ELSE 'Thread ' || t.i || ': a question of ordinary length' END,
    CASE WHEN t.i = 0 THEN %(big_slug)s ELSE 'thread-' || t.i || '-a-question-of-ordinary-length' END,
    CASE WHEN t.i > 0 AND t.i %% 250 = 0 THEN %(pending)s ELSE %(approved)s END,
    '',
    t.i > 0 AND t.i %% 97 = 0,
    t.i < 2 * cardinality(%(forums)s::bigint[]) AND t.i %% 7 = 1,
    t.created_at,
    t.posts,
    t.posts,
    t.before + 1,
    t.before + t.posts,
    (%(members)s::bigint[])[(t.n * 13 + t.posts * 7919) %% cardinality(%(members)s::bigint[]) + 1],
    t.created_at + (CASE WHEN t.i = 0 THEN %(big_step)s ELSE %(step)s END) * (t.posts - 1)/*values*/
FROM (
    SELECT c.n, c.n - 1 AS i, c.posts, sum(c.posts) OVER (ORDER BY c.n) - c.posts AS before,
           %(first_at)s + %(spacing)s * (c.n - 1) AS created_at
    FROM unnest(%(counts)s::integer[]) WITH ORDINALITY AS c(posts, n)
) AS t
ORDER BY t.n
"""

_POSTS_SQL = """
INSERT INTO thread_post (
    id, thread_id, author_id, position, body, body_html, created_at, reaction_counts/*columns*/
)
SELECT
    t.first_post_id - 1 + g.p,
    t.id,
    (%(members)s::bigint[])[(t.id * 13 + g.p * 7919) %% cardinality(%(members)s::bigint[]) + 1],
    g.p,
    (%(bodies)s::text[])[(t.id * 31 + g.p * 7919) %% cardinality(%(bodies)s::text[]) + 1],
    (%(html)s::text[])[(t.id * 31 + g.p * 7919) %% cardinality(%(html)s::text[]) + 1],
    t.created_at + (CASE WHEN t.id = 1 THEN %(big_step)s ELSE %(step)s END) * (g.p - 1),
    '{}'::jsonb/*values*/
FROM thread_thread AS t CROSS JOIN LATERAL generate_series(1, t.post_count) AS g(p)
"""

# Each member has read 20 threads some way in, the benchmark's member (the first) 400 and half the long
# thread: the unread markers of the lists and the thread page have something to compare.
_READ_MARKS_SQL = """
INSERT INTO thread_readmark (user_id, thread_id, last_read_position/*columns*/)
SELECT DISTINCT ON (m.user_id, t.id)
    m.user_id,
    t.id,
    CASE WHEN t.id = 1 THEN greatest(1, t.post_count / 2)
         ELSE least(t.post_count, 1 + (t.id + m.user_id) %% 20) END/*values*/
FROM unnest(%(members)s::bigint[]) WITH ORDINALITY AS m(user_id, n)
CROSS JOIN LATERAL generate_series(0, CASE WHEN m.n = 1 THEN 400 ELSE 19 END) AS k(k)
JOIN thread_thread AS t ON t.id = CASE
    WHEN m.n = 1 AND k.k = 400 THEN 1
    ELSE ((m.n - 1) * 101 + k.k * 7919) %% cardinality(%(counts)s::integer[]) + 1 END
ORDER BY m.user_id, t.id
"""


def _bench_forums(sizes: BenchSizes) -> list[int]:
    categories = [
        services.forum_create(name=f"Category {number}", kind=ForumKind.CATEGORY, position=number).id
        for number in range(1, BENCH_CATEGORIES + 1)
    ]
    forum_ids = []
    for number in range(1, sizes.forums + 1):
        # The last forum is for agents: the members' index differs from the guests'.
        exclusive = number == sizes.forums
        forum_ids.append(
            services.forum_create(
                name="Agents only" if exclusive else f"Forum {number}",
                parent_id=categories[(number - 1) % len(categories)],
                description=f"Talk about subject number {number}, with friends and strangers.",
                position=number,
                read_permission="forum.read_exclusive" if exclusive else "forum.read",
            ).id
        )
    return forum_ids


def recount_forums_and_members(cursor: CursorWrapper) -> None:
    """Every forum's counters and last thread, and each member's counted posts, from the threads and
    posts (as the services keep them: approved threads not deleted, their visible posts)."""
    approved = ThreadState.APPROVED.value
    cursor.execute(
        """
        UPDATE thread_forum AS f
        SET thread_count = coalesce(s.threads, 0), post_count = coalesce(s.posts, 0),
            last_thread_id = l.id, last_post_id = l.last_post_id, last_post_at = l.last_post_at
        FROM thread_forum AS base
        LEFT JOIN (
            SELECT forum_id, count(*) AS threads, sum(post_count) AS posts FROM thread_thread
            WHERE state = %s AND deleted_at IS NULL GROUP BY forum_id
        ) AS s ON s.forum_id = base.id
        LEFT JOIN (
            SELECT DISTINCT ON (forum_id) forum_id, id, last_post_id, last_post_at FROM thread_thread
            WHERE state = %s AND deleted_at IS NULL ORDER BY forum_id, last_post_at DESC, id DESC
        ) AS l ON l.forum_id = base.id
        WHERE f.id = base.id
        """,
        [approved, approved],
    )
    # Each member's counted posts (the author cards), as the services keep them.
    cursor.execute(
        """
        INSERT INTO thread_memberscore (user_id, reactions_received, post_count)
        SELECT p.author_id, 0, count(*)
        FROM thread_post AS p JOIN thread_thread AS t ON t.id = p.thread_id
        WHERE p.deleted_at IS NULL AND t.deleted_at IS NULL AND t.state = %s
        GROUP BY p.author_id
        ON CONFLICT (user_id) DO UPDATE SET post_count = EXCLUDED.post_count
        """,
        [approved],
    )


def bench_targets(
    *, member_id: int, member_username: str, scale: int, fraction: float, sizes: BenchSizes
) -> BenchTargets:
    big = Thread.objects.filter(title=BENCH_BIG_THREAD_TITLE).values("id", "forum_id", "post_count").get()
    # Replies go round threads of several forums, so that they do not all wait on one forum's lock.
    replies = (
        Thread.objects.filter(state=ThreadState.APPROVED, closed=False, deleted_at__isnull=True)
        .exclude(pk=big["id"])
        .exclude(forum__read_permission="forum.read_exclusive")
        .order_by("id")
        .values_list("id", flat=True)[:40]
    )
    return BenchTargets(
        forum_id=big["forum_id"],
        thread_id=big["id"],
        thread_last_page=max(1, -(-big["post_count"] // POSTS_PER_PAGE)),
        thread_posts=big["post_count"],
        member_id=member_id,
        member_username=member_username,
        password=BENCH_PASSWORD,
        reply_thread_ids=tuple(replies),
        scale=scale,
        fraction=fraction,
        sizes=asdict(sizes),
    )
