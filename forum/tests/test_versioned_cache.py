"""forum.versioned_cache: parts built once and kept until their scope's version moves after a commit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from forum import versioned_cache
from forum.bus import publish
from forum.testing.bus_app.events import SampleRecorded

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("kept_parts")]


class Builder:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        return f"built {self.calls}"


@pytest.mark.parametrize("local", [False, True])
def test_built_once_until_a_change_of_its_scope_commits(local: bool, committed: Callable[[], Any]) -> None:
    build = Builder()

    def get(parts: tuple[object, ...] = ("a", "en")) -> str:
        return versioned_cache.kept("test.part", parts, ("alpha", "beta"), build, local=local)

    assert get() == "built 1"
    assert get() == "built 1"
    assert get(("b", "en")) == "built 2", "other parts are another entry"
    with committed():
        versioned_cache.changed("gamma")
    assert get() == "built 1", "a scope it does not depend on"
    with committed():
        versioned_cache.changed("beta")
    assert get() == "built 3"
    assert get() == "built 3"


def test_a_change_that_rolls_back_moves_nothing(committed: Callable[[], Any]) -> None:
    build = Builder()
    versioned_cache.kept("test.part", (), ("alpha",), build)
    with committed(), transaction.atomic():
        try:
            with transaction.atomic():
                versioned_cache.changed("alpha")
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
    assert versioned_cache.kept("test.part", (), ("alpha",), build) == "built 1"


def test_a_change_kept_once_per_transaction_still_counts_after_a_savepoint_rolls_back(
    committed: Callable[[], Any],
) -> None:
    build = Builder()
    versioned_cache.kept("test.part", (), ("alpha",), build)
    with committed(), transaction.atomic():
        try:
            with transaction.atomic():
                versioned_cache.changed("alpha")
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        versioned_cache.changed("alpha")  # not skipped: the first one went with its savepoint
    assert versioned_cache.kept("test.part", (), ("alpha",), build) == "built 2"


@pytest.mark.django_db(transaction=True)
def test_changed_needs_a_transaction() -> None:
    with pytest.raises(versioned_cache.ChangeOutsideTransactionError):
        versioned_cache.changed("alpha")


def test_an_event_moves_its_apps_scope(committed: Callable[[], Any]) -> None:
    build = Builder()
    versioned_cache.kept("test.part", (), ("testing_bus",), build)
    with committed(), transaction.atomic():
        publish(SampleRecorded(key="k", value="v"))
    assert versioned_cache.kept("test.part", (), ("testing_bus",), build) == "built 2"


def test_switched_off_it_builds_every_time(settings: Any) -> None:
    settings.KEPT_PARTS_SECONDS = 0
    build = Builder()
    versioned_cache.kept("test.part", (), ("alpha",), build, local=True)
    assert versioned_cache.kept("test.part", (), ("alpha",), build, local=True) == "built 2"


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The keys of each ``MGET`` the versions are read with (the real one still runs)."""
    from forum import cache_client

    done: list[list[str]] = []
    real = cache_client.get_many

    def spy(keys: Any) -> dict[str, Any]:
        done.append(list(keys))
        return real(keys)

    monkeypatch.setattr(cache_client, "get_many", spy)
    return done


def test_a_request_reads_its_versions_once(round_trips: list[list[str]]) -> None:
    """The parts of one page (the forums, a thread's posts, the badges) cost one round trip for their
    versions together: the first read brings the shared scopes asked for lately."""
    versioned_cache.kept("test.shared", (), ("alpha", "beta"), Builder())  # learnt: alpha, beta
    round_trips.clear()
    with versioned_cache.request_scope():
        first = versioned_cache.versions(["thread:7", "alpha"])
        assert versioned_cache.versions(["beta"]) is not None
        assert versioned_cache.versions(["alpha", "thread:7"]) == (first or ())[::-1]
    assert len(round_trips) == 1, round_trips
    assert {key.rsplit(":", 1)[-1] for key in round_trips[0]} >= {"alpha", "beta", "7"}
    with versioned_cache.request_scope():
        versioned_cache.versions(["alpha"])
    assert len(round_trips) == 2, "each request reads the versions again"


def test_a_change_the_request_commits_is_read_by_the_rest_of_it(committed: Callable[[], Any]) -> None:
    build = Builder()
    with versioned_cache.request_scope():
        assert versioned_cache.kept("test.part", (), ("alpha",), build) == "built 1"
        before = versioned_cache.versions(["alpha"])
        with committed():
            versioned_cache.changed("alpha")
        after = versioned_cache.versions(["alpha"])
        assert after != before, "the version the commit started, not the one read first"
        assert versioned_cache.kept("test.part", (), ("alpha",), build) == "built 2"
    assert versioned_cache.versions(["alpha"]) == after, "the same as Redis holds"


def test_a_change_committed_elsewhere_shows_on_the_next_request(committed: Callable[[], Any]) -> None:
    build = Builder()
    with versioned_cache.request_scope():
        assert versioned_cache.kept("test.part", (), ("alpha",), build) == "built 1"
    with committed():
        versioned_cache.changed("alpha")
    with versioned_cache.request_scope():
        assert versioned_cache.kept("test.part", (), ("alpha",), build) == "built 2"
