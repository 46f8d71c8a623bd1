"""Container health check without curl: ``python -m woody_api.healthcheck``.

Exit 0 when GET http://127.0.0.1:$API_PORT/api/ping answers 200 ``ping``, 1 otherwise.
HEALTHCHECK_URL and HEALTHCHECK_TIMEOUT (seconds, default 3) override the defaults.
"""

from __future__ import annotations

import os
import sys
import urllib.request


def check(url: str, timeout: float) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200 and response.read().strip() == b"ping"
    except OSError as exc:
        print(f"healthcheck: {url}: {exc}", file=sys.stderr)
        return False


def main() -> int:
    port = os.environ.get("API_PORT", "5000")
    url = os.environ.get("HEALTHCHECK_URL", f"http://127.0.0.1:{port}/api/ping")
    timeout = float(os.environ.get("HEALTHCHECK_TIMEOUT", "3"))
    return 0 if check(url, timeout) else 1


if __name__ == "__main__":
    sys.exit(main())
