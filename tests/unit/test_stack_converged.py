"""The convergence wait: which service the healer forces, when and how often; and how it fails when
the engine does not answer or the Docker SDK is missing."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from library_module import load, run  # noqa: E402

converged = load("swarm_stack_converged")
ServiceState, Healer = converged.ServiceState, converged.Healer


class FakeModule:
    def __init__(self, rc: int = 0) -> None:
        self.rc = rc
        self.commands: list[tuple[list[str], dict[str, str]]] = []
        self.warnings: list[str] = []

    def run_command(self, argv: list[str], environ_update: dict[str, str]) -> tuple[int, str, str]:
        self.commands.append((argv, environ_update))
        return self.rc, "", "no such service" if self.rc else ""

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    def fail_json(self, **kwargs: Any) -> None:
        raise AssertionError(kwargs["msg"])


def states(**services: ServiceState) -> dict[str, ServiceState]:
    return services


def test_a_service_short_with_nothing_on_its_way_is_forced_once_after_the_delay():
    module = FakeModule()
    healer = Healer(module, "unix:///manager.sock", "woodytoys", 20)
    api = ServiceState("api", expected=5, running=0)
    assert api.stranded
    healer.visit(states(api=api), now=100)
    healer.visit(states(api=api), now=119)
    assert module.commands == []  # not yet: Swarm may still be on it
    healer.visit(states(api=api), now=120)
    healer.visit(states(api=api), now=150)
    assert module.commands == [(["docker", "service", "update", "--force", "--detach", "--with-registry-auth",
                                 "woodytoys_api"], {"DOCKER_HOST": "unix:///manager.sock"})]
    assert healer.healed == ["api: 0/5 running, no update and no task on its way for 20 s; forced a reconcile"]
    assert module.warnings and "woodytoys_api" in module.warnings[0]


def test_tasks_on_their_way_or_an_update_are_left_to_swarm():
    module = FakeModule()
    healer = Healer(module, "unix:///m.sock", "woodytoys", 1)
    starting = ServiceState("api", expected=5, running=3, lagging_tasks=["slot 4 on node2: starting ()"])
    updating = ServiceState("front", expected=2, running=1, update_state="updating")
    complete = ServiceState("db", expected=1, running=1)
    for now in (0, 5, 10):
        healer.visit(states(api=starting, front=updating, db=complete), now=now)
    assert module.commands == [] and healer.healed == []


def test_a_service_that_recovers_by_itself_restarts_the_clock():
    module = FakeModule()
    healer = Healer(module, "unix:///m.sock", "woodytoys", 10)
    short, whole = ServiceState("api", 5, running=4), ServiceState("api", 5, running=5)
    healer.visit(states(api=short), now=0)
    healer.visit(states(api=whole), now=8)
    healer.visit(states(api=short), now=9)
    healer.visit(states(api=short), now=18)
    assert module.commands == []
    healer.visit(states(api=short), now=19)
    assert len(module.commands) == 1


def test_zero_delay_never_forces():
    module = FakeModule()
    healer = Healer(module, "unix:///m.sock", "woodytoys", 0)
    for now in (0, 100, 1000):
        healer.visit(states(api=ServiceState("api", 5, running=0)), now=now)
    assert module.commands == []


def test_an_unreachable_engine_fails_naming_the_docker_host_and_the_call(tmp_path):
    socket = f"unix://{tmp_path}/no-such-docker.sock"
    code, result = run(converged, {"docker_host": socket, "stack": "woodytoys", "expected": {"api": 1}})
    assert code == 1 and result["failed"]
    assert result["msg"].startswith(f"swarm_stack_converged could not wait for stack woodytoys: the Docker API at "
                                    f"{socket} failed while connecting to the engine: ")
    assert "No such file or directory" in result["msg"] and "Traceback" not in result["msg"]
    assert result["healed"] == []


class BrokenClient:
    """A client whose engine answers the node list with an API error, as a worker node does."""

    class nodes:  # noqa: N801 - mimics the SDK's attribute
        @staticmethod
        def list() -> list[Any]:
            raise converged.DockerException("503 Server Error: This node is not a swarm manager.")


def test_an_api_error_while_polling_names_what_was_asked():
    with pytest.raises(converged.EngineError, match="^listing the swarm's nodes: 503 Server Error: This node is not"):
        converged.survey(BrokenClient(), "woodytoys", {"api": 1})


def test_without_the_docker_sdk_the_module_names_the_library_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "docker", None)  # import docker now raises ImportError
    without = load("swarm_stack_converged")
    assert without.DOCKER_IMPORT_ERROR and "import docker" in without.DOCKER_IMPORT_ERROR
    code, result = run(without, {"stack": "woodytoys", "expected": {"api": 1}})
    assert code == 1
    assert result["msg"].startswith("Failed to import the required Python library (docker (Debian: python3-docker))")
    assert "Traceback" not in result["msg"]  # the traceback only with ANSIBLE_DISPLAY_TRACEBACK=error
