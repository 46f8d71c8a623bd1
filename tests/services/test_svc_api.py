"""The API against a real MariaDB and a real Redis on loopback (issue 3, "Done when")."""

from __future__ import annotations

import re
import time
import uuid
import os
import signal
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import redis
from svc_support import (
    API_DIR,
    DB_SLEEP_SECONDS,
    HEAVY_SECONDS,
    ORDER_SECONDS,
    ApiProcess,
    MariaDB,
    RedisServer,
    Reply,
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


def test_every_answer_forbids_caches_to_store_it(api_plain: ApiProcess) -> None:
    for path, status in (("/api/misc/time", 200), ("/api/products?product=" + "x" * 201, 400),
                         ("/api/no-such-view", 404)):
        reply = http_get(api_plain.base + path)
        assert reply.status == status, (path, reply)
        assert reply.headers.get("Cache-Control") == "no-store", (path, reply.headers)
        assert reply.headers.get("X-Content-Type-Options") == "nosniff", (path, reply.headers)


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


def test_a_product_longer_than_its_column_is_a_400(api_plain: ApiProcess) -> None:
    reply = http_get(api_plain.base + "/api/products?product=" + "x" * 201)
    assert reply.status == 400 and "Retry-After" not in reply.headers
    assert "Data too long" not in reply.body  # the driver's words stay in the log


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
    two_slots = start_api("slots2", {**api_env, "API_ORIGIN_SLOTS": "2"})
    assert two_heavies(two_slots.base) < 2 * HEAVY_SECONDS  # the knob lifts it


# --- busy is not dead; saturation is refused cleanly -----------------------------------------

def slow_heavies(base: str, count: int, prefix: str) -> list[Future[Reply]]:
    pool = ThreadPoolExecutor(count)
    futures = [pool.submit(http_get, f"{base}/api/misc/heavy?name={prefix}{i}") for i in range(count)]
    pool.shutdown(wait=False)
    return futures


def test_ping_answers_at_once_while_the_worker_is_busy(start_api: StartApi,
                                                       api_env: dict[str, str]) -> None:
    api = start_api("busy", {**api_env, "HEAVY_SECONDS": "2"})
    working = slow_heavies(api.base, 3, "busy")  # one works, two wait for it
    time.sleep(0.3)
    pings = [http_get(api.base + "/api/ping", timeout=5) for _ in range(5)]
    assert [(p.status, p.body) for p in pings] == [(200, "ping")] * 5
    assert max(p.seconds for p in pings) < 0.5, [p.seconds for p in pings]
    assert not any(f.done() for f in working)  # the pings did not wait for the heavies
    assert [f.result().status for f in working] == [200, 200, 200]


def test_a_worker_stuck_on_one_request_fails_its_health_check(start_api: StartApi,
                                                              api_env: dict[str, str]) -> None:
    api = start_api("stuck", {**api_env, "HEAVY_SECONDS": "3", "API_HUNG_SECONDS": "1"})
    stuck = slow_heavies(api.base, 1, "stuck")[0]
    time.sleep(0.3)
    assert http_get(api.base + "/api/ping").status == 200  # busy for 0.3 s: fine
    time.sleep(1.2)
    reply = http_get(api.base + "/api/ping")
    assert reply.status == 503 and reply.body.startswith("stuck"), reply
    check = subprocess.run([sys.executable, "-m", "woody_api.healthcheck"], cwd=API_DIR,
                           env={"PATH": os.environ["PATH"], "PYTHONPATH": str(API_DIR),
                                "HEALTHCHECK_URL": api.base + "/api/ping"},
                           capture_output=True, text=True, check=False)
    assert check.returncode == 1, check
    assert stuck.result().status == 200
    assert http_get(api.base + "/api/ping").status == 200  # free again: healthy again


def test_past_the_queue_limit_a_request_is_refused_at_once(start_api: StartApi,
                                                           api_env: dict[str, str]) -> None:
    api = start_api("queue1", {**api_env, "HEAVY_SECONDS": "1", "API_QUEUE_LIMIT": "1"})
    replies = [f.result() for f in slow_heavies(api.base, 4, "full")]
    refused = [r for r in replies if r.status == 503]
    assert sorted(r.status for r in replies) == [200, 200, 503, 503], replies
    for reply in refused:
        assert reply.seconds < 0.5
        assert reply.headers["Retry-After"] == "5"
        assert reply.body == "busy: the shop is saturated, retry later"
    assert "refused GET /api/misc/heavy" in api.log()


def test_a_request_waits_its_queue_time_then_is_refused(start_api: StartApi,
                                                        api_env: dict[str, str]) -> None:
    api = start_api("queuetime", {**api_env, "HEAVY_SECONDS": "1.5", "API_QUEUE_SECONDS": "1"})
    replies = sorted((f.result() for f in slow_heavies(api.base, 2, "late")), key=lambda r: r.status)
    assert [r.status for r in replies] == [200, 503]
    assert 0.9 < replies[1].seconds < 1.4 and "Retry-After" in replies[1].headers


def test_the_single_connection_is_waited_for_not_refused(start_api: StartApi,
                                                         api_env: dict[str, str],
                                                         mariadb: MariaDB) -> None:
    """Four replicas without cache share the database's one connection: they take turns."""
    replicas = [start_api(f"turns{i}", api_env) for i in range(4)]
    locks_before = mariadb.status("Com_lock_tables")
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(http_get, [r.base + "/api/products/last" for r in replicas]))
    assert [r.status for r in replies] == [200] * 4, [r.body for r in replies]
    assert mariadb.status("Com_lock_tables") - locks_before == 4
    assert max(r.seconds for r in replies) >= 4 * DB_SLEEP_SECONDS  # one after the other
    for replica in replicas:
        replica.stop()


def test_a_database_that_stays_full_gives_a_generic_503(start_api: StartApi,
                                                        api_env: dict[str, str],
                                                        mariadb: MariaDB) -> None:
    waiting = start_api("dbfull", {**api_env, "API_QUEUE_SECONDS": "0.5"})
    holder = start_api("dbholder", {**api_env, "DB_SLEEP_SECONDS": "2"})
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(http_get, holder.base + "/api/products/last")
        time.sleep(0.4)
        reply = http_get(waiting.base + "/api/products/1")
        assert held.result().status == 200
    assert reply.status == 503 and reply.headers["Retry-After"] == "5"
    assert reply.body == "busy: the shop is saturated, retry later"  # nothing of the driver's
    assert "no database connection" in waiting.log()
    waiting.stop()
    holder.stop()


def test_a_stop_by_the_orchestrator_is_not_a_clean_exit(start_api: StartApi,
                                                         api_env: dict[str, str]) -> None:
    api = start_api("stopped", api_env)
    assert api.proc is not None
    api.proc.send_signal(signal.SIGTERM)
    assert api.proc.wait(timeout=35) == 143


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


def test_parameters_the_view_does_not_read_share_the_entry(api: ApiProcess,
                                                           cache: redis.Redis) -> None:
    first = http_get(api.base + "/api/misc/heavy?name=q&x=1")
    second = http_get(api.base + "/api/misc/heavy?x=2&name=q&utm=z")
    assert (first.cache, second.cache) == ("MISS", "HIT")
    assert second.body == first.body
    assert http_get(api.base + "/api/misc/heavy?name=r&x=1").cache == "MISS"
    assert len(heavy_keys(cache)) == 2
    assert http_get(api.base + "/api/products/last").cache == "MISS"
    assert http_get(api.base + "/api/products/last?nocache=1").cache == "HIT"


def test_a_parameter_given_twice_is_refused(api: ApiProcess, cache: redis.Redis) -> None:
    reply = http_get(api.base + "/api/misc/heavy?name=a&name=b")
    assert reply.status == 400 and "name given 2 times" in reply.body
    assert http_get(api.base + "/api/products?product=a&product=b").status == 400
    assert heavy_keys(cache) == []


def test_head_is_served_from_the_cache_like_get(api: ApiProcess, cache: redis.Redis) -> None:
    miss = http_get(api.base + "/api/products/last", method="HEAD")
    hit = http_get(api.base + "/api/products/last", method="HEAD")
    assert (miss.status, miss.cache, hit.status, hit.cache) == (200, "MISS", 200, "HIT")
    assert hit.seconds < DB_SLEEP_SECONDS <= miss.seconds
    assert http_get(api.base + "/api/products/last").cache == "HIT"


def test_an_expired_entry_is_served_stale_while_it_is_renewed_beside(
        start_api: StartApi, api_env: dict[str, str], redis_server: RedisServer,
        cache: redis.Redis) -> None:
    api = start_api("stale", {**api_env, "REDIS_URL": redis_server.url, "CACHE_TTL_HEAVY": "1",
                              "REDIS_PASSWORD_FILE": str(redis_server.password_file)})
    first = http_get(api.base + "/api/misc/heavy?name=stale")
    time.sleep(1.1)
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda _: http_get(api.base + "/api/misc/heavy?name=stale"), range(4)))
    # Nobody waits for the renewal, not even the request that started it.
    assert [(r.cache, r.body) for r in replies] == [("STALE", first.body)] * 4
    assert max(r.seconds for r in replies) < HEAVY_SECONDS
    deadline = time.monotonic() + HEAVY_SECONDS + 2
    renewed = http_get(api.base + "/api/misc/heavy?name=stale")
    while renewed.cache != "HIT" and time.monotonic() < deadline:
        time.sleep(0.1)
        renewed = http_get(api.base + "/api/misc/heavy?name=stale")
    assert renewed.cache == "HIT" and renewed.body != first.body  # computed once, beside


def test_without_the_redis_password_the_cache_is_bypassed_not_the_shop(
        start_api: StartApi, api_env: dict[str, str], redis_server: RedisServer,
        cache: redis.Redis, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong-redis-password"
    wrong.write_text("not-the-password\n", encoding="utf-8")
    api = start_api("wrongpw", {**api_env, "REDIS_URL": redis_server.url, "REDIS_PASSWORD_FILE": str(wrong)})
    reply = http_get(api.base + "/api/misc/heavy?name=locked-out")
    assert (reply.status, reply.cache) == (200, "BYPASS"), reply
    assert heavy_keys(cache) == []  # Redis refused it: nothing was stored


def test_a_stale_entry_is_never_served_after_a_write(api: ApiProcess, cache: redis.Redis) -> None:
    """Staleness is for expiry only: a product added invalidates, whatever the entry's age."""
    assert http_get(api.base + "/api/products/last").cache == "MISS"
    name = unique("Fresh")
    assert http_get(api.base + "/api/products?product=" + quote(name)).status == 200
    after = http_get(api.base + "/api/products/last")
    assert after.cache == "MISS" and name in after.body


def test_a_hit_never_waits_behind_a_miss(api: ApiProcess, cache: redis.Redis) -> None:
    assert http_get(api.base + "/api/misc/heavy?name=warm").cache == "MISS"
    misses = slow_heavies(api.base, 3, "cold")  # the work slot is taken, two more wait
    time.sleep(0.1)
    hits = [http_get(api.base + "/api/misc/heavy?name=warm") for _ in range(20)]
    assert {h.cache for h in hits} == {"HIT"}
    assert max(h.seconds for h in hits) < 0.2, sorted(h.seconds for h in hits)[-3:]
    assert [f.result().cache for f in misses] == ["MISS"] * 3


def test_hit_after_miss_is_fast(api: ApiProcess, cache: redis.Redis) -> None:
    miss = http_get(api.base + "/api/products/last")
    hit = http_get(api.base + "/api/products/last")
    assert (miss.status, miss.cache) == (200, "MISS")
    assert (hit.status, hit.cache) == (200, "HIT")
    assert hit.body == miss.body
    assert miss.seconds >= DB_SLEEP_SECONDS > hit.seconds
    ttl = max(cache.ttl(k) for k in cache.keys("woody:cache:products:*"))
    # fresh for 15 s, then kept for stale-if-error (300 s, longer than a renewal may take)
    assert 15 + 300 - 5 < ttl <= 15 + 300


def test_ttl_per_endpoint(api: ApiProcess, cache: redis.Redis) -> None:
    assert http_get(api.base + "/api/misc/heavy?name=ttl").cache == "MISS"
    (key,) = heavy_keys(cache)
    # fresh for 30 s, then kept for stale-if-error (300 s, longer than a renewal may take)
    assert 30 + 300 - 5 < cache.ttl(key) <= 30 + 300


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
