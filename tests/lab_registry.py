"""The lab registry over HTTPS (its certificate checked against the lab's authority), with or without the lab's credentials (roles/registry asks for a user)."""
from __future__ import annotations

import base64
import ssl
import urllib.error
import urllib.request
from pathlib import Path

REGISTRY = "10.213.0.10:5000"
USERNAME = "woody"  # inventory/local: woody_registry_username
PASSWORD_FILE = Path("/var/lib/woodyswarm/secrets/registry_password")
LAB_CA = Path("/var/lib/woodyswarm/lab/ca/ca.crt")  # roles/local_lab


def password() -> str:
    return PASSWORD_FILE.read_text().strip()


def call(method: str, path: str, headers: dict[str, str] | None = None, user: str | None = USERNAME,
         secret: str | None = None, timeout: float = 10) -> tuple[int, bytes, dict[str, str]]:
    """(HTTP status, body, headers) of a request; status 0 when nothing answers. user=None: anonymous."""
    request = urllib.request.Request(f"https://{REGISTRY}{path}", method=method, headers=headers or {})
    if user is not None:
        token = base64.b64encode(f"{user}:{password() if secret is None else secret}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=ssl.create_default_context(cafile=LAB_CA)) as answer:
            return answer.status, answer.read(), dict(answer.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)
    except OSError:
        return 0, b"", {}


def get(path: str, user: str | None = USERNAME, secret: str | None = None, timeout: float = 10) -> tuple[int, bytes]:
    """(HTTP status, body) of GET path; status 0 when nothing answers. user=None: anonymous."""
    status, body, _ = call("GET", path, user=user, secret=secret, timeout=timeout)
    return status, body
