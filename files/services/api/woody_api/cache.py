"""A Redis response cache that fails open, with cross-process single flight.

Keys are ``woody:cache:<tag>:<path>?<the view's parameters, sorted, urlencoded>``: only what
the answer depends on is in the key, so a request with extra query parameters shares the entry
(and the single flight) of the plain one, and HEAD shares GET's. An entry is stored as
``<generation>\n<fresh until, Unix time>\n<body>`` and kept past its TTL as long as a renewal
may take (queue + work): bumping a tag's
generation (one INCR) invalidates every entry of the tag at once, including results still being
computed; past its freshness, an entry of the current generation is still served (STALE) while
a thread renews it, so an expiry makes no client wait. A hit costs one
round trip (MGET of the generation and the entry). The reverse proxy reads the same keys and
values (files/services/reverse-proxy/woody-cache-hit.lua) and answers fresh hits itself.
Every Redis error (down, refused, slow past the socket timeout, a name that no longer
resolves) is turned into CacheUnavailable; the caller then serves from the origin. Each call is
bounded (name lookup, connect, command; redis-py's own retries are off), and after an error the
cache's breaker skips Redis for about ``retry_seconds`` (jittered), then lets one call probe it:
a Redis that is gone costs one bounded failure per interval, and recovery needs no restart.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlencode

import redis
import redis.connection
from redis.backoff import NoBackoff
from redis.retry import Retry

from .breaker import Breaker
from .lookup import resolve

log = logging.getLogger("woody_api.cache")

_RELEASE_SCRIPT = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class CacheUnavailable(Exception):
    """Redis could not be used; serve from the origin."""


@dataclass(frozen=True)
class Entry:
    generation: int
    body: bytes | None = None
    fresh: bool = False
    # Seconds since the entry stopped being fresh (0 while it is).
    expired_for: float = 0.0


class BoundedLookupConnection(redis.connection.Connection):
    """A Redis connection whose name lookup is bounded (see lookup.py): a Redis service with
    no task left fails in ``lookup_timeout`` seconds, not in the resolver's 10."""

    def __init__(self, *, lookup_timeout: float, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._lookup_timeout = lookup_timeout

    def _connect(self):  # type: ignore[no-untyped-def]  # redis-py's own signature
        name = self.host
        self.host = resolve(name, self.port, self._lookup_timeout)
        try:
            return super()._connect()
        finally:
            self.host = name


def cache_key(tag: str, path: str, params: Mapping[str, str]) -> str:
    """Key of one answer: the path and the parameters the view reads, sorted by name."""
    return f"woody:cache:{tag}:{path}?{urlencode(sorted(params.items()))}"


def generation_key(tag: str) -> str:
    return f"woody:gen:{tag}"


class Cache:
    def __init__(self, url: str, timeout: float, retry_seconds: float, password: str | None = None,
                 lookup_timeout: float = 0.3) -> None:
        self._client = redis.Redis.from_url(
            url,
            password=password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # One bounded try per call: the breaker, not the client, decides when to try again.
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
            connection_class=BoundedLookupConnection,
            lookup_timeout=lookup_timeout,
        )
        self.breaker = Breaker("cache", retry_seconds)

    # --- health -------------------------------------------------------------------------
    def _check_open(self) -> None:
        if not self.breaker.allow():
            raise CacheUnavailable("cache skipped after a recent Redis error")

    def _failed(self, exc: BaseException) -> CacheUnavailable:
        # The pool is not emptied here: other threads may be reading on its connections;
        # redis-py drops a connection that failed and opens a new one when it is next used.
        self.breaker.failed(exc)
        return CacheUnavailable(str(exc))

    def _succeeded(self) -> None:
        self.breaker.succeeded()

    def _call(self, name: str, *args: object) -> object:
        self._check_open()
        try:
            result = getattr(self._client, name)(*args)
        except Exception as exc:  # a cache fails open, whatever its client raises
            raise self._failed(exc) from exc
        self._succeeded()
        return result

    # --- operations ---------------------------------------------------------------------
    def lookup(self, tag: str, key: str) -> Entry:
        """The tag's generation, and the entry if it was stored in that generation."""
        raw_gen, raw_entry = cast("list[bytes | None]",
                                  self._call("mget", generation_key(tag), key))
        generation = int(raw_gen) if raw_gen is not None else 0
        if raw_entry is None:
            return Entry(generation)
        stored_gen, _, rest = raw_entry.partition(b"\n")
        fresh_until, _, body = rest.partition(b"\n")
        if stored_gen != str(generation).encode():
            return Entry(generation)
        try:
            expired_for = time.time() - float(fresh_until)
        except ValueError:
            return Entry(generation)
        return Entry(generation, body, expired_for < 0, max(0.0, expired_for))

    def invalidate(self, tag: str) -> None:
        self._call("incr", generation_key(tag))

    def put(self, key: str, generation: int, body: bytes, ttl: int, stale_seconds: float) -> None:
        """Store as computed in ``generation``: fresh for ``ttl`` s, then kept ``stale_seconds``
        more (served stale while renewed, or while the origin is down). A TTL <= 0 stores
        nothing."""
        if ttl > 0:
            header = f"{generation}\n{time.time() + ttl:.3f}\n".encode()
            self._call("set", key, header + body, ttl + max(1, int(stale_seconds)))

    def try_lock(self, key: str, seconds: float) -> str | None:
        token = uuid.uuid4().hex
        self._check_open()
        try:
            ok = self._client.set(f"{key}#lock", token, nx=True,
                                  px=max(1, int(seconds * 1000)))
        except Exception as exc:  # a cache fails open, whatever its client raises
            raise self._failed(exc) from exc
        self._succeeded()
        return token if ok else None

    def unlock(self, key: str, token: str) -> None:
        try:
            self._call("eval", _RELEASE_SCRIPT, 1, f"{key}#lock", token)
        except CacheUnavailable:
            pass  # the lock expires by itself
