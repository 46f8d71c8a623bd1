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
  - Heals what Swarm will not: a service that runs fewer tasks than wanted, with no update in
    progress and no task on its way (every missing task ended, e.g. recorded as complete), for
    I(heal_after) seconds is reconciled once (C(docker service update --force)), and the result
    says so.
options:
  docker_host: {description: Manager's Docker API., type: str, default: "unix:///var/run/docker.sock"}
  stack: {description: Stack name., type: str, required: true}
  expected: {description: "Service short name -> task count, or C(global) for one a node.", type: dict, required: true}
  timeout: {description: Seconds to wait., type: int, default: 300}
  interval: {description: Seconds between polls., type: float, default: 2}
  heal_after: {description: "Seconds a service may stay short of tasks, none on its way, before it is forced; 0 never forces.", type: float, default: 20}
"""

RETURN = r"""
elapsed: {description: Seconds until convergence., type: float, returned: success}
services: {description: Running and expected task counts per service., type: dict, returned: always}
healed: {description: Services forced to reconcile during the wait, with what was seen., type: list, returned: always}
"""

ROLLED_BACK = {"rollback_completed", "rollback_paused", "paused"}
UPDATING = {"updating", "rollback_started"}


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
        return self.running >= self.expected and self.update_state not in UPDATING

    @property
    def stranded(self) -> bool:
        """Short of tasks with nothing on its way: Swarm is not going to fix it by itself."""
        return self.running < self.expected and self.update_state not in UPDATING and not self.lagging_tasks


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


class Healer:
    """Forces a service that stays stranded for ``after`` seconds, once per service."""

    def __init__(self, module: Any, docker_host: str, stack: str, after: float) -> None:
        self._module, self._docker_host, self._stack, self._after = module, docker_host, stack, after
        self._since: dict[str, float] = {}
        self.healed: list[str] = []

    def visit(self, states: dict[str, ServiceState], now: float) -> None:
        for state in states.values():
            if not state.stranded:
                self._since.pop(state.name, None)
                continue
            since = self._since.setdefault(state.name, now)
            if self._after > 0 and now - since >= self._after and not any(
                    h.startswith(f"{state.name}:") for h in self.healed):
                self._force(state)

    def _force(self, state: ServiceState) -> None:
        # The CLI rather than the SDK: it bumps ForceUpdate on the current spec and keeps
        # everything else, registry credentials included (--with-registry-auth).
        name = f"{self._stack}_{state.name}"
        rc, _, err = self._module.run_command(
            ["docker", "service", "update", "--force", "--detach", "--with-registry-auth", name],
            environ_update={"DOCKER_HOST": self._docker_host})
        if rc != 0:
            self._module.fail_json(msg=f"could not force {name} to reconcile: {err.strip()}")
        self.healed.append(f"{state.name}: {state.running}/{state.expected} running, no update and no task "
                           f"on its way for {self._after:g} s; forced a reconcile")
        self._module.warn(f"{name}: {self.healed[-1]}")


def main() -> None:
    import docker
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec={
        "docker_host": {"type": "str", "default": "unix:///var/run/docker.sock"},
        "stack": {"type": "str", "required": True},
        "expected": {"type": "dict", "required": True},
        "timeout": {"type": "int", "default": 300},
        "interval": {"type": "float", "default": 2},
        "heal_after": {"type": "float", "default": 20},
    }, supports_check_mode=True)
    params = module.params
    client = docker.DockerClient(base_url=params["docker_host"])
    healer = Healer(module, params["docker_host"], params["stack"],
                    0 if module.check_mode else params["heal_after"])
    start = time.monotonic()
    while True:
        states = survey(client, params["stack"], params["expected"])
        healer.visit(states, time.monotonic())
        rolled_back = [s for s in states.values() if s.update_state in ROLLED_BACK]
        if rolled_back:
            module.fail_json(msg="update rolled back or paused: " + "; ".join(
                f"{s.name}: {s.update_state}: {s.update_message}" for s in rolled_back), services=summary(states),
                healed=healer.healed)
        if all(s.converged for s in states.values()):
            # A forced reconcile changed the services: report it as a change.
            module.exit_json(changed=bool(healer.healed), elapsed=round(time.monotonic() - start, 1),
                             services=summary(states), healed=healer.healed)
        if time.monotonic() - start > params["timeout"]:
            lagging = [s for s in states.values() if not s.converged]
            module.fail_json(
                msg=f"stack {params['stack']} did not converge within {params['timeout']} s: " + "; ".join(
                    f"{s.name} {s.running}/{s.expected} running, update {s.update_state or 'none'}"
                    + (f" [{', '.join(s.lagging_tasks)}]" if s.lagging_tasks else "") for s in lagging)
                + (f"; forced before giving up: {'; '.join(healer.healed)}" if healer.healed else ""),
                services=summary(states), healed=healer.healed)
        time.sleep(params["interval"])


if __name__ == "__main__":
    main()
