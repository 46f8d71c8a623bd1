"""Load on the lab's shop by clients that each repeat requests, and what came back.

hey repeats one URL, which is what cache hits are; an uncached request needs a value the cache
has never seen in every request, so those clients are threads here: each sends its next
request when the last one was answered (a closed loop, like the users of the lab sheet's
`for i in 1..5 ... &` loop, only more of them and for longer). Every request goes to the site
on loopback (127.0.0.1:8080, the lab's relay to node1) or to the lab's own addresses (the CDN
edge), never anywhere else.
"""
from __future__ import annotations

import re
import statistics
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message

SITE = "http://127.0.0.1:8080"

# path for (client number, request number): each call is one request.
PathFor = Callable[[int, int], str]


@dataclass(frozen=True)
class Outcome:
    path: str
    status: int  # 0: no HTTP answer
    seconds: float
    retry_after: bool
    cache: str = ""  # X-Cache: HIT, MISS, STALE or BYPASS
    error: str = ""
    body: str = ""  # its first 200 characters

    @property
    def clean(self) -> bool:
        """Served, or refused the way a client can act on: 503 with Retry-After."""
        return self.status == 200 or (self.status == 503 and self.retry_after)


# Absolute URLs may name the lab's own addresses only (the CDN edge's, say), never another host.
LAB_URL = re.compile(r"^http://(127\.0\.0\.1|10\.213\.0\.\d{1,3})(:\d+)?/")


def cache_state(headers: Message) -> str:
    """The shop's X-Cache, or the CDN edge's X-Cache-Status."""
    return headers.get("X-Cache") or headers.get("X-Cache-Status") or ""


def get(path: str, timeout: float) -> Outcome:
    """GET a path of the site (``/...``), or an absolute URL into the lab."""
    assert path.startswith("/") or LAB_URL.match(path), path
    url = SITE + path if path.startswith("/") else path
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            body = answer.read()
            return Outcome(path, answer.status, time.monotonic() - started, "Retry-After" in answer.headers,
                           cache_state(answer.headers), body=body[:200].decode("utf-8", "replace"))
    except urllib.error.HTTPError as error:
        body = error.read()
        return Outcome(path, error.code, time.monotonic() - started, "Retry-After" in error.headers,
                       cache_state(error.headers), body=body[:200].decode("utf-8", "replace"))
    except OSError as error:
        return Outcome(path, 0, time.monotonic() - started, False, error=repr(error))


@dataclass(eq=False)
class Clients:
    """``count`` threads, each repeating ``path_for`` requests until stopped."""

    name: str
    count: int
    path_for: PathFor
    timeout: float = 120.0
    outcomes: list[Outcome] = field(default_factory=list)

    def start(self) -> Clients:
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(self.count)]
        for thread in self._threads:
            thread.start()
        return self

    def _loop(self, client: int) -> None:
        n = 0
        while not self._halt.is_set():
            outcome = get(self.path_for(client, n), self.timeout)
            with self._lock:
                self.outcomes.append(outcome)
            n += 1
            if outcome.status in (0, 503):
                time.sleep(0.2)  # a refused client backs off a little, as Retry-After asks

    def stop(self) -> Tally:
        """Stop sending; wait for the answers in flight (each bounded by the timeout)."""
        self._halt.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)
        return Tally(self.name, list(self.outcomes))


@dataclass
class Tally:
    name: str
    outcomes: list[Outcome]

    @property
    def statuses(self) -> Counter[int]:
        return Counter(o.status for o in self.outcomes)

    @property
    def unclean(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.clean]

    def quantile(self, q: float) -> float:
        seconds = sorted(o.seconds for o in self.outcomes if o.status == 200)
        if not seconds:
            return float("nan")
        if len(seconds) == 1:
            return seconds[0]
        return statistics.quantiles(seconds, n=100, method="inclusive")[round(q * 100) - 1]

    def line(self) -> str:
        served = [o.seconds for o in self.outcomes if o.status == 200]
        codes = ", ".join(f"{code or 'none'}: {n}" for code, n in sorted(self.statuses.items()))
        timing = (f"p50 {self.quantile(0.5):.3f} s, p95 {self.quantile(0.95):.3f} s, max {max(served):.3f} s"
                  if served else "none served")
        return f"{self.name}: {len(self.outcomes)} requests ({codes}); served {timing}"


def uncached_heavy(client: int, n: int) -> str:
    return f"/api/misc/heavy?name=load-{client}-{n}-{uuid.uuid4().hex[:8]}"


def uncached_db(client: int, n: int) -> str:
    """A write, then the last product: each write makes the next read of it a miss."""
    if n % 2 == 0:
        return f"/api/products?product=load-{client}-{n}-{uuid.uuid4().hex[:8]}"
    return "/api/products/last"


def cached_heavy(client: int, n: int) -> str:
    return "/api/misc/heavy?name=load-cached"


def mixed(client: int, n: int) -> str:
    """A third uncached heavy, a third uncached DB, a third cached."""
    kind = client % 3
    if kind == 0:
        return uncached_heavy(client, n)
    if kind == 1:
        return uncached_db(client, n)
    return cached_heavy(client, n)
