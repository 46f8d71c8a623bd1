"""Three engines form one swarm: node1 the leader, node2 and node3 Ready workers, labelled."""
import docker
import pytest

testinfra_hosts = ["localhost"]


@pytest.fixture(scope="module")
def nodes() -> dict[str, dict]:
    manager = docker.DockerClient(base_url="unix:///run/woodylab/node1.sock")
    return {n.attrs["Description"]["Hostname"]: n.attrs for n in manager.nodes.list()}


def test_three_nodes(nodes):
    assert sorted(nodes) == ["node1", "node2", "node3"]


def test_node1_is_the_leader(nodes):
    assert nodes["node1"]["Spec"]["Role"] == "manager"
    assert nodes["node1"]["ManagerStatus"]["Leader"] is True
    assert nodes["node1"]["ManagerStatus"]["Addr"] == "10.213.0.11:2377"


@pytest.mark.parametrize("name", ["node2", "node3"])
def test_workers_are_ready(nodes, name):
    assert nodes[name]["Spec"]["Role"] == "worker"
    assert nodes[name]["Status"]["State"] == "ready"
    assert nodes[name]["Spec"]["Availability"] == "active"


@pytest.mark.parametrize("name", ["node1", "node2", "node3"])
def test_nodes_carry_their_inventory_label(nodes, name):
    assert nodes[name]["Spec"]["Labels"].get("woodyswarm.node") == name


@pytest.mark.parametrize("name", ["node2", "node3"])
def test_worker_engines_report_the_same_swarm(name):
    manager = docker.DockerClient(base_url="unix:///run/woodylab/node1.sock")
    worker = docker.DockerClient(base_url=f"unix:///run/woodylab/{name}.sock")
    swarm = worker.info()["Swarm"]
    assert swarm["LocalNodeState"] == "active"
    assert swarm["NodeID"] in {n.id for n in manager.nodes.list()}
