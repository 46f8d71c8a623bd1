"""The reverse-proxy and front configurations, rendered by their own entrypoint scripts and
served by a real nginx on loopback, with a tiny DNS server the test controls (the role
Docker's 127.0.0.11 plays in a container)."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from svc_support import FILES, ApiProcess, free_port, http_get, port_open, wait_until

RP_DIR = FILES / "reverse-proxy"
FRONT_DIR = FILES / "front"
JPEG_BYTES = 200_000
RATE_BYTES_PER_S = 40_000


@dataclass
class FakeDns:
    """Answers A queries from ``names`` (TTL 1 s), NXDOMAIN for anything else."""

    names: dict[str, str] = field(default_factory=dict)
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
            self.sock.sendto(self._answer(packet), peer)

    def _answer(self, packet: bytes) -> bytes:
        labels, i = [], 12
        while packet[i]:
            labels.append(packet[i + 1:i + 1 + packet[i]].decode())
            i += packet[i] + 1
        qtype = struct.unpack("!H", packet[i + 1:i + 3])[0]
        question = packet[12:i + 5]
        name = ".".join(labels).lower()
        self.queries.append(name)
        address = self.names.get(name)
        if address is None:
            return packet[:2] + struct.pack("!HHHHH", 0x8183, 1, 0, 0, 0) + question
        if qtype != 1:
            return packet[:2] + struct.pack("!HHHHH", 0x8180, 1, 0, 0, 0) + question
        answer = struct.pack("!HHHIH", 0xC00C, 1, 1, 1, 4) + socket.inet_aton(address)
        return packet[:2] + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0) + question + answer

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@dataclass
class Site:
    rp_port: int
    front_port: int
    dns: FakeDns
    jpeg: bytes


def render(script: Path, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["sh", str(script), "true"], env={"PATH": "/usr/bin:/bin", **env},
                          capture_output=True, check=False)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, api_plain: ApiProcess) -> Iterator[Site]:
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light)")
    tmp = tmp_path_factory.mktemp("nginx")
    html = tmp / "html"
    html.mkdir()
    subprocess.run([sys.executable, str(FRONT_DIR / "make_jpeg.py"), "--bytes",
                    str(JPEG_BYTES), "--output", str(html / "5mo.jpg")],
                   check=True, capture_output=True)
    dns = FakeDns({"front.test": "127.0.0.1"})  # api.test is unknown for now
    dns_port = dns.start()
    rp_port, front_port = free_port(), free_port()
    rendered = render(RP_DIR / "woody-rp-entrypoint.sh", {
        "RP_LISTEN_PORT": f"127.0.0.1:{rp_port}",
        "RP_RESOLVER": f"127.0.0.1:{dns_port}",
        "RP_RESOLVER_VALID": "1s",
        "RP_API_HOST": "api.test", "RP_API_PORT": str(api_plain.port),
        "RP_FRONT_HOST": "front.test", "RP_FRONT_PORT": str(front_port),
        "RP_STATIC_RATE": f"{RATE_BYTES_PER_S // 1000}k",
        "RP_TEMPLATE": str(RP_DIR / "woody-rp.conf.template"),
        "RP_CONF_PATH": str(tmp / "rp.conf"),
    })
    assert rendered.returncode == 0, rendered.stderr
    rendered = render(FRONT_DIR / "woody-front-entrypoint.sh", {
        "FRONT_TEMPLATE": str(FRONT_DIR / "html" / "index.html.template"),
        "FRONT_INDEX_PATH": str(html / "index.html"),
    })
    assert rendered.returncode == 0, rendered.stderr
    front_conf = (FRONT_DIR / "woody-front.conf").read_text(encoding="utf-8")
    front_conf = front_conf.replace("listen 80 default_server;",
                                    f"listen 127.0.0.1:{front_port};")
    front_conf = front_conf.replace("/usr/share/woody/html", str(html))
    (tmp / "front.conf").write_text(front_conf, encoding="utf-8")
    temp_paths = "".join(f"    {d}_temp_path {tmp / d};\n"
                         for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (tmp / "nginx.conf").write_text(
        f"user root;\nworker_processes 1;\ndaemon off;\npid {tmp / 'nginx.pid'};\n"
        f"error_log {tmp / 'error.log'} info;\nevents {{ worker_connections 64; }}\n"
        f"http {{\n    include /etc/nginx/mime.types;\n    access_log off;\n{temp_paths}"
        f"    include {tmp / 'rp.conf'};\n    include {tmp / 'front.conf'};\n}}\n",
        encoding="utf-8")
    check = subprocess.run(["nginx", "-t", "-c", str(tmp / "nginx.conf")],
                           capture_output=True, check=False)
    assert check.returncode == 0, check.stderr.decode()
    proc = subprocess.Popen(["nginx", "-c", str(tmp / "nginx.conf")],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: port_open(rp_port) and port_open(front_port), 10, "nginx")
        yield Site(rp_port, front_port, dns, (html / "5mo.jpg").read_bytes())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        dns.stop()


def test_names_are_resolved_at_request_time(site: Site, api_plain: ApiProcess) -> None:
    base = f"http://127.0.0.1:{site.rp_port}"
    # nginx started although "api.test" did not resolve: it resolves per request...
    assert http_get(base + "/api/ping").status == 502
    site.dns.names["api.test"] = "127.0.0.1"
    # ...so the name is found once it exists (a new or scaled service), within valid=1s.
    deadline = time.monotonic() + 5
    reply = http_get(base + "/api/ping")
    while reply.status != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
        reply = http_get(base + "/api/ping")
    assert (reply.status, reply.body) == (200, "ping")
    assert "api.test" in site.dns.queries
    count = site.dns.queries.count("api.test")
    time.sleep(2.5)  # nginx counts validity in whole seconds
    assert http_get(base + "/api/misc/time").status == 200
    assert site.dns.queries.count("api.test") > count  # re-resolved after valid expired


def test_root_goes_to_the_front(site: Site) -> None:
    page = http_get(f"http://127.0.0.1:{site.rp_port}/")
    assert page.status == 200
    assert 'src="/5mo.jpg"' in page.body and "WoodyToys" in page.body


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
])
def test_rp_entrypoint_rejects_unsafe_values(tmp_path: Path, name: str, value: str) -> None:
    env = {name: value, "RP_TEMPLATE": str(RP_DIR / "woody-rp.conf.template"),
           "RP_CONF_PATH": str(tmp_path / "rp.conf")}
    assert render(RP_DIR / "woody-rp-entrypoint.sh", env).returncode == 64
    assert not (tmp_path / "rp.conf").exists()


def test_front_image_url_is_configurable(tmp_path: Path) -> None:
    base = {"FRONT_TEMPLATE": str(FRONT_DIR / "html" / "index.html.template"),
            "FRONT_INDEX_PATH": str(tmp_path / "index.html")}
    cdn = render(FRONT_DIR / "woody-front-entrypoint.sh",
                 {**base, "FRONT_IMAGE_URL": "http://cdn.woody.lab/5mo.jpg"})
    assert cdn.returncode == 0
    assert 'src="http://cdn.woody.lab/5mo.jpg"' in (tmp_path / "index.html").read_text()
    bad = render(FRONT_DIR / "woody-front-entrypoint.sh",
                 {**base, "FRONT_IMAGE_URL": 'x" onerror="alert(1)'})
    assert bad.returncode == 64
