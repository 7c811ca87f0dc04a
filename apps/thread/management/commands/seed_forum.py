"""manage.py seed_forum: a believable small forum (``--demo``) or the benchmark's big dataset (``--bench``).

``--demo`` goes through the services, as a member would: categories, forums (a subforum, a Readers'
and an Agents-only section), ten members with different roles and statuses, threads and replies in
Markdown, premoderated threads approved by a moderator and one still waiting. Running it again
changes nothing: every forum, member and thread is looked up by its name first.

``--bench [--scale N]`` fills the thread app's own tables in bulk SQL (at scale 1: 20 forums, 10,000
threads, 200,000 posts, 2,000 members, one thread of 5,000 posts; scale N: N times each but the forums),
with every counter consistent (``apps/thread/management/bench_seed.py``). A second run at the same scale
reuses the dataset (a marker row says which scale is there), another scale or ``--fresh`` seeds it again.
It refuses any database whose name does not end in ``_bench``: ``manage.py bench_forum`` runs it against
``forum_bench``. The last line it prints, ``BENCH {json}``, names the forum, thread and member the
benchmark loads, and the scale.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from apps.authorization.services import Role, role_assign
from apps.status.services import status_grant
from apps.thread import services
from apps.thread.management.bench_seed import bench_sizes, ensure_bench_dataset, positive_int
from apps.thread.models import Forum, ForumKind, Post, Thread, ThreadState

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
    # (the post's position, 1 the opening post; who reacts; the kind), so that a guest sees counts.
    reactions: tuple[tuple[int, str, str], ...] = ()


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
        reactions=((1, "tom", "like"), (1, "lena", "love"), (1, "noah", "like")),
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
        reactions=((1, "lena", "like"), (3, "lena", "wow"), (3, "ada", "love")),
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
        reactions=((2, "ada", "like"), (3, "priya", "like"), (3, "yuki", "like"), (3, "noah", "love")),
    ),
    # The forum speaks Russian too: a search for «форум» finds «форумы», «форумов» and «форума» here.
    DemoThread(
        "general",
        "lena",
        "Какие форумы вы читаете?",
        "Мне больше всего нравятся небольшие форумы, где все друг друга знают по именам.\n\n"
        "А какие форумы читаете вы и **почему**?",
        replies=(
            ("sofia", "Пару старых форумов о фотографии: там до сих пор отвечают подробно и без спешки."),
            ("noah", "Учу русский, так что читаю этот раздел форума со словарём. Спасибо за тему!"),
        ),
        reactions=((1, "sofia", "like"), (3, "lena", "love")),
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
            "--scale",
            type=positive_int,
            default=1,
            help="--bench: N times the dataset (1: 200,000 posts; 10: 2,000,000 and a 50,000-post thread).",
        )
        # Tests and smoke runs: a fraction of the scale's sizes, through the same code.
        parser.add_argument("--scale-fraction", type=float, default=1.0, help=argparse.SUPPRESS)
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="--demo: seed even in the production profile.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["bench"]:
            self._bench(fresh=options["fresh"], scale=options["scale"], fraction=options["scale_fraction"])
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

    def _bench(self, *, fresh: bool, scale: int, fraction: float) -> None:
        name = str(connection.settings_dict["NAME"])
        if not name.endswith("_bench"):
            raise CommandError(
                f"--bench writes only into a database whose name ends in _bench, not {name!r}: "
                "run `manage.py bench_forum`, or set DATABASE_URL to the bench database."
            )
        try:
            sizes = bench_sizes(scale, fraction)
        except ValueError as error:
            raise CommandError(str(error)) from error
        described = (
            f"scale {scale}{'' if fraction == 1 else f' x {fraction}'}: {sizes.forums} forums, "
            f"{sizes.threads} threads, {sizes.posts} posts, {sizes.members} members, "
            f"a thread of {sizes.big_thread_posts} posts"
        )
        self.stdout.write(f"seed_forum: the bench dataset at {described} in {name}")
        result = ensure_bench_dataset(scale=scale, fraction=fraction, fresh=fresh, stdout=self.stdout)
        if result.seeded:
            self.stdout.write(f"seed_forum: seeded in {result.seconds:.1f}s (goal at scale 1: under 120s)")
        else:
            self.stdout.write("seed_forum: it is there, reused (--fresh seeds it again)")
        self.stdout.write("BENCH " + json.dumps(asdict(result.targets)))


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
            posts = dict(Post.objects.filter(thread_id=thread.id).values_list("position", "pk"))
            for position, reactor, kind in demo.reactions:
                services.reaction_set(user_id=members[reactor], post_id=posts[position], kind=kind)
        created += 1
    return created
