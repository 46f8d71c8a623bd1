"""The API against a real MariaDB and a real Redis on loopback (issue 3, "Done when")."""

from __future__ import annotations

import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import redis
from svc_support import (
    DB_SLEEP_SECONDS,
    HEAVY_SECONDS,
    ORDER_SECONDS,
    ApiProcess,
    MariaDB,
    RedisServer,
    StartApi,
    http_get,
)

NOW = r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?"
LAST = re.compile(rf"^db: {NOW} - (\d+) products \(last=(.*)\)$")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def heavy_keys(client: redis.Redis) -> list[bytes]:
    return [k for k in client.keys("woody:cache:heavy:*") if not k.endswith(b"#lock")]


# --- the contract, cache off ------------------------------------------------------------

def test_ping(api_plain: ApiProcess) -> None:
    reply = http_get(api_plain.base + "/api/ping")
    assert (reply.status, reply.body) == (200, "ping")
    assert reply.headers["Content-Type"].startswith("text/plain")


def test_misc_time(api_plain: ApiProcess) -> None:
    reply = http_get(api_plain.base + "/api/misc/time")
    assert reply.status == 200
    assert re.fullmatch(rf"misc: {NOW}", reply.body), reply.body


def test_heavy_sleeps_and_echoes_the_name(api_plain: ApiProcess) -> None:
    reply = http_get(api_plain.base + "/api/misc/heavy?name=Buzz")
    assert reply.status == 200
    assert re.fullmatch(rf"{NOW}: Woody -Buzz- Woody", reply.body), reply.body
    assert reply.seconds >= HEAVY_SECONDS
    assert reply.headers["X-Cache"] == "BYPASS"


def test_add_product_then_read_it_back(api_plain: ApiProcess, mariadb: MariaDB) -> None:
    name = unique("Toupie")
    reply = http_get(api_plain.base + "/api/products?product=" + quote(name))
    assert (reply.status, reply.body) == (200, name)
    with mariadb.admin() as conn, conn.cursor() as cur:
        cur.execute("SELECT id FROM product WHERE name = %s", (name,))
        (product_id,) = cur.fetchone()
    by_id = http_get(f"{api_plain.base}/api/products/{product_id}")
    assert (by_id.status, by_id.body) == (200, name)
    assert http_get(api_plain.base + "/api/products/999999").status == 404


def test_seed_rows_exist(mariadb: MariaDB) -> None:
    with mariadb.admin() as conn, conn.cursor() as cur:
        cur.execute("SELECT name FROM product WHERE id IN (1, 2) ORDER BY id")
        assert [r[0] for r in cur.fetchall()] == ["Yoyo", "Joli train"]


def test_last_product_is_slow_and_counts(api_plain: ApiProcess, mariadb: MariaDB) -> None:
    name = unique("Cubes")
    assert http_get(api_plain.base + "/api/products?product=" + quote(name)).status == 200
    with mariadb.admin() as conn, conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM product")
        (count,) = cur.fetchone()
    reply = http_get(api_plain.base + "/api/products/last")
    assert reply.status == 200
    match = LAST.fullmatch(reply.body)
    assert match, reply.body
    assert (int(match.group(2)), match.group(3)) == (count, name)
    assert reply.seconds >= DB_SLEEP_SECONDS


def test_orders(api_plain: ApiProcess, mariadb: MariaDB) -> None:
    reply = http_get(api_plain.base + "/api/orders/do?order=Yoyo")
    assert reply.status == 200
    assert reply.seconds >= ORDER_SECONDS
    ids = re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", reply.body)
    assert len(ids) == 1, reply.body
    status = http_get(f"{api_plain.base}/api/orders/?order_id={ids[0]}")
    assert (status.status, status.body) == (200, "validated")
    with mariadb.admin() as conn, conn.cursor() as cur:
        cur.execute("SELECT status, product FROM `order` WHERE order_id = %s", (ids[0],))
        assert cur.fetchone() == ("validated", "Yoyo")
    assert http_get(f"{api_plain.base}/api/orders/?order_id=nope").status == 404


def test_sql_injection_is_stored_literally(api_plain: ApiProcess, mariadb: MariaDB) -> None:
    evil = "x'); DROP TABLE product; --"
    reply = http_get(api_plain.base + "/api/products?product=" + quote(evil))
    assert (reply.status, reply.body) == (200, evil)
    last = LAST.fullmatch(http_get(api_plain.base + "/api/products/last").body)
    assert last and last.group(3) == evil
    with mariadb.admin() as conn, conn.cursor() as cur:
        cur.execute("SELECT id, name FROM product ORDER BY id DESC LIMIT 1")
        product_id, stored = cur.fetchone()
        cur.execute("SELECT COUNT(*) FROM product WHERE name IN ('Yoyo', 'Joli train')")
        assert cur.fetchone() == (2,)  # the table and its seed rows are still there
    assert stored == evil
    assert http_get(f"{api_plain.base}/api/products/{product_id}").body == evil


def test_one_request_at_a_time_per_process(api_plain: ApiProcess, start_api: StartApi,
                                           api_env: dict[str, str]) -> None:
    def two_heavies(base: str) -> float:
        start = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            replies = list(pool.map(lambda n: http_get(f"{base}/api/misc/heavy?name={n}"),
                                    ["one", "two"]))
        assert all(r.status == 200 for r in replies)
        return time.monotonic() - start

    assert two_heavies(api_plain.base) >= 2 * HEAVY_SECONDS  # default: serialised
    threaded = start_api("threads2", {**api_env, "API_THREADS": "2"})
    assert two_heavies(threaded.base) < 2 * HEAVY_SECONDS  # the knob lifts it


# --- the cache ------------------------------------------------------------------------------

def test_two_names_make_two_entries(api: ApiProcess, cache: redis.Redis) -> None:
    a1 = http_get(api.base + "/api/misc/heavy?name=a")
    b1 = http_get(api.base + "/api/misc/heavy?name=b")
    assert (a1.cache, b1.cache) == ("MISS", "MISS")
    assert "-a-" in a1.body and "-b-" in b1.body
    a2 = http_get(api.base + "/api/misc/heavy?name=a")
    b2 = http_get(api.base + "/api/misc/heavy?name=b")
    assert (a2.cache, a2.body) == ("HIT", a1.body)
    assert (b2.cache, b2.body) == ("HIT", b1.body)
    assert len(heavy_keys(cache)) == 2


def test_query_order_does_not_matter(api: ApiProcess, cache: redis.Redis) -> None:
    first = http_get(api.base + "/api/misc/heavy?name=q&x=1")
    second = http_get(api.base + "/api/misc/heavy?x=1&name=q")
    assert (first.cache, second.cache) == ("MISS", "HIT")
    assert second.body == first.body
    other = http_get(api.base + "/api/misc/heavy?x=2&name=q")
    assert other.cache == "MISS"


def test_hit_after_miss_is_fast(api: ApiProcess, cache: redis.Redis) -> None:
    miss = http_get(api.base + "/api/products/last")
    hit = http_get(api.base + "/api/products/last")
    assert (miss.status, miss.cache) == (200, "MISS")
    assert (hit.status, hit.cache) == (200, "HIT")
    assert hit.body == miss.body
    assert miss.seconds >= DB_SLEEP_SECONDS > hit.seconds
    ttl = max(cache.ttl(k) for k in cache.keys("woody:cache:products:*"))
    assert 0 < ttl <= 15


def test_ttl_per_endpoint(api: ApiProcess, cache: redis.Redis) -> None:
    assert http_get(api.base + "/api/misc/heavy?name=ttl").cache == "MISS"
    (key,) = heavy_keys(cache)
    assert 15 < cache.ttl(key) <= 30


def test_only_successful_gets_are_stored(api: ApiProcess, cache: redis.Redis) -> None:
    bad = http_get(api.base + "/api/misc/heavy")  # no name: 400
    assert bad.status == 400
    assert http_get(api.base + "/api/misc/heavy").status == 400
    assert heavy_keys(cache) == []


def test_adding_a_product_invalidates_last(api: ApiProcess, cache: redis.Redis) -> None:
    assert http_get(api.base + "/api/products/last").cache == "MISS"
    assert http_get(api.base + "/api/products/last").cache == "HIT"
    name = unique("Puzzle")
    assert http_get(api.base + "/api/products?product=" + quote(name)).body == name
    after = http_get(api.base + "/api/products/last")
    assert after.cache == "MISS"
    match = LAST.fullmatch(after.body)
    assert match and match.group(3) == name


def test_redis_down_fails_open_and_recovers(api: ApiProcess, cache: redis.Redis,
                                            redis_server: RedisServer) -> None:
    assert http_get(api.base + "/api/misc/heavy?name=outage").cache == "MISS"
    redis_server.stop()
    replies = [http_get(api.base + "/api/misc/heavy?name=outage") for _ in range(3)]
    replies.append(http_get(api.base + "/api/products/last"))
    assert [r.status for r in replies] == [200, 200, 200, 200]
    assert {r.cache for r in replies} == {"BYPASS"}
    assert all(r.seconds < HEAVY_SECONDS + DB_SLEEP_SECONDS + 1 for r in replies)
    assert "cache unavailable" in api.log()

    redis_server.start()  # empty: the first answer after recovery is a MISS, then HITs
    deadline = time.monotonic() + 10
    states: list[str | None] = []
    while time.monotonic() < deadline and "HIT" not in states:
        states.append(http_get(api.base + "/api/misc/heavy?name=outage").cache)
        time.sleep(0.1)
    assert states[-1] == "HIT" and "MISS" in states, states
    assert "cache available again" in api.log()


def test_single_flight_across_replicas(api_replicas: list[ApiProcess], cache: redis.Redis,
                                       mariadb: MariaDB) -> None:
    queries_before = mariadb.status("Com_lock_tables")
    urls = [api_replicas[i % 4].base + "/api/products/last" for i in range(20)]
    with ThreadPoolExecutor(20) as pool:
        replies = list(pool.map(http_get, urls))
    queries = mariadb.status("Com_lock_tables") - queries_before
    assert [r.status for r in replies] == [200] * 20, [r.body for r in replies]
    assert len({r.body for r in replies}) == 1
    assert sorted(r.cache or "" for r in replies) == ["HIT"] * 19 + ["MISS"]
    assert queries == 1
    logs = "".join(r.log() for r in api_replicas)
    assert "database error" not in logs


def test_without_cache_the_single_connection_is_overrun(start_api: StartApi,
                                                        api_env: dict[str, str],
                                                        mariadb: MariaDB) -> None:
    """Control for the test above: the same burst without the cache does hit the limit."""
    replicas = [start_api(f"nocache{i}", api_env) for i in range(4)]
    queries_before = mariadb.status("Com_lock_tables")
    urls = [replicas[i % 4].base + "/api/products/last" for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(http_get, urls))
    assert mariadb.status("Com_lock_tables") - queries_before >= 1
    refused = [r for r in replies if r.status == 503]
    assert refused and all("max_user_connections" in r.body for r in refused)
    for replica in replicas:
        replica.stop()


def test_slow_redis_fails_open(start_api: StartApi, api_env: dict[str, str]) -> None:
    """A Redis that accepts connections but never answers costs at most its short timeout."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        slow = start_api("slowredis", {**api_env, "REDIS_URL": f"redis://127.0.0.1:{port}/0"})
        replies = [http_get(slow.base + "/api/misc/heavy?name=slow") for _ in range(3)]
        assert [r.status for r in replies] == [200] * 3
        assert {r.cache for r in replies} == {"BYPASS"}
        assert all(r.seconds < HEAVY_SECONDS + 0.2 * 3 + 0.5 for r in replies)
        assert accepted, "the API never tried the slow Redis"
        assert "cache unavailable" in slow.log()
        slow.stop()
    finally:
        stop.set()
        thread.join()
        listener.close()
        for conn in accepted:
            conn.close()
