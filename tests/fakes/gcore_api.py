"""A local, in-memory fake of the part of Gcore's CDN API the cdn role uses (tests only).

It listens on 127.0.0.1 (a free port), over HTTPS when given a certificate (see
``self_signed``), and answers like the documented API, strictly:

- every request needs ``Authorization: APIKey <key>`` (the word APIKey in any case, as Gcore's
  docs allow) with the fake's key, else 401;
- unknown paths give 404, a known path with another method 405;
- a JSON body must be an object whose fields are all known for that call and of the documented
  type (required ones present), else 400 with the reason;
- it records every request (method, path, query, headers, parsed body) in ``requests``.

Endpoints (field names as in Gcore's API reference / its Python SDK):

    GET  /cdn/clients/me                     the account; ``cname`` is the CNAME target
    GET  /cdn/resources[?cname=X]            list (a page {count, next, previous, results}, or
                                             a bare array with ``paginate=False``)
    POST /cdn/resources                      create: cname, exactly one of origin/originGroup, ...
    GET  /cdn/resources/{id}
    PUT  /cdn/resources/{id}                 replace: originGroup required, no cname/origin
    POST /cdn/resources/{id}/purge           {"urls": [...]} or {"paths": [...]}
    GET  /cdn/resources/{id}/rules           the resource's rules (an array)
    POST /cdn/resources/{id}/rules           create: name, rule, ruleType required
    PUT  /cdn/resources/{id}/rules/{rule}    replace: the same fields
    DELETE /cdn/resources/{id}/rules/{rule}
    GET  /cdn/origin_groups/{id}
    PUT  /cdn/origin_groups/{id}             replace: name, sources, use_next required
"""
from __future__ import annotations

import copy
import json
import re
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

JSON = dict[str, Any]

# Validators: a field's check returns None when the value is fine, else what it should be.
Check = Callable[[Any], "str | None"]


def _is_str(value: Any) -> str | None:
    return None if isinstance(value, str) else "a string"


def _is_bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else "a boolean"


def _is_int(value: Any) -> str | None:
    return None if isinstance(value, int) and not isinstance(value, bool) else "an integer"


def _nullable(check: Check) -> Check:
    def checked(value: Any) -> str | None:
        return None if value is None else (None if check(value) is None else f"{check(value)} or null")
    return checked


def _one_of(*choices: object) -> Check:
    def checked(value: Any) -> str | None:
        return None if value in choices else f"one of {list(choices)}"
    return checked


def _str_list(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    return None if ok else "a list of strings"


# Resource options: the ones the tests may use; each an object with a boolean `enabled`.
KNOWN_OPTIONS = frozenset({
    "edge_cache_settings", "browser_cache_settings", "ignore_query_string", "forward_host_header",
    "host_header", "gzipOn", "cors", "stale", "slice", "allowedHttpMethods", "redirect_http_to_https",
})


def _options(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "an object of options"
    for name, option in value.items():
        if name not in KNOWN_OPTIONS:
            return f"an object of known options ({name!r} is not one)"
        if option is not None and not (isinstance(option, dict) and isinstance(option.get("enabled"), bool)):
            return f"an object of options, each with a boolean 'enabled' ({name!r} is not)"
    return None


def _sources(value: Any) -> str | None:
    allowed = {"source": _is_str, "enabled": _is_bool, "backup": _is_bool,
               "host_header_override": _nullable(_is_str)}
    if not isinstance(value, list) or not value:
        return "a non-empty list of sources"
    for source in value:
        if not isinstance(source, dict) or "source" not in source:
            return "a list of objects with a 'source'"
        for key, item in source.items():
            if key not in allowed or allowed[key](item) is not None:
                return f"a list of sources with known, well-typed fields ({key!r} is not)"
    if not any(source.get("enabled", True) for source in value):
        return "a list with at least one enabled source"
    return None


RESOURCE_FIELDS: dict[str, Check] = {
    "active": _is_bool, "description": _is_str, "name": _nullable(_is_str), "options": _options,
    "originProtocol": _one_of("HTTP", "HTTPS", "MATCH"), "proxy_ssl_ca": _nullable(_is_int),
    "proxy_ssl_data": _nullable(_is_int), "proxy_ssl_enabled": _is_bool,
    "secondaryHostnames": _str_list, "sslData": _nullable(_is_int), "sslEnabled": _is_bool,
    "waap_api_domain_enabled": _is_bool,
}
CREATE_FIELDS: dict[str, Check] = {**RESOURCE_FIELDS, "cname": _is_str, "origin": _is_str,
                                   "originGroup": _is_int, "primary_resource": _nullable(_is_int)}
REPLACE_FIELDS: dict[str, Check] = {**RESOURCE_FIELDS, "originGroup": _is_int}
GROUP_FIELDS: dict[str, Check] = {"name": _is_str, "sources": _sources, "use_next": _is_bool,
                                  "proxy_next_upstream": _str_list, "auth_type": _is_str, "path": _is_str}
PURGE_FIELDS: dict[str, Check] = {"urls": _str_list, "paths": _str_list}
RULE_FIELDS: dict[str, Check] = {"name": _is_str, "rule": _is_str, "ruleType": _one_of(0, 1), "active": _is_bool,
                                 "weight": _is_int, "options": _options, "originGroup": _nullable(_is_int),
                                 "overrideOriginProtocol": _nullable(_one_of("HTTP", "HTTPS", "MATCH"))}


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _validate(body: Any, fields: dict[str, Check], required: tuple[str, ...]) -> JSON:
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    for name in required:
        if name not in body:
            raise ApiError(400, f"{name}: this field is required")
    for name, value in body.items():
        if name not in fields:
            raise ApiError(400, f"{name}: unknown field")
        problem = fields[name](value)
        if problem is not None:
            raise ApiError(400, f"{name}: must be {problem}")
    return body


def self_signed(directory: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1, made with openssl; the certificate is its own CA."""
    cert, key = directory / "fake-gcore.crt", directory / "fake-gcore.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGcoreApi:
    """Start with ``start()`` (or as a context manager); ``url`` is the API base to give the role."""

    api_key: str
    account_cname: str = "cl-4711.gcdn.example"
    paginate: bool = True
    tls: tuple[Path, Path] | None = None  # (certificate, key): serve HTTPS
    requests: list[Recorded] = field(default_factory=list)
    resources: dict[int, JSON] = field(default_factory=dict)
    origin_groups: dict[int, JSON] = field(default_factory=dict)
    purges: list[tuple[int, JSON]] = field(default_factory=list)
    rules: dict[int, dict[int, JSON]] = field(default_factory=dict)  # resource id -> rule id -> rule
    _next_id: int = 100
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    # --- life cycle -----------------------------------------------------------------------------
    def start(self) -> FakeGcoreApi:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
                pass

            def _serve(self) -> None:
                fake._handle(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*map(str, self.tls))
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGcoreApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    # --- what the tests read ----------------------------------------------------------------------
    def calls(self, method: str | None = None, path_re: str = ".*") -> list[Recorded]:
        return [r for r in self.requests
                if (method is None or r.method == method) and re.fullmatch(path_re, r.path)]

    def writes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method != "GET"]

    def seed_resource(self, body: JSON) -> JSON:
        """Create a resource as if POST /cdn/resources had been sent with body (not recorded)."""
        with self._lock:
            return self._create_resource(query={}, body=copy.deepcopy(body))[1]

    def seed_rule(self, resource_id: int, body: JSON) -> JSON:
        """Create a rule as if POST /cdn/resources/{id}/rules had been sent with body (not recorded)."""
        with self._lock:
            return self._create_rule(resource_id, query={}, body=copy.deepcopy(body))[1]

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # --- HTTP plumbing ------------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        body: Any = None
        status, answer = 500, {"message": "internal error"}
        not_json = False
        try:
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body, not_json = raw.decode("utf-8", "replace"), True
            self._authorize(handler.headers.get("Authorization"))
            if not_json:
                raise ApiError(400, "the body is not JSON")
            with self._lock:
                status, answer = self._route(handler.command, parts.path, parse_qs(parts.query), body)
        except ApiError as error:
            status, answer = error.status, {"message": error.message}
        finally:
            with self._lock:
                self.requests.append(Recorded(handler.command, parts.path, parse_qs(parts.query),
                                              dict(handler.headers.items()), body))
        payload = b"" if answer is None else json.dumps(answer).encode()
        handler.send_response(status)
        if answer is not None:
            handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _authorize(self, header: str | None) -> None:
        scheme, _, key = (header or "").partition(" ")
        if scheme.lower() != "apikey" or key != self.api_key:
            raise ApiError(401, "Authentication credentials were not provided or are invalid.")

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        routes: list[tuple[str, dict[str, Callable[..., tuple[int, Any]]]]] = [
            (r"/cdn/clients/me", {"GET": self._get_account}),
            (r"/cdn/resources", {"GET": self._list_resources, "POST": self._create_resource}),
            (r"/cdn/resources/(\d+)", {"GET": self._get_resource, "PUT": self._replace_resource}),
            (r"/cdn/resources/(\d+)/purge", {"POST": self._purge}),
            (r"/cdn/resources/(\d+)/rules", {"GET": self._list_rules, "POST": self._create_rule}),
            (r"/cdn/resources/(\d+)/rules/(\d+)", {"PUT": self._replace_rule, "DELETE": self._delete_rule}),
            (r"/cdn/origin_groups/(\d+)", {"GET": self._get_group, "PUT": self._replace_group}),
        ]
        for pattern, methods in routes:
            match = re.fullmatch(pattern, path.rstrip("/") or "/")
            if match is None:
                continue
            if method not in methods:
                raise ApiError(405, f"Method \"{method}\" not allowed.")
            args = [int(g) for g in match.groups()]
            return methods[method](*args, query=query, body=body)
        raise ApiError(404, "Not found.")

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    @staticmethod
    def _no_body(body: Any) -> None:
        if body is not None:
            raise ApiError(400, "this call takes no body")

    # --- endpoints --------------------------------------------------------------------------------
    def _get_account(self, *, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        self._no_body(body)
        return 200, {"id": 4711, "cname": self.account_cname, "use_balancer": False,
                     "auto_suspend_enabled": True, "cdn_resources_rules_max_count": 10,
                     "service": {"enabled": True, "status": "active", "updated": "2024-01-01T00:00:00Z"}}

    def _list_resources(self, *, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        self._no_body(body)
        found = [copy.deepcopy(r) for r in self.resources.values() if not r["deleted"]]
        if "cname" in query:
            found = [r for r in found if r["cname"] == query["cname"][0]]
        if not self.paginate:
            return 200, found
        return 200, {"count": len(found), "next": None, "previous": None, "results": found}

    def _resource(self, resource_id: int) -> JSON:
        if resource_id not in self.resources or self.resources[resource_id]["deleted"]:
            raise ApiError(404, "Not found.")
        return self.resources[resource_id]

    def _get_resource(self, resource_id: int, *, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        self._no_body(body)
        return 200, copy.deepcopy(self._resource(resource_id))

    def _create_resource(self, *, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        fields = _validate(body, CREATE_FIELDS, ("cname",))
        if ("origin" in fields) == ("originGroup" in fields):
            raise ApiError(400, "exactly one of origin or originGroup must be provided")
        if any(r["cname"] == fields["cname"] and not r["deleted"] for r in self.resources.values()):
            raise ApiError(400, f"cname: a resource with cname {fields['cname']} already exists")
        if "originGroup" in fields:
            if fields["originGroup"] not in self.origin_groups:
                raise ApiError(400, "originGroup: no such origin group")
            group_id = fields["originGroup"]
        else:
            group_id = self._new_id()
            self.origin_groups[group_id] = {
                "id": group_id, "name": f"{fields['cname']}-origin", "use_next": False,
                "proxy_next_upstream": ["error", "timeout"], "has_related_resources": True,
                "sources": [{"source": fields["origin"], "enabled": True, "backup": False}]}
        resource_id = self._new_id()
        resource = self._resource_defaults(resource_id, fields["cname"])
        resource.update({k: copy.deepcopy(v) for k, v in fields.items() if k not in ("origin",)})
        resource["originGroup"] = group_id
        resource["originGroup_name"] = self.origin_groups[group_id]["name"]
        self.resources[resource_id] = resource
        return 201, copy.deepcopy(resource)

    @staticmethod
    def _resource_defaults(resource_id: int, cname: str) -> JSON:
        return {"id": resource_id, "cname": cname, "client": 4711, "name": None, "description": "",
                "active": True, "deleted": False, "enabled": True, "status": "processed",
                "originProtocol": "HTTP", "secondaryHostnames": [], "sslEnabled": False, "sslData": None,
                "proxy_ssl_enabled": False, "proxy_ssl_ca": None, "proxy_ssl_data": None,
                "shielded": False, "rules": [], "options": {}, "created": "2024-01-01T00:00:00Z",
                "updated": "2024-01-01T00:00:00Z"}

    def _replace_resource(self, resource_id: int, *, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        current = self._resource(resource_id)
        fields = _validate(body, REPLACE_FIELDS, ("originGroup",))
        if fields["originGroup"] not in self.origin_groups:
            raise ApiError(400, "originGroup: no such origin group")
        # A replacement: what is not sent goes back to its default.
        resource = self._resource_defaults(resource_id, current["cname"])
        resource.update({k: current[k] for k in ("client", "created", "status")})
        resource.update(copy.deepcopy(fields))
        resource["originGroup_name"] = self.origin_groups[fields["originGroup"]]["name"]
        self.resources[resource_id] = resource
        return 200, copy.deepcopy(resource)

    def _purge(self, resource_id: int, *, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        self._resource(resource_id)
        fields = _validate(body, PURGE_FIELDS, ())
        if len(fields) != 1:
            raise ApiError(400, "give exactly one of urls or paths")
        if any(not p.startswith("/") for p in next(iter(fields.values()))):
            raise ApiError(400, "urls/paths must start with / and name no domain")
        self.purges.append((resource_id, copy.deepcopy(fields)))
        return 201, None

    def _group(self, group_id: int) -> JSON:
        if group_id not in self.origin_groups:
            raise ApiError(404, "Not found.")
        return self.origin_groups[group_id]

    def _get_group(self, group_id: int, *, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        self._no_body(body)
        return 200, copy.deepcopy(self._group(group_id))

    def _replace_group(self, group_id: int, *, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        current = self._group(group_id)
        fields = _validate(body, GROUP_FIELDS, ("name", "sources", "use_next"))
        if fields["use_next"] and not fields.get("proxy_next_upstream"):
            raise ApiError(400, "proxy_next_upstream: required when use_next is true")
        group = {"id": group_id, "has_related_resources": current["has_related_resources"],
                 "proxy_next_upstream": [], **copy.deepcopy(fields)}
        self.origin_groups[group_id] = group
        return 200, copy.deepcopy(group)

    # --- resource rules -------------------------------------------------------------------------
    def _rule_fields(self, body: Any) -> JSON:
        fields = _validate(body, RULE_FIELDS, ("name", "rule", "ruleType"))
        if fields["ruleType"] == 0 and not fields["rule"].startswith(("^/", "/")):
            raise ApiError(400, "rule: a regular expression (ruleType 0) must start with ^/ or /")
        return {"active": True, "weight": 1, "options": {}, "originGroup": None, "overrideOriginProtocol": None,
                **copy.deepcopy(fields)}

    def _list_rules(self, resource_id: int, *, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        self._resource(resource_id)
        self._no_body(body)
        return 200, [copy.deepcopy(r) for r in self.rules.get(resource_id, {}).values()]

    def _create_rule(self, resource_id: int, *, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        self._resource(resource_id)
        rule = {"id": self._new_id(), **self._rule_fields(body)}
        self.rules.setdefault(resource_id, {})[rule["id"]] = rule
        return 201, copy.deepcopy(rule)

    def _rule(self, resource_id: int, rule_id: int) -> JSON:
        self._resource(resource_id)
        if rule_id not in self.rules.get(resource_id, {}):
            raise ApiError(404, "Not found.")
        return self.rules[resource_id][rule_id]

    def _replace_rule(self, resource_id: int, rule_id: int, *, query: dict[str, list[str]],
                      body: Any) -> tuple[int, Any]:
        self._rule(resource_id, rule_id)
        rule = {"id": rule_id, **self._rule_fields(body)}
        self.rules[resource_id][rule_id] = rule
        return 200, copy.deepcopy(rule)

    def _delete_rule(self, resource_id: int, rule_id: int, *, query: dict[str, list[str]],
                     body: Any) -> tuple[int, Any]:
        self._rule(resource_id, rule_id)
        self._no_body(body)
        del self.rules[resource_id][rule_id]
        return 204, None
