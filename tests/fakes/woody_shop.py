"""A stand-in for the shop on loopback, for testing the measuring code (not the shop): the same
URLs, 0.2 s per API request unless cached, X-Cache HIT/MISS keyed on path + sorted query; adding
a product (/api/products?product=X) drops the last product's entries, as the shop does."""
from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

SLOW = 0.2
PAGE = """<html><head><link rel="stylesheet" href="style.css"><script src="/app.js"></script></head>
<body><img src="/5mo.jpg"><img src="http://cdn.shop.test:{port}/5mo.jpg"></body></html>"""
ASSETS = {"/5mo.jpg": b"\xff\xd8" + b"j" * 20_000, "/app.js": b"var a = 1;", "/style.css": b"body {}"}


class Shop(BaseHTTPRequestHandler):
    seen: list[tuple[str, str]] = []  # (Host header, path with query) of every request
    cache: dict[str, bytes] = {}
    lock = threading.Lock()

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        with self.lock:
            self.seen.append((self.headers.get("Host", ""), self.path))
        parts = urlsplit(self.path)
        state = ""
        if parts.path == "/":
            body = PAGE.format(port=self.server.server_address[1]).encode()
        elif parts.path in ASSETS:
            body = ASSETS[parts.path]
        elif parts.path.startswith("/api/"):
            if parts.path == "/api/products":
                with self.lock:
                    for stale in [k for k in self.cache if k.startswith("/api/products/last?")]:
                        del self.cache[stale]
            key = parts.path + "?" + "&".join(sorted(parts.query.split("&")))
            with self.lock:
                state = "HIT" if key in self.cache else "MISS"
            if state == "MISS":
                time.sleep(SLOW)
                with self.lock:
                    self.cache[key] = f"{time.time()}: Woody -{parts.query}- Woody".encode()
            body = self.cache[key]
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        if state:
            self.send_header("X-Cache", state)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass
