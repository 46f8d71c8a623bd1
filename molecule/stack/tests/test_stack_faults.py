"""Faults on the running stack (stage with Redis): the database task killed, Redis stopped
under load, a worker machine crashed (its sshd and engine killed) and brought back by lab_up.yml. Each test measures what was lost and how long the
recovery took, prints it, and leaves the stack healthy for the next one."""
from __future__ import annotations

import os
from collections import Counter
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from ansible_run import run_playbook  # noqa: E402
from lab_swarm import MANAGER, container_of, manager, running_tasks as running, wait_for  # noqa: E402
from site_probe import SITE, SiteProbe  # noqa: E402

testinfra_hosts = ["localhost"]
CONVERGE = Path(__file__).resolve().parents[1] / "converge.yml"
LAB_UP = Path(__file__).resolve().parents[3] / "playbooks" / "lab_up.yml"


def get(path: str, timeout: float = 30) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(SITE + path, timeout=timeout) as answer:
        return answer.status, answer.headers.get("X-Cache", ""), answer.read()


def test_killed_database_restarts_on_the_manager_with_its_data():
    product = f"survivor-{time.monotonic_ns()}"
    assert get(f"/api/products?product={product}")[2].strip() == product.encode()
    old = running("db")
    assert len(old) == 1
    container = manager().containers.get(old[0]["Status"]["ContainerStatus"]["ContainerID"])
    container.kill()
    recovery = wait_for(f"/api/products/last to answer {product} again",
                        lambda: product.encode() in get("/api/products/last", timeout=60)[2], timeout=180)
    new = running("db")
    print(f"database killed: products answered again after {recovery:.1f} s")
    assert len(new) == 1 and new[0]["ID"] != old[0]["ID"]
    assert manager().nodes.get(new[0]["NodeID"]).attrs["Spec"]["Role"] == "manager"


def test_redis_stopped_under_load_costs_no_error_and_hits_come_back():
    name = f"warm{time.monotonic_ns()}"
    get(f"/api/misc/heavy?name={name}")
    assert get(f"/api/misc/heavy?name={name}")[1] == "HIT"
    probe = SiteProbe([f"/api/misc/heavy?name={name}", "/api/misc/time", "/api/ping"], period=0.1)
    probe.start()
    redis = manager().services.get("woodytoys_redis")
    redis.scale(0)
    try:
        wait_for("the redis task to stop", lambda: running("redis") == [], timeout=60)
        # Fail open: the same cached URL is now served by the origin, under the probe's load.
        wait_for("an answer served from the origin (X-Cache: BYPASS)",
                 lambda: get(f"/api/misc/heavy?name={name}")[1] == "BYPASS", timeout=60)
        time.sleep(3)
    finally:
        redis.reload()
        redis.scale(1)
    back = wait_for("cache hits again", lambda: get(f"/api/misc/heavy?name={name}")[1] == "HIT", timeout=120)
    answers = probe.finish()
    bypassed = [a for a in answers if a.cache == "BYPASS"]
    print(f"redis stopped: {len(answers)} requests, {len(probe.failures())} failed, "
          f"{len(bypassed)} served from the origin; hits back {back:.1f} s after redis restarted")
    print(Counter((a.path.split("?")[0], a.status, a.cache) for a in answers))
    assert probe.failures() == []


def node_init_pid(node: str) -> int:
    """The node's PID 1, as the controller sees it: the child of its unshare."""
    unshare = int(Path(f"/run/woodylab/{node}/machine.pid").read_text())
    return int(Path(f"/proc/{unshare}/task/{unshare}/children").read_text().split()[0])


def test_crashed_worker_moves_its_tasks_and_rejoins_after_lab_up():
    nodes = {n.attrs["Description"]["Hostname"]: n for n in manager().nodes.list()}
    victim = "node2"
    probe = SiteProbe(["/api/ping", "/"], period=0.2)
    probe.start()
    stopped_at = time.monotonic()
    # KILL the node's PID 1: the kernel kills everything in it at once, sshd and engine included.
    os.kill(node_init_pid(victim), signal.SIGKILL)
    try:
        moved = wait_for(f"every api task running off {victim}", lambda: len(running("api")) == 5 and all(
            t["NodeID"] != nodes[victim].id for t in running("api")), timeout=180)
        settled = time.monotonic()
        time.sleep(10)  # the budget: no failure once the tasks have moved
        answers = probe.finish()
        failed = probe.failures()
        late = probe.failures(since=settled)
        print(f"{victim} stopped: api tasks moved in {moved:.1f} s; {len(failed)} of {len(answers)} requests failed, "
              f"the last {max((a.at for a in failed), default=stopped_at) - stopped_at:.1f} s after the stop")
        assert late == [], late[:5]
        stage = "cdn" if manager().services.list(filters={"name": "woodytoys_cdn"}) else "redis"
        converged = run_playbook(CONVERGE, {"woody_test_stage": stage}, timeout=900)
        assert converged.returncode == 0, converged.failure_messages()
    finally:
        # lab_up.yml boots the machine again; its engine comes back over SSH (cluster play) and
        # the node rejoins the swarm from its own state.
        healed = run_playbook(LAB_UP, timeout=900)
        assert healed.returncode == 0, healed.failure_messages()
    rejoined = wait_for(f"{victim} Ready again",
                        lambda: manager().nodes.get(nodes[victim].id).attrs["Status"]["State"] == "ready", timeout=120)
    # Its tasks are rescheduled: a global or spread service gets a task on it again.
    rescheduled = wait_for(f"a task of the stack running on {victim} again", lambda: any(
        t["NodeID"] == nodes[victim].id for name in ("front", "api", "reverse") for t in running(name)), timeout=180)
    print(f"{victim} crashed: lab_up.yml brought it back; Ready {rejoined:.1f} s and running a task again "
          f"{rescheduled:.1f} s after the playbook")


HEAL_WAIT = """\
- name: Wait for the stack as the stack role does, forcing what stays short
  hosts: "{{ groups['managers'][0] }}"
  gather_facts: false
  tasks:
    - name: Wait until the front runs its two tasks
      woodyswarm.shop.swarm_stack_converged:
        stack: woodytoys
        expected: {front: 2}
        heal_after: 3
        timeout: 120
      register: waited

    - name: Show what was forced
      ansible.builtin.debug:
        msg: "healed={{ waited.healed }}"
"""


def service_cli(*args: str) -> None:
    env = {**os.environ, "DOCKER_HOST": MANAGER}
    subprocess.run(["docker", "service", "update", "--detach", *args, "woodytoys_front"],
                   env=env, check=True, capture_output=True)


def test_a_service_left_short_is_forced_back_by_the_convergence_wait(tmp_path):
    """A task that ended cleanly under a policy that does not restart it leaves the service
    short with nothing on its way: the convergence wait forces a reconcile and says so."""
    service_cli("--restart-condition", "none")
    try:
        wait_for("the front updated to the new policy, 2 tasks running",
                 lambda: len(running("front")) == 2 and manager().services.get("woodytoys_front")
                 .attrs.get("UpdateStatus", {}).get("State") in (None, "completed"), timeout=120)
        victim = running("front")[0]
        container_of(victim).stop(timeout=10)
        wait_for("the front short of one task", lambda: len(running("front")) == 1, timeout=60)
        playbook = tmp_path / "heal.yml"
        playbook.write_text(HEAL_WAIT)
        run = run_playbook(playbook, timeout=300)
        assert run.returncode == 0, run.failure_messages()
        healed = run.changed_items("Wait until the front runs its two tasks")
        print(f"convergence wait: changed for {healed}; {run.output[run.output.find('healed='):][:200]}")
        assert healed == ["node1"]
        assert "healed=['front: 1/2 running, no update and no task on its way" in run.output
        assert len(running("front")) == 2
    finally:
        service_cli("--restart-condition", "any")
