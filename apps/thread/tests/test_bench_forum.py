"""bench_forum's tooling: the scaled bench dataset (seed_forum --bench --scale N) at a small fraction,
through the same code as the real one, and --profile TARGET on it."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.thread.management import bench_seed
from apps.thread.management.commands.bench_forum import (
    TARGET_KEYS,
    Command,
    Row,
    Target,
    attach_round_ceilings,
    median_row,
)
from apps.thread.models import Forum, MemberScore, Post, ReadMark, Thread, ThreadState
from apps.thread.selectors import POSTS_PER_PAGE
from forum.benchmarking import WrkResult

# At scale 1: 100 threads, 2,000 posts, 20 members, a thread of 50 posts (three pages).
FRACTION = 0.01


def test_the_sizes_grow_with_the_scale() -> None:
    assert bench_seed.bench_sizes(1) == bench_seed.BenchSizes(
        forums=20, threads=10_000, posts=200_000, members=2_000, big_thread_posts=5_000
    )
    ten = bench_seed.bench_sizes(10)
    assert (ten.threads, ten.posts, ten.members, ten.big_thread_posts) == (100_000, 2_000_000, 20_000, 50_000)
    counts = bench_seed.post_counts(ten)
    assert len(counts) == ten.threads and sum(counts) == ten.posts and counts[0] == 50_000
    assert min(counts[1:]) >= 1
    for scale, fraction in ((0, 1.0), (1, 0.0), (1, 1.5)):
        with pytest.raises(ValueError):
            bench_seed.bench_sizes(scale, fraction)


def _constraints(table: str) -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass",
            [table],
        )
        found = {(str(name), str(definition)) for name, definition in cursor.fetchall()}
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return found | {(str(name), str(definition)) for name, definition in cursor.fetchall()}


def _check_counters(sizes: bench_seed.BenchSizes, member_ids: list[int]) -> None:
    assert Thread.objects.count() == sizes.threads
    assert Post.objects.count() == sizes.posts
    assert Forum.objects.filter(kind="forum").count() == sizes.forums
    for thread in Thread.objects.all():
        posts = list(Post.objects.filter(thread=thread).order_by("position"))
        assert [post.position for post in posts] == list(range(1, len(posts) + 1))
        assert thread.post_count == len(posts) == thread.last_position
        assert thread.first_post_id == posts[0].pk
        last = posts[-1]
        assert thread.last_post_id == last.pk == max(post.pk for post in posts)
        assert thread.last_poster_id == last.author_id and thread.last_post_at == last.created_at
    for forum in Forum.objects.filter(kind="forum"):
        public = Thread.objects.filter(forum=forum, state=ThreadState.APPROVED)
        assert forum.thread_count == public.count()
        assert forum.post_count == sum(thread.post_count for thread in public)
        latest = public.order_by("-last_post_at", "-id").first()
        assert forum.last_thread_id == (latest.pk if latest else None)
        assert forum.last_post_id == (latest.last_post_id if latest else None)
    counted = Post.objects.filter(thread__state=ThreadState.APPROVED).values("author_id")
    expected = {row["author_id"]: row["posts"] for row in counted.annotate(posts=Count("pk"))}
    assert dict(MemberScore.objects.filter(post_count__gt=0).values_list("user_id", "post_count")) == expected
    assert set(Post.objects.values_list("author_id", flat=True)) <= set(member_ids)
    # Read marks: the benchmark's member has read half the long thread; no mark is past a thread's end.
    big = Thread.objects.get(title=bench_seed.BENCH_BIG_THREAD_TITLE)
    assert big.post_count == sizes.big_thread_posts
    mark = ReadMark.objects.get(user_id=member_ids[0], thread=big)
    assert mark.last_read_position == sizes.big_thread_posts // 2
    assert ReadMark.objects.filter(user_id=member_ids[1]).count() == 20
    for read in ReadMark.objects.select_related("thread"):
        assert 1 <= read.last_read_position <= read.thread.last_position


def test_the_scaled_seed_keeps_the_counters_and_is_reused_per_scale() -> None:
    tables = ("thread_thread", "thread_post", "thread_readmark")
    before = {table: _constraints(table) for table in tables}

    first = bench_seed.ensure_bench_dataset(scale=1, fraction=FRACTION, stdout=io.StringIO())
    sizes = bench_seed.bench_sizes(1, FRACTION)
    assert first.seeded and first.targets.scale == 1
    member_ids = bench_seed.bench_members(count=sizes.members, password_hash="!unusable")
    _check_counters(sizes, member_ids)
    # The indexes and constraints dropped for the load are all back, as the migrations made them.
    assert {table: _constraints(table) for table in tables} == before
    assert first.targets.thread_posts == sizes.big_thread_posts == 50
    assert first.targets.thread_last_page == -(-50 // POSTS_PER_PAGE)
    assert first.targets.reply_thread_ids and first.targets.thread_id not in first.targets.reply_thread_ids

    # The same scale again: the marker says it is there.
    post_ids = set(Post.objects.values_list("pk", flat=True))
    again = bench_seed.ensure_bench_dataset(scale=1, fraction=FRACTION, stdout=io.StringIO())
    assert not again.seeded and set(Post.objects.values_list("pk", flat=True)) == post_ids

    # Another scale: seeded again, twice the size, the long thread twice as long.
    double = bench_seed.ensure_bench_dataset(scale=2, fraction=FRACTION, stdout=io.StringIO())
    sizes = bench_seed.bench_sizes(2, FRACTION)
    assert double.seeded and double.targets.scale == 2 and double.targets.thread_posts == 100
    marker = bench_seed.dataset_marker()
    assert marker is not None and marker["scale"] == 2 and marker["sizes"]["posts"] == sizes.posts == 4000
    _check_counters(sizes, bench_seed.bench_members(count=sizes.members, password_hash="!unusable"))

    # Asked for, a fresh seed at the same scale.
    assert bench_seed.ensure_bench_dataset(
        scale=2, fraction=FRACTION, fresh=True, stdout=io.StringIO()
    ).seeded


def _page_queries(targets: bench_seed.BenchTargets) -> dict[str, int]:
    """Each read target's queries, as a guest and as the benchmark's member (after one warm-up
    request: per-process caches are not what this counts)."""
    ids = {**targets.__dict__, "sizes": targets.sizes}
    member = Client()
    member.force_login(get_user_model().objects.get(pk=targets.member_id))
    counts = {}
    for target in Command._targets(ids, profile_ok=True):
        if target.slug == "create-post":
            continue
        client = member if target.role == "member" else Client()
        client.get(target.path)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(target.path)
        assert response.status_code == 200, target.key
        if target.slug == "thread-last":
            last = Thread.objects.get(pk=targets.thread_id).last_post_id
            assert f"post-{last}" in response.content.decode()
        counts[target.key] = len(queries)
    return counts


def test_the_pages_render_on_the_seeded_data_with_as_many_queries_at_either_scale() -> None:
    small = bench_seed.ensure_bench_dataset(scale=1, fraction=FRACTION, stdout=io.StringIO())
    at_one = _page_queries(small.targets)
    large = bench_seed.ensure_bench_dataset(scale=3, fraction=FRACTION, stdout=io.StringIO())
    assert large.targets.thread_last_page > small.targets.thread_last_page
    assert _page_queries(large.targets) == at_one


def _reported_queries(output: str) -> int:
    found = re.search(r"^plain: +200\b.* (\d+) SQL queries", output, re.MULTILINE)
    assert found, output
    return int(found[1])


def test_profile_shows_where_a_members_request_goes_and_its_queries() -> None:
    seeded = bench_seed.ensure_bench_dataset(scale=1, fraction=FRACTION, stdout=io.StringIO())
    out = io.StringIO()
    call_command("bench_forum", "--profile", "member-thread-last", "--in-process", stdout=out)
    output = out.getvalue()

    path = f"/threads/{seeded.targets.thread_id}/?page={seeded.targets.thread_last_page}"
    assert f"profile of member-thread-last: GET {path} as bench-0001 (signed in)" in output
    assert "dataset: scale 1" in output
    assert "top 25 by cumulative time:" in output and "top 25 by own time:" in output
    # The view itself, by its name and where it is.
    assert re.search(r"\bthread_detail +apps/thread/views\.py:\d+", output), output
    member = Client()
    member.force_login(get_user_model().objects.get(pk=seeded.targets.member_id))
    member.get(path)
    with CaptureQueriesContext(connection) as queries:
        assert member.get(path).status_code == 200
    assert _reported_queries(output) == len(queries) > 0


def test_profile_of_a_reply_posts_as_members_under_a_real_allowance() -> None:
    """Not the signed-in member with a million replies a day that older seeds made: a bench member
    with the plain member's allowance, the one with the most of it left, and only replies written
    are timed."""
    from apps.authorization.services import limit

    seeded = bench_seed.ensure_bench_dataset(scale=1, fraction=FRACTION, stdout=io.StringIO())
    assert limit(user_id=seeded.targets.member_id, permission="post.create_per_day") != 1_000_000
    posters = []
    for _run in range(2):
        out = io.StringIO()
        call_command(
            "bench_forum",
            "--profile",
            "member-create-post",
            "--in-process",
            "--profile-repeat",
            "2",
            stdout=out,
        )
        output = out.getvalue()
        found = re.search(
            r"as (bench-\d+) \(signed in; 0 of the (\d+) replies of their rolling day used\)", output
        )
        assert found, output
        assert re.search(r"^plain: +302\b", output, re.MULTILINE), output
        assert re.search(r"^each reply answered 302 /threads/\d+/", output, re.MULTILINE), output
        poster = get_user_model().objects.get(username=found[1])
        assert int(found[2]) == limit(user_id=poster.pk, permission="post.create_per_day") == 100
        # The warm-up, two plain requests and the profiled one: each a reply written.
        assert Post.objects.filter(author_id=poster.pk, body__startswith="Profiled reply").count() == 4
        posters.append(poster.get_username())
    # The second run found the first one's poster with less left, and posted as another.
    assert posters[0] != posters[1] and seeded.targets.member_username not in posters


def test_profile_of_a_guest_page_shows_the_page_cache(settings: Any) -> None:
    settings.PAGE_CACHE_SECONDS = 300
    bench_seed.ensure_bench_dataset(scale=1, fraction=FRACTION, stdout=io.StringIO())
    out = io.StringIO()
    call_command(
        "bench_forum", "--profile", "guest-index", "--in-process", "--profile-lines", "60", stdout=out
    )
    output = out.getvalue()
    # Warmed once, the guest's index comes from the page cache, and the profile says so.
    assert "plain:          200 (page cache: hit)" in output, output
    assert re.search(r"\bwrapper +forum/pagecache\.py:\d+", output), output
    guest = Client()
    guest.get("/")
    with CaptureQueriesContext(connection) as queries:
        assert guest.get("/").get("X-Page-Cache") == "hit"
    assert _reported_queries(output) == len(queries)


def test_bench_forum_refuses_unknown_targets_and_scales() -> None:
    assert "member-thread-last" in TARGET_KEYS and "guest-profile" in TARGET_KEYS
    with pytest.raises(CommandError, match="member-thread-last"):
        call_command("bench_forum", "--profile", "member-nowhere", "--in-process", stdout=io.StringIO())
    with pytest.raises(CommandError, match="no bench dataset"):
        call_command("bench_forum", "--profile", "guest-index", "--in-process", stdout=io.StringIO())
    for scale in ("0", "-2", "ten"):
        with pytest.raises(CommandError, match="scale"):
            call_command("bench_forum", "--scale", scale, stdout=io.StringIO())


def test_every_members_and_guests_page_has_the_issues_goal() -> None:
    # Issue 17: the index, a thread list, a thread's first and last page and a profile at a third of the
    # ceiling as a member and 70% as a guest, each with p99 under 100 ms; a page without a goal in the
    # table would be measured and never judged.
    ids = {"thread_id": 1, "forum_id": 2, "thread_last_page": 3, "member_id": 4, "reply_thread_ids": [1]}
    targets = Command._targets({**ids, "sizes": {"threads": 10}}, profile_ok=True)
    pages = [
        t for t in targets if t.slug in {"index", "thread-list", "thread-first", "thread-last", "profile"}
    ]
    assert len(pages) == 10
    for target in pages:
        assert target.min_share == (0.35 if target.role == "member" else 0.70), target.key
        assert target.max_p99_ms == 100, target.key


def test_the_searches_have_the_issues_goals_and_the_page_without_words_is_their_floor() -> None:
    # Issue 16: a one-word search at 35% of the ceiling with p99 under 50 ms, the phrase at 35%, each
    # judged where every search runs its statement; the kept answers and the page before any search
    # are measured beside them without a goal.
    ids = {"thread_id": 1, "forum_id": 2, "thread_last_page": 3, "member_id": 4, "reply_thread_ids": [1]}
    targets = {t.key: t for t in Command._targets({**ids, "sizes": {"threads": 10}}, profile_ok=True)}
    goals = {key: (t.min_share, t.max_p99_ms, t.server) for key, t in targets.items() if "search" in key}
    assert goals == {
        "member-search-common": (0.35, 50.0, "fresh"),
        "member-search-rare": (0.35, 50.0, "fresh"),
        "member-search-phrase": (0.35, 100, "fresh"),
        "member-search-member": (None, 100, "fresh"),
        "member-search-common-repeated": (None, None, "site"),
        "member-search-rare-repeated": (None, None, "site"),
        "member-search-phrase-repeated": (None, None, "site"),
        "member-search-form": (None, None, "fresh"),
    }
    assert set(goals) <= set(TARGET_KEYS)
    # --only search takes the floor with the searches.
    assert targets["member-search-form"].name.split(" (")[0] == "search"
    assert targets["member-search-form"].path == "/search/"


@pytest.mark.django_db
def test_the_search_page_without_words_runs_no_search(django_user_model: Any) -> None:
    member = Client()
    member.force_login(django_user_model.objects.create_user("floor", "floor@example.com", "x" * 12))
    member.get("/search/")
    with CaptureQueriesContext(connection) as queries:
        response = member.get("/search/")
    assert response.status_code == 200
    assert 'name="q"' in response.content.decode()
    assert not [q for q in queries.captured_queries if "searchdocument" in q["sql"].lower()]


def _run(rate: float, p99: float, *, note: str = "") -> Row:
    result = WrkResult(
        requests_per_second=rate,
        p50_ms=p99 / 2,
        p99_ms=p99,
        requests=int(rate * 10),
        non_2xx=0,
        socket_errors=0,
    )
    return Row(SEARCH, result, cpu_ms=1000 / rate, note=note)


SEARCH = Target("search (common word)", "member", "/search/?q=option", 0.35, None, 50.0, slug="search-common")
CEILING = Target("ceiling (bare view)", "guest", "/bench/bare", slug="ceiling")


def _verdict(rows: list[Row]) -> str:
    ceiling = Row(CEILING, WrkResult(1000.0, 10.0, 20.0, 10000, 0, 0), cpu_ms=1.0)
    ids = {
        "scale": 1,
        "fraction": 1,
        "thread_posts": 50,
        "thread_last_page": 3,
        "sizes": {"posts": 1, "threads": 1, "members": 1, "forums": 1},
    }
    table = Command()._table([ceiling, *rows], ids)
    line = next(line for line in table.splitlines() if line.startswith("| search"))
    return [cell.strip() for cell in line.split("|")][10]


def test_rounds_judge_each_target_on_the_median_of_its_runs() -> None:
    # --rounds 3: one slow run of three does not decide, two do; the range is shown.
    row = median_row([_run(450, 45.0), _run(330, 66.0), _run(440, 48.0)])
    assert row.result is not None
    assert (row.result.requests_per_second, row.result.p99_ms, row.result.requests) == (440, 48.0, 12200)
    assert "median of 3 runs: req/s 330-450, p99 45.0-66.0 ms" in row.note
    assert [run["p99_ms"] for run in row.extra["runs"]] == [45.0, 66.0, 48.0]
    assert _verdict([row]) == "yes"
    assert _verdict([median_row([_run(450, 45.0), _run(330, 66.0), _run(340, 52.0)])]) == "NO"
    # Of an even count, the worse middle one of each figure.
    two = median_row([_run(450, 45.0), _run(330, 66.0)])
    assert two.result is not None and (two.result.requests_per_second, two.result.p99_ms) == (330, 66.0)
    assert _verdict([two]) == "NO"


def test_a_failed_run_among_the_rounds_fails_the_target() -> None:
    failed = Row(SEARCH, None, note="wrk printed no Requests/sec")
    row = median_row([_run(450, 45.0), failed, _run(440, 48.0)])
    assert "a run failed: wrk printed no Requests/sec" in row.note
    assert _verdict([row]) == "NO"
    # One round is the run itself, as before --rounds.
    single = _run(450, 45.0, note="load 0.1")
    assert median_row([single]) is single


def test_with_rounds_each_run_is_a_share_of_its_own_rounds_ceiling() -> None:
    # The machine slowed: each round's ceiling was lower, and so was the search. Against the best
    # ceiling of the whole run (1,000) the median search (345) is 34.5%; against their own rounds'
    # ceilings the runs are 37.8%, 36.3% and 36.5%.
    runs = [_run(340, 45.0), _run(345, 45.0), _run(350, 45.0)]
    for run, ceiling in zip(runs, (900, 950, 960), strict=True):
        run.extra["ceiling"] = ceiling
    row = median_row(runs)
    assert row.extra["share"] == pytest.approx(350 / 960)
    assert [round(run["of_ceiling"], 3) for run in row.extra["runs"]] == [0.378, 0.363, 0.365]
    assert "ceiling" not in row.extra
    assert _verdict([row]) == "yes"
    without = median_row([_run(340, 45.0), _run(345, 45.0), _run(350, 45.0)])
    assert _verdict([without]) == "NO"


def test_each_round_is_judged_against_the_higher_of_its_two_ceilings() -> None:
    # Three rounds, four ceilings: before round 1, between rounds, after round 3.
    def ceiling(rate: float | None) -> Row:
        return Row(CEILING, WrkResult(rate, 10.0, 20.0, 10000, 0, 0) if rate else None)

    runs = [_run(340, 45.0), _run(345, 45.0), _run(350, 45.0)]
    attach_round_ceilings(runs, [ceiling(900), ceiling(1000), ceiling(None), ceiling(None)])
    # Round 1 between 900 and 1,000; round 2 after 1,000 and before a failed one; round 3 none.
    assert [run.extra.get("ceiling") for run in runs] == [1000, 1000, None]
    with pytest.raises(ValueError):
        attach_round_ceilings(runs, [ceiling(900), ceiling(1000)])
