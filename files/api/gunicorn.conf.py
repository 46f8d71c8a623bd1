"""gunicorn settings from the environment.

Default: ONE worker process with ONE thread, so a replica serves one request at a time
(the contract's deliberate bottleneck). API_WORKERS / API_THREADS lift it.
"""

import os

bind = f"{os.environ.get('API_BIND', '0.0.0.0')}:{os.environ.get('API_PORT', '5000')}"
workers = int(os.environ.get("API_WORKERS", "1"))
threads = int(os.environ.get("API_THREADS", "1"))
worker_class = "sync" if threads == 1 else "gthread"
timeout = int(os.environ.get("API_TIMEOUT", "120"))
# On SIGTERM (a rolling update, a scale-down) the worker finishes the request it serves before
# it exits: the longest one is the DB API (15 s sleep by default). The stack's
# stop_grace_period must be longer, else Docker kills the worker first.
graceful_timeout = int(os.environ.get("API_GRACEFUL_TIMEOUT", "30"))
accesslog = "-" if os.environ.get("API_ACCESS_LOG", "1") == "1" else None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# gunicorn's control socket would need a writable $HOME; the image runs as a bare uid.
control_socket_disable = True
