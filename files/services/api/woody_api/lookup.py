"""Name lookups with a bound.

A service with no task left (scaled to 0, all tasks gone) no longer resolves, and Docker's
resolver takes about 10 s to say so ("Temporary failure in name resolution"). getaddrinfo
cannot be given a timeout, so it runs in a thread of its own and the caller waits for it at
most ``timeout`` seconds; a lookup that outlives its caller ends by itself.
"""

from __future__ import annotations

import ipaddress
import socket
import threading


class LookupFailed(OSError):
    """The name did not resolve within the bound (or does not resolve)."""


def is_address(host: str) -> bool:
    """An IP literal, which needs no lookup."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def resolve(host: str, port: int, timeout: float) -> str:
    """The first IPv4/IPv6 address of ``host``, within ``timeout`` seconds."""
    if is_address(host):
        return host
    found: list[str] = []
    errors: list[OSError] = []

    def look_up() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            found.extend(str(info[4][0]) for info in infos)
        except OSError as exc:
            errors.append(exc)

    worker = threading.Thread(target=look_up, name=f"woody-lookup-{host}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise LookupFailed(f"no answer for {host} within {timeout:g} s")
    if errors:
        raise LookupFailed(f"{host} does not resolve: {errors[0]}")
    if not found:
        raise LookupFailed(f"{host} resolves to no address")
    return found[0]
