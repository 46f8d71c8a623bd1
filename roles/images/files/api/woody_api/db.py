"""Database access: one short-lived connection per request, bound parameters only.

No connection pool on purpose: the database accepts ONE connection by default, so a process
must not keep one open between requests. When the database refuses a connection because it is
full (or is restarting), the request waits for a free one, retrying with a growing pause, until
its deadline; then it is refused as Saturated (503 + Retry-After), never with the driver's text.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pymysql
import pymysql.cursors

from .capacity import Saturated
from .config import Settings

log = logging.getLogger("woody_api.db")

# Refusals that end when another connection closes or the server is back: worth waiting for.
# 1040 too many connections, 1203 / 1226 per-user connection limit, 2003 / 2013 cannot connect.
BUSY_ERRORS = frozenset({1040, 1203, 1226, 2003, 2013})


class Database:
    def __init__(self, settings: Settings, deadline: Callable[[], float]) -> None:
        """``deadline()``: until when (time.monotonic()) the current request may wait."""
        self._settings = settings
        self._deadline = deadline

    def _connect(self) -> pymysql.connections.Connection:
        s = self._settings
        deadline = self._deadline()
        pause = 0.05
        while True:
            try:
                return pymysql.connect(
                    host=s.db_host,
                    port=s.db_port,
                    user=s.db_user,
                    password=s.db_password,
                    database=s.db_name,
                    connect_timeout=s.db_connect_timeout,
                    charset="utf8mb4",
                    autocommit=True,
                )
            except pymysql.err.OperationalError as exc:
                code = exc.args[0] if exc.args else None
                left = deadline - time.monotonic()
                if code not in BUSY_ERRORS:
                    raise
                if left <= 0:
                    log.warning("no database connection before the deadline: %s", exc)
                    raise Saturated("no database connection within the queue time") from exc
                # Jitter, so that replicas waiting for the one connection do not retry in step.
                time.sleep(min(left, pause * random.uniform(0.5, 1.5)))  # noqa: S311
                pause = min(pause * 2, 0.5)

    @contextmanager
    def _cursor(self) -> Iterator[pymysql.cursors.Cursor]:
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                yield cur
        finally:
            conn.close()

    def add_product(self, name: str) -> int:
        with self._cursor() as cur:
            cur.execute("INSERT INTO product (name) VALUES (%s)", (name,))
            return int(cur.lastrowid)

    def product_name(self, product_id: int) -> str | None:
        with self._cursor() as cur:
            cur.execute("SELECT name FROM product WHERE id = %s", (product_id,))
            row = cur.fetchone()
        return None if row is None else str(row[0])

    def last_product(self, sleep_seconds: float) -> tuple[str | None, int]:
        """The deliberately slow query: last product and count, under a table read lock."""
        with self._cursor() as cur:
            cur.execute("LOCK TABLES product READ")
            try:
                cur.execute(
                    "SELECT p.name, SLEEP(%s) FROM "
                    "(SELECT name FROM product ORDER BY id DESC LIMIT 1) AS p",
                    (sleep_seconds,),
                )
                row = cur.fetchone()
                if row is None and sleep_seconds > 0:
                    cur.execute("SELECT SLEEP(%s)", (sleep_seconds,))
                cur.execute("SELECT COUNT(*) FROM product")
                count_row = cur.fetchone()
            finally:
                cur.execute("UNLOCK TABLES")
        name = None if row is None or row[0] is None else str(row[0])
        count = int(count_row[0]) if count_row else 0
        return name, count

    def create_order(self, order_id: str, status: str, product: str) -> None:
        with self._cursor() as cur:
            cur.execute(
                "INSERT INTO `order` (order_id, status, product) VALUES (%s, %s, %s)",
                (order_id, status, product),
            )

    def set_order_status(self, order_id: str, status: str) -> None:
        with self._cursor() as cur:
            cur.execute("UPDATE `order` SET status = %s WHERE order_id = %s",
                        (status, order_id))

    def order_status(self, order_id: str) -> str | None:
        with self._cursor() as cur:
            cur.execute("SELECT status FROM `order` WHERE order_id = %s", (order_id,))
            row = cur.fetchone()
        return None if row is None else str(row[0])
