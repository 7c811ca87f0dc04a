"""Per-process memory that a backing service (Redis, the broker) just failed, so that callers skip it
for a moment.

During an outage every call to Redis waits for its connect timeout (2 s for the cache and the
counters) before it fails, and a request may make several. A ``Breaker`` notes the failure of an
address; for the breaker's interval after it (``REDIS_OUTAGE_SKIP_SECONDS`` unless another setting is
named), ``skipping(address)`` is true and callers take their fallback at once. The first call after
that interval tries the address again: one call per interval and process pays the timeout, not every
call. ``failed`` and ``succeeded`` tell when an outage starts and ends, so that callers log those two
moments rather than a traceback per call.

What each caller falls back to is its own decision (docs/architecture.md, "When Redis is down" and
"When the broker is down").
"""

from __future__ import annotations

import threading
import time

from django.conf import settings

__all__ = ["Breaker"]


class Breaker:
    """One use of a service (the sign-in counters, the page cache...) in this process, per address."""

    def __init__(self, name: str, *, skip_setting: str = "REDIS_OUTAGE_SKIP_SECONDS") -> None:
        self.name = name
        # The name of the setting that holds the interval, read at each call (tests change it).
        self.skip_setting = skip_setting
        self._lock = threading.Lock()
        self._failed_at: dict[str, float] = {}

    def down(self, address: str) -> bool:
        """True from a failure until a call succeeds again (whether or not calls are skipped now)."""
        return address in self._failed_at

    def skipping(self, address: str) -> bool:
        """True while calls should not even try: ``address`` failed less than the interval ago."""
        failed_at = self._failed_at.get(address)
        if failed_at is None:
            return False
        return time.monotonic() - failed_at < float(getattr(settings, self.skip_setting))

    def failed(self, address: str) -> bool:
        """A call failed: skip ``address`` for the interval. True when this starts an outage."""
        with self._lock:
            first = address not in self._failed_at
            self._failed_at[address] = time.monotonic()
        return first

    def succeeded(self, address: str) -> bool:
        """A call worked: the outage of ``address``, if any, is over. True when one just ended."""
        if address not in self._failed_at:
            return False
        with self._lock:
            return self._failed_at.pop(address, None) is not None

    def __repr__(self) -> str:
        return f"Breaker({self.name!r}, addresses down: {len(self._failed_at)})"

    def reset(self) -> None:
        """Forget every failure (tests)."""
        with self._lock:
            self._failed_at.clear()
