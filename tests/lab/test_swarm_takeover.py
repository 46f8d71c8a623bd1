"""The swarm role refuses a node that belongs to another swarm, and changes nothing there.

node3 leaves the lab swarm and starts a swarm of its own; the role must then fail naming
node3, and node3 must still lead its own swarm. Afterwards node3 rejoins the lab swarm
(through the role itself), so the lab is whole again for the tests that follow.
"""
from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.lab

PLAY = """\
- name: Form the swarm
  hosts: swarm_nodes
  gather_facts: false
  roles:
    - role: swarm
"""


def _engine(node: str) -> docker.DockerClient:
    return docker.DockerClient(base_url=f"unix:///run/woodylab/{node}.sock")


def _run_swarm_role(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    playbook = tmp_path / "swarm.yml"
    playbook.write_text(PLAY)
    return subprocess.run(["ansible-playbook", str(playbook)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, check=False, env=dict(os.environ, ANSIBLE_FORCE_COLOR="0"))


@pytest.fixture(scope="module")
def foreign_swarm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    node3, manager = _engine("node3"), _engine("node1")
    old_id = node3.info()["Swarm"]["NodeID"]
    node3.swarm.leave(force=True)
    manager.nodes.get(old_id).remove(force=True)
    node3.swarm.init(advertise_addr="10.213.0.13", listen_addr="10.213.0.13:2377")
    yield node3.info()["Swarm"]["Cluster"]["ID"]
    node3.swarm.leave(force=True)
    rejoin = _run_swarm_role(tmp_path_factory.mktemp("rejoin"))
    assert rejoin.returncode == 0, rejoin.stdout[-3000:]


def test_role_refuses_node_of_another_swarm(foreign_swarm, tmp_path):
    result = _run_swarm_role(tmp_path)
    assert result.returncode != 0
    assert "node3 is already in another swarm" in result.stdout
    assert "take" in result.stdout  # says it takes no node over


def test_foreign_swarm_untouched(foreign_swarm, tmp_path):
    _run_swarm_role(tmp_path)
    swarm = _engine("node3").info()["Swarm"]
    assert swarm["LocalNodeState"] == "active"
    assert swarm["Cluster"]["ID"] == foreign_swarm
    assert swarm["ControlAvailable"] is True


def test_join_tokens_never_printed(foreign_swarm, tmp_path):
    result = _run_swarm_role(tmp_path)
    tokens = _engine("node1").swarm.attrs["JoinTokens"]
    assert tokens["Worker"] not in result.stdout + result.stderr
    assert tokens["Manager"] not in result.stdout + result.stderr
