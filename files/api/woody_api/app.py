"""Flask application implementing the WoodyToys API contract (all GET, plain-text bodies)."""

from __future__ import annotations

import datetime
import logging
import socket
import time
import uuid
from collections.abc import Callable

import pymysql
from flask import Flask, Response, request

from .cache import Cache, CacheUnavailable, cache_key
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


class CachedEndpoint:
    """Serves a GET view through the cache: HIT / MISS / BYPASS in the X-Cache header."""

    def __init__(self, cache: Cache | None, settings: Settings) -> None:
        self._cache = cache
        self._settings = settings

    def serve(self, tag: str, ttl: int, single_flight: bool,
              origin: Callable[[], Response]) -> Response:
        cache = self._cache
        if cache is None or request.method != "GET":
            return self._mark(origin(), "BYPASS")
        try:
            key = cache_key(tag, cache.generation(tag), request.method, request.path,
                            request.args.items(multi=True))
            hit = cache.get(key)
            if hit is not None:
                return self._mark(text(hit.decode("utf-8")), "HIT")
            token: str | None = None
            if single_flight:
                waited = self._wait_or_lock(cache, key)
                if isinstance(waited, Response):
                    return waited
                token = waited
        except CacheUnavailable:
            return self._mark(origin(), "BYPASS")
        try:
            response = origin()
            if response.status_code == 200:
                try:
                    cache.put(key, response.get_data(), ttl)
                except CacheUnavailable:
                    pass
        finally:
            if token is not None:
                cache.unlock(key, token)
        return self._mark(response, "MISS")

    def _wait_or_lock(self, cache: Cache, key: str) -> Response | str:
        """Take the key's lock (return its token) or wait for the lock holder's result."""
        deadline = time.monotonic() + self._settings.single_flight_lock_seconds
        while True:
            token = cache.try_lock(key, self._settings.single_flight_lock_seconds)
            if token is not None:
                # The holder may have stored its result just before we took the lock.
                hit = cache.get(key)
                if hit is not None:
                    cache.unlock(key, token)
                    return self._mark(text(hit.decode("utf-8")), "HIT")
                return token
            if time.monotonic() > deadline:
                return self._mark(text("busy: still waiting for the same query, retry", 503),
                                  "MISS")
            time.sleep(self._settings.single_flight_poll_seconds)
            hit = cache.get(key)
            if hit is not None:
                return self._mark(text(hit.decode("utf-8")), "HIT")

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
    db = Database(settings)
    cache = (Cache(settings.redis_url, settings.redis_timeout, settings.redis_retry_seconds)
             if settings.redis_url else None)
    cached = CachedEndpoint(cache, settings)

    @app.after_request
    def served_by(response: Response) -> Response:
        response.headers["X-Served-By"] = HOSTNAME
        return response

    @app.errorhandler(pymysql.MySQLError)
    def database_error(exc: pymysql.MySQLError) -> Response:
        log.error("database error: %s", exc)
        return text(f"database unavailable: {exc}", 503)

    @app.get("/api/ping")
    def ping() -> Response:
        return text("ping")

    @app.get("/api/misc/time")
    def misc_time() -> Response:
        return text(f"misc: {now()}")

    @app.get("/api/misc/heavy")
    def heavy() -> Response:
        name = request.args.get("name")
        if name is None:
            return text("missing query parameter: name", 400)

        def origin() -> Response:
            time.sleep(settings.heavy_seconds)
            return text(f"{now()}: Woody -{name}- Woody")

        return cached.serve(HEAVY_TAG, settings.ttl_heavy, False, origin)

    @app.get("/api/products")
    @app.get("/api/products/")
    def add_product() -> Response:
        name = request.args.get("product")
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

        return cached.serve(PRODUCTS_TAG, settings.ttl_last_product, True, origin)

    @app.get("/api/orders/do")
    def order_do() -> Response:
        product = request.args.get("order")
        if product is None:
            return text("missing query parameter: order", 400)
        order_id = str(uuid.uuid4())
        db.create_order(order_id, "processing", product)
        time.sleep(settings.order_validation_seconds)  # the simulated validation
        db.set_order_status(order_id, "validated")
        return text(f"Your order of {product} is validated, its id is {order_id}")

    @app.get("/api/orders")
    @app.get("/api/orders/")
    def order_status() -> Response:
        order_id = request.args.get("order_id")
        if order_id is None:
            return text("missing query parameter: order_id", 400)
        status = db.order_status(order_id)
        if status is None:
            return text(f"no order {order_id}", 404)
        return text(status)

    return app
