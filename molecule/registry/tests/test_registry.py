"""The lab registry asks for its user, accepts a push from the controller (logged in), and every
node pulls it."""
import io
import sys
import tarfile
from pathlib import Path

import docker
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from lab_registry import REGISTRY, USERNAME, call, get, password  # noqa: E402

testinfra_hosts = ["localhost"]
HTPASSWD = "/etc/woodylab/registry/htpasswd"
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
    assert get("/v2/")[0] == 200


def test_registry_refuses_anonymous_and_wrong_passwords():
    assert get("/v2/", user=None)[0] == 401
    assert get("/v2/woodyswarm-test/registry-smoke/tags/list", user=None)[0] == 401
    assert get("/v2/", secret=password() + "x")[0] == 401
    assert get("/v2/", user="intruder")[0] == 401


def test_htpasswd_holds_a_bcrypt_hash_not_the_password(host):
    stored = host.file(HTPASSWD)
    assert stored.mode == 0o640
    user, digest = stored.content_string.strip().split(":", 1)
    assert user == USERNAME
    assert digest.startswith("$2y$10$")
    assert password() not in stored.content_string


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
    status, body = get("/v2/woodyswarm-test/registry-smoke/tags/list")
    assert status == 200 and pushed_tag in body.decode()


@pytest.mark.parametrize("node", NODES)
def test_every_node_pulls_the_pushed_image(node, pushed_tag):
    engine = docker.DockerClient(base_url=f"unix:///run/woodylab/{node}.sock")
    image = engine.images.pull(SMOKE, tag=pushed_tag)
    assert f"{SMOKE}:{pushed_tag}" in image.tags
    engine.images.remove(f"{SMOKE}:{pushed_tag}")


def test_the_registry_refuses_to_delete_an_image_even_to_its_user(pushed_tag):
    manifest = f"/v2/woodyswarm-test/registry-smoke/manifests/{pushed_tag}"
    accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"
    status, _, headers = call("HEAD", manifest, {"Accept": accept})
    assert status == 200, headers
    digest = headers["Docker-Content-Digest"]
    status, body, _ = call("DELETE", f"/v2/woodyswarm-test/registry-smoke/manifests/{digest}")
    assert status == 405, body  # the registry's "operation is unsupported"
    assert pushed_tag in get("/v2/woodyswarm-test/registry-smoke/tags/list")[1].decode()
