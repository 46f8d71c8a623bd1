#!/usr/bin/env python3
"""Benchmark of the API cache (not a test): cache-hit p50 latency and miss/hit figures.

    python benchmarks/api_cache.py                      # self-contained, on loopback
    python benchmarks/api_cache.py --base http://127.0.0.1:8080   # a running stack (via the proxy)

Without --base it starts, on 127.0.0.1, a redis-server, a mariadbd and one API process
(gunicorn, 1 worker, 1 thread, as in the image) the way tests/services does, with the
contract's 5 s heavy computation shortened by --heavy-seconds. It then times one MISS and
--requests HITs of /api/misc/heavy and of /api/products/last, with `hey` when installed (p50 of
its latency distribution) and with Python's own timer per request.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "services"))

from svc_support import ApiProcess, MariaDB, RedisServer, http_get


def hey_p50(url: str, requests: int) -> float | None:
    if shutil.which("hey") is None:
        return None
    out = subprocess.run(["hey", "-n", str(requests), "-c", "1", url], capture_output=True,
                         text=True, check=True).stdout
    match = re.search(r"50%+ in ([0-9.]+) secs", out)
    return float(match.group(1)) if match else None


def measure(base: str, path: str, requests: int) -> None:
    url = base + path
    miss = http_get(url, timeout=120)
    hits = [http_get(url) for _ in range(requests)]
    states = [miss.cache] + [h.cache for h in hits]
    hit_times = sorted(h.seconds for h in hits if h.cache == "HIT")
    print(f"\n{path}")
    print(f"  first request: {miss.cache} in {miss.seconds * 1000:.1f} ms")
    print(f"  X-Cache over {len(states)} requests: {states.count('MISS')} MISS / "
          f"{states.count('HIT')} HIT / {states.count('BYPASS')} BYPASS")
    if not hit_times:
        print("  no cache hit: is REDIS_URL set on the API?")
        return
    p50 = statistics.median(hit_times)
    print(f"  HIT p50 (python timer, new connection each): {p50 * 1000:.2f} ms")
    hey = hey_p50(url, requests)
    if hey is not None:
        print(f"  HIT p50 (hey -c 1 -n {requests}): {hey * 1000:.2f} ms")
        p50 = hey
    print(f"  miss/hit latency ratio: {miss.seconds / p50:.0f}x "
          f"(goal: HIT p50 < 5 ms: {'met' if p50 < 0.005 else 'NOT met'})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", help="a running API or proxy, e.g. http://127.0.0.1:8080")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--heavy-seconds", type=float, default=1.0)
    parser.add_argument("--db-sleep-seconds", type=float, default=2.0)
    args = parser.parse_args()
    name = f"bench-{uuid.uuid4().hex[:6]}"
    paths = [f"/api/misc/heavy?name={name}", "/api/products/last"]
    if args.base:
        for path in paths:
            measure(args.base.rstrip("/"), path, args.requests)
        return 0
    with tempfile.TemporaryDirectory(prefix="woody-bench-") as tmp:
        work = Path(tmp)
        redis, db = RedisServer(work / "redis"), MariaDB(work / "db")
        api: ApiProcess | None = None
        try:
            redis.start()
            db.start()
            (work / "pw").write_text(db.root_password, encoding="utf-8")
            api = ApiProcess({
                "DB_HOST": "127.0.0.1", "DB_PORT": str(db.port),
                "DB_PASSWORD_FILE": str(work / "pw"), "REDIS_URL": redis.url,
                "HEAVY_SECONDS": str(args.heavy_seconds),
                "DB_SLEEP_SECONDS": str(args.db_sleep_seconds), "API_ACCESS_LOG": "0",
            }, work / "api.log")
            api.start()
            print(f"API on {api.base} (1 worker, 1 thread), Redis and MariaDB on loopback;"
                  f" heavy {args.heavy_seconds} s, DB sleep {args.db_sleep_seconds} s")
            time.sleep(0.2)
            for path in paths:
                measure(api.base, path, args.requests)
        finally:
            if api is not None:
                api.stop()
            db.stop()
            redis.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
