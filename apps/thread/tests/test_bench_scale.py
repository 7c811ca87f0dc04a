"""bench_forum at another scale beside the first: an index-only migration keeps a seeded dataset, and
each bench database has Redis keys of its own (the same thread ids at two scales share no kept part)."""

from __future__ import annotations

from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import AddIndex, RemoveIndex, RenameIndex

from apps.thread.management import bench_seed
from apps.thread.management.commands.bench_forum import Command


def _index_only(app: str, name: str, loader: MigrationLoader) -> bool:
    operations = loader.disk_migrations[(app, name)].operations
    return all(isinstance(operation, (AddIndex, RemoveIndex, RenameIndex)) for operation in operations)


def test_the_marker_names_the_last_migration_that_changes_more_than_indexes() -> None:
    loader = MigrationLoader(connection)
    applied = sorted(name for app, name in loader.applied_migrations if app == "thread")
    named = bench_seed._marker_wanted(1, 1.0)["migration"]
    assert named in applied and not _index_only("thread", named, loader)
    # Those after it only add, drop or rename indexes (post_thread_deleted, for one): migrate builds
    # them over the seeded rows, the dataset stays.
    later = applied[applied.index(named) + 1 :]
    assert all(_index_only("thread", name, loader) for name in later)


def test_each_bench_database_has_redis_keys_of_its_own() -> None:
    one = Command()._server_env("postgres://postgres@127.0.0.1:5432/forum_bench", 0)
    ten = Command()._server_env("postgres://postgres@127.0.0.1:5432/forum10_bench", 0)
    assert one["REDIS_KEY_PREFIX"] == "forum-bench"
    assert ten["REDIS_KEY_PREFIX"] == "forum10-bench"
    assert ten["DATABASE_URL"].endswith("/forum10_bench")
