"""Build the four images from the local bases and run them together on a Docker network.

Bases come from WOODY_BASE_PYTHON / WOODY_BASE_NGINX / WOODY_BASE_MARIADB (default: the lab's
woodylab/*:bookworm); a missing base or engine skips with the reason. Only 127.0.0.1 ports
published by the test's own containers are contacted.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest
from svc_support import FILES, fill_wheelhouse, free_port, http_get, wait_until

pytestmark = pytest.mark.images

TAG = "woody-svc-test"
TEST_JPEG_BYTES = 900_000
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    done = subprocess.run(["docker", *args], capture_output=True, text=True, env=env,
                          check=False, timeout=900)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def base_image(variable: str, default: str) -> str:
    name = os.environ.get(variable, default)
    if docker("image", "inspect", name, check=False).returncode != 0:
        pytest.skip(f"base image {name} is not present (set {variable} or build the bases)")
    return name


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    if shutil.which("docker") is None or docker("info", check=False).returncode != 0:
        pytest.skip("no Docker engine reachable")
    python = base_image("WOODY_BASE_PYTHON", "woodylab/python:bookworm")
    nginx = base_image("WOODY_BASE_NGINX", "woodylab/nginx:bookworm")
    mariadb = base_image("WOODY_BASE_MARIADB", "woodylab/mariadb:bookworm")
    # Built from copies with their wheelhouses, as the images role stages them: the source
    # stays as it is.
    contexts = tmp_path_factory.mktemp("contexts")
    for folder in ("api", "database", "reverse-proxy", "front"):
        shutil.copytree(FILES / folder, contexts / folder, ignore=shutil.ignore_patterns("wheels", "__pycache__"))
    for requirements, wheels in ((contexts / "api" / "requirements.txt", contexts / "api" / "wheels"),
                                 (contexts / "front" / "requirements-build.txt",
                                  contexts / "front" / "wheels")):
        try:
            fill_wheelhouse(requirements, wheels)
        except subprocess.CalledProcessError:
            pytest.skip(f"could not fill the wheelhouse {wheels} (no PyPI?)")
    builds = {
        "api": ["--build-arg", f"BASE_IMAGE={python}"],
        "database": ["--build-arg", f"BASE_IMAGE={mariadb}"],
        "reverse-proxy": ["--build-arg", f"BASE_IMAGE={nginx}"],
        "front": ["--build-arg", f"BASE_IMAGE={nginx}",
                  "--build-arg", f"PYTHON_BASE_IMAGE={python}",
                  "--build-arg", f"JPEG_BYTES={TEST_JPEG_BYTES}"],
    }
    tags = {}
    for folder, args in builds.items():
        tag = f"{TAG}/{folder}:latest"
        docker("build", "-q", *args, "-t", tag, str(contexts / folder))
        tags[folder] = tag
    return tags


@dataclass
class Stack:
    network: str
    rp_port: int
    db_port: int
    password: str
    images: dict[str, str]
    secret: Path
    containers: list[str]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.rp_port}"

    def run(self, name: str, image: str, *args: str, alias: str | None = None,
            command: tuple[str, ...] = ()) -> str:
        full = f"{self.network}-{name}"
        options = ["--network", self.network]
        if alias:
            options += ["--network-alias", alias]
        docker("run", "-d", "--name", full, *options, *args, image, *command)
        self.containers.append(full)
        return full


@pytest.fixture(scope="module")
def stack(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    network = f"{TAG}-{uuid.uuid4().hex[:8]}"
    docker("network", "create", network)
    secret = tmp_path_factory.mktemp("secret") / "db_root_password"
    password = uuid.uuid4().hex
    secret.write_text(password, encoding="utf-8")
    secret.chmod(0o644)
    s = Stack(network, free_port(), free_port(), password, images, secret, [])
    mount = f"{secret}:/run/secrets/db_root_password:ro"
    try:
        s.run("db", images["database"], "-v", mount, "-e",
              "MYSQL_ROOT_PASSWORD_FILE=/run/secrets/db_root_password",
              "-p", f"127.0.0.1:{s.db_port}:3306", alias="db")
        s.run("api1", images["api"], "-v", mount, "-e", "DB_SLEEP_SECONDS=1",
              "-e", "HEAVY_SECONDS=0.5", alias="api")
        s.run("front", images["front"], alias="front")
        s.run("rp", images["reverse-proxy"], "-e", "RP_RESOLVER_VALID=1s",
              "-p", f"127.0.0.1:{s.rp_port}:8080")
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if http_get(s.base + "/api/products/last", timeout=10).status == 200:
                    break
            except OSError:
                pass
            time.sleep(1)
        else:
            logs = "\n".join(docker("logs", c, check=False).stderr[-2000:] for c in s.containers)
            raise AssertionError(f"the stack did not come up:\n{logs}")
        yield s
    finally:
        for container in s.containers:
            docker("rm", "-f", container, check=False)
        docker("network", "rm", network, check=False)


@dataclass
class Browsed:
    dom: str  # with --dump-dom
    console: list[str]  # the page's console messages, as Chromium logs them


def chromium(url: str, workdir: Path, *extra: str) -> Browsed:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    profile = workdir / f"profile-{uuid.uuid4().hex[:6]}"
    done = subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr",
                           "--v=0", "--virtual-time-budget=30000", *extra, url],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return Browsed(done.stdout, [line for line in done.stderr.splitlines() if ":CONSOLE" in line])


def csp_violations(browsed: Browsed) -> list[str]:
    return [line for line in browsed.console if "Content Security Policy" in line]


def natural_width(dom: str) -> int:
    match = re.search(r'id="image-status" data-natural-width="(\d*)"', dom)
    assert match and match.group(1), f"the page script did not report: {dom[:500]}"
    return int(match.group(1))


def run_front(stack: Stack, name: str, image_url: str) -> int:
    """Another front container with its picture at image_url; the loopback port it answers on."""
    port = free_port()
    stack.run(name, stack.images["front"], "-e", f"FRONT_IMAGE_URL={image_url}", "-p", f"127.0.0.1:{port}:80")

    def answers() -> bool:
        try:
            return http_get(f"http://127.0.0.1:{port}/", timeout=2).status == 200
        except OSError:
            return False

    wait_until(answers, 20, f"the page of the {name} container on 127.0.0.1:{port}")
    return port


def test_front_page_renders_with_its_picture(stack: Stack, tmp_path: Path) -> None:
    from PIL import Image

    page = chromium(stack.base + "/", tmp_path, "--dump-dom")
    assert natural_width(page.dom) > 0
    assert csp_violations(page) == []  # the page keeps to its own Content-Security-Policy
    shot = tmp_path / "front.png"
    chromium(stack.base + "/", tmp_path, f"--screenshot={shot}", "--window-size=1280,1000")
    with Image.open(shot) as img:
        assert img.format == "PNG"
        colours = img.convert("RGB").getcolors(maxcolors=1_000_000)
        assert colours is None or len(colours) > 50  # the picture, not a blank page


def test_a_missing_picture_is_detected(stack: Stack, tmp_path: Path) -> None:
    """Control for the test above: the same check reports 0 when the image cannot load."""
    port = run_front(stack, "front-broken", "/missing.jpg")
    assert natural_width(chromium(f"http://127.0.0.1:{port}/", tmp_path, "--dump-dom").dom) == 0


def test_the_policy_blocks_a_picture_from_elsewhere(stack: Stack, tmp_path: Path) -> None:
    """Control for the CSP check: a picture the policy does not name (a data: URL, not the page's
    origin nor an http(s) CDN) is blocked, and Chromium says so on the console."""
    port = run_front(stack, "front-csp", "data:image/gif;base64,R0lGODlhAQABAAAAACw=")
    page = chromium(f"http://127.0.0.1:{port}/", tmp_path, "--dump-dom")
    assert natural_width(page.dom) == 0
    assert any("img-src 'self'" in line for line in csp_violations(page)), page.console


def test_picture_is_a_real_jpeg_and_rate_limited(stack: Stack) -> None:
    import urllib.request

    from PIL import Image

    start = time.monotonic()
    with urllib.request.urlopen(stack.base + "/5mo.jpg", timeout=60) as reply:
        data = reply.read()
    seconds = time.monotonic() - start
    assert TEST_JPEG_BYTES <= len(data) <= TEST_JPEG_BYTES * 1.1
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG" and img.width > 100
        img.load()
    # limit_rate 300k by default (nginx sends the first second's worth at once)
    assert seconds > len(data) / 300_000 - 2


def test_api_and_database_through_the_proxy(stack: Stack) -> None:
    name = f"Kite-{uuid.uuid4().hex[:6]}"
    assert http_get(f"{stack.base}/api/products?product={name}").body == name
    last = http_get(stack.base + "/api/products/last")
    assert last.status == 200 and last.body.endswith(f"(last={name})"), last.body
    assert re.search(r" - 3 products ", last.body), last.body  # seed rows + ours


def test_database_accepts_one_connection(stack: Stack) -> None:
    def connect() -> pymysql.connections.Connection:
        return pymysql.connect(host="127.0.0.1", port=stack.db_port, user="root",
                               password=stack.password, database="woody", connect_timeout=5)

    with connect() as first, first.cursor() as cur:
        cur.execute("SELECT name FROM product ORDER BY id LIMIT 2")
        assert [r[0] for r in cur.fetchall()] == ["Yoyo", "Joli train"]
        with pytest.raises(pymysql.err.OperationalError) as refused:
            connect()
        assert refused.value.args[0] in (1040, 1203, 1226)


def test_database_limit_is_a_knob(stack: Stack) -> None:
    port = free_port()
    stack.run("db-wide", stack.images["database"], "-e", f"MYSQL_ROOT_PASSWORD={stack.password}",
              "-p", f"127.0.0.1:{port}:3306",
              command=("--max-connections=20", "--max-user-connections=20"))
    deadline = time.monotonic() + 90
    while True:
        try:
            conn = pymysql.connect(host="127.0.0.1", port=port, user="root",
                                   password=stack.password, connect_timeout=2)
            break
        except pymysql.err.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT @@GLOBAL.max_connections, @@GLOBAL.max_user_connections")
        assert cur.fetchone() == (20, 20)


def test_api_healthcheck_command_in_image(stack: Stack) -> None:
    api = f"{stack.network}-api1"
    assert docker("exec", api, "python", "-m", "woody_api.healthcheck", check=False).returncode == 0
    broken = docker("exec", "-e", "API_PORT=1", api, "python", "-m", "woody_api.healthcheck",
                    check=False)
    assert broken.returncode == 1
    health = docker("inspect", "-f", "{{json .Config.Healthcheck.Test}}", api).stdout
    assert "woody_api.healthcheck" in health


def test_proxy_uses_a_replica_added_later(stack: Stack) -> None:
    seen = {http_get(stack.base + "/api/ping").headers["X-Served-By"] for _ in range(4)}
    assert len(seen) == 1
    stack.run("api2", stack.images["api"], "-v",
              f"{stack.secret}:/run/secrets/db_root_password:ro", alias="api")
    deadline = time.monotonic() + 30
    while len(seen) < 2 and time.monotonic() < deadline:
        reply = http_get(stack.base + "/api/ping")
        if reply.status == 200:
            seen.add(reply.headers["X-Served-By"])
        time.sleep(0.1)
    assert len(seen) == 2, seen
