"""The lab's network is safe (no lab packet leaves the machine) and reachable from loopback, and
its nodes are machines of their own, reached over SSH."""
import json
import sys
import time
import urllib.request
from pathlib import Path

import docker
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from lab_nodes import NODES, SSH_DIR, ssh  # noqa: E402

testinfra_hosts = ["localhost"]


@pytest.mark.parametrize("address", [*NODES.values(), "10.213.0.10"])
def test_lab_addresses_route_to_the_lab_bridge(host, address):
    route = host.run(f"ip -json route get {address}")
    assert route.rc == 0, route.stderr
    assert json.loads(route.stdout)[0]["dev"] == "woodybr0"


@pytest.mark.parametrize("address", ["10.213.0.200", "10.213.7.7", "10.213.255.254"])
def test_unused_lab_addresses_never_leave_the_machine(host, address):
    route = host.run(f"ip -json route get {address}")
    if route.rc == 0:  # inside the /24: the connected bridge route, never the uplink
        assert json.loads(route.stdout)[0]["dev"] == "woodybr0"
    else:  # elsewhere in the reserved /16: refused on the spot
        assert "unreachable" in route.stderr.lower() or "no route" in route.stderr.lower()


def test_unreachable_route_covers_the_lab_range(host):
    assert host.run("ip route show type unreachable 10.213.0.0/16").stdout.strip() != ""


def test_bridge_has_no_uplink(host):
    members = json.loads(host.run("ip -json link show master woodybr0").stdout or "[]")
    assert members and all(m["ifname"].startswith("wl-") for m in members)


@pytest.mark.parametrize("node", NODES)
def test_each_node_has_its_own_engine_and_hostname(node):
    info = docker.DockerClient(base_url=f"unix:///run/woodylab/{node}.sock").info()
    assert info["Name"] == node
    assert info["DockerRootDir"] == "/var/lib/docker"


@pytest.mark.parametrize("node", NODES)
def test_each_node_is_a_machine_reached_over_ssh(node):
    seen = ssh(node, "hostname; ps -e -o pid=,comm= | head -1; ls /run; docker info --format '{{.Name}}'")
    assert seen.returncode == 0, seen.stderr
    hostname, first_process, *rest = seen.stdout.split("\n")
    assert hostname == node
    # Its own process table: PID 1 is the node's own init, not the controller's.
    assert first_process.split() == ["1", "sh"]
    assert "sshd.pid" in rest and "woodylab" not in rest
    assert rest[-2] == node  # its engine, through the CLI on the node


def test_what_a_node_writes_stays_on_that_node(host):
    marker = f"woodyswarm-private-{time.monotonic_ns()}"
    for where in ("/var/lib/woodyswarm", "/etc/docker", "/root", "/run", "/tmp", "/var/log/woodyswarm"):
        wrote = ssh("node2", f"echo {marker} > {where}/{marker} && cat {where}/{marker}")
        assert wrote.stdout.strip() == marker, wrote.stderr
        assert not host.file(f"{where}/{marker}").exists, f"node2's {where} is the controller's"
        assert ssh("node3", f"test -e {where}/{marker}").returncode == 1, f"node2's {where} is node3's"
        ssh("node2", f"rm -f {where}/{marker}")


def test_host_keys_are_pinned_and_checked(tmp_path):
    """A known_hosts that pins another key for node1 stops the connection."""
    wrong = tmp_path / "known_hosts"
    other = (Path(SSH_DIR) / "known_hosts").read_text().splitlines()
    key_of = {line.split()[0]: line.split(maxsplit=1)[1] for line in other if line and not line.startswith("#")}
    wrong.write_text(f"{NODES['node1']} {key_of[NODES['node2']]}\n")
    refused = ssh("node1", "true", known_hosts=str(wrong))
    assert refused.returncode == 255
    assert "host key" in refused.stderr.lower()


def test_lab_key_is_private_and_outside_the_repository(host):
    key = host.file(f"{SSH_DIR}/id_ed25519")
    assert key.mode == 0o600 and key.user == "root"
    assert not str(Path(SSH_DIR).resolve()).startswith(str(Path(__file__).resolve().parents[3]))


def test_the_controller_runs_no_ssh_server(host):
    listening = host.run("ss -Hltn 'sport = :22'").stdout.split("\n")
    assert [line for line in listening if line.strip()] == [], listening


def test_engine_ids_are_distinct():
    ids = {docker.DockerClient(base_url=f"unix:///run/woodylab/{n}.sock").info()["ID"] for n in NODES}
    assert len(ids) == len(NODES)


def test_node_namespaces_have_no_default_route(host):
    for node in NODES:
        assert "default" not in host.run(f"ip -n {node} route show").stdout


@pytest.fixture()
def probe_service():
    """A one-replica web service on the manager publishing port 80 in host mode."""
    manager = docker.DockerClient(base_url="unix:///run/woodylab/node1.sock")
    service = manager.services.create(
        "10.213.0.10:5000/woodylab/nginx:bookworm",
        name="woodyswarm-test-probe",
        endpoint_spec=docker.types.EndpointSpec(ports={80: (80, "tcp", "host")}),
        constraints=["node.role == manager"],
    )
    yield service
    service.remove()


def test_site_port_on_loopback_reaches_the_manager(probe_service):
    deadline = time.monotonic() + 90
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen("http://127.0.0.1:8080/", timeout=3) as answer:
                assert answer.status in (200, 403, 404)
                assert "nginx" in answer.headers.get("Server", "")
                return
        except Exception as error:  # noqa: BLE001 - kept to report what was last seen
            last = error
            time.sleep(1)
    pytest.fail(f"127.0.0.1:8080 did not relay to the probe service on node1:80 within 90 s; last: {last!r}")
