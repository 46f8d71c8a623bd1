"""The shop under the load the lab sheet is about (issue 12), on the stage the experiment leaves
deployed (cdn: five api replicas, Redis, the edge), through the site's loopback address only.

Concurrent clients push every replica past its single work slot for a minute (longer in
benchmarks/load.py), then the database
past its single connection, then a mix with cached requests; the same mix with Redis scaled to 0
halfway and with an api task killed halfway. Every answer must be served or refused the way a
client can act on (503 with Retry-After), never a 502/504; afterwards every service runs its
replicas, and no task was replaced but the one killed. Cache hits are then hammered by 50
clients, alone and while misses saturate every replica. Durations come from the environment
(WOODY_LOAD_SECONDS, WOODY_LOAD_SHORT_SECONDS, WOODY_LOAD_BURST_SECONDS), so that
benchmarks/load.py runs the same suite longer with the lab sheet's values; figures are printed.
"""
from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from hey_load import Burst, LoadResult  # noqa: E402
from lab_swarm import manager, none_running, running_tasks, service, wait_for  # noqa: E402
from shop_load import SITE, Clients, Tally, cached_heavy, get, mixed, uncached_db, uncached_heavy  # noqa: E402

testinfra_hosts = ["localhost"]
# CI's phases; benchmarks/load.py runs them longer (150 s and 90 s).
LONG = int(os.environ.get("WOODY_LOAD_SECONDS", "60"))
SHORT = int(os.environ.get("WOODY_LOAD_SHORT_SECONDS", "40"))
BURST = int(os.environ.get("WOODY_LOAD_BURST_SECONDS", "10"))
SERVICES = ["db", "api", "front", "reverse", "redis", "cdn"]
CACHED_HEAVY = "/api/misc/heavy?name=load-cached"
CACHED_DB = "/api/products/last"


def running_ids() -> dict[str, set[str]]:
    return {name: {t["ID"] for t in running_tasks(name)} for name in SERVICES}


def desired(name: str) -> int | None:
    mode = service(name).attrs["Spec"]["Mode"]
    return mode["Replicated"]["Replicas"] if "Replicated" in mode else None


def at_replicas() -> object:
    short = {n: (len(running_tasks(n)), desired(n)) for n in SERVICES
             if desired(n) is not None and len(running_tasks(n)) != desired(n)}
    return True if not short else f"services short of replicas: {short}"


def under_load(groups: list[tuple[str, int, Callable[[int, int], str]]], seconds: float,
               halfway: Callable[[], None] | None = None) -> list[Tally]:
    """Run the client groups for ``seconds``; call ``halfway`` in the middle; print the tallies."""
    clients = [Clients(name, count, path_for).start() for name, count, path_for in groups]
    started = time.monotonic()
    if halfway is not None:
        time.sleep(seconds / 2)
        halfway()
    time.sleep(max(0.0, seconds - (time.monotonic() - started)))
    tallies = [c.stop() for c in clients]
    for tally in tallies:
        print(tally.line())
    return tallies


def assert_clean(tallies: list[Tally]) -> None:
    for tally in tallies:
        assert tally.outcomes, f"{tally.name}: no request was answered"
        unclean = tally.unclean
        assert not unclean, f"{tally.name}: {len(unclean)} answers neither 200 nor 503 + Retry-After, e.g. {unclean[:3]}"
        assert tally.statuses[200] > 0, tally.line()


def fresh_entry(path: str) -> str:
    """Make ``path``'s cache entry brand new (its whole TTL ahead), return the path to hit.

    The slow API gets a name never asked before; the DB API, which reads no parameter, gets a
    product added first (a write invalidates its entry)."""
    if path == CACHED_DB:
        assert get(f"/api/products?product=load-prime-{uuid.uuid4().hex[:8]}", timeout=120).status == 200
    else:
        path = f"/api/misc/heavy?name=load-hits-{uuid.uuid4().hex[:8]}"
    outcome = get(path, timeout=120)
    assert (outcome.status, outcome.cache) == (200, "MISS"), outcome
    return path


def burst(path: str, rate: float | None = None) -> LoadResult:
    result = Burst(SITE + path, BURST, workers=50, rate=rate).run()
    pct = result.percentiles
    pace = f"at {rate:g}/s each" if rate else "as fast as answered"
    print(f"50 clients on {path} ({pace}): {result.per_second:.0f} answers/s, p50 {pct.get(50, 0) * 1000:.1f} ms, "
          f"p99 {pct.get(99, 0) * 1000:.1f} ms, max {result.slowest * 1000:.0f} ms; statuses {dict(result.statuses)}, errors {sum(result.errors.values())}")
    return result


@pytest.fixture(scope="module")
def tasks_before() -> dict[str, set[str]]:
    assert wait_for("every service at its replicas before the load", at_replicas, 120) >= 0
    return running_ids()


def test_uncached_heavy_requests_saturate_every_replica_cleanly(tasks_before):
    assert_clean(under_load([("uncached heavy, 30 clients", 30, uncached_heavy)], LONG))


def test_uncached_db_requests_wait_for_the_single_connection_cleanly(tasks_before):
    assert_clean(under_load([("uncached DB (write, then last), 20 clients", 20, uncached_db)], SHORT))


def test_a_mix_with_cached_requests_is_served_cleanly(tasks_before):
    assert_clean(under_load([("mix, 30 clients", 30, mixed)], SHORT))


def test_busy_replicas_stay_healthy_no_task_was_replaced(tasks_before):
    assert at_replicas() is True
    replaced = {n: len(ids - running_ids()[n]) for n, ids in tasks_before.items() if ids - running_ids()[n]}
    print(f"tasks replaced during the load: {replaced or 'none'}")
    assert not replaced


def test_the_mix_stays_clean_when_redis_goes_to_zero_halfway(tasks_before):
    redis = service("redis")

    def stop_redis() -> None:
        redis.scale(0)
        print("redis scaled to 0")

    try:
        tallies = under_load([("mix, redis gone halfway, 30 clients", 30, mixed)], SHORT, halfway=stop_redis)
    finally:
        service("redis").scale(1)
    back = wait_for("redis running and cache hits again",
                    lambda: len(running_tasks("redis")) == 1 and get(CACHED_HEAVY, 120).cache == "HIT", 120)
    print(f"hits back {back:.1f} s after redis was scaled to 1 again")
    assert_clean(tallies)


def api_setting(name: str) -> float:
    """A number the stack gives the api (HEAVY_SECONDS, DB_SLEEP_SECONDS: quick knobs in CI)."""
    env = service("api").attrs["Spec"]["TaskTemplate"]["ContainerSpec"].get("Env", [])
    return float(dict(item.split("=", 1) for item in env)[name])


def scaled_to_zero(name: str) -> None:
    service(name).scale(0)
    wait_for(f"no {name} task running", lambda: none_running(name), 60)


UNAVAILABLE = "unavailable: a service the shop needs is down, retry later"


def test_with_redis_at_zero_an_uncached_heavy_costs_its_time_plus_at_most_a_second(tasks_before):
    """Issue 24: the name of a service with no task left takes Docker's resolver 10 s to fail;
    the api and the proxy bound their lookups and stop asking (breakers), so an uncached heavy
    request costs its computation, not 45 s."""
    heavy = api_setting("HEAVY_SECONDS")
    scaled_to_zero("redis")
    try:
        tries = []
        for pause in (1, 3, 5):  # spread over the breakers' open and probe intervals
            time.sleep(pause)
            tries.append(get(f"/api/misc/heavy?name=redis-gone-{uuid.uuid4().hex[:8]}", timeout=60))
        print("redis at 0, uncached heavy: " + ", ".join(f"{t.status} {t.cache} {t.seconds:.2f} s" for t in tries)
              + f" (computation {heavy:g} s)")
        assert [t.status for t in tries] == [200] * 3, tries
        assert max(t.seconds for t in tries) <= heavy + 1.0, tries
    finally:
        service("redis").scale(1)
    back = wait_for("redis running and cache hits again",
                    lambda: len(running_tasks("redis")) == 1 and get(CACHED_HEAVY, 120).cache == "HIT", 120)
    print(f"hits back {back:.1f} s after redis was scaled to 1 again")


def test_with_the_database_at_zero_a_db_request_gets_503_or_stale_within_2_seconds(tasks_before):
    """Issue 24: no more 30 s waits ending in 'saturated': the truth, at once, or the last
    product the cache holds (still fresh: HIT; expired: STALE). What does not need the
    database is untouched."""
    assert get("/api/products/last", timeout=120).status == 200  # an entry to be stale from
    scaled_to_zero("db")
    try:
        time.sleep(1)
        tries = [get(path, timeout=60) for path in
                 ("/api/products/1", f"/api/products?product=db-gone-{uuid.uuid4().hex[:8]}",
                  "/api/orders/?order_id=none", "/api/products/last", "/api/products/1")]
        cached = get(CACHED_HEAVY, timeout=60)
        print("database at 0: " + ", ".join(f"{t.path} {t.status} {t.cache or '-'} {t.seconds:.2f} s" for t in tries)
              + f"; cached heavy {cached.status} {cached.cache} {cached.seconds * 1000:.0f} ms")
        for t in tries:
            assert t.seconds < 2.0, t
            assert (t.status == 503 and t.retry_after and t.body == UNAVAILABLE) or \
                (t.path == "/api/products/last" and t.status == 200 and t.cache in ("HIT", "STALE")), t
        assert cached.status == 200
    finally:
        service("db").scale(1)
    back = wait_for("the database back and a DB request served",
                    lambda: len(running_tasks("db")) == 1 and get("/api/products/1", 60).status == 200, 180)
    print(f"DB requests served again {back:.1f} s after the database was scaled to 1")


def test_the_mix_stays_clean_when_an_api_task_is_killed_halfway(tasks_before):
    victim: dict[str, str] = {}

    def kill_one_api_task() -> None:
        task = running_tasks("api")[0]
        host = manager().nodes.get(task["NodeID"]).attrs["Description"]["Hostname"]
        engine = docker.DockerClient(base_url=f"unix:///run/woodylab/{host}.sock")
        engine.containers.get(task["Status"]["ContainerStatus"]["ContainerID"]).kill()
        victim.update(id=task["ID"], node=host)
        print(f"api task {task['ID'][:12]} killed on {host}")

    before = {t["ID"] for t in running_tasks("api")}
    tallies = under_load([("mix, an api task killed halfway, 30 clients", 30, mixed)], SHORT,
                         halfway=kill_one_api_task)
    recovered = wait_for("the api at its replicas again", lambda: at_replicas(), 120)
    after = {t["ID"] for t in running_tasks("api")}
    print(f"api at its replicas {recovered:.1f} s after the load; replaced: {sorted(i[:12] for i in before - after)}")
    assert before - after == {victim["id"]}
    assert_clean(tallies)


@pytest.fixture(scope="module")
def static_rate() -> float:
    page = burst("/")
    assert page.failed == 0
    return page.per_second


@pytest.mark.parametrize("path", [CACHED_HEAVY, CACHED_DB])
def test_hits_come_at_the_rate_of_the_static_page(path, static_rate):
    path = fresh_entry(path)
    hits = burst(path)
    ratio = hits.per_second / static_rate
    print(f"hits on {path}: {ratio:.0%} of the static page's rate ({static_rate:.0f}/s)")
    assert hits.failed == 0
    assert ratio >= 0.8


@pytest.mark.parametrize("path", [CACHED_HEAVY, CACHED_DB])
def test_hits_never_queue_behind_misses(path):
    """While 30 clients keep every replica's work slot and queue full of misses, hits are timed
    at a steady pace (50 clients at 5/s each). A hit that queued behind a miss would wait for a
    heavy computation (seconds); the bar is half a second at p99, so the two cores' contention
    (p99 from 20 to 160 ms on CI's machine, printed) is not mistaken for queueing. (The greedy bursts above measure the box's CPU, not
    queueing: 50 clients that send as fast as answered wait for each other on two cores, the
    static page too. Their figures are printed as well.)"""
    path = fresh_entry(path)
    misses = Clients("uncached heavy, 30 clients", 30, uncached_heavy).start()
    time.sleep(3)  # every replica's work slot taken, its queue filling
    paced = burst(path, rate=5)
    greedy = burst(path)  # the entry may expire meanwhile: served stale while renewed
    print(misses.stop().line())
    print(f"paced hits on {path} beside 30 missing clients: p50 {paced.percentiles[50] * 1000:.1f} ms, "
          f"p99 {paced.percentiles[99] * 1000:.1f} ms")
    assert paced.failed == 0 and greedy.failed == 0
    assert paced.percentiles[99] < 0.5, paced.percentiles
