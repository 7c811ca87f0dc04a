"""manage.py seed_forum: a believable small forum (``--demo``) or the benchmark's big dataset (``--bench``).

``--demo`` goes through the services, as a member would: categories, forums (a subforum, a Readers'
and an Agents-only section), ten members with different roles and statuses, threads and replies in
Markdown, premoderated threads approved by a moderator and one still waiting. Running it again
changes nothing: every forum, member and thread is looked up by its name first.

``--bench`` fills the thread app's own tables in bulk (20 forums, 10,000 threads, 200,000 posts, 2,000
members, one thread of 5,000 posts), then computes every counter in SQL. It refuses any database whose
name does not end in ``_bench``: ``manage.py bench_forum`` runs it against ``forum_bench``. The last
line it prints, ``BENCH {json}``, names the forum, thread and member the benchmark loads.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from apps.authorization.services import Role, role_assign
from apps.status.services import status_define, status_grant, statuses_active_for
from apps.thread import services
from apps.thread.models import Forum, ForumKind, Post, ReadMark, Thread, ThreadState
from apps.thread.selectors import POSTS_PER_PAGE
from forum.markup import render

# --- The demo forum -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoMember:
    username: str
    role: str = Role.USER.value
    statuses: tuple[str, ...] = ()


DEMO_MEMBERS = (
    DemoMember("mira", role=Role.SUPPORT.value),
    DemoMember("jonas", statuses=("agent",)),
    DemoMember("priya", statuses=("reader",)),
    DemoMember("ada", statuses=("agent", "reader")),
    DemoMember("tom"),
    DemoMember("lena"),
    DemoMember("noah"),
    DemoMember("sofia"),
    DemoMember("yuki", statuses=("reader",)),
    DemoMember("oskar"),
)
MODERATOR = "mira"


@dataclass(frozen=True)
class DemoForum:
    key: str
    name: str
    parent: str | None = None
    description: str = ""
    read_permission: str = "forum.read"
    post_permission: str = "thread.create"

    @property
    def kind(self) -> str:
        return ForumKind.CATEGORY if self.parent is None else ForumKind.FORUM


DEMO_FORUMS = (
    DemoForum("community", "Community"),
    DemoForum(
        "announcements",
        "Announcements",
        "community",
        "News from the team. Only moderators start threads here.",
        post_permission="thread.moderate",
    ),
    DemoForum("general", "General discussion", "community", "Anything that fits nowhere else."),
    DemoForum("introductions", "Introductions", "general", "New here? Say hello."),
    DemoForum("offtopic", "Off-topic", "community", "Desks, pets, weekend plans."),
    DemoForum("help", "Help & support"),
    DemoForum("started", "Getting started", "help", "Questions about using the forum."),
    DemoForum("bugs", "Bug reports", "help", "Something broken? Tell us how to see it."),
    DemoForum("members", "Members' lounge"),
    DemoForum(
        "readers",
        "Readers' corner",
        "members",
        "Long reads and reviews, for members with the Reader status.",
        read_permission="forum.read_extended",
    ),
    DemoForum(
        "agents",
        "Agents only",
        "members",
        "Field notes, for members with the Agent status.",
        read_permission="forum.read_exclusive",
    ),
)


@dataclass(frozen=True)
class DemoThread:
    forum: str
    author: str
    title: str
    body: str
    replies: tuple[tuple[str, str], ...] = ()
    # Left waiting in the moderation queue instead of being approved by the moderator.
    waiting: bool = False


DEMO_THREADS = (
    DemoThread(
        "announcements",
        "mira",
        "Welcome to the forum",
        "## Welcome!\n\nThis is a place to ask, answer and wander off-topic. A few things to know:\n\n"
        "- Be kind; disagree with ideas, not people.\n"
        "- New members' first threads wait for a moderator before they show up.\n"
        "- Write in **Markdown**: `code`, *emphasis*, lists and [links](https://commonmark.org/help/).\n\n"
        "Say hello in *Introductions*.",
    ),
    DemoThread(
        "introductions",
        "tom",
        "Hello from Lisbon",
        "Hi all, I'm Tom. I build furniture on weekends and break web apps during the week.\n\n"
        "Found this place through a friend. Looking forward to the *Off-topic* desk photos.",
        replies=(
            ("lena", "Welcome, Tom! What was the last thing you built?"),
            ("tom", "A walnut bookshelf. Took three weekends and one very patient neighbour."),
            ("mira", "Welcome aboard @tom. Have a look at the pinned thread in *Announcements*."),
        ),
    ),
    DemoThread(
        "general",
        "priya",
        "Which note-taking app do you use?",
        "I keep switching. Currently:\n\n1. Paper for thinking\n2. Plain Markdown files for keeping\n\n"
        "What works for you, and **why**?",
        replies=(
            ("noah", "Plain text in a git repository. Grep beats every search box I've tried."),
            ("ada", "Paper, then a weekly clean-up into files. The clean-up is the actual thinking."),
            ("yuki", "Same as @ada. The weekly review is what makes it stick."),
            ("priya", "Okay, I'm trying the weekly review this month. Will report back."),
        ),
    ),
    DemoThread(
        "offtopic",
        "lena",
        "Show us your desk",
        "Mine: a door on two trestles, one monitor, too many plants.\n\n> Clean desk, empty mind.\n\n"
        "Let's see yours.",
        replies=(
            ("sofia", "Standing desk, never lowered, one cat who owns the keyboard."),
            ("tom", "A desk I built myself, so I'm legally obliged to mention it."),
        ),
    ),
    DemoThread(
        "started",
        "noah",
        "How do I format code in a post?",
        "I'd like to share a snippet without it turning into one long line. How?",
        replies=(
            (
                "mira",
                "Put it between lines of three backticks, with the language after the first ones:\n\n"
                '```python\ndef greet(name: str) -> str:\n    return f"Hello, {name}!"\n```\n\n'
                "Short bits go in single backticks: `like this`.",
            ),
            ("noah", "Perfect, thank you!"),
        ),
    ),
    DemoThread(
        "bugs",
        "sofia",
        "Preview does not update on a phone",
        "**Steps**\n\n1. Open a thread on a phone\n2. Type a reply\n3. Switch to the preview\n\n"
        "**Expected**: the text I typed. **Actual**: an empty box.",
        replies=(
            ("mira", "Thanks @sofia, I can see it too. Which browser is that?"),
            ("sofia", "Firefox on Android, the current release."),
        ),
    ),
    DemoThread(
        "readers",
        "priya",
        "Reviews: three books on writing clearly",
        "Short reviews, longest first. Spoilers: all three say *cut it*.\n\n"
        "- **On Writing Well**: the classic, still right.\n- **Several Short Sentences**: great on rhythm.\n"
        "- **The Sense of Style**: the why behind the rules.",
        replies=(("yuki", "The second one changed how I write emails. Thanks for the list."),),
    ),
    DemoThread(
        "agents",
        "jonas",
        "Field notes, third quarter",
        "Notes from the quarter, for agents only:\n\n- Two new contacts in the north office\n"
        "- The usual meeting point moves to the library\n",
        replies=(("ada", "Noted. The library is better anyway: fewer ears."),),
    ),
    DemoThread(
        "offtopic",
        "oskar",
        "Selling my old mechanical keyboard",
        "Brown switches, works fine, a bit loud. Anyone interested?",
        waiting=True,
    ),
)


# --- The benchmark's dataset --------------------------------------------------------------------------

BENCH_CATEGORIES = 4
BENCH_FORUMS = 20
BENCH_THREADS = 10_000
BENCH_POSTS = 200_000
BENCH_MEMBERS = 2_000
BENCH_BIG_THREAD_POSTS = 5_000
BENCH_USERNAME = "bench-{number:04d}"
# Known on purpose: the accounts exist only in the bench database, for the benchmark to sign in with.
BENCH_PASSWORD = "bench-password-not-a-secret"  # noqa: S105
BENCH_BIG_THREAD_TITLE = "The long thread: five thousand posts"
BENCH_POSTER_STATUS = "bench-poster"
# Members post in a pseudo-random but repeatable order.
_MIX = 7919

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
class BenchTargets:
    """What ``bench_forum`` loads: a forum's thread list, the long thread, the signed-in member."""

    forum_id: int
    thread_id: int
    thread_last_page: int
    member_id: int
    member_username: str
    password: str
    reply_thread_ids: tuple[int, ...]


@dataclass(frozen=True)
class BenchSizes:
    forums: int = BENCH_FORUMS
    threads: int = BENCH_THREADS
    posts: int = BENCH_POSTS
    members: int = BENCH_MEMBERS
    big_thread_posts: int = BENCH_BIG_THREAD_POSTS


def _post_counts(sizes: BenchSizes) -> list[int]:
    """Posts per thread: the long thread first, the others between 1 and 38, adding up to the total."""
    others = sizes.threads - 1
    counts = [1 + (index * _MIX) % 38 for index in range(others)]
    remaining = sizes.posts - sizes.big_thread_posts
    difference = remaining - sum(counts)
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


def bench_members(*, count: int, password_hash: str) -> list[int]:
    """The bench accounts, made when missing (one precomputed hash for all), their ids in order.

    The password is set again on every run: the benchmark's server may run with another pepper.
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
        batch_size=2000,
    )
    user_model.objects.filter(username__in=usernames).update(password=password_hash)
    ids = dict(user_model.objects.filter(username__in=usernames).values_list("username", "pk"))
    return [int(ids[name]) for name in usernames]


def bench_dataset_exists(sizes: BenchSizes) -> bool:
    return (
        Forum.objects.filter(kind=ForumKind.FORUM).count() >= sizes.forums
        and Thread.objects.filter(title=BENCH_BIG_THREAD_TITLE).exists()
        and Post.objects.count() >= sizes.posts
    )


def _thread_tables() -> list[str]:
    return [model._meta.db_table for model in apps.get_app_config("thread").get_models()]


def bench_seed(*, sizes: BenchSizes, member_ids: Sequence[int], stdout: Any) -> None:
    """Empty the thread app's tables and fill them: forums through the service, threads, posts and read
    marks in bulk, then every counter in SQL."""
    started = time.monotonic()
    tables = ", ".join(connection.ops.quote_name(table) for table in _thread_tables())
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    forum_ids = _bench_forums(sizes)
    counts = _post_counts(sizes)
    now = timezone.now()
    first_at = now - datetime.timedelta(days=365)
    spacing = datetime.timedelta(days=360) / max(1, sizes.threads)
    rendered = [render(body).html for body in BENCH_BODIES]

    thread_objects = []
    for index, count in enumerate(counts):
        created = first_at + spacing * index
        # The long thread stands in the first forum; the others go round the forums.
        forum_id = forum_ids[0] if index == 0 else forum_ids[index % len(forum_ids)]
        title = BENCH_BIG_THREAD_TITLE if index == 0 else f"Thread {index}: a question of ordinary length"
        pending = index > 0 and index % 250 == 0
        thread_objects.append(
            Thread(
                forum_id=forum_id,
                author_id=member_ids[(index * _MIX) % len(member_ids)],
                title=title,
                slug=slugify(title),
                state=ThreadState.PENDING if pending else ThreadState.APPROVED,
                closed=index % 97 == 0 and index > 0,
                pinned=index < 2 * len(forum_ids) and index % 7 == 1,
                created_at=created,
                last_post_at=created,
                post_count=count,
                last_position=count,
            )
        )
    threads = Thread.objects.bulk_create(thread_objects, batch_size=5000)
    _log(stdout, f"  {len(threads)} threads in {time.monotonic() - started:.1f}s")

    batch: list[Post] = []
    written = 0
    for index, (thread, count) in enumerate(zip(threads, counts, strict=True)):
        # The long thread's posts spread over its year; the others' over a few hours.
        step = datetime.timedelta(minutes=100) if index == 0 else datetime.timedelta(minutes=7)
        for position in range(1, count + 1):
            pick = (thread.pk * 31 + position * _MIX) % len(BENCH_BODIES)
            batch.append(
                Post(
                    thread_id=thread.pk,
                    author_id=member_ids[(thread.pk * 13 + position * _MIX) % len(member_ids)],
                    position=position,
                    body=BENCH_BODIES[pick],
                    body_html=rendered[pick],
                    created_at=thread.created_at + step * (position - 1),
                )
            )
        if len(batch) >= 10_000:
            Post.objects.bulk_create(batch, batch_size=10_000)
            written += len(batch)
            batch = []
    Post.objects.bulk_create(batch, batch_size=10_000)
    written += len(batch)
    _log(stdout, f"  {written} posts in {time.monotonic() - started:.1f}s")

    marks = []
    thread_ids = [thread.pk for thread in threads]
    for member_index, member_id in enumerate(member_ids):
        # The signed-in member of the benchmark has read half the long thread and many of the rest.
        wanted = 400 if member_index == 0 else 20
        chosen = {thread_ids[(member_index * 101 + k * _MIX) % len(thread_ids)] for k in range(wanted)}
        if member_index == 0:
            chosen.add(thread_ids[0])
        for thread_id in chosen:
            position = counts[0] // 2 if thread_id == thread_ids[0] else 1 + (thread_id + member_id) % 20
            marks.append(ReadMark(user_id=member_id, thread_id=thread_id, last_read_position=position))
    ReadMark.objects.bulk_create(marks, batch_size=10_000, ignore_conflicts=True)
    _log(stdout, f"  {len(marks)} read marks in {time.monotonic() - started:.1f}s")

    recount_all()
    with connection.cursor() as cursor:
        for table in _thread_tables():
            cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    _log(stdout, f"  counters and ANALYZE in {time.monotonic() - started:.1f}s")


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


def recount_all() -> None:
    """Every thread's, forum's and member's counters and last post, from the posts (the bulk seed's
    last step)."""
    approved = ThreadState.APPROVED.value
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE thread_thread AS t
            SET post_count = s.visible, last_position = s.last_position,
                first_post_id = s.first_id, last_post_id = s.last_id
            FROM (
                SELECT thread_id, count(*) FILTER (WHERE deleted_at IS NULL) AS visible,
                       max(position) AS last_position, min(id) AS first_id,
                       max(id) FILTER (WHERE deleted_at IS NULL) AS last_id
                FROM thread_post GROUP BY thread_id
            ) AS s
            WHERE s.thread_id = t.id
            """
        )
        cursor.execute(
            """
            UPDATE thread_thread AS t SET last_post_at = p.created_at, last_poster_id = p.author_id
            FROM thread_post AS p WHERE p.id = t.last_post_id
            """
        )
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


def bench_targets(*, member_id: int, member_username: str) -> BenchTargets:
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
        member_id=member_id,
        member_username=member_username,
        password=BENCH_PASSWORD,
        reply_thread_ids=tuple(replies),
    )


def bench_member_statuses(member_id: int) -> None:
    """The signed-in member is an Agent (another index than a guest's) and may post without the daily
    limit getting in the way of a benchmark (the quota is still counted, in PostgreSQL, on every post)."""
    status_define(
        code=BENCH_POSTER_STATUS,
        name="Benchmark poster",
        description="Only in the bench database: a daily reply quota no benchmark run uses up.",
        permissions={"post.create_per_day": 1_000_000},
    )
    held = {grant.status_code for grant in statuses_active_for(user_id=member_id)}
    for code in ("agent", BENCH_POSTER_STATUS):
        if code not in held:
            status_grant(user_id=member_id, status_code=code, source="staff")


class Command(BaseCommand):
    help = "Fill the forum with demo content (--demo, idempotent) or the benchmark's dataset (--bench)."

    def add_arguments(self, parser: CommandParser) -> None:
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--demo", action="store_true", help="A small believable forum; idempotent.")
        mode.add_argument(
            "--bench",
            action="store_true",
            help="The benchmark's dataset, only into a database named *_bench (see bench_forum).",
        )
        parser.add_argument(
            "--fresh", action="store_true", help="--bench: seed again even when the dataset is there."
        )
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="--demo: seed even in the production profile.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["bench"]:
            self._bench(fresh=options["fresh"])
            return
        if settings.PRODUCTION and not options["allow_production"]:
            raise CommandError(
                "Refusing to seed demo data in the production profile (see --allow-production)."
            )
        created = seed_demo_forum()
        self.stdout.write(
            f"seed_forum: {created} demo objects created"
            if created
            else "seed_forum: the demo forum is there"
        )

    def _bench(self, *, fresh: bool) -> None:
        name = str(connection.settings_dict["NAME"])
        if not name.endswith("_bench"):
            raise CommandError(
                f"--bench writes only into a database whose name ends in _bench, not {name!r}: "
                "run `manage.py bench_forum`, or set DATABASE_URL to the bench database."
            )
        sizes = BenchSizes()
        started = time.monotonic()
        password_hash = make_password(BENCH_PASSWORD)
        member_ids = bench_members(count=sizes.members, password_hash=password_hash)
        bench_member_statuses(member_ids[0])
        if fresh or not bench_dataset_exists(sizes):
            _log(self.stdout, f"seed_forum: seeding {name}")
            bench_seed(sizes=sizes, member_ids=member_ids, stdout=self.stdout)
            seconds = time.monotonic() - started
            _log(
                self.stdout,
                f"seed_forum: {sizes.forums} forums, {sizes.threads} threads, {sizes.posts} posts, "
                f"{sizes.members} members in {seconds:.1f}s (goal: under 120s)",
            )
        else:
            _log(self.stdout, f"seed_forum: the bench dataset is in {name} (--fresh seeds it again)")
        targets = bench_targets(member_id=member_ids[0], member_username=BENCH_USERNAME.format(number=1))
        self.stdout.write("BENCH " + json.dumps(asdict(targets)))


# --- The demo, through the services -------------------------------------------------------------------


def seed_demo_forum() -> int:
    """Create what is missing of the demo forum; how many members, forums and threads were created."""
    created = 0
    members: dict[str, int] = {}
    user_model = get_user_model()
    password = str(getattr(settings, "DEMO_ADMIN_PASSWORD", "") or "")
    for member in DEMO_MEMBERS:
        found = user_model.objects.filter(username=member.username).values_list("pk", flat=True).first()
        if found is None:
            # The shared user model (the one relation every app may use); no password unless the demo
            # admin's is set, in which case every demo member signs in with it.
            account = user_model.objects.create_user(
                username=member.username,
                email=f"{member.username}@example.com",
                password=password or None,
                email_verified=True,
            )
            found = int(account.pk)
            created += 1
            if member.role != Role.USER.value:
                role_assign(user_id=found, role=member.role)
            for code in member.statuses:
                status_grant(user_id=found, status_code=code, source="staff")
        members[member.username] = int(found)

    forums: dict[str, int] = {}
    for position, forum in enumerate(DEMO_FORUMS, start=1):
        parent_id = forums[forum.parent] if forum.parent else None
        found = (
            Forum.objects.filter(parent_id=parent_id, name=forum.name).values_list("pk", flat=True).first()
        )
        if found is None:
            found = services.forum_create(
                name=forum.name,
                parent_id=parent_id,
                kind=forum.kind,
                description=forum.description,
                position=position,
                read_permission=forum.read_permission,
                post_permission=forum.post_permission,
            ).id
            created += 1
        forums[forum.key] = int(found)

    moderator = members[MODERATOR]
    for demo in DEMO_THREADS:
        forum_id = forums[demo.forum]
        if Thread.objects.filter(forum_id=forum_id, title=demo.title).exists():
            continue
        with transaction.atomic():
            thread = services.thread_create(
                author_id=members[demo.author], forum_id=forum_id, title=demo.title, body=demo.body
            )
            if thread.state == ThreadState.PENDING and not demo.waiting:
                services.thread_approve(moderator_id=moderator, thread_id=thread.id)
            for author, body in demo.replies:
                services.post_create(author_id=members[author], thread_id=thread.id, body=body)
        created += 1
    return created
