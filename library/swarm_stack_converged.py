#!/usr/bin/python
"""Ansible module: wait until every service of a Swarm stack runs its desired tasks."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

DOCUMENTATION = r"""
module: swarm_stack_converged
short_description: Wait until every service of a stack runs its desired number of healthy tasks
description:
  - Polls the manager until, for every expected service, as many tasks run as wanted (a task
    with a health check only counts as running once healthy) and no update is in progress.
  - Fails at once when an update rolled back or paused, with the update's message; on timeout,
    fails listing every lagging task with its node, state and error.
options:
  docker_host: {description: Manager's Docker API., type: str, required: true}
  stack: {description: Stack name., type: str, required: true}
  expected: {description: "Service short name -> task count, or C(global) for one a node.", type: dict, required: true}
  timeout: {description: Seconds to wait., type: int, default: 300}
  interval: {description: Seconds between polls., type: float, default: 2}
"""

RETURN = r"""
elapsed: {description: Seconds until convergence., type: float, returned: success}
services: {description: Running and expected task counts per service., type: dict, returned: always}
"""

ROLLED_BACK = {"rollback_completed", "rollback_paused", "paused"}


@dataclass
class ServiceState:
    name: str
    expected: int
    running: int = 0
    update_state: str = ""
    update_message: str = ""
    lagging_tasks: list[str] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return self.running >= self.expected and self.update_state not in {"updating", "rollback_started"}


def expected_count(want: Any, ready_nodes: int) -> int:
    return ready_nodes if str(want) == "global" else int(want)


def describe_task(task: dict[str, Any], node_names: dict[str, str]) -> str:
    status = task.get("Status", {})
    node = node_names.get(task.get("NodeID", ""), task.get("NodeID", "unassigned") or "unassigned")
    error = status.get("Err") or status.get("Message", "")
    return f"slot {task.get('Slot', '-')} on {node}: {status.get('State', '?')} ({error})"


def survey(client: Any, stack: str, expected: dict[str, Any]) -> dict[str, ServiceState]:
    nodes = client.nodes.list()
    node_names = {n.id: n.attrs["Description"]["Hostname"] for n in nodes}
    ready = sum(1 for n in nodes if n.attrs["Status"]["State"] == "ready" and n.attrs["Spec"]["Availability"] == "active")
    states = {name: ServiceState(name, expected_count(want, ready)) for name, want in expected.items()}
    for service in client.services.list(filters={"label": f"com.docker.stack.namespace={stack}"}):
        short = service.name[len(stack) + 1:]
        if short not in states:
            continue
        state = states[short]
        update = service.attrs.get("UpdateStatus") or {}
        state.update_state, state.update_message = update.get("State", ""), update.get("Message", "")
        for task in service.tasks(filters={"desired-state": "running"}):
            if task.get("Status", {}).get("State") == "running":
                state.running += 1
            else:
                state.lagging_tasks.append(describe_task(task, node_names))
    return states


def summary(states: dict[str, ServiceState]) -> dict[str, dict[str, Any]]:
    return {s.name: {"running": s.running, "expected": s.expected, "update": s.update_state} for s in states.values()}


def main() -> None:
    import docker
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec={
        "docker_host": {"type": "str", "required": True},
        "stack": {"type": "str", "required": True},
        "expected": {"type": "dict", "required": True},
        "timeout": {"type": "int", "default": 300},
        "interval": {"type": "float", "default": 2},
    }, supports_check_mode=True)
    params = module.params
    client = docker.DockerClient(base_url=params["docker_host"])
    start = time.monotonic()
    while True:
        states = survey(client, params["stack"], params["expected"])
        rolled_back = [s for s in states.values() if s.update_state in ROLLED_BACK]
        if rolled_back:
            module.fail_json(msg="update rolled back or paused: " + "; ".join(
                f"{s.name}: {s.update_state}: {s.update_message}" for s in rolled_back), services=summary(states))
        if all(s.converged for s in states.values()):
            module.exit_json(changed=False, elapsed=round(time.monotonic() - start, 1), services=summary(states))
        if time.monotonic() - start > params["timeout"]:
            lagging = [s for s in states.values() if not s.converged]
            module.fail_json(
                msg=f"stack {params['stack']} did not converge within {params['timeout']} s: " + "; ".join(
                    f"{s.name} {s.running}/{s.expected} running, update {s.update_state or 'none'}"
                    + (f" [{', '.join(s.lagging_tasks)}]" if s.lagging_tasks else "") for s in lagging),
                services=summary(states))
        time.sleep(params["interval"])


if __name__ == "__main__":
    main()
