"""Imported at start by the API processes of the fault tests (on their PYTHONPATH).

Each name in WOODY_TEST_VANISHED_NAMES (comma-separated) resolves as the name of a Swarm service
with no task left resolves through Docker's resolver (seen on the lab): no answer for 10 s, then
"Temporary failure in name resolution". Nothing else changes: every other name, the servers and
the API's code are the real ones.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

VANISHED = {name for name in os.environ.get("WOODY_TEST_VANISHED_NAMES", "").split(",") if name}
RESOLVER_SECONDS = 10.0
_getaddrinfo = socket.getaddrinfo


def _vanished_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host in VANISHED:
        time.sleep(RESOLVER_SECONDS)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    return _getaddrinfo(host, *args, **kwargs)


if VANISHED:
    socket.getaddrinfo = _vanished_getaddrinfo
