"""How much work one API process takes on at a time, and what it refuses.

The lab sheet's bottleneck is kept: a process does its *work* (a view that computes, sleeps or
queries the database) for ONE request at a time (``API_ORIGIN_SLOTS``, default 1). What is not
work never waits for that slot: a cache hit, the health check. So the process runs several
threads; the work slot, not the thread count, is the bottleneck.

Requests that wait for work (for the slot, or for another replica's single-flight result) are
admitted up to ``API_QUEUE_LIMIT``; one more is refused at once (503 + Retry-After), so threads
stay free for hits and the health check. An admitted request waits at most ``API_QUEUE_SECONDS``
for the slot (and, with the same deadline, for a database connection), then is refused too.
The health check reports a process whose slot has been held longer than ``API_HUNG_SECONDS``:
busy is not dead, stuck is.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager


class Saturated(Exception):
    """No capacity within the bounds: answer 503 with Retry-After."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Capacity:
    def __init__(self, slots: int, queue_limit: int) -> None:
        if slots < 1:
            raise ValueError("slots must be >= 1")
        self._free = slots
        self._limit = slots + queue_limit
        self._lock = threading.Lock()
        # Waiters in line, first served first: a freed slot is handed to the head of the line.
        self._line: deque[threading.Event] = deque()
        self._admitted = 0
        self._holders: dict[int, float] = {}  # thread id -> when it took a slot

    @property
    def admitted(self) -> int:
        return self._admitted

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Count a request that may wait for work; refuse it at once past the limit."""
        with self._lock:
            if self._admitted >= self._limit:
                raise Saturated(f"{self._admitted} requests already working or waiting")
            self._admitted += 1
        try:
            yield
        finally:
            with self._lock:
                self._admitted -= 1

    @contextmanager
    def slot(self, deadline: float, urgent: bool = False) -> Iterator[None]:
        """Hold a work slot; wait in line for one until ``deadline`` (time.monotonic()).

        The line is first come, first served; an urgent request (the renewal of a cache entry
        that every client is being served stale) goes to its head.
        """
        with self._lock:
            if self._free > 0 and not self._line:
                self._free -= 1
                turn = None
            else:
                turn = threading.Event()
                if urgent:
                    self._line.appendleft(turn)
                else:
                    self._line.append(turn)
        if turn is not None and not turn.wait(max(0.0, deadline - time.monotonic())):
            with self._lock:
                if not turn.is_set():  # still in line: leave it
                    self._line.remove(turn)
                    raise Saturated("no work slot within the queue time")
        with self._lock:
            self._holders[threading.get_ident()] = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self._holders.pop(threading.get_ident(), None)
                if self._line:
                    self._line.popleft().set()  # the slot goes to the head of the line
                else:
                    self._free += 1

    def longest_held(self) -> float:
        """Seconds the oldest current holder has held its slot (0 when none)."""
        with self._lock:
            oldest = min(self._holders.values(), default=None)
        return 0.0 if oldest is None else time.monotonic() - oldest
