"""The collector's policy of the server processes (forum.gc_policy)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from forum import gc_policy


@pytest.fixture
def fresh_policy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(gc_policy, "WARM_UP_UNITS", 3)
    monkeypatch.setattr(gc_policy, "_units", 0)
    monkeypatch.setattr(gc_policy, "_warmed", False)
    yield


def test_the_process_starts_with_what_it_loaded_frozen() -> None:
    """install() ran in the kernel's ready(): Django and the apps are out of full collections."""
    assert gc.get_freeze_count() > 10_000


def test_what_warm_up_made_is_frozen_once_after_the_first_units(fresh_policy: None) -> None:
    # The frozen count only grows by a freeze; it may shrink a little as frozen objects are freed.
    before = gc.get_freeze_count()
    kept = [[index] for index in range(5_000)]  # filled on first use, alive from then on
    gc_policy.unit_done()
    gc_policy.unit_done()
    assert gc.get_freeze_count() <= before
    gc_policy.unit_done()
    frozen = gc.get_freeze_count()
    assert frozen - before > len(kept) // 2, "the warm-up's objects were not frozen"
    more = [[index] for index in range(5_000)]
    for _ in range(10):
        gc_policy.unit_done()
    assert gc.get_freeze_count() <= frozen, "a second warm-up freeze"
    assert len(more) == 5_000


def test_garbage_is_collected_before_a_freeze(fresh_policy: None) -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self  # a cycle: only the collector frees it

    cycles = [weakref.ref(Node()) for _ in range(100)]
    assert any(ref() is not None for ref in cycles)
    gc_policy.freeze()
    assert all(ref() is None for ref in cycles), "garbage was frozen, never to be freed"
