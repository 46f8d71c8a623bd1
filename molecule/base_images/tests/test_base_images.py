"""The local bases exist, are in the registry, and behave like the official images they stand in for.

Every container these tests start sits on an `internal` Docker network of the controller's
engine: they talk only to each other, on this machine, and nothing they send can leave it.
Each test removes what it started.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
from docker.models.containers import Container

testinfra_hosts = ["localhost"]

ENGINE = "unix:///var/run/docker.sock"
NAMESPACE = "woodylab"
TAG = "bookworm"
BASES = ["python", "nginx", "mariadb", "redis", "bind"]
IMAGES = ["debian", *BASES]
ROOT_PASSWORD = "s3cr'et\"pw\\x"  # quotes and a backslash: the entrypoint must escape them


def image(name: str) -> str:
    return f"{NAMESPACE}/{name}:{TAG}"


# --- fixtures and helpers -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def engine() -> Iterator[docker.DockerClient]:
    client = docker.DockerClient(base_url=ENGINE, timeout=120)
    yield client
    client.close()


@pytest.fixture(scope="module")
def network(engine) -> Iterator[str]:
    """A bridge network without a route off the machine, for every container of these tests."""
    net = engine.networks.create(f"woodyswarm-test-bases-{uuid.uuid4().hex[:8]}", driver="bridge", internal=True)
    yield net.name
    net.reload()
    for container in net.containers:
        container.remove(force=True, v=True)
    net.remove()


@pytest.fixture()
def start(engine, network) -> Iterator[Callable[..., Container]]:
    """start(image, **kwargs): a detached container on the test network, removed afterwards."""
    started: list[Container] = []

    def _start(name: str, **kwargs) -> Container:
        container = engine.containers.run(name, detach=True, network=network, **kwargs)
        started.append(container)
        return container

    yield _start
    for container in started:
        container.remove(force=True, v=True)


@pytest.fixture()
def volume(engine) -> Iterator[str]:
    """A named volume, removed afterwards."""
    vol = engine.volumes.create(f"woodyswarm-test-bases-{uuid.uuid4().hex[:8]}")
    yield vol.name
    vol.remove(force=True)


def one_off(engine, network: str, name: str, command: list[str], entrypoint: list[str] | None = None,
            timeout: int = 60, **kwargs) -> tuple[int, str]:
    """Run a command in a new container on the test network: (exit code, stdout + stderr)."""
    container = engine.containers.create(name, command, entrypoint=entrypoint, network=network, **kwargs)
    try:
        container.start()
        try:
            status = container.wait(timeout=timeout)["StatusCode"]
        except Exception as error:  # noqa: BLE001 - the read timeout of the engine call
            pytest.fail(f"waited {timeout} s for `{' '.join(command)}` in {name} to finish: {error!r}")
        return status, container.logs(stdout=True, stderr=True).decode(errors="replace")
    finally:
        container.remove(force=True, v=True)


def wait_for(check: Callable[[], object], what: str, timeout: float = 60) -> object:
    """Call check until it returns something true; fail, saying what was awaited, after timeout s."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
            last = result
        except Exception as error:  # noqa: BLE001 - reported below
            last = error
        time.sleep(1)
    pytest.fail(f"waited {timeout} s for {what}; last result: {last!r}")


def address(container: Container, network: str) -> str:
    container.reload()
    return container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]


def logs(container: Container) -> str:
    return container.logs(stdout=True, stderr=True).decode(errors="replace")


def write(path: Path, data: str | bytes, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o755)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(mode)
    return path


def registry(host) -> str:
    """The registry converge pushed to: BASE_IMAGES_REGISTRY, else the inventory's woody_registry."""
    return os.environ.get("BASE_IMAGES_REGISTRY") or host.ansible.get_variables().get("woody_registry", "")


# --- the images ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", IMAGES)
def test_image_present_with_its_build_label(host, engine, name):
    labels = engine.images.get(image(name)).labels or {}
    label = "woodyswarm.rootfs-recipe" if name == "debian" else "woodyswarm.context-digest"
    assert len(labels.get(label, "")) == 64, labels


@pytest.mark.parametrize("name", IMAGES)
def test_image_pushed_to_the_registry(host, engine, name):
    reg = registry(host)
    if not reg:
        pytest.skip("no registry configured (woody_registry / BASE_IMAGES_REGISTRY)")
    local = engine.images.get(image(name))
    remote = engine.images.get_registry_data(f"{reg}/{image(name)}")
    assert f"{reg}/{NAMESPACE}/{name}@{remote.id}" in local.attrs["RepoDigests"], "the registry holds another image"


def test_no_scratch_folder_left_behind(host):
    assert host.package("debootstrap").is_installed
    leftovers = host.run("find /var/tmp -maxdepth 1 -name 'woodyswarm-rootfs-*'")
    assert leftovers.rc == 0 and leftovers.stdout.strip() == ""


def test_debian_rootfs_is_clean_and_current(host, engine, network):
    status, out = one_off(engine, network, image("debian"), ["sh", "-c", " && ".join([
        "test -x /usr/sbin/policy-rc.d",
        "test ! -e /etc/apt/sources.list",
        "grep -q '^Suites: bookworm-security' /etc/apt/sources.list.d/debian.sources",
        "test -z \"$(find /var/lib/apt/lists /var/cache/apt -type f ! -name lock)\"",
        "test -z \"$(find /var/log -name '*.log')\"",
        "echo clean",
    ])])
    assert (status, out.strip()) == (0, "clean"), out


# --- python -------------------------------------------------------------------------------------

def make_wheel(folder: Path) -> Path:
    """A minimal pure-Python wheel, woodyprobe 1.0, whose module says 42."""
    files = {
        "woodyprobe/__init__.py": b"ANSWER = 42\n",
        "woodyprobe-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: woodyprobe\nVersion: 1.0\n",
        "woodyprobe-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: woodyswarm-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for name, data in files.items()) + "woodyprobe-1.0.dist-info/RECORD,,\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        for name, data in {**files, "woodyprobe-1.0.dist-info/RECORD": record.encode()}.items():
            wheel.writestr(name, data)
    return write(folder / "woodyprobe-1.0-py3-none-any.whl", buffer.getvalue())


def test_python_base_makes_a_venv_and_installs_from_a_wheelhouse(host, engine, network, tmp_path):
    wheels = make_wheel(tmp_path / "wheels").parent
    status, out = one_off(engine, network, image("python"), ["sh", "-c", " && ".join([
        "python --version",
        "python3 -m venv /opt/venv",
        "/opt/venv/bin/pip install --quiet --disable-pip-version-check --no-index --find-links /wheels woodyprobe",
        "/opt/venv/bin/python -c 'import woodyprobe; print(\"answer\", woodyprobe.ANSWER)'",
    ])], volumes={str(wheels): {"bind": "/wheels", "mode": "ro"}}, timeout=120)
    assert status == 0, out
    assert "Python 3.11" in out
    assert "answer 42" in out


# --- mariadb ------------------------------------------------------------------------------------

def mariadb_client(engine, network, server: str, user: str, password: str, sql: str) -> tuple[int, str]:
    """The mariadb client in another container, over TCP to the server's address."""
    return one_off(engine, network, image("mariadb"),
                   ["--host", server, "--port", "3306", f"--user={user}", f"--password={password}",
                    "--connect-timeout=3", "--batch", "--skip-column-names", "--execute", sql],
                   entrypoint=["mariadb"])


def wait_for_tcp_login(engine, network, server: str, password: str) -> None:
    wait_for(lambda: mariadb_client(engine, network, server, "root", password, "SELECT 1")[0] == 0,
             f"root to log in over TCP to {server}:3306", timeout=120)


@pytest.fixture()
def initdb(tmp_path) -> Path:
    """A root password secret and /docker-entrypoint-initdb.d with .sql, .sql.gz and .sh."""
    write(tmp_path / "secrets" / "root_password", ROOT_PASSWORD + "\n", 0o600)
    write(tmp_path / "initdb" / "10-schema.sql", "CREATE TABLE toys (id INT PRIMARY KEY, name VARCHAR(40));\n"
                                                 "INSERT INTO toys VALUES (1, 'yoyo');\n")
    write(tmp_path / "initdb" / "20-more.sql.gz", gzip.compress(b"INSERT INTO toys VALUES (2, 'kite');\n"))
    write(tmp_path / "initdb" / "30-script.sh",
          'echo "INSERT INTO toys VALUES (3, \'$MYSQL_DATABASE\');" | docker_process_sql\n')
    return tmp_path


def test_mariadb_base_honours_the_mysql_contract(host, engine, network, volume, start, initdb):
    db = start(image("mariadb"),
               environment={"MYSQL_ROOT_PASSWORD_FILE": "/run/secrets/root_password", "MYSQL_DATABASE": "woody"},
               volumes={str(initdb / "secrets"): {"bind": "/run/secrets", "mode": "ro"},
                        str(initdb / "initdb"): {"bind": "/docker-entrypoint-initdb.d", "mode": "ro"},
                        volume: {"bind": "/var/lib/mysql", "mode": "rw"}})
    server = address(db, network)
    wait_for_tcp_login(engine, network, server, ROOT_PASSWORD)

    status, out = mariadb_client(engine, network, server, "root", ROOT_PASSWORD,
                                 "SELECT GROUP_CONCAT(name ORDER BY id) FROM woody.toys")
    assert (status, out.strip()) == (0, "yoyo,kite,woody"), out
    status, out = mariadb_client(engine, network, server, "root", "wrong", "SELECT 1")
    assert status != 0 and "Access denied" in out, out
    status, out = mariadb_client(engine, network, server, "root", ROOT_PASSWORD,
                                 "SELECT COUNT(*) FROM mysql.user WHERE user='' OR (user='root' AND host NOT IN ('localhost', '%'))")
    assert (status, out.strip()) == (0, "0"), "anonymous or extra root accounts are left"
    assert "s3cr" not in logs(db)

    # A second container on the same data folder: no new initialisation, the first password stays.
    db.stop(timeout=30)
    again = start(image("mariadb"), environment={"MYSQL_ROOT_PASSWORD": "another", "MYSQL_DATABASE": "other"},
                  volumes={str(initdb / "initdb"): {"bind": "/docker-entrypoint-initdb.d", "mode": "ro"},
                           volume: {"bind": "/var/lib/mysql", "mode": "rw"}})
    wait_for_tcp_login(engine, network, address(again, network), ROOT_PASSWORD)
    status, out = mariadb_client(engine, network, address(again, network), "root", ROOT_PASSWORD,
                                 "SELECT COUNT(*) FROM woody.toys; SHOW DATABASES LIKE 'other'")
    assert (status, out.split()) == (0, ["3"]), out
    assert "initialising" not in logs(again)


def test_mariadb_base_reads_conf_d_server_arguments_and_makes_the_user(host, engine, network, start, tmp_path):
    conf = write(tmp_path / "conf.d" / "test.cnf", "[mysqld]\nmax_connections = 77\ncharacter-set-server = latin1\n"
                                                   "collation-server = latin1_swedish_ci\n").parent
    db = start(image("mariadb"), command=["--max-allowed-packet=33554432"],
               environment={"MYSQL_ALLOW_EMPTY_PASSWORD": "yes", "MYSQL_DATABASE": "shop",
                            "MYSQL_USER": "woody", "MYSQL_PASSWORD": "user-pw"},
               volumes={str(conf): {"bind": "/etc/mysql/conf.d", "mode": "ro"}})
    server = address(db, network)
    wait_for_tcp_login(engine, network, server, "")
    status, out = mariadb_client(engine, network, server, "root", "",
                                 "SELECT @@max_connections, @@character_set_server, @@max_allowed_packet, @@bind_address")
    assert (status, out.split()) == (0, ["77", "latin1", "33554432", "0.0.0.0"]), out
    status, out = mariadb_client(engine, network, server, "woody", "user-pw", "SHOW DATABASES LIKE 'shop'")
    assert (status, out.strip()) == (0, "shop"), out


@pytest.mark.parametrize(("environment", "message"), [
    ({}, "password option is not specified"),
    ({"MYSQL_ROOT_PASSWORD": "a", "MYSQL_ROOT_PASSWORD_FILE": "/etc/hostname"}, "are exclusive"),
    ({"MYSQL_ROOT_PASSWORD": "a", "MYSQL_USER": "root", "MYSQL_PASSWORD": "b"}, "MYSQL_USER=\"root\""),
], ids=["no-password", "both-password-forms", "user-root"])
def test_mariadb_base_refuses_bad_settings(host, engine, network, environment, message):
    status, out = one_off(engine, network, image("mariadb"), ["mariadbd"], environment=environment)
    assert status != 0, out
    assert message in out, out


# --- nginx, redis, bind -------------------------------------------------------------------------

def test_nginx_base_serves_a_file(host, engine, network, start, tmp_path):
    html = write(tmp_path / "html" / "probe.txt", "woody toys\n").parent
    conf = write(tmp_path / "conf.d" / "default.conf",
                 "server { listen 80 default_server; root /usr/share/nginx/html; }\n").parent
    web = start(image("nginx"), volumes={str(html): {"bind": "/usr/share/nginx/html", "mode": "ro"},
                                         str(conf): {"bind": "/etc/nginx/conf.d", "mode": "ro"}})
    url = f"http://{address(web, network)}/probe.txt"
    fetch = ["python3", "-c", f"import urllib.request; print(urllib.request.urlopen({url!r}, timeout=3).read().decode())"]
    out = wait_for(lambda: (r := one_off(engine, network, image("python"), fetch))[0] == 0 and r[1],
                   f"nginx to serve {url}")
    assert out.strip() == "woody toys"
    assert "GET /probe.txt" in logs(web), "the access log does not reach the container's output"
    assert engine.images.get(image("nginx")).attrs["Config"]["StopSignal"] == "SIGQUIT"


def test_redis_base_answers_ping_from_another_container(host, engine, network, start):
    redis = start(image("redis"))
    server = address(redis, network)
    out = wait_for(lambda: (r := one_off(engine, network, image("redis"), ["redis-cli", "-h", server, "ping"]))[0] == 0
                   and r[1].strip(), f"redis on {server}:6379 to answer PING")
    assert out == "PONG"


def test_bind_base_answers_for_a_mounted_zone(host, engine, network, start, tmp_path):
    named_conf = write(tmp_path / "named.conf", """\
options {
    directory "/var/cache/bind";
    recursion no;
    dnssec-validation no;
    listen-on { any; };
    listen-on-v6 { none; };
};
zone "woody.test" { type primary; file "/etc/bind/zones/db.woody.test"; };
""")
    zones = write(tmp_path / "zones" / "db.woody.test", """\
$TTL 60
@    IN SOA ns.woody.test. hostmaster.woody.test. 1 60 60 600 60
@    IN NS  ns.woody.test.
ns   IN A   127.0.0.1
shop IN A   10.213.0.11
""").parent
    dns = start(image("bind"), volumes={str(named_conf): {"bind": "/etc/bind/named.conf", "mode": "ro"},
                                        str(zones): {"bind": "/etc/bind/zones", "mode": "ro"}})
    server = address(dns, network)
    for transport in ("+notcp", "+tcp"):
        query = ["dig", transport, "+short", "+time=2", "+tries=1", f"@{server}", "shop.woody.test", "A"]
        out = wait_for(lambda q=query: (r := one_off(engine, network, image("bind"), q))[0] == 0 and r[1].strip(),
                       f"named on {server} to answer {transport}")
        assert out == "10.213.0.11", logs(dns)
