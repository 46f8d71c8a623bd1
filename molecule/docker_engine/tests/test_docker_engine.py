"""Each engine (the controller's, and each lab node's over SSH) runs as a background daemon,
configured and answering, with what the Docker modules need beside it."""
import hashlib
import json
import sys
from pathlib import Path

import docker
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
from lab_nodes import NODES, ssh  # noqa: E402
from lab_registry import LAB_CA, REGISTRY  # noqa: E402

testinfra_hosts = ["localhost"]


def test_engine_package_installed(host):
    assert host.package("docker.io").is_installed


def test_pidfile_names_a_running_dockerd(host):
    pid = int(host.file("/var/run/docker.pid").content_string.strip())
    assert host.file(f"/proc/{pid}/exe").linked_to == "/usr/sbin/dockerd"


def test_engine_trusts_the_lab_registry_through_its_authority_not_as_insecure(host):
    settings = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert "insecure-registries" not in settings
    assert settings["hosts"] == ["unix:///var/run/docker.sock"]
    assert host.file(f"/etc/docker/certs.d/{REGISTRY}/ca.crt").content == LAB_CA.read_bytes()


def test_engine_answers_and_applied_the_configuration(host):
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    configs = client.info()["RegistryConfig"]["IndexConfigs"]
    assert REGISTRY not in configs or configs[REGISTRY]["Secure"] is True


def test_log_is_written(host):
    log = host.file("/var/log/woodyswarm/dockerd.log")
    assert log.is_file and log.size > 0


@pytest.mark.parametrize("node", NODES)
def test_node_engine_runs_in_the_background_on_the_node(node):
    """Started over SSH: its own pidfile, daemon.json and log on the node, and it outlived the session."""
    seen = ssh(node, "readlink /proc/$(cat /run/docker.pid)/exe; cat /etc/docker/daemon.json; "
                     f"sha256sum < /etc/docker/certs.d/{REGISTRY}/ca.crt | cut -d' ' -f1; "
                     "test -s /var/log/woodyswarm/dockerd.log && echo logged; docker info --format '{{.Name}}'")
    assert seen.returncode == 0, seen.stderr
    lines = seen.stdout.splitlines()
    assert lines[0] == "/usr/sbin/dockerd"
    settings = json.loads("\n".join(lines[1:-3]))
    assert "insecure-registries" not in settings
    assert settings["pidfile"] == "/var/run/docker.pid"
    assert lines[-3:] == [hashlib.sha256(LAB_CA.read_bytes()).hexdigest(), "logged", node]


@pytest.mark.parametrize("node", NODES)
def test_node_has_what_the_docker_modules_need(node):
    seen = ssh(node, "python3 -c 'import docker, yaml, jsondiff; print(docker.__version__)'")
    assert seen.returncode == 0, seen.stderr
    assert int(seen.stdout.split(".")[0]) >= 5
