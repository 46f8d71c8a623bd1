"""The rendered stack file is the truth: deployed by hand from the manager with the lab sheet's
own command, then by the role again, it changes no service and replaces no task (the images
carry their registry digests, which `docker stack deploy` would otherwise pin by itself)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from ansible_run import run_playbook  # noqa: E402
from lab_nodes import ssh  # noqa: E402
from lab_swarm import manager  # noqa: E402

testinfra_hosts = ["localhost"]
CONVERGE = Path(__file__).resolve().parents[1] / "converge.yml"
# Rendered by the role on the manager, named as the lab sheet names it.
RENDERED = "/var/lib/woodyswarm/stacks/stack_redis_cdn.yml"


def stack_state() -> dict[str, tuple]:
    """Each service's spec (its version aside: every deploy bumps it) and running tasks."""
    return {s.name: (s.attrs["Spec"], sorted(t["ID"] for t in s.tasks(filters={"desired-state": "running"})))
            for s in manager().services.list(filters={"label": "com.docker.stack.namespace=woodytoys"})}


def test_a_hand_deploy_then_a_role_deploy_change_no_service():
    deployed = run_playbook(CONVERGE, {"woody_test_stage": "cdn"}, timeout=900)
    assert deployed.returncode == 0, deployed.failure_messages()
    before = stack_state()
    assert all("@sha256:" in spec["TaskTemplate"]["ContainerSpec"]["Image"] for spec, _ in before.values())
    by_hand = ssh("node1", f"docker stack deploy -c {RENDERED} woodytoys", timeout=300)
    assert by_hand.returncode == 0, by_hand.stderr
    assert stack_state() == before
    again = run_playbook(CONVERGE, {"woody_test_stage": "cdn"}, timeout=900)
    assert again.returncode == 0, again.failure_messages()
    assert all(host["changed"] == 0 for host in again.report["stats"].values()), again.report["stats"]
    assert stack_state() == before
