"""The lab's network is safe (no lab packet leaves the machine) and reachable from loopback."""
import json
import time
import urllib.request

import docker
import pytest

testinfra_hosts = ["localhost"]

NODES = {"node1": "10.213.0.11", "node2": "10.213.0.12", "node3": "10.213.0.13"}


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
    assert info["DockerRootDir"] == f"/var/lib/woodylab/{node}/docker"


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
