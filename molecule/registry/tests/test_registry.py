"""The lab registry answers /v2/, accepts a push from the controller, and every node pulls it."""
import io
import tarfile
import urllib.request

import docker
import pytest

testinfra_hosts = ["localhost"]

REGISTRY = "10.213.0.10:5000"
NODES = ["node1", "node2", "node3"]
SMOKE = f"{REGISTRY}/woodyswarm-test/registry-smoke"


def _context(marker: str) -> io.BytesIO:
    """A build context for a FROM-scratch image holding one file (a few bytes to push)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("Dockerfile", b"FROM scratch\nCOPY marker /marker\n"), ("marker", marker.encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


def test_registry_process_runs_in_its_namespace(host):
    pid = host.file("/run/woodylab/registry.pid").content_string.strip()
    assert host.file(f"/proc/{pid}/exe").linked_to == "/usr/bin/docker-registry"
    assert host.run(f"ip netns identify {pid}").stdout.strip() == "woodyreg"


def test_registry_answers_v2(host):
    assert host.run(f"ip route get {REGISTRY.split(':')[0]}").stdout.split()[2] == "woodybr0"
    with urllib.request.urlopen(f"http://{REGISTRY}/v2/", timeout=5) as answer:
        assert answer.status == 200


@pytest.fixture(scope="module")
def pushed_tag(host) -> str:
    tag = host.run("date +%s%N").stdout.strip()
    controller = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    controller.images.build(fileobj=_context(tag), custom_context=True, tag=f"{SMOKE}:{tag}", rm=True)
    for line in controller.images.push(SMOKE, tag=tag, stream=True, decode=True):
        assert "error" not in line, line
    yield tag
    controller.images.remove(f"{SMOKE}:{tag}")


def test_registry_lists_the_pushed_tag(pushed_tag):
    with urllib.request.urlopen(f"http://{REGISTRY}/v2/woodyswarm-test/registry-smoke/tags/list", timeout=5) as answer:
        assert pushed_tag in answer.read().decode()


@pytest.mark.parametrize("node", NODES)
def test_every_node_pulls_the_pushed_image(node, pushed_tag):
    engine = docker.DockerClient(base_url=f"unix:///run/woodylab/{node}.sock")
    image = engine.images.pull(SMOKE, tag=pushed_tag)
    assert f"{SMOKE}:{pushed_tag}" in image.tags
    engine.images.remove(f"{SMOKE}:{pushed_tag}")
