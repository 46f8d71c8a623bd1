"""The self-hosted CDN edge (roles/cdn/templates/cdn_edge.conf.j2) caches for real, on loopback.

The template is rendered with jinja2 from the cdn role's defaults (the variables the stack role
renders it with), then two real nginx processes run in a temporary prefix:

- an ORIGIN like the shop's reverse proxy: static files sent at `limit_rate 300k`, an access
  log with one line per request it serves (path, Host header, status);
- the EDGE: a minimal nginx.conf that includes the rendered file inside http{}, as the image's
  conf.d does, proxying to the origin's 127.0.0.1 port.

Everything listens on 127.0.0.1 free ports; both processes are ended in teardown.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ansible_run import PlayRun, run_playbook  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "roles" / "cdn" / "templates" / "cdn_edge.conf.j2"
DEFAULTS = ROOT / "roles" / "cdn" / "defaults" / "main.yml"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
RATE = 300 * 1024          # the origin's limit_rate 300k, in bytes/s
SIZE = 2_000_000           # ~2 MB: ~6.5 s through the origin (more than nginx's default 5 s lock)
EDGE_NAME = "cdn.woody.test"

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def role_defaults(**overrides: Any) -> dict[str, Any]:
    """The cdn role's defaults under overrides, their own templating resolved (as Ansible would)."""
    values: dict[str, Any] = {**yaml.safe_load(DEFAULTS.read_text()), **overrides}
    values.pop("cdn_edge_config_dir")      # role_path: not a template variable
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    for _ in range(5):
        for name, value in values.items():
            if isinstance(value, str) and "{{" in value:
                values[name] = env.from_string(value).render(values)
    return values


def render_edge(**overrides: Any) -> str:
    # Ansible's template engine: trim_blocks on, the trailing newline kept.
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, keep_trailing_newline=True)
    return env.from_string(TEMPLATE.read_text()).render(role_defaults(**overrides))


def http_temp_paths(prefix: Path) -> str:
    """Debian's nginx has /var/lib/nginx compiled in for temp files: keep them in the prefix."""
    return "\n".join(f"    {kind}_temp_path {prefix / ('tmp_' + kind)};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))


def user_line() -> str:
    # As root, workers would run as `nobody`, who cannot enter pytest's 0700 tmp directories.
    return "user root;" if os.geteuid() == 0 else ""


def main_conf(prefix: Path, workers: int, http_body: str) -> str:
    """A whole nginx.conf kept inside the prefix (logs, temp files), around an http{} body."""
    return textwrap.dedent("""\
        {user}
        worker_processes {workers};
        error_log {prefix}/error.log info;
        events {{ worker_connections 256; }}
        http {{
        {temp}
        {body}
        }}
        """).format(user=user_line(), workers=workers, prefix=prefix, temp=http_temp_paths(prefix), body=http_body)


def origin_conf(prefix: Path, port: int) -> str:
    return main_conf(prefix, 1, textwrap.dedent(f"""\
        log_format origin '$request_uri|$http_host|$status';
        server {{
            listen 127.0.0.1:{port};
            access_log {prefix}/access.log origin;
            root {prefix}/www;
            location / {{
                limit_rate 300k;
            }}
            # Like the shop's API: a new answer per request, with no caching header of its own.
            location /api/ {{
                default_type text/plain;
                return 200 "$request_id";
            }}
        }}"""))


def edge_conf(prefix: Path) -> str:
    return main_conf(prefix, 2, f"include {prefix}/conf.d/*.conf;")


@dataclass
class Nginx:
    prefix: Path
    port: int
    process: subprocess.Popen[bytes]

    def log_lines(self, name: str = "access.log") -> list[str]:
        path = self.prefix / name
        return path.read_text().splitlines() if path.exists() else []

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_nginx(prefix: Path, port: int, conf: str) -> Nginx:
    (prefix / "nginx.conf").write_text(conf)
    argv = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
    check = subprocess.run([*argv, "-t", "-g", f"pid {prefix}/nginx.pid;"], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr
    with (prefix / "stderr.log").open("wb") as stderr:
        process = subprocess.Popen([*argv, "-g", f"daemon off; pid {prefix}/nginx.pid;"],
                                   stdout=subprocess.DEVNULL, stderr=stderr)
    server = Nginx(prefix, port, process)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"nginx in {prefix} exited: {(prefix / 'stderr.log').read_text()}"
                                 f"{(prefix / 'error.log').read_text() if (prefix / 'error.log').exists() else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise AssertionError(f"nginx in {prefix} did not listen on {port}")


@dataclass
class Fetch:
    status: int
    cache: str | None
    body: bytes = field(repr=False)
    seconds: float = 0.0
    headers: dict[str, str] = field(default_factory=dict, repr=False)


def fetch(port: int, path: str, host: str = EDGE_NAME) -> Fetch:
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path, headers={"Host": host})
        response = conn.getresponse()
        body = response.read()
        return Fetch(response.status, response.getheader("X-Cache-Status"), body, time.monotonic() - start,
                     dict(response.getheaders()))
    finally:
        conn.close()


@dataclass
class Pair:
    origin: Nginx
    edge: Nginx
    files: dict[str, bytes] = field(repr=False)

    def origin_hits(self, path: str) -> list[list[str]]:
        return [line.split("|") for line in self.origin.log_lines() if line.split("|")[0] == path]

    def edge_requests(self, path: str) -> list[str]:
        return [line for line in self.edge.log_lines() if f'"GET {path} ' in line]

    def edge_problems(self) -> list[str]:
        """The edge's error log at warn level and above (a cache file it could not store, say)."""
        levels = ("[warn]", "[error]", "[crit]", "[alert]", "[emerg]")
        return [line for line in self.edge.log_lines("error.log") if any(level in line for level in levels)]

    def wait_logged(self, path: str, requests: int, timeout: float = 10.0) -> None:
        """nginx logs a request once it has finished it, which is after the client has the last
        byte: the edge then still commits the object to its cache, the origin has yet to log.
        Wait until the edge logged `requests` requests for path and the origin every one the
        edge passed on, so that the next request and the counts see the finished state."""
        deadline = time.monotonic() + timeout
        while True:
            edge = self.edge_requests(path)
            passed_on = [line for line in edge if " origin=- " not in line]
            if len(edge) >= requests and len(self.origin_hits(path)) >= len(passed_on):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout} s for {requests} finished requests for {path}: "
                                     f"edge logged {edge}, origin logged {self.origin_hits(path)}, "
                                     f"edge problems {self.edge_problems()}")
            time.sleep(0.05)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    origin_dir = tmp_path_factory.mktemp("origin")
    edge_dir = tmp_path_factory.mktemp("edge")
    (origin_dir / "www").mkdir()
    files = {f"/{name}.jpg": os.urandom(SIZE) for name in ("5mo", "locked")}
    for path, data in files.items():
        (origin_dir / "www" / path.lstrip("/")).write_bytes(data)
    origin_port, edge_port = free_port(), free_port()
    (edge_dir / "conf.d").mkdir()
    (edge_dir / "conf.d" / "cdn_edge.conf").write_text(render_edge(
        cdn_edge_origin=f"http://127.0.0.1:{origin_port}",
        cdn_edge_resolver="",                      # an IP literal needs no resolver
        cdn_edge_listen_address="127.0.0.1",
        cdn_edge_listen_port=edge_port,
        cdn_edge_host=EDGE_NAME,
        cdn_edge_cache_path=str(edge_dir / "cache"),
        cdn_edge_access_log=str(edge_dir / "access.log"),
    ))
    origin = start_nginx(origin_dir, origin_port, origin_conf(origin_dir, origin_port))
    try:
        edge = start_nginx(edge_dir, edge_port, edge_conf(edge_dir))
    except BaseException:
        origin.stop()
        raise
    try:
        yield Pair(origin, edge, files)
    finally:
        edge.stop()
        origin.stop()


def test_default_render_is_valid_nginx_with_a_runtime_resolver(tmp_path: Path) -> None:
    """With the role's defaults (origin http://reverse:8080 through Docker's DNS) nginx -t passes."""
    conf = render_edge(cdn_edge_cache_path=str(tmp_path / "cache"), cdn_edge_access_log=str(tmp_path / "access.log"))
    assert "resolver 127.0.0.11 valid=10s" in conf
    assert "set $cdn_edge_origin http://reverse:8080;" in conf and "proxy_pass $cdn_edge_origin;" in conf
    assert "proxy_cache_lock on;" in conf and "add_header X-Cache-Status $upstream_cache_status always;" in conf
    assert "limit_req" not in conf and "limit_rate 0;" in conf
    assert "listen 8080;" in conf
    # nginx creates the cache directory but not its parents, which Debian's nginx must have too.
    assert Path(role_defaults()["cdn_edge_cache_path"]).parent.is_dir()
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "cdn_edge.conf").write_text(conf)
    (tmp_path / "nginx.conf").write_text(edge_conf(tmp_path))
    check = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                            "-g", f"pid {tmp_path}/nginx.pid;"], capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr


@dataclass
class Traffic:
    miss: Fetch
    origin_hits_after_miss: int
    hit: Fetch
    origin_hits_after_hit: int
    concurrent: list[Fetch]
    role_runs: dict[str, PlayRun] = field(repr=False)
    config_dir: Path


CLIENTS = 6
ROLE_PLAY = """\
- name: Point the CDN name at the edge
  hosts: controller
  gather_facts: false
  roles:
    - role: cdn
  post_tasks:
    - name: Report the CNAME target and the edge's configuration
      ansible.builtin.debug:
        msg: "{{ [cdn_cname_target, cdn_edge_config_file, cdn_edge_config_name] }}"
"""


@pytest.fixture(scope="module")
def traffic(pair: Pair, tmp_path_factory: pytest.TempPathFactory) -> Traffic:
    """Everything slow at once, so the suite waits for the rate-limited origin only once: both
    scenarios (they use different files, and each connection is limited on its own) and the role's
    own runs (CPU while the clients wait)."""
    barrier = threading.Barrier(CLIENTS)
    role_dir = tmp_path_factory.mktemp("cdn_edge_role")
    playbook = role_dir / "cdn_edge.yml"
    playbook.write_text(ROLE_PLAY)
    good_vars = {"cdn_edge_target": "edge.woody.test", "cdn_host": EDGE_NAME, "cdn_edge_config_dir": str(role_dir / "build")}
    role_cases = {"good": good_vars, "bad": {**good_vars, "cdn_edge_origin": "http://reverse:8080/images"}}

    def miss_then_hit() -> tuple[Fetch, int, Fetch, int]:
        miss = fetch(pair.edge.port, "/5mo.jpg")
        pair.wait_logged("/5mo.jpg", 1)
        after_miss = len(pair.origin_hits("/5mo.jpg"))
        hit = fetch(pair.edge.port, "/5mo.jpg")
        pair.wait_logged("/5mo.jpg", 2)
        return miss, after_miss, hit, len(pair.origin_hits("/5mo.jpg"))

    def concurrent_client() -> Fetch:
        barrier.wait(timeout=30)
        return fetch(pair.edge.port, "/locked.jpg")

    def concurrent_clients_logged(clients: list[Future[Fetch]]) -> list[Fetch]:
        results = [client.result(timeout=90) for client in clients]
        pair.wait_logged("/locked.jpg", CLIENTS)
        return results

    with ThreadPoolExecutor(max_workers=1 + CLIENTS + len(role_cases)) as pool:
        roles = {name: pool.submit(run_playbook, playbook, extra, 300) for name, extra in role_cases.items()}
        first = pool.submit(miss_then_hit)
        others = [pool.submit(concurrent_client) for _ in range(CLIENTS)]
        miss, after_miss, hit, after_hit = first.result(timeout=90)
        return Traffic(miss, after_miss, hit, after_hit, concurrent_clients_logged(others),
                       {name: future.result(timeout=300) for name, future in roles.items()}, role_dir / "build")


def test_miss_goes_to_the_origin_then_a_fast_hit_does_not(pair: Pair, traffic: Traffic) -> None:
    path = "/5mo.jpg"
    first, second = traffic.miss, traffic.hit
    assert first.status == 200 and first.body == pair.files[path]
    assert first.cache == "MISS", first
    assert traffic.origin_hits_after_miss == 1
    assert second.status == 200 and second.body == pair.files[path]
    assert second.cache == "HIT", (second, pair.edge_requests(path), pair.edge_problems())
    rate_limited = SIZE / RATE
    print(f"\n{SIZE} bytes: MISS {first.seconds:.2f} s (origin at 300 KB/s: ~{rate_limited:.1f} s), "
          f"HIT {second.seconds * 1000:.1f} ms")
    assert first.seconds > 0.7 * rate_limited, "the MISS did not go through the rate-limited origin"
    assert second.seconds < 1.0 and second.seconds < first.seconds / 10, "the HIT is not fast"
    assert traffic.origin_hits_after_hit == 1, "the HIT reached the origin"
    # The origin saw the Host it expects (its own name:port), not the edge's public name.
    assert pair.origin_hits(path)[0][1] == f"127.0.0.1:{pair.origin.port}"


def test_concurrent_misses_make_one_origin_request(pair: Pair, traffic: Traffic) -> None:
    path, results = "/locked.jpg", traffic.concurrent
    statuses = Counter(r.cache for r in results)
    print(f"\n{CLIENTS} concurrent first requests: {dict(statuses)}, "
          f"{min(r.seconds for r in results):.2f}-{max(r.seconds for r in results):.2f} s; "
          f"origin requests: {len(pair.origin_hits(path))}")
    assert all(r.status == 200 and r.body == pair.files[path] for r in results)
    # They all waited more than nginx's default 5 s lock: one origin request all the same.
    assert min(r.seconds for r in results) > 5
    assert len(pair.origin_hits(path)) == 1, pair.origin_hits(path)
    assert statuses["MISS"] == 1


def test_every_response_carries_the_cache_status_even_errors(pair: Pair) -> None:
    missing = fetch(pair.edge.port, "/no-such-file.jpg")
    assert missing.status == 404
    assert missing.cache == "MISS"


def test_api_answers_pass_through_and_are_never_stored(pair: Pair) -> None:
    """The CDN is for the static assets: a second /api answer through the edge is a new one from
    the origin, even though the origin sends no Cache-Control (the edge's 10 min would apply)."""
    path = "/api/misc/time"
    first, second = fetch(pair.edge.port, path), fetch(pair.edge.port, path)
    assert first.status == second.status == 200
    assert first.body != second.body, "the second answer came from the edge's cache"
    assert first.cache == second.cache == "BYPASS"
    pair.wait_logged(path, 2)
    assert len(pair.origin_hits(path)) == 2


def test_answers_name_no_version_and_forbid_type_sniffing(pair: Pair) -> None:
    for answer in (fetch(pair.edge.port, "/api/misc/time"), fetch(pair.edge.port, "/no-such-file.jpg")):
        assert answer.headers.get("Server") == "nginx", answer.headers
        assert answer.headers.get("X-Content-Type-Options") == "nosniff", answer.headers


def test_the_role_points_the_cdn_name_at_the_edge_and_checks_the_template_variables(traffic: Traffic) -> None:
    """The role itself (provider edge): it writes the configuration, names its Docker config after
    its content, sets cdn_cname_target to cdn_edge_target with a trailing dot; a template variable
    of the wrong shape is refused before anything happens."""
    runs, config_dir = traffic.role_runs, traffic.config_dir
    good, bad = runs["good"], runs["bad"]
    assert good.returncode == 0, good.failure_messages()
    reported = [next(iter(task["hosts"].values())) for play in good.report["plays"] for task in play["tasks"]
                if task["task"]["name"] == "Report the CNAME target and the edge's configuration"]
    assert [r.get("msg") for r in reported] == [["edge.woody.test.", str(config_dir / "cdn_edge.conf"),
                                                 reported[0]["msg"][2]]], reported
    # The file the stack mounts is this template rendered with the same variables; its Docker
    # config is named after its content.
    written = (config_dir / "cdn_edge.conf").read_text()
    assert written.rstrip("\n") == render_edge(cdn_host=EDGE_NAME).rstrip("\n")
    assert reported[0]["msg"][2] == "woodytoys_cdn_edge_" + hashlib.sha256(written.encode()).hexdigest()[:12]
    assert bad.returncode != 0
    name, messages = bad.failures()[0]
    assert name == "Validate the cdn arguments" and any("cdn_edge_origin" in m for m in messages), bad.failures()
