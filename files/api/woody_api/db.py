"""Database access: one short-lived connection per request, bound parameters only.

No connection pool on purpose: the database accepts ONE connection by default, so a process
must not keep one open between requests.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pymysql
import pymysql.cursors

from .config import Settings


class Database:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @contextmanager
    def _cursor(self) -> Iterator[pymysql.cursors.Cursor]:
        s = self._settings
        conn = pymysql.connect(
            host=s.db_host,
            port=s.db_port,
            user=s.db_user,
            password=s.db_password,
            database=s.db_name,
            connect_timeout=s.db_connect_timeout,
            charset="utf8mb4",
            autocommit=True,
        )
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
