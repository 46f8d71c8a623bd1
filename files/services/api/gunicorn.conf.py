"""gunicorn settings from the environment.

One process (API_WORKERS) with several threads. The lab sheet's bottleneck is not the thread
count but the work slot (woody_api/capacity.py): one request does its work at a time
(API_ORIGIN_SLOTS=1), up to API_QUEUE_LIMIT more wait for it, and the remaining threads are
kept for what must never wait behind a miss: cache hits and the health check.
"""

import os

slots = int(os.environ.get("API_ORIGIN_SLOTS", "1"))
queue_limit = int(os.environ.get("API_QUEUE_LIMIT", "8"))
# Threads beyond the working and waiting requests: hits and health checks run on these.
spare_threads = 8

bind = f"{os.environ.get('API_BIND', '0.0.0.0')}:{os.environ.get('API_PORT', '5000')}"
workers = int(os.environ.get("API_WORKERS", "1"))
threads = int(os.environ.get("API_THREADS", str(slots + queue_limit + spare_threads)))
if threads <= slots + queue_limit:
    raise SystemExit(
        f"API_THREADS={threads} must exceed API_ORIGIN_SLOTS + API_QUEUE_LIMIT "
        f"({slots} + {queue_limit}): hits and health checks would wait behind the queue"
    )
worker_class = "gthread"
timeout = int(os.environ.get("API_TIMEOUT", "120"))
# The reverse proxy keeps connections to the API open (its upstream keepalive_timeout is
# shorter than this, so it never sends on a connection the API is closing).
keepalive = int(os.environ.get("API_KEEPALIVE", "10"))
# On SIGTERM (a rolling update, a scale-down) the worker finishes the requests it serves
# before it exits: the longest is a queued DB API request. The stack's stop_grace_period must
# be longer, else Docker kills the worker first.
graceful_timeout = int(os.environ.get("API_GRACEFUL_TIMEOUT", "30"))
accesslog = "-" if os.environ.get("API_ACCESS_LOG", "1") == "1" else None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# gunicorn's control socket would need a writable $HOME; the image runs as a bare uid.
control_socket_disable = True
