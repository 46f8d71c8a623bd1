"""lab_down.yml ends the lab and leaves nothing of it behind but the unreachable route.

Runs last in the test command: it tears the lab down for real.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NAMESPACES = ["node1", "node2", "node3", "woodyreg"]

pytestmark = pytest.mark.teardown


def _sh(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout


@pytest.fixture(scope="module")
def torn_down() -> subprocess.CompletedProcess[str]:
    controller_pid_before = Path("/var/run/docker.pid").read_text().strip()
    result = subprocess.run(
        ["ansible-playbook", "playbooks/lab_down.yml"], cwd=ROOT, capture_output=True, text=True,
        timeout=600, check=False, env=dict(os.environ, ANSIBLE_FORCE_COLOR="0"),
    )
    result.controller_pid_before = controller_pid_before  # type: ignore[attr-defined]
    return result


def test_playbook_succeeds(torn_down):
    assert torn_down.returncode == 0, torn_down.stdout[-3000:]


def test_no_namespace_left(torn_down):
    left = _sh("ip", "netns", "list")
    assert not [ns for ns in NAMESPACES if ns in left.split()], left


def test_no_bridge_or_veth_left(torn_down):
    links = _sh("ip", "-o", "link", "show")
    assert "woodybr0" not in links
    assert " wl-" not in links


def test_no_forward_rule_left(torn_down):
    assert "woodybr0" not in _sh("iptables", "-S", "FORWARD")


def test_no_lab_process_left(torn_down):
    lab = [line for line in _sh("ps", "-eo", "pid,args").splitlines()
           if "woodylab" in line or "docker-registry" in line or "TCP-LISTEN:8080" in line]
    assert lab == []


def test_lab_registry_credentials_forgotten(torn_down):
    config = Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker")) / "config.json"
    assert not config.exists() or "10.213.0.10:5000" not in config.read_text()


def test_unreachable_route_outlives_the_lab(torn_down):
    assert _sh("ip", "route", "show", "type", "unreachable", "10.213.0.0/16").strip()
    failed = subprocess.run(["ip", "route", "get", "10.213.0.11"], capture_output=True, text=True, check=False)
    # EHOSTUNREACH from the unreachable route, never a path through the default gateway
    assert failed.returncode != 0 and "no route to host" in failed.stderr.lower()


def test_controller_engine_left_alone(torn_down):
    assert Path("/var/run/docker.pid").read_text().strip() == torn_down.controller_pid_before  # type: ignore[attr-defined]
    assert "Server Version" in _sh("docker", "info")


def test_second_teardown_changes_nothing(torn_down):
    again = subprocess.run(["ansible-playbook", "playbooks/lab_down.yml"], cwd=ROOT, capture_output=True, text=True,
                           timeout=600, check=False, env=dict(os.environ, ANSIBLE_FORCE_COLOR="0"))
    assert again.returncode == 0
    assert "changed=0" in again.stdout
