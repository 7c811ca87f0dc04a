"""Garbage collection in the server processes: what a process loaded to serve is kept out of the
collector's full passes.

A full collection walks every object the collector tracks: about 55 ms in a web worker that holds
125,000 of them (Django, the apps, the URL patterns, translations, compiled templates). A request or a
task that happens to trigger one waits that long; in ``make bench-live`` they were the slowest API
answers. ``gc.freeze()`` moves every object alive at that moment into a permanent generation that
collections skip, so a full pass walks only what was made since.

``install()`` (from the kernel's ``AppConfig.ready``, in every process: web workers, WebSocket
servers, Celery's parent before it forks its children, management commands) collects and freezes at
once, and again after the process's first ``WARM_UP_UNITS`` requests, tasks or sockets, when the
caches filled on first use exist. Garbage is collected before each freeze; what is frozen stays for
the life of the process (it was alive, and mostly lives as long anyway).
"""

from __future__ import annotations

import gc
import logging
import threading
from typing import Any

from celery import signals as celery_signals
from django.core.signals import request_finished

__all__ = ["WARM_UP_UNITS", "install", "unit_done"]

logger = logging.getLogger(__name__)

# Requests, tasks or sockets after which the warmed-up caches are frozen too.
WARM_UP_UNITS = 200

_lock = threading.Lock()
_units = 0
_warmed = False


def freeze() -> int:
    """Collect garbage, then freeze what is left; returns how many objects are frozen now."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def unit_done(**kwargs: Any) -> None:
    """One request, task or socket served; the WARM_UP_UNITS-th freezes again (once)."""
    global _units, _warmed
    if _warmed:
        return
    with _lock:
        _units += 1
        if _warmed or _units < WARM_UP_UNITS:
            return
        _warmed = True
    frozen = freeze()
    logger.debug("objects frozen after warm-up", extra={"frozen": frozen})


def install() -> None:
    freeze()
    request_finished.connect(unit_done, weak=False, dispatch_uid="forum.gc_policy.request")
    celery_signals.task_postrun.connect(unit_done, weak=False, dispatch_uid="forum.gc_policy.task")
