"""The controller's engine runs as a background daemon, configured and answering."""
import json

import docker

testinfra_hosts = ["localhost"]


def test_engine_package_installed(host):
    assert host.package("docker.io").is_installed


def test_pidfile_names_a_running_dockerd(host):
    pid = int(host.file("/var/run/docker.pid").content_string.strip())
    assert host.file(f"/proc/{pid}/exe").linked_to == "/usr/sbin/dockerd"


def test_daemon_json_trusts_the_lab_registry(host):
    settings = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert settings["insecure-registries"] == ["10.213.0.10:5000"]
    assert settings["hosts"] == ["unix:///var/run/docker.sock"]


def test_engine_answers_and_applied_the_configuration(host):
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    info = client.info()
    assert "10.213.0.10:5000" in info["RegistryConfig"]["IndexConfigs"]
    assert info["RegistryConfig"]["IndexConfigs"]["10.213.0.10:5000"]["Secure"] is False


def test_log_is_written(host):
    log = host.file("/var/log/woodyswarm/dockerd.log")
    assert log.is_file and log.size > 0
