"""The lab's BIND answers for the zone on the dns host's lab address, from a container that
restarts with its engine; a zone file edited by hand is never overwritten by a rerun."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import docker

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from ansible_run import run_playbook  # noqa: E402

testinfra_hosts = ["localhost"]
SERVER = "10.213.0.11"
ZONE = "woodytoys.lab"
# On the DNS host node1, whose /var/lib/woodyswarm the controller sees under /var/lib/woodylab/node1.
ZONE_FILE = Path("/var/lib/woodylab/node1/woodyswarm/dns/db.woodytoys.lab")
CONVERGE = Path(__file__).resolve().parents[1] / "converge.yml"


def dig(*query: str) -> str:
    route = subprocess.run(["ip", "route", "get", SERVER], capture_output=True, text=True, check=True).stdout
    assert " dev woodybr0 " in route, route  # only ever the lab's own address
    return subprocess.run(["dig", f"@{SERVER}", "+short", "+time=2", "+tries=2", *query],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_the_zone_is_served_with_a_dated_serial():
    soa = dig("SOA", ZONE).split()
    assert soa[0] == f"ns.{ZONE}."
    assert len(soa[2]) == 10 and soa[2].startswith("20")
    assert dig("A", f"ns.{ZONE}") == SERVER


def test_the_server_is_authoritative_only():
    assert dig("A", "debian.org") == ""


def test_bind_runs_in_a_container_that_restarts_with_its_engine():
    container = docker.DockerClient(base_url="unix:///run/woodylab/node1.sock").containers.get("woody-dns")
    assert container.status == "running"
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert container.attrs["HostConfig"]["NetworkMode"] == "host"


def test_a_hand_edited_zone_survives_a_rerun():
    before = ZONE_FILE.read_bytes()
    edited = before + b"; a note the operator added by hand\n"
    ZONE_FILE.write_bytes(edited)
    try:
        run = run_playbook(CONVERGE)
        assert run.returncode == 0, run.failure_messages()
        assert ZONE_FILE.read_bytes() == edited
    finally:
        ZONE_FILE.write_bytes(before)
