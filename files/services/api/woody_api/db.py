"""Database access: one short-lived connection per request, bound parameters only.

No connection pool on purpose: the database accepts ONE connection by default, so a process
must not keep one open between requests. Two kinds of refusal are told apart:
- the database is full (it answers, but refuses the connection): the request waits for a free
  one, retrying with a growing pause, until its deadline; then it is refused as Saturated;
- the database is gone (its name does not resolve, nobody listens, the connection drops): the
  request is refused as Unavailable at once, and the breaker keeps the next requests of this
  process from trying again for a short, jittered interval, then lets one probe.
Every step is bounded: the name lookup (lookup_seconds), the connection (db_connect_timeout),
each statement (db_command_seconds, which the slow query and its table lock need).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pymysql
import pymysql.cursors

from .breaker import Breaker, Unavailable
from .capacity import Saturated
from .config import Settings
from .lookup import LookupFailed, is_address, resolve

log = logging.getLogger("woody_api.db")

# Refusals of a server that answers, which end when another connection closes: worth waiting
# for. 1040 too many connections, 1203 / 1226 per-user connection limit.
BUSY_ERRORS = frozenset({1040, 1203, 1226})
# The server is not there: 2003 cannot connect, 2006 gone away, 2013 lost during a query.
GONE_ERRORS = frozenset({2003, 2006, 2013})
DEPENDENCY = "database"


def _code(exc: pymysql.err.OperationalError) -> int | None:
    return exc.args[0] if exc.args and isinstance(exc.args[0], int) else None


class Database:
    def __init__(self, settings: Settings, deadline: Callable[[], float]) -> None:
        """``deadline()``: until when (time.monotonic()) the current request may wait."""
        self._settings = settings
        self._deadline = deadline
        self.breaker = Breaker(DEPENDENCY, settings.db_retry_seconds)
        self._watching = 0  # the process whose watch thread runs
        self._watch_lock = threading.Lock()

    def check(self) -> None:
        """Refuse at once (Unavailable) while the database's breaker is open, before a request
        queues for a work slot it could not use."""
        self._watch()
        if not self.breaker.is_open:
            return
        if not self.breaker.allow():
            raise Unavailable(DEPENDENCY, "skipped after a recent failure")
        # This request is the probe: it connects now (bounded), before it queues, so that a
        # database still gone costs it milliseconds, not its place in the queue.
        try:
            self._connect_once(probe=True).close()
        except pymysql.err.OperationalError as exc:
            if _code(exc) not in BUSY_ERRORS:
                raise

    def _watch(self) -> None:
        """Start, once per process (gunicorn forks after the app is made), a thread that looks
        the database's name up every watch_seconds. A Swarm service with no task left stops
        resolving: the breaker opens within a second or so, before the requests queued for a
        work slot reach the database, so new ones are refused at once rather than after the
        queue. (An address needs no watch; the connection itself probes.)"""
        s = self._settings
        if self._watching == os.getpid() or s.db_watch_seconds <= 0 or is_address(s.db_host):
            return
        with self._watch_lock:
            if self._watching == os.getpid():
                return
            self._watching = os.getpid()
        threading.Thread(target=self._watch_loop, name="woody-db-watch", daemon=True).start()

    def _watch_loop(self) -> None:
        s = self._settings
        while True:
            try:
                resolve(s.db_host, s.db_port, s.lookup_seconds)
            except LookupFailed as exc:
                self.breaker.failed(exc)
            time.sleep(s.db_watch_seconds)

    def _connect_once(self, probe: bool = False) -> pymysql.connections.Connection:
        """One bounded attempt. ``probe``: the caller already holds the breaker's probe."""
        s = self._settings
        if not probe:
            self.breaker.check()
        try:
            address = resolve(s.db_host, s.db_port, s.lookup_seconds)
            conn = pymysql.connect(
                host=address,
                port=s.db_port,
                user=s.db_user,
                password=s.db_password,
                database=s.db_name,
                connect_timeout=s.db_connect_timeout,
                read_timeout=s.db_command_seconds,
                write_timeout=s.db_command_seconds,
                charset="utf8mb4",
                autocommit=True,
            )
        except LookupFailed as exc:
            self.breaker.failed(exc)
            raise Unavailable(DEPENDENCY, str(exc)) from exc
        except pymysql.err.OperationalError as exc:
            if _code(exc) in GONE_ERRORS:
                self.breaker.failed(exc)
                raise Unavailable(DEPENDENCY, str(exc)) from exc
            self.breaker.succeeded()  # it answered (full, or refused us): it is there
            raise
        except BaseException as exc:
            self.breaker.failed(exc)
            raise
        self.breaker.succeeded()
        return conn

    def _connect(self) -> pymysql.connections.Connection:
        deadline = self._deadline()
        pause = 0.05
        while True:
            try:
                return self._connect_once()
            except pymysql.err.OperationalError as exc:
                left = deadline - time.monotonic()
                if _code(exc) not in BUSY_ERRORS:
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
        except pymysql.err.OperationalError as exc:
            if _code(exc) in GONE_ERRORS:
                self.breaker.failed(exc)
                raise Unavailable(DEPENDENCY, str(exc)) from exc
            raise
        finally:
            try:
                conn.close()
            except pymysql.err.Error:
                pass  # already lost

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
