"""Gunicorn settings of hosted mode: ``gunicorn --config gunicorn.conf.py webapp.wsgi:server`` (compose ``web``).

Several processes with a few threads each serve the Dash app; none keeps state, so any of them answers any
request. Read from the environment (empty means the default):

| variable | default | meaning |
|---|---|---|
| ``GUNICORN_BIND`` | ``0.0.0.0:8050`` | address and port to listen on |
| ``GUNICORN_WORKERS`` | ``4`` | processes |
| ``GUNICORN_THREADS`` | ``4`` | threads per process (``gthread`` workers) |
| ``GUNICORN_TIMEOUT`` | ``120`` s | a process whose heartbeat stops this long is killed and replaced |
| ``GUNICORN_ACCESS_LOG`` | off | ``-`` logs every request to stdout (the job list polls once a second) |

Gunicorn reads ``FORWARDED_ALLOW_IPS`` (proxies trusted for ``X-Forwarded-*``) and ``GUNICORN_CMD_ARGS`` itself.
"""

from __future__ import annotations

import os


def _whole(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"Environment variable {name}={raw!r} is not a whole number.") from None
    if value < 1:
        raise ValueError(f"Environment variable {name} must be at least 1 (got {raw}).")
    return value


bind = os.environ.get("GUNICORN_BIND", "").strip() or "0.0.0.0:8050"
workers = _whole("GUNICORN_WORKERS", 4)
worker_class = "gthread"
threads = _whole("GUNICORN_THREADS", 4)
timeout = _whole("GUNICORN_TIMEOUT", 120)
graceful_timeout = 30  # on SIGTERM, requests in flight get this long (compose: stop_grace_period 40s)
# Idle keep-alive connections are closed after this; a browser's next request on one can race the close (it then
# sends it again). Longer than the gaps of a polling page between navigations (the load test saw the race at 5 s);
# gthread keeps idle connections in its poller, not in a thread.
keepalive = 20
# The app is built once in the master and forked: building it takes ~2.5 s of CPU, which a restarting process
# would otherwise spend while its siblings serve everyone (the load test saw 6 s stalls). Building it touches
# neither Redis nor Celery (clients are made on each process's first request), so forking it is safe.
preload_app = True
# Restart each process after a while (with jitter, so not all at once): bounds any slow memory growth. A polling
# browser sends ~2 requests a second, so 2000 meant a restart every ~20 s under load; with preload a restart is a
# fork, and each process's cache of rendered results starts empty again.
max_requests = 20000
max_requests_jitter = 2000
# Heartbeat files on tmpfs: a container's /tmp is an overlay file system, which can stall the heartbeat.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# No gunicornc control socket: nothing uses it, and two servers on one machine would share its default path.
control_socket_disable = True
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "").strip() or None
errorlog = "-"
loglevel = "info"
proc_name = "segments-web"
