"""A dependency that is gone costs milliseconds (issue 24), on loopback with real servers.

"Gone" as on the lab: the service's name no longer resolves and Docker's resolver takes 10 s
to say so (tests/services/vanished_names), or nothing listens on its port any more.
"""

from __future__ import annotations

import time
from pathlib import Path

import redis
from svc_support import HEAVY_SECONDS, ApiProcess, RedisServer, StartApi, free_port, http_get

VANISHED_NAMES = Path(__file__).resolve().parent / "vanished_names"
UNAVAILABLE = "unavailable: a service the shop needs is down, retry later"


def gone(env: dict[str, str], **names: str) -> dict[str, str]:
    """``env`` with the given settings pointing at names that have vanished."""
    return {**env, **names, "PYTHONPATH": str(VANISHED_NAMES),
            "WOODY_TEST_VANISHED_NAMES": ",".join(names.values())}


def test_with_redis_gone_an_uncached_heavy_takes_its_time_plus_under_a_second(
        start_api: StartApi, api_env: dict[str, str]) -> None:
    api = start_api("redis-gone", gone(api_env, REDIS_URL="redis://redis-gone:6379/0"))
    # As on the lab: three tries, spread over a few seconds (the breaker opens and probes again).
    replies = []
    for attempt in range(3):
        replies.append(http_get(f"{api.base}/api/misc/heavy?name=gone{attempt}", timeout=15))
        time.sleep(0.7)
    assert [(r.status, r.cache) for r in replies] == [(200, "BYPASS")] * 3, replies
    assert max(r.seconds for r in replies) < HEAVY_SECONDS + 1.0, [r.seconds for r in replies]
    log = api.log()
    assert "cache unavailable" in log and "breaker open" in log, log[-2000:]


def test_with_the_database_gone_a_db_request_gets_503_unavailable_at_once(
        start_api: StartApi, api_env: dict[str, str]) -> None:
    api = start_api("db-gone", gone(api_env, DB_HOST="db-gone"))
    first = http_get(api.base + "/api/products/1", timeout=15)
    assert first.status == 503 and first.body == UNAVAILABLE, first
    assert first.headers["Retry-After"] == "5"
    assert first.seconds < 2.0, first.seconds
    # The breaker is open now: the next ones do not even try, and say the same.
    later = [http_get(api.base + path, timeout=15)
             for path in ("/api/products?product=Toupie", "/api/orders/?order_id=x", "/api/products/last")]
    assert [(r.status, r.body) for r in later] == [(503, UNAVAILABLE)] * 3, later
    assert max(r.seconds for r in later) < 0.5, [r.seconds for r in later]
    # What does not need the database is untouched.
    heavy = http_get(api.base + "/api/misc/heavy?name=dbgone", timeout=15)
    assert heavy.status == 200 and heavy.seconds < HEAVY_SECONDS + 0.5
    log = api.log()
    assert "database unavailable" in log and "breaker open" in log, log[-2000:]
    assert "db-gone" not in first.body  # the reason is logged, never sent


def test_the_database_breaker_closes_once_the_server_answers_again(
        start_api: StartApi, api_env: dict[str, str]) -> None:
    """Nobody listens on the database's port, then a real server does (a forwarder to the
    test MariaDB, started on that port): the API finds it again by itself."""
    import socket
    import threading

    port = free_port()
    api = start_api("db-back", {**api_env, "DB_PORT": str(port), "DB_RETRY_SECONDS": "0.5"})
    assert http_get(api.base + "/api/products/1").status == 503

    target = ("127.0.0.1", int(api_env["DB_PORT"]))
    listener = socket.create_server(("127.0.0.1", port))

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            dst.close()

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    try:
        deadline = time.monotonic() + 5
        reply = http_get(api.base + "/api/products/1")
        while reply.status != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
            reply = http_get(api.base + "/api/products/1")
        assert reply.status == 200, reply
        assert "database available again" in api.log()
    finally:
        listener.close()


def test_an_expired_entry_is_served_stale_while_the_database_is_gone(
        start_api: StartApi, api_env: dict[str, str], redis_server: RedisServer,
        cache: redis.Redis) -> None:
    """Two replicas share Redis; one has lost the database. Past the entry's freshness and its
    renewal window, the one without a database serves the entry, marked STALE."""
    shared = {"REDIS_URL": redis_server.url, "REDIS_PASSWORD_FILE": str(redis_server.password_file),
              "CACHE_TTL_LAST_PRODUCT": "1", "SINGLE_FLIGHT_LOCK_SECONDS": "1"}
    healthy = start_api("stale-healthy", {**api_env, **shared})
    cut_off = start_api("stale-cut-off", gone({**api_env, **shared}, DB_HOST="db-gone"))
    filled = http_get(healthy.base + "/api/products/last")
    assert (filled.status, filled.cache) == (200, "MISS")
    time.sleep(2.5)  # fresh for 1 s, renewed while stale for 1 s more: now only stale-if-error
    stale = http_get(cut_off.base + "/api/products/last", timeout=15)
    assert (stale.status, stale.cache, stale.body) == (200, "STALE", filled.body), stale
    assert stale.seconds < 2.0
    again = http_get(cut_off.base + "/api/products/last", timeout=15)
    assert (again.status, again.cache) == (200, "STALE") and again.seconds < 0.5
    # Without an entry there is nothing to offer: the truth, at once.
    cache.flushall()
    empty = http_get(cut_off.base + "/api/products/last", timeout=15)
    assert (empty.status, empty.body) == (503, UNAVAILABLE) and empty.seconds < 2.0
    # The healthy replica does not serve the old entry: it renews from its database.
    assert http_get(healthy.base + "/api/products/last").cache == "MISS"


