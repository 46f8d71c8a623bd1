"""Flask application implementing the WoodyToys API contract (all GET, plain-text bodies)."""

from __future__ import annotations

import datetime
import functools
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable

import pymysql
from flask import Flask, Response, copy_current_request_context, g, request

from .breaker import Unavailable
from .cache import Cache, CacheUnavailable, Entry, cache_key
from .capacity import Capacity, Saturated
from .config import Settings
from .db import Database

log = logging.getLogger("woody_api")

HOSTNAME = socket.gethostname()
PRODUCTS_TAG = "products"
HEAVY_TAG = "heavy"


def now() -> str:
    return str(datetime.datetime.now())


def text(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/plain")


class BadParameter(Exception):
    """A query parameter the view reads is given more than once: 400."""


def one_arg(name: str) -> str | None:
    """The value of a query parameter the view reads; given twice is an error, not a choice."""
    values = request.args.getlist(name)
    if len(values) > 1:
        raise BadParameter(f"query parameter {name} given {len(values)} times")
    return values[0] if values else None


class CachedEndpoint:
    """Serves a GET (or HEAD) view through the cache: X-Cache HIT, STALE, MISS or BYPASS.

    A hit (fresh or stale) takes neither a work slot nor a place in the queue: it never waits
    behind a miss. Concurrent misses of one key make one computation (single flight, across
    replicas); an entry expired for less than a renewal takes is served (STALE) while a thread
    computes its successor. An older one is kept for stale_if_error_seconds: it is served
    (STALE) only when its origin needs a dependency that is down (stale if error).
    """

    def __init__(self, cache: Cache | None, capacity: Capacity, settings: Settings) -> None:
        self._cache = cache
        self._capacity = capacity
        self._settings = settings

    def serve(self, tag: str, params: dict[str, str], ttl: int,
              origin: Callable[[], Response], available: Callable[[], None] = lambda: None) -> Response:
        """``available()`` raises Unavailable while a dependency of ``origin`` is known to be
        down: the request is then answered at once, stale if it can."""
        cache = self._cache
        if cache is None:
            available()
            return self._mark(self._work(origin), "BYPASS")
        key = cache_key(tag, request.path, params)
        try:
            entry = cache.lookup(tag, key)
            if entry.body is not None and entry.fresh:
                return self._mark(text(entry.body.decode("utf-8")), "HIT")
            if entry.body is not None and entry.expired_for <= self._settings.single_flight_lock_seconds:
                return self._refresh_or_stale(cache, key, entry, ttl, origin, available)
        except CacheUnavailable:
            available()
            return self._mark(self._work(origin), "BYPASS")
        try:
            available()
            with self._capacity.admit():
                try:
                    waited = self._wait_or_lock(cache, tag, key)
                except CacheUnavailable:
                    return self._mark(self._work(origin, admitted=True), "BYPASS")
                if isinstance(waited, Response):
                    return waited
                return self._mark(self._compute(cache, key, entry.generation, ttl, origin, waited), "MISS")
        except Unavailable as exc:
            if entry.body is None:
                raise
            log.warning("serving %s stale for %.0f s past its freshness: %s", key, entry.expired_for, exc)
            return self._mark(text(entry.body.decode("utf-8")), "STALE")

    def _refresh_or_stale(self, cache: Cache, key: str, entry: Entry, ttl: int,
                          origin: Callable[[], Response], available: Callable[[], None]) -> Response:
        """The stale answer, at once; the first request to find it also starts its renewal
        beside itself, so that no client waits for it (behind the misses in the queue), unless
        the origin's dependency is known to be down (nothing to renew from)."""
        assert entry.body is not None
        try:
            available()
        except Unavailable:
            return self._mark(text(entry.body.decode("utf-8")), "STALE")
        token = cache.try_lock(key, self._settings.single_flight_lock_seconds)
        if token is not None:
            renew = copy_current_request_context(functools.partial(
                self._renew, cache, key, entry.generation, ttl, origin, token))
            threading.Thread(target=renew, name="woody-cache-renew", daemon=True).start()
        return self._mark(text(entry.body.decode("utf-8")), "STALE")

    def _renew(self, cache: Cache, key: str, generation: int, ttl: int,
               origin: Callable[[], Response], token: str) -> None:
        g.deadline = time.monotonic() + self._settings.queue_seconds
        try:
            with self._capacity.admit():
                self._compute(cache, key, generation, ttl, origin, token, urgent=True)
        except Saturated as exc:
            log.info("not renewing %s now (%s): a later request will", key, exc.reason)
        except Unavailable as exc:
            log.info("not renewing %s now (%s): a later request will", key, exc)
        except Exception:  # a failed renewal must not end the process; the entry stays stale
            log.exception("renewing %s failed", key)
        finally:
            cache.unlock(key, token)  # compare-and-delete: a no-op once _compute released it

    def _compute(self, cache: Cache, key: str, generation: int, ttl: int,
                 origin: Callable[[], Response], token: str, urgent: bool = False) -> Response:
        try:
            response = self._work(origin, admitted=True, urgent=urgent)
            if response.status_code == 200:
                try:
                    # Kept past its freshness as long as a renewal may take (queue + work).
                    cache.put(key, generation, response.get_data(), ttl,
                              max(self._settings.single_flight_lock_seconds,
                                  self._settings.stale_if_error_seconds))
                except CacheUnavailable:
                    pass
            return response
        finally:
            cache.unlock(key, token)

    def _work(self, origin: Callable[[], Response], admitted: bool = False,
              urgent: bool = False) -> Response:
        if not admitted:
            with self._capacity.admit(), self._capacity.slot(g.deadline):
                return origin()
        with self._capacity.slot(g.deadline, urgent):
            return origin()

    def _wait_or_lock(self, cache: Cache, tag: str, key: str) -> Response | str:
        """Take the key's lock (return its token) or wait for the lock holder's result."""
        lock_seconds = self._settings.single_flight_lock_seconds
        deadline = time.monotonic() + lock_seconds
        while True:
            token = cache.try_lock(key, lock_seconds)
            if token is not None:
                # The holder may have stored its result just before we took the lock. (An entry
                # kept past its freshness for stale-if-error is not a result.)
                entry = cache.lookup(tag, key)
                if entry.body is not None and entry.fresh:
                    cache.unlock(key, token)
                    return self._mark(text(entry.body.decode("utf-8")), "HIT")
                return token
            if time.monotonic() > deadline:
                raise Saturated("still waiting for the same computation elsewhere")
            time.sleep(self._settings.single_flight_poll_seconds)
            entry = cache.lookup(tag, key)
            if entry.body is not None and entry.fresh:
                return self._mark(text(entry.body.decode("utf-8")), "HIT")

    @staticmethod
    def _mark(response: Response, state: str) -> Response:
        response.headers["X-Cache"] = state
        return response


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = Flask("woody_api")
    capacity = Capacity(settings.origin_slots, settings.queue_limit)
    db = Database(settings, lambda: g.deadline)
    cache = (Cache(settings.redis_url, settings.redis_timeout, settings.redis_retry_seconds,
                   settings.redis_password, settings.lookup_seconds)
             if settings.redis_url else None)
    cached = CachedEndpoint(cache, capacity, settings)

    def working(view: Callable[..., Response]) -> Callable[..., Response]:
        """A view that does work: one at a time per process (the lab sheet's bottleneck)."""
        @functools.wraps(view)
        def wrapper(*args: object, **kwargs: object) -> Response:
            with capacity.admit(), capacity.slot(g.deadline):
                return view(*args, **kwargs)
        return wrapper

    def needs_database(view: Callable[..., Response]) -> Callable[..., Response]:
        """A view that cannot answer without the database: while it is known to be down, the
        request is refused at once instead of queuing for a work slot first."""
        @functools.wraps(view)
        def wrapper(*args: object, **kwargs: object) -> Response:
            db.check()
            return view(*args, **kwargs)
        return wrapper

    @app.before_request
    def start_the_clock() -> None:
        g.deadline = time.monotonic() + settings.queue_seconds

    @app.after_request
    def served_by(response: Response) -> Response:
        response.headers["X-Served-By"] = HOSTNAME
        # Every answer is per request (the time, an order's status, a write's result): no cache
        # on the way (a CDN, a browser, a proxy) may store one. The shop's own cache is Redis.
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    def refuse(reason: str, body: str = "busy: the shop is saturated, retry later") -> Response:
        """503 with a generic body: what went wrong is in the log, not in the answer."""
        log.warning("refused %s %s: %s", request.method, request.full_path, reason)
        response = text(body, 503)
        response.headers["Retry-After"] = str(settings.retry_after_seconds)
        return response

    @app.errorhandler(Saturated)
    def saturated(exc: Saturated) -> Response:
        return refuse(exc.reason)

    @app.errorhandler(Unavailable)
    def unavailable(exc: Unavailable) -> Response:
        return refuse(str(exc), "unavailable: a service the shop needs is down, retry later")

    @app.errorhandler(pymysql.err.DataError)
    def bad_value(exc: pymysql.err.DataError) -> Response:
        # The client's value does not fit (a product longer than its column): its fault, not
        # the shop's load, so a 400 that a retry would not change.
        log.info("refused %s %s: %s", request.method, request.full_path, exc)
        return text("a value does not fit the shop's database (too long?)", 400)

    @app.errorhandler(pymysql.MySQLError)
    def database_error(exc: pymysql.MySQLError) -> Response:
        return refuse(f"database error: {exc}")

    @app.errorhandler(BadParameter)
    def bad_parameter(exc: BadParameter) -> Response:
        return text(str(exc), 400)

    @app.get("/api/ping")
    def ping() -> Response:
        # Answered beside the work, never queued behind it: a busy process is healthy; one
        # whose work slot has been held too long is stuck.
        held = capacity.longest_held()
        if held > settings.hung_seconds:
            log.error("unhealthy: a request has held the work slot for %.0f s", held)
            return text(f"stuck: busy with one request for {held:.0f} s", 503)
        return text("ping")

    @app.get("/api/misc/time")
    @working
    def misc_time() -> Response:
        return text(f"misc: {now()}")

    @app.get("/api/misc/heavy")
    def heavy() -> Response:
        name = one_arg("name")
        if name is None:
            return text("missing query parameter: name", 400)

        def origin() -> Response:
            time.sleep(settings.heavy_seconds)
            return text(f"{now()}: Woody -{name}- Woody")

        return cached.serve(HEAVY_TAG, {"name": name}, settings.ttl_heavy, origin)

    @app.get("/api/products")
    @app.get("/api/products/")
    @needs_database
    @working
    def add_product() -> Response:
        name = one_arg("product")
        if name is None:
            return text("missing query parameter: product", 400)
        db.add_product(name)
        if cache is not None:
            try:
                cache.invalidate(PRODUCTS_TAG)
            except CacheUnavailable:
                log.warning("could not invalidate the last-product cache entry")
        return text(name)

    @app.get("/api/products/<int:product_id>")
    @needs_database
    @working
    def get_product(product_id: int) -> Response:
        name = db.product_name(product_id)
        if name is None:
            return text(f"no product {product_id}", 404)
        return text(name)

    @app.get("/api/products/last")
    def last_product() -> Response:
        def origin() -> Response:
            name, count = db.last_product(settings.db_sleep_seconds)
            return text(f"db: {now()} - {count} products (last={name})")

        return cached.serve(PRODUCTS_TAG, {}, settings.ttl_last_product, origin, db.check)

    @app.get("/api/orders/do")
    @needs_database
    @working
    def order_do() -> Response:
        product = one_arg("order")
        if product is None:
            return text("missing query parameter: order", 400)
        order_id = str(uuid.uuid4())
        db.create_order(order_id, "processing", product)
        time.sleep(settings.order_validation_seconds)  # the simulated validation
        # The order exists now: its status update gets a fresh wait, not what is left.
        g.deadline = time.monotonic() + settings.queue_seconds
        db.set_order_status(order_id, "validated")
        return text(f"Your order of {product} is validated, its id is {order_id}")

    @app.get("/api/orders")
    @app.get("/api/orders/")
    @needs_database
    @working
    def order_status() -> Response:
        order_id = one_arg("order_id")
        if order_id is None:
            return text("missing query parameter: order_id", 400)
        status = db.order_status(order_id)
        if status is None:
            return text(f"no order {order_id}", 404)
        return text(status)

    return app
