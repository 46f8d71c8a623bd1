"""A rolling update of api and front under a steady load (hey at a fixed rate) loses no request:
every task of both services is replaced, one at a time, as the stack's update_config says."""
from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from hey_load import SteadyLoad  # noqa: E402
from lab_swarm import MANAGER, running_tasks, service  # noqa: E402
from site_probe import SITE  # noqa: E402

testinfra_hosts = ["localhost"]
LOAD_SECONDS = 90  # the api rollout alone takes ~50 s here (5 tasks, one at a time, each waiting to be healthy)
RATE = 5  # requests per second and worker; 2 workers per URL
ROLLED = ["api", "front"]


def running_ids(name: str) -> set[str]:
    return {t["ID"] for t in running_tasks(name)}


def update_states() -> dict[str, str]:
    return {name: service(name).attrs.get("UpdateStatus", {}).get("State", "") for name in ROLLED}


def cache_state(path: str) -> str:
    with urllib.request.urlopen(SITE + path, timeout=30) as answer:
        answer.read()
        return answer.headers.get("X-Cache", "")


def test_rolling_update_of_api_and_front_under_steady_load_loses_no_request():
    cached = f"/api/misc/heavy?name=steady{time.monotonic_ns()}"
    cache_state(cached)
    assert cache_state(cached) == "HIT"
    before = {name: running_ids(name) for name in ROLLED}
    loads = [SteadyLoad(SITE + path, LOAD_SECONDS, RATE).start() for path in ("/", "/api/misc/time", cached)]
    time.sleep(5)  # the load is steady before the rollout starts
    started = time.monotonic()
    for name in ROLLED:
        # Every task replaced under the service's update_config. Docker's CLI only bumps the
        # spec's ForceUpdate, which a later `docker stack deploy` keeps; the SDK's force_update()
        # rewrites the spec with its own defaults, so the next deploy would roll the tasks again.
        subprocess.run(["docker", "-H", MANAGER, "service", "update", "--force", "--detach", f"woodytoys_{name}"],
                       check=True, capture_output=True, timeout=60)
    seen: dict[str, str] = {}
    while time.monotonic() - started < LOAD_SECONDS - 10:
        seen = update_states()
        if all(state == "completed" for state in seen.values()):
            break
        time.sleep(0.5)
    rollout = time.monotonic() - started
    results = [load.finish() for load in loads]
    for result in results:
        print(f"{result.url}: {result.total} requests, {result.failed} failed {dict(result.statuses)} "
              f"{dict(result.errors)}")
    print(f"rolling update of {', '.join(ROLLED)}: {rollout:.1f} s under {3 * 2 * RATE} requests/s")
    assert all(state == "completed" for state in seen.values()), \
        f"waited {LOAD_SECONDS - 10} s (inside the load window) for the rollout to complete; saw {seen}"
    for name in ROLLED:
        assert running_ids(name).isdisjoint(before[name]), f"{name}: some tasks were not replaced"
    for result in results:
        assert result.total >= LOAD_SECONDS * 2 * RATE * 0.8, f"{result.url}: the load was not steady"
        assert result.failed == 0, (result.url, result.statuses, result.errors)
