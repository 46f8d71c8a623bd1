"""Fixtures of the service tests: a real redis-server and mariadbd on loopback (own temp
dirs, free ports, session scoped) and API processes (gunicorn, as in the image) against them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))  # works in any pytest import mode

from svc_support import (
    DB_SLEEP_SECONDS,
    HEAVY_SECONDS,
    ORDER_SECONDS,
    ApiProcess,
    MariaDB,
    RedisServer,
    StartApi,
    have,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "images: builds and runs the Docker images (needs a Docker engine and "
        "the base images named by WOODY_BASE_PYTHON / WOODY_BASE_NGINX / WOODY_BASE_MARIADB)")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if not have("redis-server"):
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    if not (have("mariadbd") and have("mariadb-install-db") and have("mariadb")):
        pytest.skip("mariadb-server is not installed (apt-get install mariadb-server)")
    db = MariaDB(tmp_path_factory.mktemp("mariadb"))
    try:
        db.start()
        yield db
    finally:
        db.stop()


@pytest.fixture(scope="session")
def api_env(mariadb: MariaDB, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    secret = tmp_path_factory.mktemp("secrets") / "db_root_password"
    secret.write_text(mariadb.root_password + "\n", encoding="utf-8")
    return {
        "DB_HOST": "127.0.0.1",
        "DB_PORT": str(mariadb.port),
        "DB_USER": "root",
        "DB_NAME": "woody",
        "DB_PASSWORD_FILE": str(secret),
        "HEAVY_SECONDS": str(HEAVY_SECONDS),
        "DB_SLEEP_SECONDS": str(DB_SLEEP_SECONDS),
        "ORDER_VALIDATION_SECONDS": str(ORDER_SECONDS),
        "REDIS_TIMEOUT_SECONDS": "0.2",
        "REDIS_RETRY_SECONDS": "0.5",
        "API_ACCESS_LOG": "0",
    }


@pytest.fixture(scope="session")
def start_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartApi]:
    started: list[ApiProcess] = []
    logs = tmp_path_factory.mktemp("api-logs")

    def start(name: str, env: dict[str, str]) -> ApiProcess:
        proc = ApiProcess(dict(env), logs / f"{name}-{len(started)}.log")
        started.append(proc)
        proc.start()
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture(scope="session")
def api(start_api: StartApi, api_env: dict[str, str], redis_server: RedisServer) -> ApiProcess:
    """One API process (one request at a time) with the cache on."""
    return start_api("cached", {**api_env, "REDIS_URL": redis_server.url,
                                "REDIS_PASSWORD_FILE": str(redis_server.password_file)})


@pytest.fixture(scope="session")
def api_plain(start_api: StartApi, api_env: dict[str, str]) -> ApiProcess:
    """One API process without REDIS_URL: the cache is off."""
    return start_api("plain", api_env)


@pytest.fixture(scope="session")
def api_replicas(start_api: StartApi, api_env: dict[str, str],
                 redis_server: RedisServer) -> list[ApiProcess]:
    """Four separate API processes sharing one Redis, like four replicas."""
    return [start_api(f"replica{i}", {**api_env, "REDIS_URL": redis_server.url,
                                      "REDIS_PASSWORD_FILE": str(redis_server.password_file)})
            for i in range(4)]


@pytest.fixture()
def cache(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client of the test Redis, emptied before each test (restarted if a test stopped it)."""
    if not redis_server.running:
        redis_server.start()
    client = redis.Redis.from_url(redis_server.url, password=redis_server.password)
    client.flushall()
    yield client
    if not redis_server.running:
        redis_server.start()
    client.close()


