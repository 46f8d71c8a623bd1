"""Small unit tests: cache keys, settings, the health check command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from svc_support import API_DIR, ApiProcess, free_port

sys.path.insert(0, str(API_DIR))

from woody_api.cache import cache_key
from woody_api.config import ConfigError, Settings


def test_cache_key_uses_the_path_and_the_view_s_parameters_sorted() -> None:
    a = cache_key("heavy", "/api/misc/heavy", {"name": "a"})
    assert a != cache_key("heavy", "/api/misc/heavy", {"name": "b"})
    assert cache_key("t", "/p", {"b": "2", "a": "1"}) == cache_key("t", "/p", {"a": "1", "b": "2"})
    assert cache_key("t", "/p", {}) != cache_key("u", "/p", {})
    # a value cannot smuggle another parameter into the key
    assert cache_key("t", "/p", {"a": "1&b=2"}) != cache_key("t", "/p", {"a": "1", "b": "2"})


def test_defaults_are_the_contract_s(tmp_path: Path) -> None:
    s = Settings.from_env({"DB_PASSWORD_FILE": "", "DB_PASSWORD": "x"})
    assert (s.db_host, s.db_port, s.db_user, s.db_name) == ("db", 3306, "root", "woody")
    assert (s.heavy_seconds, s.db_sleep_seconds, s.order_validation_seconds) == (5, 15, 5)
    assert (s.ttl_heavy, s.ttl_last_product) == (30, 15)
    assert s.redis_url is None and not s.cache_enabled
    assert s.redis_timeout <= 0.5


def test_password_from_file_first(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from-file\n", encoding="utf-8")
    env = {"DB_PASSWORD_FILE": str(secret), "DB_PASSWORD": "from-env"}
    assert Settings.from_env(env).db_password == "from-file"
    assert Settings.from_env({"DB_PASSWORD": "from-env"}).db_password == "from-env"
    with pytest.raises(ConfigError):
        Settings.from_env({"DB_PASSWORD_FILE": str(tmp_path / "missing")})


def test_the_redis_password_file_must_hold_one_when_named(tmp_path: Path) -> None:
    secret = tmp_path / "redis"
    secret.write_text("r3dis-pw\n", encoding="utf-8")
    base = {"DB_PASSWORD": "x", "REDIS_URL": "redis://redis:6379/0"}
    assert Settings.from_env(base).redis_password is None
    settings = Settings.from_env({**base, "REDIS_PASSWORD_FILE": str(secret)})
    assert settings.redis_password == "r3dis-pw" and "r3dis-pw" not in repr(settings)
    secret.write_text("", encoding="utf-8")
    for named, words in ((secret, "is empty"), (tmp_path / "missing", "does not exist")):
        with pytest.raises(ConfigError, match=words):
            Settings.from_env({**base, "REDIS_PASSWORD_FILE": str(named)})


def test_no_password_or_an_empty_one_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n", encoding="utf-8")
    for env, words in (({}, "no database password"), ({"DB_PASSWORD": ""}, "from DB_PASSWORD is empty"),
                       ({"DB_PASSWORD_FILE": str(empty), "DB_PASSWORD": "x"}, f"from {empty} is empty")):
        with pytest.raises(ConfigError, match=words):
            Settings.from_env(env)
    with pytest.raises(ConfigError, match="HEAVY_SECONDS"):
        Settings.from_env({"HEAVY_SECONDS": "soon", "DB_PASSWORD": "x"})


def _healthcheck(port: int) -> int:
    env = {**os.environ, "API_PORT": str(port), "PYTHONPATH": str(API_DIR),
           "HEALTHCHECK_TIMEOUT": "3"}
    return subprocess.run([sys.executable, "-m", "woody_api.healthcheck"], env=env,
                          capture_output=True, check=False).returncode


def test_healthcheck_command(api_plain: ApiProcess) -> None:
    assert _healthcheck(api_plain.port) == 0
    assert _healthcheck(free_port()) == 1


def test_default_picture_is_a_real_5_mb_jpeg(tmp_path: Path) -> None:
    from PIL import Image

    out = tmp_path / "5mo.jpg"
    subprocess.run([sys.executable, str(API_DIR.parent / "front" / "make_jpeg.py"),
                    "--output", str(out)], check=True, capture_output=True)
    size = out.stat().st_size
    assert 5_000_000 <= size <= 5_500_000
    with Image.open(out) as img:
        assert img.format == "JPEG"
        img.load()  # decodes the whole picture: a truncated or fake file fails here
        assert img.width > 1000 and img.height > 1000
        assert len(img.getcolors(maxcolors=10_000_000) or []) > 1000


def test_the_work_slot_goes_in_line_a_renewal_first() -> None:
    import threading
    import time

    from woody_api.capacity import Capacity

    capacity = Capacity(slots=1, queue_limit=8)
    order: list[str] = []
    release = threading.Event()

    def work(name: str, urgent: bool) -> None:
        with capacity.slot(time.monotonic() + 10, urgent=urgent):
            order.append(name)
            if name == "holder":
                release.wait(5)

    holder = threading.Thread(target=work, args=("holder", False))
    holder.start()
    time.sleep(0.1)
    waiting = [threading.Thread(target=work, args=(f"miss{i}", False)) for i in range(3)]
    for thread in waiting:
        thread.start()
        time.sleep(0.05)
    renewal = threading.Thread(target=work, args=("renewal", True))
    renewal.start()
    time.sleep(0.1)
    release.set()
    for thread in [holder, renewal, *waiting]:
        thread.join(5)
    assert order[:2] == ["holder", "renewal"], order
    assert order[2:] == ["miss0", "miss1", "miss2"]  # the line is first come, first served
    assert capacity.longest_held() == 0.0


def test_the_breaker_opens_probes_once_and_closes() -> None:
    from woody_api.breaker import Breaker

    now = [100.0]
    breaker = Breaker("cache", 2.0, clock=lambda: now[0], jitter=lambda: 1.0)
    assert breaker.allow() and not breaker.blocked()
    breaker.failed(OSError("gone"))
    assert breaker.blocked() and not breaker.allow()
    now[0] += 2.1
    assert not breaker.blocked()
    assert breaker.allow()          # the one probe
    assert not breaker.allow()      # the others wait for its outcome
    breaker.failed(OSError("still gone"))
    now[0] += 1.0
    assert not breaker.allow()      # opened again for a whole interval
    now[0] += 1.1
    assert breaker.allow()
    breaker.succeeded()
    assert breaker.allow() and breaker.allow()


def test_the_breaker_s_interval_is_jittered() -> None:
    from woody_api.breaker import Breaker

    intervals = set()
    for _ in range(20):
        now = [0.0]
        breaker = Breaker("db", 2.0, clock=lambda now=now: now[0])
        breaker.failed(OSError("gone"))
        low = 0.0
        while breaker.blocked():
            now[0] += 0.01
            low = now[0]
        intervals.add(round(low, 2))
        assert 1.0 <= low <= 3.01
    assert len(intervals) > 5


def test_a_name_lookup_that_hangs_is_given_up_within_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket
    import time

    from woody_api import lookup

    def hanging(*_args: object, **_kwargs: object) -> object:
        time.sleep(3)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(lookup.socket, "getaddrinfo", hanging)
    start = time.monotonic()
    with pytest.raises(lookup.LookupFailed, match="within 0.2 s"):
        lookup.resolve("redis", 6379, 0.2)
    assert time.monotonic() - start < 0.4
    assert lookup.resolve("10.0.0.7", 6379, 0.2) == "10.0.0.7"  # an address is not looked up
