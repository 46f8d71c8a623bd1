"""Helpers of the service tests: real redis-server / mariadbd / gunicorn on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

REPO = Path(__file__).resolve().parents[2]
FILES = REPO / "files" / "services"
API_DIR = FILES / "api"
DB_DIR = FILES / "database"
LOOPBACK = "127.0.0.1"

# Short versions of the contract's bottlenecks, used by the tests' API processes.
HEAVY_SECONDS = 0.4
DB_SLEEP_SECONDS = 0.8
ORDER_SECONDS = 0.3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK, port), timeout=0.2):
            return True
    except OSError:
        return False


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: str
    seconds: float

    @property
    def cache(self) -> str | None:
        return self.headers.get("X-Cache")


def http_get(url: str, timeout: float = 60.0, method: str = "GET") -> Reply:
    assert url.startswith(f"http://{LOOPBACK}:"), f"tests only talk to {LOOPBACK}: {url}"
    start = time.monotonic()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=timeout) as resp:
            body = resp.read().decode("utf-8")
            status, headers = resp.status, dict(resp.headers)
    except urllib.error.HTTPError as err:
        body = err.read().decode("utf-8")
        status, headers = err.code, dict(err.headers)
    return Reply(status, headers, body, time.monotonic() - start)


def _stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


@dataclass
class RedisServer:
    """A real redis-server that asks for a password, as the stack's does."""

    workdir: Path
    password: str = "test-redis-pw"
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    @property
    def password_file(self) -> Path:
        """The password as the services read it: a file, like a Docker secret."""
        path = self.workdir.parent / f"{self.workdir.name}-password"
        if not path.exists():
            path.write_text(self.password + "\n", encoding="utf-8")
        return path

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = open(self.workdir / "redis.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", LOOPBACK, "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir), "--requirepass", self.password],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_until(lambda: port_open(self.port), 15, "redis-server")

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class MariaDB:
    """A real mariadbd with the image's conf file and init scripts, as a container gets it.

    The API connects as root@'%' over TCP with a password (as in the stack); the tests'
    own checks use root@localhost over the unix socket, which has no connection cap.
    """

    workdir: Path
    root_password: str = "test-root-pw"
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.workdir / "mysqld.sock"

    def start(self) -> None:
        data = self.workdir / "data"
        self.workdir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mariadb-install-db", "--no-defaults", f"--datadir={data}", "--user=root",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        cnf = self.workdir / "my.cnf"
        cnf.write_text(
            "[mysqld]\n"
            f"datadir={data}\nsocket={self.socket_path}\nport={self.port}\n"
            f"bind-address={LOOPBACK}\npid-file={self.workdir / 'mysqld.pid'}\n"
            f"log-error={self.workdir / 'error.log'}\nuser=root\nskip-name-resolve\n"
            f"!include {DB_DIR / 'conf' / 'woody.cnf'}\n")
        self.proc = subprocess.Popen(["mariadbd", f"--defaults-file={cnf}"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_until(lambda: self.socket_path.exists() and port_open(self.port), 60,
                   "mariadbd")
        # What the image entrypoint does before the init scripts: root@'%' with a password.
        self.sql(
            "DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1';"
            f"CREATE USER 'root'@'%' IDENTIFIED BY '{self.root_password}';"
            "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;")
        for script in sorted((DB_DIR / "initdb").glob("*.sql")):
            self.sql(script.read_text(encoding="utf-8"))

    def sql(self, statements: str) -> str:
        """Run SQL with the mariadb client as the socket's root (no connection cap)."""
        done = subprocess.run(
            ["mariadb", "--no-defaults", f"--socket={self.socket_path}", "-uroot",
             "--batch", "--skip-column-names"],
            input=statements.encode(), check=True, capture_output=True)
        return done.stdout.decode()

    def admin(self) -> pymysql.connections.Connection:
        return pymysql.connect(unix_socket=str(self.socket_path), user="root",
                               database="woody", autocommit=True)

    def status(self, name: str) -> int:
        out = self.sql(f"SHOW GLOBAL STATUS LIKE '{name}'").split()
        return int(out[1])

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None


@dataclass
class ApiProcess:
    """One API process (like one replica) on loopback, started as the image starts it."""

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DB_", "REDIS_", "API_"))}
        env.update(self.env)
        # A test may put its own modules first (tests/services/vanished_names: a resolver fault).
        python_path = [p for p in (self.env.get("PYTHONPATH", ""), str(API_DIR)) if p]
        env.update({"API_BIND": LOOPBACK, "API_PORT": str(self.port), "PYTHONPATH": os.pathsep.join(python_path)})
        log = open(self.log_path, "ab")  # noqa: SIM115
        # The image's own start script, with the virtual environment's gunicorn.
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
        env["API_GUNICORN_CONFIG"] = str(API_DIR / "gunicorn.conf.py")
        self.proc = subprocess.Popen(
            ["sh", str(API_DIR / "woody-api-start.sh"), "woody_api.wsgi:app"],
            cwd=API_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"API exited early, see {self.log_path}")
            try:
                return http_get(self.base + "/api/ping", timeout=1).body == "ping"
            except OSError:
                return False

        wait_until(ready, 30, "the API")

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None


StartApi = Callable[[str, dict[str, str]], ApiProcess]


def have(binary: str) -> bool:
    return shutil.which(binary) is not None


def fill_wheelhouse(requirements: Path, dest: Path) -> None:
    """The controller-side wheelhouse the images install from (no PyPI inside builds)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
         "--python-version", "3.11", "--platform", "manylinux2014_x86_64",
         "-d", str(dest), "-r", str(requirements)],
        check=True)
