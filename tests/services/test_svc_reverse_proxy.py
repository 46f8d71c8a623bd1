"""The reverse-proxy and front configurations, rendered by their own entrypoint scripts and
served by a real nginx on loopback, with a tiny DNS server the test controls (the role
Docker's 127.0.0.11 plays in a container).

nginx is started through the reverse proxy's entrypoint, as in the image, so its watcher
runs too. The entrypoint resolves names with `getent ahostsv4`; the tests point RP_GETENT
at a stand-in that asks the tiny DNS server instead of the machine's resolver. Slow
one-request-at-a-time backends on 127.0.0.2-7 stand for the api replicas.
"""

from __future__ import annotations

import collections
import http.client
import http.server
import os
import random
import shutil
import signal
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from svc_support import (
    FILES,
    HEAVY_SECONDS,
    LOOPBACK,
    ApiProcess,
    RedisServer,
    Reply,
    StartApi,
    free_port,
    http_get,
    port_open,
    wait_until,
)

RP_DIR = FILES / "reverse-proxy"
FRONT_DIR = FILES / "front"
ENTRYPOINT = RP_DIR / "woody-rp-entrypoint.sh"
JPEG_BYTES = 200_000
RATE_BYTES_PER_S = 40_000
BACKEND_SECONDS = 0.5
RESOLVE_INTERVAL = 1
POOL_WORKERS = 2  # so that the upstream zone is what makes workers agree on the counts

# `getent ahostsv4 NAME`, but asking the tests' DNS server on 127.0.0.1:{port}.
FAKE_GETENT = '''#!{python}
import random, socket, struct, sys
name = sys.argv[2]
query = struct.pack("!HHHHHH", random.randrange(65536), 0x0100, 1, 0, 0, 0)
query += b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
query += b"\\0" + struct.pack("!HH", 1, 1)
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
    sock.settimeout(2)
    sock.sendto(query, ("127.0.0.1", {port}))
    reply = sock.recv(4096)
addresses, offset = [], len(query)
for _ in range(struct.unpack("!H", reply[6:8])[0]):
    rtype, _, _, length = struct.unpack("!HHIH", reply[offset + 2:offset + 12])
    if rtype == 1:
        addresses.append(socket.inet_ntoa(reply[offset + 12:offset + 12 + length]))
    offset += 12 + length
for address in addresses:
    print(f"{{address:<15}} STREAM {{name}}\\n{{address:<15}} DGRAM  \\n{{address:<15}} RAW    ")
sys.exit(0 if addresses else 2)
'''


@dataclass
class FakeDns:
    """Answers A queries from ``names`` (one address or a list, in a random order as Docker's
    DNS does, TTL 1 s), NXDOMAIN for anything else or an empty list. Names in ``silent`` get
    no answer at all, as Docker's DNS does for a service with no task left."""

    names: dict[str, str | list[str]] = field(default_factory=dict)
    silent: set[str] = field(default_factory=set)
    sock: socket.socket = field(default_factory=lambda: socket.socket(socket.AF_INET,
                                                                      socket.SOCK_DGRAM))
    queries: list[str] = field(default_factory=list)

    def start(self) -> int:
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return int(self.sock.getsockname()[1])

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                packet, peer = self.sock.recvfrom(512)
            except OSError:
                continue
            answer = self._answer(packet)
            if answer:
                self.sock.sendto(answer, peer)

    def _answer(self, packet: bytes) -> bytes:
        labels, i = [], 12
        while packet[i]:
            labels.append(packet[i + 1:i + 1 + packet[i]].decode())
            i += packet[i] + 1
        qtype = struct.unpack("!H", packet[i + 1:i + 3])[0]
        question = packet[12:i + 5]
        name = ".".join(labels).lower()
        self.queries.append(name)
        if name in self.silent:
            return b""
        value = self.names.get(name)
        addresses = [value] if isinstance(value, str) else list(value or [])
        if not addresses:
            return packet[:2] + struct.pack("!HHHHH", 0x8183, 1, 0, 0, 0) + question
        if qtype != 1:
            return packet[:2] + struct.pack("!HHHHH", 0x8180, 1, 0, 0, 0) + question
        random.shuffle(addresses)
        answers = b"".join(struct.pack("!HHHIH", 0xC00C, 1, 1, 1, 4) + socket.inet_aton(a)
                           for a in addresses)
        return (packet[:2] + struct.pack("!HHHHH", 0x8180, 1, len(addresses), 0, 0)
                + question + answers)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@dataclass
class Proxy:
    """A real nginx started through the entrypoint (`sh woody-rp-entrypoint.sh nginx ...`)."""

    tmp: Path
    port: int
    proc: subprocess.Popen[bytes]
    tls_port: int = 0  # RP_TLS_PORT: nothing listens there unless RP_TLS_* are set

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def upstreams(self) -> str:
        return (self.tmp / "rp.upstreams").read_text(encoding="utf-8")

    @property
    def error_log(self) -> str:
        path = self.tmp / "error.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    @property
    def entrypoint_log(self) -> str:
        """What the entrypoint and its watcher wrote (stderr)."""
        return (self.tmp / "entrypoint.log").read_text(encoding="utf-8")

    def reloads(self) -> int:
        log = (self.tmp / "error.log").read_text(encoding="utf-8")
        return log.count("(SIGHUP) received")

    def watchers(self) -> list[int]:
        """PIDs of this proxy's watcher: a copy of the entrypoint shell, not nginx."""
        found = []
        marker = str(self.tmp / "nginx.conf").encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(ENTRYPOINT).encode() in cmdline and marker in cmdline:
                found.append(int(entry.name))
        return found

    def workers(self) -> list[str]:
        """The titles of nginx's worker processes (children of the master)."""
        titles = []
        for entry in Path("/proc").iterdir():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if ppid == self.proc.pid:
                    titles.append((entry / "cmdline").read_bytes().decode().strip("\0 "))
            except (OSError, ValueError, IndexError):
                continue
        return [t for t in titles if t.startswith("nginx: worker")]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
        return self.proc.wait(timeout=15)


def render(script: Path, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["sh", str(script), "true"], env={"PATH": "/usr/bin:/bin", **env},
                          capture_output=True, check=False)


def start_proxy(tmp: Path, dns_port: int, env: dict[str, str], *, workers: int = 2,
                includes: tuple[Path, ...] = ()) -> Proxy:
    """Write a fake getent and an nginx.conf in ``tmp``, then run nginx via the entrypoint."""
    getent = tmp / "getent"
    getent.write_text(FAKE_GETENT.format(python=sys.executable, port=dns_port),
                      encoding="utf-8")
    getent.chmod(0o755)
    port, tls_port = free_port(), free_port()
    temp_paths = "".join(f"    {d}_temp_path {tmp / d};\n"
                         for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    extra = "".join(f"    include {path};\n" for path in includes)
    (tmp / "nginx.conf").write_text(
        # The dynamic modules Debian's nginx.conf loads (the image's Lua module among them).
        f"include /etc/nginx/modules-enabled/*.conf;\n"
        f"user root;\nworker_processes {workers};\ndaemon off;\npid {tmp / 'nginx.pid'};\n"
        f"error_log {tmp / 'error.log'} info;\nevents {{ worker_connections 64; }}\n"
        f"http {{\n    include /etc/nginx/mime.types;\n    access_log off;\n{temp_paths}"
        f"    include {tmp / 'rp.conf'};\n{extra}}}\n",
        encoding="utf-8")
    full_env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "RP_LISTEN_PORT": f"127.0.0.1:{port}",
        "RP_TLS_PORT": f"127.0.0.1:{tls_port}",
        "RP_RESOLVE_INTERVAL": str(RESOLVE_INTERVAL),
        "RP_GETENT": str(getent),
        "RP_TEMPLATE": str(RP_DIR / "woody-rp.conf.template"),
        "RP_CONF_PATH": str(tmp / "rp.conf"),
        **env,
    }
    nginx = shutil.which("nginx")
    assert nginx is not None
    with open(tmp / "entrypoint.log", "wb") as log:
        proc = subprocess.Popen(["sh", str(ENTRYPOINT), nginx, "-c", str(tmp / "nginx.conf")],
                                env=full_env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=log)
    proxy = Proxy(tmp, port, proc, tls_port)
    try:
        wait_until(lambda: port_open(port) or proc.poll() is not None, 10, "nginx")
        assert proc.poll() is None, proxy.entrypoint_log
    except BaseException:
        proxy.stop()
        raise
    return proxy


def need_nginx() -> None:
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")


@dataclass
class Site:
    rp_port: int
    front_port: int
    dns: FakeDns
    jpeg: bytes


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, api_plain: ApiProcess) -> Iterator[Site]:
    need_nginx()
    tmp = tmp_path_factory.mktemp("nginx")
    html = tmp / "html"
    html.mkdir()
    subprocess.run([sys.executable, str(FRONT_DIR / "make_jpeg.py"), "--bytes",
                    str(JPEG_BYTES), "--output", str(html / "5mo.jpg")],
                   check=True, capture_output=True)
    dns = FakeDns({"front.test": "127.0.0.1"})  # api.test is unknown for now
    dns_port = dns.start()
    front_port = free_port()
    for asset in ("woody.css", "woody.js"):
        shutil.copy(FRONT_DIR / "html" / asset, html / asset)
    rendered = render(FRONT_DIR / "woody-front-entrypoint.sh", {
        "FRONT_TEMPLATE": str(FRONT_DIR / "html" / "index.html.template"),
        "FRONT_INDEX_PATH": str(html / "index.html"),
        "FRONT_CSP_PATH": str(tmp / "csp.conf"),
    })
    assert rendered.returncode == 0, rendered.stderr
    front_conf = (FRONT_DIR / "woody-front.conf").read_text(encoding="utf-8")
    front_conf = front_conf.replace("listen 80 default_server;",
                                    f"listen 127.0.0.1:{front_port};")
    front_conf = front_conf.replace("/usr/share/woody/html", str(html))
    front_conf = front_conf.replace("/etc/nginx/woody-csp.conf", str(tmp / "csp.conf"))
    (tmp / "front.conf").write_text(front_conf, encoding="utf-8")
    try:
        proxy = start_proxy(tmp, dns_port, {
            "RP_RESOLVER": f"127.0.0.1:{dns_port}",
            "RP_RESOLVER_VALID": "1s",
            "RP_API_HOST": "api.test", "RP_API_PORT": str(api_plain.port),
            "RP_FRONT_HOST": "front.test", "RP_FRONT_PORT": str(front_port),
            "RP_STATIC_RATE": f"{RATE_BYTES_PER_S // 1000}k",
        }, workers=1, includes=(tmp / "front.conf",))
    except BaseException:
        dns.stop()
        raise
    try:
        wait_until(lambda: port_open(front_port), 10, "nginx")
        yield Site(proxy.port, front_port, dns, (html / "5mo.jpg").read_bytes())
    finally:
        proxy.stop()
        dns.stop()


def test_names_are_resolved_at_request_time(site: Site, api_plain: ApiProcess) -> None:
    base = f"http://127.0.0.1:{site.rp_port}"
    # nginx started although "api.test" did not resolve: its upstream answers 503 (no live upstream)...
    assert http_get(base + "/api/ping").status == 503
    site.dns.names["api.test"] = "127.0.0.1"
    # ...and the watcher finds the name once it exists (a new or scaled service).
    deadline = time.monotonic() + 5
    reply = http_get(base + "/api/ping")
    while reply.status != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
        reply = http_get(base + "/api/ping")
    assert (reply.status, reply.body) == (200, "ping")
    assert "api.test" in site.dns.queries
    count = site.dns.queries.count("api.test")
    time.sleep(2.5)  # the watcher polls every RP_RESOLVE_INTERVAL (1 s here)
    assert http_get(base + "/api/misc/time").status == 200
    assert site.dns.queries.count("api.test") > count  # re-resolved since


def test_root_goes_to_the_front(site: Site) -> None:
    page = http_get(f"http://127.0.0.1:{site.rp_port}/")
    assert page.status == 200
    assert 'src="/5mo.jpg"' in page.body and "WoodyToys" in page.body


def test_no_answer_names_the_nginx_version_and_the_front_forbids_type_sniffing(site: Site) -> None:
    base = f"http://127.0.0.1:{site.rp_port}"
    for path, method in (("/", "GET"), ("/5mo.jpg", "HEAD"), ("/no-such-file", "GET")):
        reply = http_get(base + path, method=method)
        assert reply.headers.get("Server") == "nginx", (path, reply.headers)
        assert reply.headers.get("X-Content-Type-Options") == "nosniff", (path, reply.headers)
    page = http_get(base + "/")
    assert page.headers.get("Cache-Control") == "no-cache"  # the page is revalidated, its picture cached
    policy = page.headers.get("Content-Security-Policy", "")
    assert "default-src 'none'" in policy and "img-src 'self';" in policy and "unsafe" not in policy, policy
    # The page keeps to it: nothing inline, its style and script are files of the site.
    assert "<style" not in page.body and "<script>" not in page.body
    for asset in ("/woody.css", "/woody.js"):
        assert http_get(base + asset).status == 200, asset


def test_static_rate_limit(site: Site) -> None:
    import urllib.request

    def fetch(port: int) -> tuple[bytes, float]:
        start = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/5mo.jpg", timeout=30) as r:
            data = r.read()
        return data, time.monotonic() - start

    direct, direct_s = fetch(site.front_port)
    limited, limited_s = fetch(site.rp_port)
    assert direct == limited == site.jpeg
    expected = len(site.jpeg) / RATE_BYTES_PER_S  # 5 s
    assert direct_s < 1
    # nginx lets the first second's worth through at once, and counts in whole seconds
    assert limited_s > expected - 2, (limited_s, expected)


@pytest.mark.parametrize("name,value", [
    ("RP_STATIC_RATE", "300k; return 200"),
    ("RP_API_HOST", "api|x"),
    ("RP_LISTEN_PORT", "80 default"),
    ("RP_RESOLVE_INTERVAL", "1; rm -rf /"),
    ("RP_GETENT", "getent hosts x"),
    ("RP_TLS_PORT", "8443 default"),
    ("RP_HTTPS_PUBLIC_PORT", "443/evil"),
    ("RP_HTTPS_REDIRECT", "yes"),
    ("RP_CLIENT_RATE", "5r/s"),
    ("RP_CLIENT_CONNECTIONS", "0"),
])
def test_rp_entrypoint_rejects_unsafe_values(tmp_path: Path, name: str, value: str) -> None:
    env = {name: value, "RP_TEMPLATE": str(RP_DIR / "woody-rp.conf.template"),
           "RP_CONF_PATH": str(tmp_path / "rp.conf")}
    assert render(RP_DIR / "woody-rp-entrypoint.sh", env).returncode == 64
    assert not (tmp_path / "rp.conf").exists()


def test_front_image_url_is_configurable(tmp_path: Path) -> None:
    base = {"FRONT_TEMPLATE": str(FRONT_DIR / "html" / "index.html.template"),
            "FRONT_INDEX_PATH": str(tmp_path / "index.html"), "FRONT_CSP_PATH": str(tmp_path / "csp.conf")}
    cdn = render(FRONT_DIR / "woody-front-entrypoint.sh",
                 {**base, "FRONT_IMAGE_URL": "http://cdn.woody.lab:8081/5mo.jpg"})
    assert cdn.returncode == 0
    assert 'src="http://cdn.woody.lab:8081/5mo.jpg"' in (tmp_path / "index.html").read_text()
    # The policy lets the page load its picture from the CDN, and from nowhere else.
    assert "img-src 'self' http://cdn.woody.lab:8081;" in (tmp_path / "csp.conf").read_text()
    sneaky = render(FRONT_DIR / "woody-front-entrypoint.sh",
                    {**base, "FRONT_IMAGE_URL": "http://cdn.woody.lab;script-src=*/5mo.jpg"})
    assert sneaky.returncode == 64
    bad = render(FRONT_DIR / "woody-front-entrypoint.sh",
                 {**base, "FRONT_IMAGE_URL": 'x" onerror="alert(1)'})
    assert bad.returncode == 64


# --- balancing over replicas -------------------------------------------------------------


class SlowServer(socketserver.TCPServer):
    """One request at a time, no threads (like one api replica); each takes ``delay`` s
    (``/fast`` paths none) and answers ``label`` (by default its address)."""

    allow_reuse_address = True
    delay = BACKEND_SECONDS

    def __init__(self, address: tuple[str, int], label: str = "") -> None:
        super().__init__(address, SlowHandler)
        self.label = label or self.server_address[0]
        self.requests: list[tuple[str, str | None]] = []  # (path, X-Forwarded-Proto) of each


class ThreadedServer(socketserver.ThreadingMixIn, SlowServer):
    """Any number of requests at once."""

    daemon_threads = True


class SlowHandler(http.server.BaseHTTPRequestHandler):
    server: SlowServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.server.requests.append((self.path, self.headers.get("X-Forwarded-Proto")))
        if not self.path.endswith("/fast"):
            time.sleep(self.server.delay)
        body = self.server.label.encode()
        self.send_response(200)
        self.send_header("X-Served-By", body.decode())
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@dataclass
class Pool:
    proxy: Proxy
    dns: FakeDns
    backends: list[str]  # 127.0.0.2 ... each serving on the same port
    workers: int

    def serve(self, addresses: list[str]) -> None:
        """Make api.pool resolve to ``addresses`` (what scaling the service does)."""
        self.dns.names["api.pool"] = list(addresses)

    def get(self) -> Reply:
        return http_get(self.proxy.base + "/api/slow", timeout=30)

    def parallel(self, count: int) -> tuple[list[Reply], float]:
        start = time.monotonic()
        with ThreadPoolExecutor(count) as pool:
            replies = list(pool.map(lambda _: self.get(), range(count)))
        assert all(r.status == 200 for r in replies), [(r.status, r.body) for r in replies]
        return replies, time.monotonic() - start

    def wait_for(self, addresses: list[str], timeout: float = 10) -> None:
        """Until the upstream file lists exactly ``addresses`` and nginx uses just those."""
        wanted = sorted(f"server {a}:" for a in addresses)

        def listed() -> bool:
            lines = [line.strip() for line in self.proxy.upstreams.splitlines()]
            api = lines[lines.index("upstream woody_api {") + 1:]
            api = api[:api.index("}")]
            return sorted(line[:line.index(":") + 1] for line in api
                          if line.startswith("server ") and "down;" not in line) == wanted

        def used() -> bool:  # quick requests, in turn over idle replicas: each seen once
            replies = [http_get(self.proxy.base + "/api/fast")
                       for _ in range(2 * len(addresses) + 1)]
            if not addresses:
                return all(r.status == 503 for r in replies)
            return (all(r.status == 200 for r in replies)
                    and {r.body for r in replies} == set(addresses))

        def settled() -> bool:  # after a reload, the old workers have left (see README)
            return self.proxy.workers() == ["nginx: worker process"] * self.workers

        deadline = time.monotonic() + timeout
        wait_until(listed, timeout, f"upstream servers {addresses}")
        wait_until(used, max(deadline - time.monotonic(), 1), f"nginx to use {addresses}")
        wait_until(settled, max(deadline - time.monotonic(), 1), "the old workers to leave")


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    need_nginx()
    addresses = [f"127.0.0.{i}" for i in range(2, 8)]
    servers: list[SlowServer] = []
    for _ in range(20):  # one port free on all six loopback addresses
        port = free_port()
        try:
            for address in addresses:
                servers.append(SlowServer((address, port)))
            break
        except OSError:
            for server in servers:
                server.server_close()
            servers.clear()
    assert servers, "no port free on 127.0.0.2-7"
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    dns = FakeDns({"api.pool": addresses[:5]})  # front.pool never resolves
    dns_port = dns.start()
    proxy = None
    try:
        proxy = start_proxy(tmp_path_factory.mktemp("pool"), dns_port, {
            "RP_API_HOST": "api.pool", "RP_API_PORT": str(port),
            "RP_FRONT_HOST": "front.pool", "RP_FRONT_PORT": str(port),
        }, workers=POOL_WORKERS)
        yield Pool(proxy, dns, addresses, POOL_WORKERS)
    finally:
        if proxy is not None:
            proxy.stop()
        dns.stop()
        for server in servers:
            server.shutdown()
            server.server_close()


def test_parallel_requests_go_to_distinct_replicas(pool: Pool) -> None:
    pool.serve(pool.backends[:5])
    pool.wait_for(pool.backends[:5])
    one = pool.get().seconds
    assert one >= BACKEND_SECONDS
    for _ in range(3):
        replies, seconds = pool.parallel(5)
        print(f"\none request {one:.3f} s, 5 in parallel {seconds:.3f} s")
        # least_conn over a shared zone: each of the 5 goes to an idle replica, none waits
        assert len({r.body for r in replies}) == 5, [r.body for r in replies]
        assert seconds < 1.5 * one, (seconds, one)
    # twice as many requests as replicas: exactly two each, two rounds' time
    replies, seconds = pool.parallel(10)
    print(f"10 in parallel {seconds:.3f} s")
    assert sorted(collections.Counter(r.body for r in replies).values()) == [2] * 5
    assert seconds < 2.5 * one, (seconds, one)


def test_scaling_is_followed_without_restarting_nginx(pool: Pool) -> None:
    master = pool.proxy.proc.pid
    pool.serve(pool.backends[:2])
    pool.wait_for(pool.backends[:2])
    replies, _ = pool.parallel(4)
    assert {r.body for r in replies} == set(pool.backends[:2])
    reloads = pool.proxy.reloads()

    # Scale out: a third address is used within a few seconds, by the same nginx.
    pool.serve(pool.backends[:3])
    start = time.monotonic()
    seen: set[str] = set()
    while pool.backends[2] not in seen:
        assert time.monotonic() - start < 5, "the new replica was not used within 5 s"
        seen.add(http_get(pool.proxy.base + "/api/fast").body)
    print(f"\nnew replica used {time.monotonic() - start:.2f} s after it resolved")
    pool.wait_for(pool.backends[:3], timeout=3)
    replies, seconds = pool.parallel(3)
    assert {r.body for r in replies} == set(pool.backends[:3])
    assert seconds < 1.5 * BACKEND_SECONDS + 0.25, seconds
    assert pool.proxy.reloads() == reloads + 1
    assert pool.proxy.proc.poll() is None and pool.proxy.proc.pid == master

    # Scale in: a vanished address is no longer used.
    pool.serve(pool.backends[1:3])
    pool.wait_for(pool.backends[1:3], timeout=5)
    replies, _ = pool.parallel(4)
    assert {r.body for r in replies} == set(pool.backends[1:3])

    # Stable names (answered in a random order): no reload, nothing logged.
    reloads, log = pool.proxy.reloads(), pool.proxy.entrypoint_log
    time.sleep(4 * RESOLVE_INTERVAL)
    assert pool.proxy.reloads() == reloads
    assert pool.proxy.entrypoint_log == log
    assert log.count("upstreams changed") == pool.proxy.reloads()


def test_a_name_without_address_answers_503_unavailable_at_once(pool: Pool) -> None:
    pool.serve([])
    # kept one more poll (a DNS hiccup must not empty the pool), then a `down` server
    pool.wait_for([], timeout=6)
    reply = pool.get()
    assert reply.status == 503 and reply.seconds < 0.5, reply
    assert reply.headers["Retry-After"] == "5"
    assert reply.body == "unavailable: a service the shop needs is down, retry later\n"
    pool.serve(pool.backends[:1])
    pool.wait_for(pool.backends[:1], timeout=5)
    assert pool.get().status == 200
    assert "woody_api=none" in pool.proxy.entrypoint_log


def test_watcher_ends_with_nginx(tmp_path: Path) -> None:
    need_nginx()
    dns = FakeDns({"api.gone": "127.0.0.1"})
    try:
        proxy = start_proxy(tmp_path, dns.start(), {"RP_API_HOST": "api.gone",
                                                    "RP_FRONT_HOST": "front.gone"})
        wait_until(lambda: len(proxy.watchers()) == 1, 5, "the watcher")
        assert proxy.stop() == 0  # SIGQUIT: graceful stop, exit code 0
        wait_until(lambda: not proxy.watchers(), RESOLVE_INTERVAL + 3, "the watcher to end")
    finally:
        dns.stop()
    assert "Traceback" not in proxy.entrypoint_log


# --- the image, on the controller's Docker engine ----------------------------------------

BACKEND_SCRIPT = f"""
import socket, socketserver, time
from http.server import BaseHTTPRequestHandler
class Slow(BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep({BACKEND_SECONDS})
        body = socket.gethostname().encode()
        self.send_response(200)
        self.send_header("X-Served-By", socket.gethostname())
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
socketserver.TCPServer.allow_reuse_address = True
socketserver.TCPServer(("", 5000), Slow).serve_forever()
"""


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False,
                          env={**os.environ, "DOCKER_BUILDKIT": "0"}, timeout=600)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


@pytest.mark.images
def test_image_balances_follows_replicas_and_stops_cleanly() -> None:
    if shutil.which("docker") is None or docker("info", check=False).returncode != 0:
        pytest.skip("no Docker engine reachable")
    bases = {}
    for variable, default in (("WOODY_BASE_NGINX", "woodylab/nginx:bookworm"),
                              ("WOODY_BASE_PYTHON", "woodylab/python:bookworm")):
        bases[variable] = os.environ.get(variable, default)
        if docker("image", "inspect", bases[variable], check=False).returncode != 0:
            pytest.skip(f"base image {bases[variable]} is not present (set {variable})")
    name = f"woody-rp-balance-{uuid.uuid4().hex[:8]}"
    image = f"woody-svc-test/{name}:latest"
    docker("build", "-q", "--build-arg", f"BASE_IMAGE={bases['WOODY_BASE_NGINX']}",
           "-t", image, str(RP_DIR))
    containers: list[str] = []

    def run(suffix: str, *args: str) -> str:
        container = f"{name}-{suffix}"
        docker("run", "-d", "--name", container, "--network", name, *args)
        containers.append(container)
        return container

    def backend(suffix: str, alias: str) -> str:
        return run(suffix, "--network-alias", alias, bases["WOODY_BASE_PYTHON"],
                   "python3", "-c", BACKEND_SCRIPT)

    docker("network", "create", name)
    try:
        hosts = {docker("inspect", "-f", "{{.Config.Hostname}}", backend(f"api{i}", "api")
                        ).stdout.strip() for i in range(3)}
        backend("front", "front")  # so that no name is ever asked outside the engine
        port = free_port()
        proxy = run("rp", "-e", f"RP_RESOLVE_INTERVAL={RESOLVE_INTERVAL}",
                    "-p", f"127.0.0.1:{port}:8080", image)
        url = f"http://127.0.0.1:{port}/api/slow"

        def get(_: object = None) -> Reply:
            return http_get(url, timeout=30)

        def ready() -> bool:
            try:
                return get().status == 200
            except OSError:
                return False

        wait_until(ready, 30, "the proxy and its backends")
        one = get().seconds
        with ThreadPoolExecutor(3) as executor:
            start = time.monotonic()
            replies = list(executor.map(get, range(3)))
            seconds = time.monotonic() - start
        assert {r.headers["X-Served-By"] for r in replies} == hosts
        assert seconds < 1.5 * one, (seconds, one)

        new = docker("inspect", "-f", "{{.Config.Hostname}}",
                     backend("api3", "api")).stdout.strip()
        start = time.monotonic()
        while get().headers.get("X-Served-By") != new:
            assert time.monotonic() - start < 10, "the new replica was not used within 10 s"
        with ThreadPoolExecutor(4) as executor:
            replies = list(executor.map(get, range(4)))
        assert {r.headers["X-Served-By"] for r in replies} == hosts | {new}

        start = time.monotonic()
        docker("stop", "-t", "10", proxy)
        stop_seconds = time.monotonic() - start
        state = docker("inspect", "-f", "{{.State.ExitCode}}", proxy).stdout.strip()
        logs = docker("logs", proxy)
        print(f"\none request {one:.2f} s, 3 in parallel {seconds:.2f} s, "
              f"stop {stop_seconds:.2f} s, exit code {state}")
        assert state == "0" and stop_seconds < 5, (state, stop_seconds)
        # Docker's DNS answers in a random order: only the one real change reloaded nginx
        assert logs.stderr.count("upstreams changed") == 1, logs.stderr
    finally:
        for container in containers:
            docker("rm", "-f", container, check=False)
        docker("network", "rm", name, check=False)
        docker("rmi", "-f", image, check=False)


# --- cache hits answered by the proxy (redis and cdn stages) ------------------------------------

@dataclass
class CachedSite:
    base: str
    api: ApiProcess
    dns_port: int
    env: dict[str, str]  # its proxy's RP_* variables


@pytest.fixture(scope="module")
def cached_site(tmp_path_factory: pytest.TempPathFactory, start_api: StartApi,
                api_env: dict[str, str], redis_server: RedisServer) -> Iterator[CachedSite]:
    need_nginx()
    tmp = tmp_path_factory.mktemp("nginx-cached")
    api = start_api("behind-cached-proxy", {**api_env, "REDIS_URL": redis_server.url,
                                            "REDIS_PASSWORD_FILE": str(redis_server.password_file)})
    dns = FakeDns({"api.test": "127.0.0.1", "front.test": "127.0.0.1"})
    dns_port = dns.start()
    env = {
        "RP_RESOLVER": f"127.0.0.1:{dns_port}",
        "RP_API_HOST": "api.test", "RP_API_PORT": str(api.port),
        "RP_FRONT_HOST": "front.test", "RP_FRONT_PORT": str(free_port()),
        "RP_CACHE_REDIS": f"127.0.0.1:{redis_server.port}",
        "RP_CACHE_REDIS_PASSWORD_FILE": str(redis_server.password_file),
        "RP_CACHE_LUA": str(RP_DIR / "woody-cache-hit.lua"),
    }
    try:
        proxy = start_proxy(tmp, dns_port, env, workers=1)
    except BaseException:
        dns.stop()
        raise
    try:
        yield CachedSite(proxy.base, api, dns_port, env)
    finally:
        proxy.stop()
        dns.stop()


NAMES = ["plain", "two words", "é ü 漢字 🪀", "a+b&c=d%2F/?#", "~._-", "'; DROP TABLE x; --"]


def test_the_proxy_answers_hits_with_the_api_s_own_keys(cached_site: CachedSite,
                                                        cache: redis.Redis) -> None:
    """Each name is computed once by the API; then, with the API stopped, the proxy alone
    answers it from Redis: its keys are the API's, byte for byte, for awkward names too."""
    base = cached_site.base
    firsts = {n: http_get(f"{base}/api/misc/heavy?name={quote(n)}") for n in NAMES}
    assert {r.cache for r in firsts.values()} == {"MISS"}, firsts
    first_last = http_get(f"{base}/api/products/last")
    cached_site.api.stop()
    try:
        for name, first in firsts.items():
            hit = http_get(f"{base}/api/misc/heavy?name={quote(name)}")
            assert (hit.status, hit.cache, hit.body) == (200, "HIT", first.body), name
            assert hit.headers["Content-Type"].startswith("text/plain")
            assert hit.headers.get("Cache-Control") == "no-store", hit.headers  # as the API's own
        # Parameters the view does not read share the entry; HEAD is served like GET.
        assert http_get(f"{base}/api/misc/heavy?utm=1&name=plain&x=2").cache == "HIT"
        assert http_get(f"{base}/api/misc/heavy?name=plain", method="HEAD").cache == "HIT"
        assert http_get(f"{base}/api/products/last?nocache=1").body == first_last.body
        # What only the API can answer reaches the API (stopped here: the proxy says 503).
        assert http_get(f"{base}/api/misc/heavy?name=plain&name=other").status == 503
        assert http_get(f"{base}/api/misc/heavy?name=never-computed").status == 503
    finally:
        cached_site.api.start()


def test_the_proxy_never_serves_an_invalidated_entry(cached_site: CachedSite,
                                                     cache: redis.Redis) -> None:
    base = cached_site.base
    assert http_get(f"{base}/api/products/last").cache == "MISS"
    assert http_get(f"{base}/api/products/last").cache == "HIT"
    name = f"inval-{time.monotonic_ns()}"
    assert http_get(f"{base}/api/products?product={name}").status == 200
    after = http_get(f"{base}/api/products/last")
    assert after.cache == "MISS" and name in after.body


def test_an_expired_entry_is_served_stale_by_the_proxy_only_while_renewed(
        cached_site: CachedSite, cache: redis.Redis) -> None:
    base = cached_site.base
    first = http_get(f"{base}/api/misc/heavy?name=renewed")
    assert first.cache == "MISS"
    (key,) = [k for k in cache.keys("woody:cache:heavy:*") if b"renewed" in k]
    generation, _, body = cache.get(key).split(b"\n", 2)
    cache.set(key, generation + b"\n" + str(time.time() - 1).encode() + b"\n" + body)  # expired
    cached_site.api.stop()
    try:
        # Nobody renews it: the proxy leaves it to the API (stopped: 503).
        assert http_get(f"{base}/api/misc/heavy?name=renewed").status == 503
        cache.set(key + b"#lock", b"someone", px=5000)  # a request is renewing it
        stale = http_get(f"{base}/api/misc/heavy?name=renewed")
        assert (stale.status, stale.cache, stale.body) == (200, "STALE", first.body)
    finally:
        cached_site.api.start()


def test_without_redis_the_proxy_leaves_every_request_to_the_api(
        cached_site: CachedSite, cache: redis.Redis, redis_server: RedisServer) -> None:
    base = cached_site.base
    redis_server.stop()
    replies = [http_get(f"{base}/api/misc/heavy?name=no-redis") for _ in range(3)]
    assert [(r.status, r.cache) for r in replies] == [(200, "BYPASS")] * 3
    assert all(r.seconds < HEAVY_SECONDS + 1 for r in replies)


def test_with_redis_s_name_gone_the_proxy_stops_asking_and_costs_no_time(
        tmp_path: Path, cached_site: CachedSite, redis_server: RedisServer) -> None:
    """Redis's name gets no answer (its service has no task left): the proxy's lookup gives up
    within its bound, its breaker opens (logged once), the API answers every request."""
    dns = FakeDns({"api.test": "127.0.0.1", "front.test": "127.0.0.1"}, silent={"redis-gone.test"})
    dns_port = dns.start()
    env = {**cached_site.env, "RP_RESOLVER": f"127.0.0.1:{dns_port}",
           "RP_CACHE_REDIS": f"redis-gone.test:{redis_server.port}"}
    proxy = start_proxy(tmp_path, dns_port, env, workers=1)
    try:
        replies = []
        for attempt in range(4):
            replies.append(http_get(f"{proxy.base}/api/misc/heavy?name=redis-gone-{attempt}", timeout=40))
            time.sleep(0.5)
        assert [r.status for r in replies] == [200] * 4, replies
        assert max(r.seconds for r in replies) < HEAVY_SECONDS + 1, [r.seconds for r in replies]
        log = proxy.error_log
        assert log.count("cache lookup breaker open") == 1, log[-2000:]
    finally:
        proxy.stop()
        dns.stop()


# --- facing the internet: HTTPS, the redirect to it, per-client limits -------------------------

BURST_REQUESTS = 30
HSTS = "max-age=31536000"


def get_from(port: int, path: str = "/", *, host: str | None = None,
             tls: ssl.SSLContext | None = None, source: str = LOOPBACK) -> Reply:
    """One GET to 127.0.0.1:``port`` that follows no redirect: over TLS with ``tls``, with
    ``host`` as its Host header, from the address ``source`` (another client)."""
    start = time.monotonic()
    conn = (http.client.HTTPSConnection(LOOPBACK, port, timeout=10, context=tls,
                                        source_address=(source, 0)) if tls else
            http.client.HTTPConnection(LOOPBACK, port, timeout=10, source_address=(source, 0)))
    try:
        conn.request("GET", path, headers={"Host": host} if host else {})
        resp = conn.getresponse()
        return Reply(resp.status, dict(resp.headers), resp.read().decode("utf-8"),
                     time.monotonic() - start)
    finally:
        conn.close()


@dataclass
class Tls:
    """A self-signed certificate for 127.0.0.1 and its key (0600), as Docker secrets give them."""

    cert: Path
    key: Path

    @property
    def env(self) -> dict[str, str]:
        return {"RP_TLS_CERT_FILE": str(self.cert), "RP_TLS_KEY_FILE": str(self.key)}

    def client(self) -> ssl.SSLContext:
        """A client that trusts this certificate alone, and checks that it names 127.0.0.1."""
        return ssl.create_default_context(cafile=self.cert)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (apt-get install openssl)")
    tmp = tmp_path_factory.mktemp("tls")
    made = Tls(tmp / "cert.pem", tmp / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-keyout", str(made.key), "-out", str(made.cert),
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    made.key.chmod(0o600)
    return made


@dataclass
class Edge:
    """Threaded backends behind api.edge and front.edge, answering "api" and "front" (the
    api's paths but /fast take 1 s), and the proxies a test starts in front of them."""

    api: SlowServer
    front: SlowServer
    dns_port: int
    tmp: Path
    proxies: list[Proxy] = field(default_factory=list)

    def start(self, env: dict[str, str]) -> Proxy:
        tmp = self.tmp / f"proxy{len(self.proxies)}"
        tmp.mkdir()
        proxy = start_proxy(tmp, self.dns_port, {
            "RP_API_HOST": "api.edge", "RP_API_PORT": str(self.api.server_address[1]),
            "RP_FRONT_HOST": "front.edge", "RP_FRONT_PORT": str(self.front.server_address[1]),
            **env})
        self.proxies.append(proxy)
        return proxy


@pytest.fixture()
def edge(tmp_path: Path) -> Iterator[Edge]:
    need_nginx()
    servers = [ThreadedServer((LOOPBACK, 0), "api"), ThreadedServer((LOOPBACK, 0), "front")]
    servers[0].delay, servers[1].delay = 1.0, 0.0
    for server in servers:
        threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True).start()
    dns = FakeDns({"api.edge": LOOPBACK, "front.edge": LOOPBACK})
    made = Edge(servers[0], servers[1], dns.start(), tmp_path)
    try:
        yield made
    finally:
        for proxy in made.proxies:
            proxy.stop()
        dns.stop()
        for server in servers:
            server.shutdown()
            server.server_close()


def test_https_serves_the_front_and_the_api_with_the_given_certificate(edge: Edge,
                                                                       tls: Tls) -> None:
    proxy = edge.start(tls.env)
    for path, body in (("/", "front"), ("/api/fast", "api")):
        reply = get_from(proxy.tls_port, path, tls=tls.client())
        assert (reply.status, reply.body) == (200, body), path
    assert edge.api.requests == [("/api/fast", "https")]  # X-Forwarded-Proto


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_https_accepts_tls_1_2_and_1_3_only(edge: Edge, tls: Tls) -> None:
    proxy = edge.start(tls.env)

    def version(minimum: ssl.TLSVersion, maximum: ssl.TLSVersion) -> str | None:
        context = tls.client()
        context.set_ciphers("ALL:@SECLEVEL=0")  # so that this client does offer old versions
        context.minimum_version, context.maximum_version = minimum, maximum
        with socket.create_connection((LOOPBACK, proxy.tls_port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname=LOOPBACK) as conn:
            return conn.version()

    assert version(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.MAXIMUM_SUPPORTED) == "TLSv1.3"
    assert version(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    with pytest.raises(ssl.SSLError):
        version(ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)


def test_redirect_sends_plain_http_to_https_on_the_public_port(edge: Edge, tls: Tls) -> None:
    on = {**tls.env, "RP_HTTPS_REDIRECT": "1"}
    proxies = {"": edge.start(on), ":8443": edge.start({**on, "RP_HTTPS_PUBLIC_PORT": "8443"})}
    for suffix, proxy in proxies.items():
        for host in ("shop.example", "shop.example:8080", "Shop.Example.:80", "[::1]:80"):
            reply = get_from(proxy.port, "/api/x?a=1&b=%2F", host=host)
            name = "[::1]" if host.startswith("[") else "shop.example"
            assert reply.status == 301, (host, reply)
            assert reply.headers["Location"] == f"https://{name}{suffix}/api/x?a=1&b=%2F", host
            assert "Strict-Transport-Security" not in reply.headers
    assert edge.api.requests == [] and edge.front.requests == []


def test_redirect_cannot_be_sent_to_another_host(edge: Edge, tls: Tls) -> None:
    proxy = edge.start({**tls.env, "RP_HTTPS_REDIRECT": "1"})
    for host in ("shop.example@evil.example", "evil.example\\shop.example",
                 "evil.example?.shop.example", "evil.example#.shop.example",
                 "evil.example%2f.shop.example"):
        reply = get_from(proxy.port, "/", host=host)
        assert reply.status == 400 and "Location" not in reply.headers, (host, reply)


def test_redirect_on_https_answers_carry_hsts(edge: Edge, tls: Tls) -> None:
    proxy = edge.start({**tls.env, "RP_HTTPS_REDIRECT": "1"})
    for path in ("/", "/api/fast"):
        reply = get_from(proxy.tls_port, path, tls=tls.client())
        assert reply.status == 200 and reply.headers.get("Strict-Transport-Security") == HSTS


def test_without_the_redirect_plain_http_serves_and_nothing_carries_hsts(edge: Edge,
                                                                         tls: Tls) -> None:
    proxy = edge.start(tls.env)
    for reply in (http_get(proxy.base + "/"), get_from(proxy.tls_port, "/", tls=tls.client())):
        assert reply.status == 200 and "Strict-Transport-Security" not in reply.headers, reply


@pytest.mark.parametrize("env,message", [
    ({"RP_TLS_CERT_FILE": "{cert}"}, "RP_TLS_CERT_FILE and RP_TLS_KEY_FILE go together"),
    ({"RP_TLS_KEY_FILE": "{key}"}, "RP_TLS_CERT_FILE and RP_TLS_KEY_FILE go together"),
    ({"RP_TLS_CERT_FILE": "{cert}", "RP_TLS_KEY_FILE": "{missing}"},
     "RP_TLS_KEY_FILE={missing} is missing"),
    ({"RP_TLS_CERT_FILE": "{empty}", "RP_TLS_KEY_FILE": "{key}"},
     "RP_TLS_CERT_FILE={empty} is missing"),
    ({"RP_HTTPS_REDIRECT": "1"}, "RP_HTTPS_REDIRECT=1 needs HTTPS"),
    ({"RP_CLIENT_BURST": "10"}, "RP_CLIENT_BURST=10 needs RP_CLIENT_RATE"),
])
def test_rp_entrypoint_refuses_an_incomplete_https_or_limit_setup(
        tmp_path: Path, tls: Tls, env: dict[str, str], message: str) -> None:
    (tmp_path / "empty.pem").touch()
    paths = {"cert": tls.cert, "key": tls.key, "missing": tmp_path / "no-key.pem",
             "empty": tmp_path / "empty.pem"}
    done = render(ENTRYPOINT, {
        "RP_TEMPLATE": str(RP_DIR / "woody-rp.conf.template"),
        "RP_CONF_PATH": str(tmp_path / "rp.conf"),
        **{name: value.format(**paths) for name, value in env.items()}})
    assert done.returncode == 64
    assert f"woody-rp: {message.format(**paths)}" in done.stderr.decode(), done.stderr
    assert not (tmp_path / "rp.conf").exists()


def assert_refused(reply: Reply) -> None:
    assert reply.status == 429, reply
    assert reply.headers.get("Retry-After") == "1", reply.headers
    assert reply.body == "too many requests: retry in a second\n", reply.body


def test_client_rate_limit_refuses_the_excess_with_retry_after(edge: Edge) -> None:
    proxy = edge.start({"RP_CLIENT_RATE": "5"})
    start = time.monotonic()
    replies = [http_get(proxy.base + "/api/fast") for _ in range(BURST_REQUESTS)]
    seconds = time.monotonic() - start
    statuses = [r.status for r in replies]
    served = statuses.count(200)
    # One, then the default burst (twice the rate), at once (nodelay); then 5 a second.
    assert statuses[:11] == [200] * 11, statuses
    assert sum(r.seconds for r in replies[:11]) < 1, [r.seconds for r in replies]
    assert served <= 11 + 5 * seconds + 1, (statuses, seconds)
    assert 429 in statuses and statuses.count(429) == BURST_REQUESTS - served, statuses
    for reply in replies:
        if reply.status != 200:
            assert_refused(reply)
    assert len(edge.api.requests) == served  # the refused ones never reached the API
    # The same client is refused the front as well; another client is not.
    assert_refused(http_get(proxy.base + "/"))
    assert get_from(proxy.port, "/", source="127.0.0.2").status == 200
    assert edge.front.requests == [("/", "http")]


def test_client_connection_limit_refuses_a_third_request_in_flight(edge: Edge) -> None:
    proxy = edge.start({"RP_CLIENT_CONNECTIONS": "2"})
    with ThreadPoolExecutor(2) as executor:
        slow = [executor.submit(http_get, proxy.base + "/api/slow") for _ in range(2)]
        wait_until(lambda: len(edge.api.requests) == 2, 5, "two requests at the api")
        assert_refused(http_get(proxy.base + "/"))
        assert [future.result().status for future in slow] == [200, 200]
    assert edge.front.requests == []  # the refused one never reached the front
    assert http_get(proxy.base + "/").status == 200  # once they are answered


def test_without_client_limits_a_burst_is_all_served(edge: Edge) -> None:
    proxy = edge.start({})
    statuses = [http_get(proxy.base + "/api/fast").status for _ in range(BURST_REQUESTS)]
    assert statuses == [200] * BURST_REQUESTS


def test_cache_hits_answered_by_the_proxy_are_limited_too(cached_site: CachedSite,
                                                         cache: redis.Redis,
                                                         tmp_path: Path) -> None:
    proxy = start_proxy(tmp_path, cached_site.dns_port,
                        {**cached_site.env, "RP_CLIENT_RATE": "5"}, workers=1)
    try:
        url = proxy.base + "/api/misc/heavy?name=limited"
        assert http_get(url).cache == "MISS"
        replies = [http_get(url) for _ in range(BURST_REQUESTS)]
    finally:
        proxy.stop()
    answered = [(r.status, r.cache) for r in replies]
    # limit_req (preaccess phase) runs before the Lua lookup (access phase).
    assert answered[:10] == [(200, "HIT")] * 10, answered
    assert set(answered) == {(200, "HIT"), (429, None)}, answered
    assert answered.count((429, None)) >= 10, answered
