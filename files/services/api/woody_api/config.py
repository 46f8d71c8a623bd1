"""Settings of the API, read from environment variables (see files/services/README.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PASSWORD_FILE = "/run/secrets/db_root_password"


class ConfigError(ValueError):
    """A setting has an unusable value."""


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if value < 0:
        raise ConfigError(f"{name} must be >= 0, got {raw!r}")
    return value


def _integer(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = _integer(env, name, default)
    if value < 1:
        raise ConfigError(f"{name} must be >= 1, got {value}")
    return value


def read_db_password(env: Mapping[str, str]) -> str:
    """The database password: from DB_PASSWORD_FILE (default: the Docker secret's path), else
    from DB_PASSWORD when it is set (tests) and no file is there.

    No password at all, a named file that does not exist or an empty password is an error, never
    a silent fallback: the API would otherwise try the database with no password.
    """
    explicit = env.get("DB_PASSWORD_FILE", "").strip()
    path = Path(explicit or DEFAULT_PASSWORD_FILE)
    if path.is_file():
        password, source = path.read_text(encoding="utf-8").rstrip("\r\n"), str(path)
    elif explicit:
        raise ConfigError(f"DB_PASSWORD_FILE={explicit} does not exist")
    elif "DB_PASSWORD" in env:
        password, source = env["DB_PASSWORD"], "DB_PASSWORD"
    else:
        raise ConfigError(f"no database password: {DEFAULT_PASSWORD_FILE} (the Docker secret) is missing "
                          "and neither DB_PASSWORD_FILE nor DB_PASSWORD is set")
    if not password:
        raise ConfigError(f"the database password from {source} is empty")
    return password


def read_redis_password(env: Mapping[str, str]) -> str | None:
    """The cache's password, from REDIS_PASSWORD_FILE (a Docker secret); None when it is not
    set (a Redis without a password). A named file that is missing or empty is an error."""
    named = env.get("REDIS_PASSWORD_FILE", "").strip()
    if not named:
        return None
    path = Path(named)
    if not path.is_file():
        raise ConfigError(f"REDIS_PASSWORD_FILE={named} does not exist")
    password = path.read_text(encoding="utf-8").rstrip("\r\n")
    if not password:
        raise ConfigError(f"the Redis password from {named} is empty")
    return password


@dataclass(frozen=True)
class Settings:
    db_host: str = "db"
    db_port: int = 3306
    db_user: str = "root"
    db_name: str = "woody"
    db_password: str = field(default="", repr=False)
    db_connect_timeout: float = 0.5
    db_command_seconds: float = 20.0
    db_retry_seconds: float = 2.0
    lookup_seconds: float = 0.3
    db_watch_seconds: float = 1.0
    redis_url: str | None = None
    redis_password: str | None = field(default=None, repr=False)
    redis_timeout: float = 0.2
    redis_retry_seconds: float = 2.0
    heavy_seconds: float = 5.0
    db_sleep_seconds: float = 15.0
    order_validation_seconds: float = 5.0
    ttl_heavy: int = 30
    ttl_last_product: int = 15
    single_flight_lock_seconds: float = 40.0
    stale_if_error_seconds: float = 300.0
    single_flight_poll_seconds: float = 0.05
    origin_slots: int = 1
    queue_limit: int = 8
    queue_seconds: float = 30.0
    hung_seconds: float = 120.0
    retry_after_seconds: int = 5

    @property
    def cache_enabled(self) -> bool:
        return bool(self.redis_url)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        db_sleep = _number(env, "DB_SLEEP_SECONDS", 15.0)
        queue_seconds = _number(env, "API_QUEUE_SECONDS", 30.0)
        return cls(
            db_host=env.get("DB_HOST", "db") or "db",
            db_port=_integer(env, "DB_PORT", 3306),
            db_user=env.get("DB_USER", "root") or "root",
            db_name=env.get("DB_NAME", "woody") or "woody",
            db_password=read_db_password(env),
            db_connect_timeout=_number(env, "DB_CONNECT_TIMEOUT", 0.5),
            # A statement may wait for the slow query's table lock, then run: as long as it.
            db_command_seconds=_number(env, "DB_COMMAND_SECONDS", db_sleep + 5.0),
            db_retry_seconds=_number(env, "DB_RETRY_SECONDS", 2.0),
            lookup_seconds=_number(env, "DEPENDENCY_LOOKUP_SECONDS", 0.3),
            db_watch_seconds=_number(env, "DB_WATCH_SECONDS", 1.0),
            redis_url=env.get("REDIS_URL", "").strip() or None,
            redis_password=read_redis_password(env),
            redis_timeout=_number(env, "REDIS_TIMEOUT_SECONDS", 0.2),
            redis_retry_seconds=_number(env, "REDIS_RETRY_SECONDS", 2.0),
            heavy_seconds=_number(env, "HEAVY_SECONDS", 5.0),
            db_sleep_seconds=db_sleep,
            order_validation_seconds=_number(env, "ORDER_VALIDATION_SECONDS", 5.0),
            ttl_heavy=_integer(env, "CACHE_TTL_HEAVY", 30),
            ttl_last_product=_integer(env, "CACHE_TTL_LAST_PRODUCT", 15),
            # The lock holder may queue for its slot and the database, then runs the query.
            single_flight_lock_seconds=_number(
                env, "SINGLE_FLIGHT_LOCK_SECONDS", queue_seconds + db_sleep + 10.0
            ),
            single_flight_poll_seconds=_number(env, "SINGLE_FLIGHT_POLL_SECONDS", 0.05),
            stale_if_error_seconds=_number(env, "CACHE_STALE_IF_ERROR_SECONDS", 300.0),
            origin_slots=_positive(env, "API_ORIGIN_SLOTS", 1),
            queue_limit=_integer(env, "API_QUEUE_LIMIT", 8),
            queue_seconds=queue_seconds,
            hung_seconds=_number(env, "API_HUNG_SECONDS", 120.0),
            retry_after_seconds=_positive(env, "API_RETRY_AFTER", 5),
        )
