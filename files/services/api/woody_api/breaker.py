"""A circuit breaker per dependency (Redis, the database), per process.

After a failure the dependency is not called for a jittered interval (replicas and processes
do not come back in step); then one call probes it (half open) while the others still skip
it. A probe that succeeds closes the breaker, one that fails opens it again. Opening and
closing are logged once each, never per request.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

log = logging.getLogger("woody_api.breaker")


class Unavailable(Exception):
    """A dependency the request needs is down (or its breaker is open): 503 at once."""

    def __init__(self, dependency: str, reason: str) -> None:
        super().__init__(f"{dependency} unavailable: {reason}")
        self.dependency = dependency
        self.reason = reason


class Breaker:
    def __init__(self, dependency: str, open_seconds: float,
                 clock: Callable[[], float] = time.monotonic,
                 jitter: Callable[[], float] = lambda: random.uniform(0.5, 1.5)) -> None:  # noqa: S311
        self.dependency = dependency
        self._open_seconds = open_seconds
        self._clock = clock
        self._jitter = jitter
        self._lock = threading.Lock()
        self._open = False
        self._retry_at = 0.0
        self._probing = False

    @property
    def is_open(self) -> bool:
        return self._open

    def blocked(self) -> bool:
        """True while no call would be let through (open, and its interval not over or a probe
        under way). Takes no probe: a request asks this before it queues for work."""
        with self._lock:
            return self._open and (self._probing or self._clock() < self._retry_at)

    def allow(self) -> bool:
        """May this call go to the dependency? Closed: yes. Open: only one probe once the
        interval has passed, the others wait for its outcome (they are told no)."""
        with self._lock:
            if not self._open:
                return True
            if self._probing or self._clock() < self._retry_at:
                return False
            self._probing = True
            return True

    def check(self) -> None:
        """Raise Unavailable when the breaker lets no call through now."""
        if not self.allow():
            raise Unavailable(self.dependency, "skipped after a recent failure")

    def succeeded(self) -> None:
        with self._lock:
            was_open, self._open, self._probing = self._open, False, False
        if was_open:
            log.warning("%s available again: breaker closed", self.dependency)

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            was_open = self._open
            interval = self._open_seconds * self._jitter()
            self._open, self._probing = True, False
            self._retry_at = self._clock() + interval
        if not was_open:
            log.warning("%s unavailable (%s: %s): breaker open, probing again in %.1f s",
                        self.dependency, type(exc).__name__, exc, interval)
