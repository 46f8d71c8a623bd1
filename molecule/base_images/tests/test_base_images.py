"""The local bases exist, are pushed, and behave like the official images they stand in for."""
from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Iterator

import docker
import pytest

testinfra_hosts = ["localhost"]

NAMES = ["python", "nginx", "mariadb", "redis", "bind"]
REGISTRY = "10.213.0.10:5000"


@pytest.fixture(scope="module")
def engine() -> docker.DockerClient:
    return docker.DockerClient(base_url="unix:///var/run/docker.sock")


@pytest.fixture()
def containers(engine) -> Iterator[list]:
    started: list = []
    yield started
    for container in started:
        container.remove(force=True, v=True)


def _run(engine, containers, image: str, **kwargs):
    container = engine.containers.run(image, detach=True, **kwargs)
    containers.append(container)
    return container


def _put(container, path: str, name: str, data: bytes) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
    container.put_archive(path, buf.getvalue())


def _wait_for(check, what: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as error:  # noqa: BLE001 - reported below
            last = error
        time.sleep(0.5)
    pytest.fail(f"waited {timeout} s for {what}; last error: {last!r}")


@pytest.mark.parametrize("name", NAMES)
def test_base_built_and_labelled(engine, name):
    image = engine.images.get(f"woodylab/{name}:bookworm")
    assert image.labels["woodyswarm.context-digest"]


@pytest.mark.parametrize("name", NAMES)
def test_base_in_the_lab_registry(engine, name):
    data = engine.images.get_registry_data(f"{REGISTRY}/woodylab/{name}:bookworm")
    assert data.id.startswith("sha256:")


def test_python_base_makes_a_venv(engine):
    out = engine.containers.run("woodylab/python:bookworm", ["sh", "-c", "python -m venv /tmp/v && /tmp/v/bin/pip --version"],
                                remove=True)
    assert b"python 3.11" in out


def test_mariadb_base_honours_the_mysql_contract(engine, containers):
    db = _run(engine, containers, "woodylab/mariadb:bookworm", entrypoint=["sleep", "infinity"])
    _put(db, "/run", "root_pw", b"s3cret'pw")
    _put(db, "/docker-entrypoint-initdb.d", "10-t.sql", b"CREATE TABLE t (v INT); INSERT INTO t VALUES (42);")
    db.commit("woodyswarm-test/mariadb-contract", "t",
              conf={"Entrypoint": ["/bin/bash", "/usr/local/bin/docker-entrypoint.sh"], "Cmd": ["mariadbd"]})
    db.remove(force=True)
    containers.remove(db)
    db = _run(engine, containers, "woodyswarm-test/mariadb-contract:t",
              environment={"MYSQL_ROOT_PASSWORD_FILE": "/run/root_pw", "MYSQL_DATABASE": "woody"})
    ip = _wait_for(lambda: engine.containers.get(db.id).attrs["NetworkSettings"]["IPAddress"], "an address")
    client = ["-h", ip, "-uroot", "--connect-timeout=3"]
    good = _wait_for(lambda: (r := engine.containers.run("woodylab/mariadb:bookworm", [*client, "-ps3cret'pw", "-N", "-e",
                                                                                        "SELECT v FROM woody.t"],
                                                         entrypoint=["mariadb"], remove=True)) and r, "root login over TCP", 90)
    assert good.strip() == b"42"
    with pytest.raises(docker.errors.ContainerError) as refused:
        engine.containers.run("woodylab/mariadb:bookworm", [*client, "-pwrong", "-e", "SELECT 1"], entrypoint=["mariadb"],
                              remove=False)
    assert b"Access denied" in refused.value.container.logs()
    refused.value.container.remove()
    assert b"s3cret" not in db.logs()
    engine.images.remove("woodyswarm-test/mariadb-contract:t", force=True)


def test_mariadb_base_refuses_to_start_without_a_password(engine, containers):
    db = _run(engine, containers, "woodylab/mariadb:bookworm")
    assert db.wait(timeout=60)["StatusCode"] != 0
    assert b"password option is not specified" in db.logs()


def test_nginx_base_serves_a_file(engine, containers):
    web = _run(engine, containers, "woodylab/nginx:bookworm")
    _put(web, "/usr/share/nginx/html", "probe.txt", b"woody")
    _put(web, "/etc/nginx/conf.d", "probe.conf",
         b"server { listen 80; root /usr/share/nginx/html; }")
    web.exec_run(["nginx", "-s", "reload"])
    ip = _wait_for(lambda: engine.containers.get(web.id).attrs["NetworkSettings"]["IPAddress"], "an address")
    out = _wait_for(lambda: engine.containers.run("woodylab/python:bookworm", [
        "python", "-c", f"import urllib.request;print(urllib.request.urlopen('http://{ip}/probe.txt').read().decode())"],
        remove=True), "nginx to serve the file")
    assert out.strip() == b"woody"


def test_redis_base_answers_ping(engine, containers):
    redis = _run(engine, containers, "woodylab/redis:bookworm")
    out = _wait_for(lambda: redis.exec_run(["redis-cli", "ping"]).output.strip() == b"PONG", "redis PING")
    assert out


def test_bind_base_answers_a_query(engine, containers):
    dns = _run(engine, containers, "woodylab/bind:bookworm", entrypoint=["sleep", "infinity"])
    _put(dns, "/etc/bind", "named.conf.local", b'zone "woody.test" { type master; file "/etc/bind/db.woody.test"; };\n')
    _put(dns, "/etc/bind", "db.woody.test", b"$TTL 60\n@ IN SOA ns hostmaster 1 60 60 60 60\n@ IN NS ns\nns IN A 127.0.0.1\n"
                                            b"shop IN A 10.213.0.11\n")
    dns.exec_run(["named", "-u", "bind"])
    answer = _wait_for(lambda: dns.exec_run(["dig", "+short", "@127.0.0.1", "shop.woody.test"]).output.strip(), "named")
    assert answer == b"10.213.0.11"
