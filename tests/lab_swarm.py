"""The lab's swarm as the stack tests see it: the manager's engine, a service, its running tasks."""
from __future__ import annotations

from typing import Any

import docker
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
