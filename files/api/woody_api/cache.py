"""A Redis response cache that fails open, with cross-process single flight.

Keys are ``woody:cache:<tag>:<generation>:<METHOD> <path>?<sorted query>``: two query strings
that differ in any value never share an entry, and bumping a tag's generation (one INCR)
invalidates every entry of that tag at once, including results still being computed.
Every Redis error (down, refused, slow past the socket timeout) is turned into
CacheUnavailable; the caller then serves from the origin. After an error the cache is skipped
for ``retry_seconds`` (so a slow Redis costs at most one timeout per period), then tried again:
recovery needs no restart.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
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


def cache_key(tag: str, generation: int, method: str, path: str,
              query: Iterable[tuple[str, str]]) -> str:
    """Key of one response: method + path + query string sorted by (name, value)."""
    ordered = urlencode(sorted(query))
    return f"woody:cache:{tag}:{generation}:{method.upper()} {path}?{ordered}"


def generation_key(tag: str) -> str:
    return f"woody:gen:{tag}"


class Cache:
    def __init__(self, url: str, timeout: float, retry_seconds: float) -> None:
        self._client = redis.Redis.from_url(
            url,
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
        try:
            self._client.connection_pool.disconnect()
        except Exception as drop:  # noqa: BLE001 - best effort, the pool reconnects later
            log.debug("could not drop Redis connections: %s", drop)
        return CacheUnavailable(str(exc))

    def _succeeded(self) -> None:
        if self._down:
            log.warning("cache available again")
        self._down = False

    def _call(self, name: str, *args: object) -> object:
        self._check_open()
        try:
            result = getattr(self._client, name)(*args)
        except (redis.RedisError, OSError) as exc:
            raise self._failed(exc) from exc
        self._succeeded()
        return result

    # --- operations ---------------------------------------------------------------------
    def generation(self, tag: str) -> int:
        raw = cast("bytes | None", self._call("get", generation_key(tag)))
        return int(raw) if raw is not None else 0

    def invalidate(self, tag: str) -> None:
        self._call("incr", generation_key(tag))

    def get(self, key: str) -> bytes | None:
        return cast("bytes | None", self._call("get", key))

    def put(self, key: str, value: bytes, ttl: int) -> None:
        """Store for ``ttl`` seconds; a TTL of 0 or less disables storing."""
        if ttl > 0:
            self._call("set", key, value, ttl)

    def try_lock(self, key: str, seconds: float) -> str | None:
        token = uuid.uuid4().hex
        self._check_open()
        try:
            ok = self._client.set(f"{key}#lock", token, nx=True,
                                  px=max(1, int(seconds * 1000)))
        except (redis.RedisError, OSError) as exc:
            raise self._failed(exc) from exc
        self._succeeded()
        return token if ok else None

    def unlock(self, key: str, token: str) -> None:
        try:
            self._call("eval", _RELEASE_SCRIPT, 1, f"{key}#lock", token)
        except CacheUnavailable:
            pass  # the lock expires by itself
