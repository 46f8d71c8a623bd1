#!/usr/bin/python
# Copyright (c) woodyswarm maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Ansible module: wait until every service of a Swarm stack runs its desired tasks."""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: swarm_stack_converged
short_description: Wait until every service of a Swarm stack runs its desired number of healthy tasks
description:
  - Polls the manager until, for every expected service, as many tasks run as wanted (a task
    with a health check only counts as running once healthy) and no update is in progress.
  - Fails at once when an update rolled back or paused, with the update's message; on timeout,
    fails listing every lagging task with its node, state and error.
  - Heals what Swarm will not. A service that runs fewer tasks than wanted, with no update in
    progress and no task on its way (every missing task ended, e.g. recorded as complete), for
    O(heal_after) seconds is reconciled once (C(docker service update --force)), and the result
    says so in RV(healed).
  - A Docker API error (engine unreachable, not a manager, ...) fails naming O(docker_host) and
    the call that failed.
author:
  - woodyswarm maintainers (!UNKNOWN)
requirements:
  - Docker SDK for Python (C(docker) on PyPI, Debian package C(python3-docker))
  - The C(docker) CLI, only to force a reconcile
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Waits the same way, but never forces a reconcile.
  diff_mode:
    support: none
  platform:
    platforms: posix
options:
  docker_host:
    description: The Docker API of a Swarm manager.
    type: str
    default: unix:///var/run/docker.sock
  stack:
    description: The stack's name (its services are C(<stack>_<service>)).
    type: str
    required: true
  expected:
    description:
      - The services to wait for, short name (without the C(<stack>_) prefix) to task count.
      - V(global) expects one task on each ready, active node.
      - Services of the stack not listed are not waited for.
    type: dict
    required: true
  timeout:
    description: Seconds to wait before failing.
    type: int
    default: 300
  interval:
    description: Seconds between polls.
    type: float
    default: 2
  heal_after:
    description:
      - Seconds a service may stay short of tasks, none on its way and no update in progress,
        before it is forced to reconcile.
      - V(0) never forces.
    type: float
    default: 20
seealso:
  - module: community.docker.docker_stack
  - module: community.docker.docker_stack_task_info
"""

EXAMPLES = r"""
---
- name: Deploy the stack
  community.docker.docker_stack:
    name: woodytoys
    compose: [/srv/woodytoys/stack.yml]

- name: Wait until every service runs its desired tasks, healthy
  woodyswarm.shop.swarm_stack_converged:
    stack: woodytoys
    expected:
      db: 1
      api: 5
      front: 2
      reverse: global
    timeout: 600
  register: converged

- name: Report what had to be forced
  ansible.builtin.debug:
    msg: "{{ converged.healed }}"
  when: converged.healed | length > 0
"""

RETURN = r"""
---
elapsed:
  description: Seconds until every service converged.
  type: float
  returned: success
  sample: 12.4
services:
  description: Running and expected task counts, and update state, per service short name.
  type: dict
  returned: always
  sample: {api: {running: 5, expected: 5, update: completed}, db: {running: 1, expected: 1, update: ""}}
healed:
  description: The services forced to reconcile during the wait, each with what was seen.
  type: list
  elements: str
  returned: always
  sample: ["api: 4/5 running, no update and no task on its way for 20 s; forced a reconcile"]
"""

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import docker
    from docker.errors import DockerException
    from requests.exceptions import RequestException
except ImportError:
    DOCKER_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    DOCKER_IMPORT_ERROR = None

ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "docker_host": {"type": "str", "default": "unix:///var/run/docker.sock"},
    "stack": {"type": "str", "required": True},
    "expected": {"type": "dict", "required": True},
    "timeout": {"type": "int", "default": 300},
    "interval": {"type": "float", "default": 2},
    "heal_after": {"type": "float", "default": 20},
}

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


Result = TypeVar("Result")


class EngineError(Exception):
    """A Docker API call failed; the message says what was being asked."""


def ask(doing: str, call: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
    """``call(*args, **kwargs)``; a Docker SDK or HTTP error becomes an EngineError naming ``doing``."""
    try:
        return call(*args, **kwargs)
    except (DockerException, RequestException) as error:
        raise EngineError(f"{doing}: {error}") from error


def survey(client: Any, stack: str, expected: dict[str, Any]) -> dict[str, ServiceState]:
    nodes = ask("listing the swarm's nodes", client.nodes.list)
    node_names = {n.id: n.attrs["Description"]["Hostname"] for n in nodes}
    ready = sum(1 for n in nodes if n.attrs["Status"]["State"] == "ready" and n.attrs["Spec"]["Availability"] == "active")
    states = {name: ServiceState(name, expected_count(want, ready)) for name, want in expected.items()}
    services = ask(f"listing the services of stack {stack}", client.services.list,
                   filters={"label": f"com.docker.stack.namespace={stack}"})
    for service in services:
        short = service.name[len(stack) + 1:]
        if short not in states:
            continue
        state = states[short]
        update = service.attrs.get("UpdateStatus") or {}
        state.update_state, state.update_message = update.get("State", ""), update.get("Message", "")
        for task in ask(f"listing the tasks of {service.name}", service.tasks, filters={"desired-state": "running"}):
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
        rc, _out, err = self._module.run_command(
            ["docker", "service", "update", "--force", "--detach", "--with-registry-auth", name],
            environ_update={"DOCKER_HOST": self._docker_host})
        if rc != 0:
            self._module.fail_json(msg=f"could not force {name} to reconcile: {err.strip()}")
        self.healed.append(f"{state.name}: {state.running}/{state.expected} running, no update and no task "
                           f"on its way for {self._after:g} s; forced a reconcile")
        self._module.warn(f"{name}: {self.healed[-1]}")


def wait(module: AnsibleModule, client: Any, healer: Healer) -> NoReturn:
    """Poll until the stack converges (exit_json), rolls back or times out (fail_json)."""
    params = module.params
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


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if DOCKER_IMPORT_ERROR is not None:
        module.fail_json(msg=missing_required_lib("docker (Debian: python3-docker)"), exception=DOCKER_IMPORT_ERROR)
    params = module.params
    healer = Healer(module, params["docker_host"], params["stack"],
                    0 if module.check_mode else params["heal_after"])
    try:
        client = ask("connecting to the engine", docker.DockerClient, base_url=params["docker_host"])
        wait(module, client, healer)
    except EngineError as error:
        module.fail_json(msg=f"swarm_stack_converged could not wait for stack {params['stack']}: the Docker API at "
                             f"{params['docker_host']} failed while {error}", healed=healer.healed,
                         exception=traceback.format_exc())


if __name__ == "__main__":
    main()
