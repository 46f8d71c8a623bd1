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
values (files/reverse-proxy/woody-cache-hit.lua) and answers fresh hits itself.
Every Redis error (down, refused, slow past the socket timeout) is turned into
CacheUnavailable; the caller then serves from the origin. After an error the cache is skipped
for ``retry_seconds`` (so a slow Redis costs at most one timeout per period), then tried again:
recovery needs no restart.
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


def cache_key(tag: str, path: str, params: Mapping[str, str]) -> str:
    """Key of one answer: the path and the parameters the view reads, sorted by name."""
    return f"woody:cache:{tag}:{path}?{urlencode(sorted(params.items()))}"


def generation_key(tag: str) -> str:
    return f"woody:gen:{tag}"


class Cache:
    def __init__(self, url: str, timeout: float, retry_seconds: float, password: str | None = None) -> None:
        self._client = redis.Redis.from_url(
            url,
            password=password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry_on_timeout=False,
            health_check_interval=0,
        )
        self._retry_seconds = retry_seconds
        self._down_until = 0.0
        self._down = False

    # --- health -------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._down and time.monotonic() < self._down_until:
            raise CacheUnavailable("cache skipped after a recent Redis error")

    def _failed(self, exc: BaseException) -> CacheUnavailable:
        if not self._down:
            log.warning("cache unavailable, serving from origin: %s: %s",
                        type(exc).__name__, exc)
        self._down = True
        self._down_until = time.monotonic() + self._retry_seconds
        # The pool is not emptied here: other threads may be reading on its connections;
        # redis-py drops a connection that failed and opens a new one when it is next used.
        return CacheUnavailable(str(exc))

    def _succeeded(self) -> None:
        if self._down:
            log.warning("cache available again")
        self._down = False

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
            fresh = float(fresh_until) > time.time()
        except ValueError:
            return Entry(generation)
        return Entry(generation, body, fresh)

    def invalidate(self, tag: str) -> None:
        self._call("incr", generation_key(tag))

    def put(self, key: str, generation: int, body: bytes, ttl: int, stale_seconds: float) -> None:
        """Store as computed in ``generation``: fresh for ``ttl`` s, then stale for
        ``stale_seconds`` more (the time a renewal may take). A TTL <= 0 stores nothing."""
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
