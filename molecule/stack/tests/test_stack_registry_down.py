"""A deploy while the registry is down fails fast with a message naming the registry, and the
running stack is left exactly as it was."""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from ansible_run import ROOT, run_playbook  # noqa: E402
from lab_registry import REGISTRY, get  # noqa: E402
from lab_swarm import manager  # noqa: E402

testinfra_hosts = ["localhost"]
CONVERGE = Path(__file__).resolve().parents[1] / "converge.yml"
REGISTRY_CONVERGE = ROOT / "molecule" / "registry" / "converge.yml"


def registry_answers() -> bool:
    return get("/v2/", timeout=2)[0] == 200


def stack_state() -> dict[str, tuple]:
    client = manager()
    return {s.name: (s.attrs["Spec"], sorted(t["ID"] for t in s.tasks(filters={"desired-state": "running"})))
            for s in client.services.list(filters={"label": "com.docker.stack.namespace=woodytoys"})}


def test_a_deploy_without_registry_fails_fast_and_touches_nothing():
    before = stack_state()
    os.kill(int(Path("/run/woodylab/registry.pid").read_text()), signal.SIGTERM)
    try:
        deadline = time.monotonic() + 30
        while registry_answers() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not registry_answers(), "the registry did not stop"
        started = time.monotonic()
        run = run_playbook(CONVERGE, {"woody_test_stage": "redis"}, timeout=600)
        elapsed = time.monotonic() - started
        print(f"deploy with the registry down failed after {elapsed:.1f} s")
        assert run.returncode != 0
        assert f"the registry {REGISTRY} does not answer" in " ".join(run.failure_messages())
        assert elapsed < 120
        assert stack_state() == before
    finally:
        restarted = run_playbook(REGISTRY_CONVERGE)
        assert restarted.returncode == 0, restarted.failure_messages()
    assert registry_answers()
