"""The lab's swarm as the stack tests see it: the manager's engine, a service, its running tasks,
and a bounded wait that says what it waited for."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import docker
from docker.models.containers import Container
from docker.models.services import Service

MANAGER = "unix:///run/woodylab/node1.sock"
STACK = "woodytoys"


def manager() -> docker.DockerClient:
    return docker.DockerClient(base_url=MANAGER)


def service(name: str) -> Service:
    return manager().services.get(f"{STACK}_{name}")


def running_tasks(name: str) -> list[dict[str, Any]]:
    """The service's tasks that are meant to run and do."""
    return [t for t in service(name).tasks(filters={"desired-state": "running"}) if t["Status"]["State"] == "running"]


def none_running(name: str) -> bool:
    """No task of the service runs any more, including those told to stop that still do (a
    scale-down's tasks keep running until their containers have stopped)."""
    return not any(t["Status"]["State"] == "running" for t in service(name).tasks())


def container_of(task: dict[str, Any]) -> Container:
    """A task's container, through the engine of the node it runs on (the lab links each
    node's engine socket at /run/woodylab/<node>.sock)."""
    node = manager().nodes.get(task["NodeID"]).attrs["Description"]["Hostname"]
    engine = docker.DockerClient(base_url=f"unix:///run/woodylab/{node}.sock")
    return engine.containers.get(task["Status"]["ContainerStatus"]["ContainerID"])


def wait_for(what: str, check: Callable[[], object], timeout: float, period: float = 0.5) -> float:
    """Seconds until check() is true; fails naming what it waited for and what it last saw."""
    started = time.monotonic()
    seen: object = None
    while time.monotonic() - started < timeout:
        try:
            seen = check()
            if seen is True:
                return time.monotonic() - started
        except Exception as error:  # noqa: BLE001 - retried until the timeout
            seen = repr(error)
        time.sleep(period)
    raise AssertionError(f"waited {timeout} s for {what}; last saw: {seen}")
