"""The WSGI entry point of hosted mode: ``gunicorn --config gunicorn.conf.py webapp.wsgi:server``.

``server`` is the Dash app's Flask server. Every gunicorn process builds its own app; none keeps state (jobs,
results and datasets live in Redis and the shared data directory, sign-in sessions in signed cookies), so any
number of processes serve the same users. Building the app touches neither Redis nor Celery: the job-queue client
is made on the first request. A misconfigured hosted mode (e.g. no ``SECRET_KEY``) stops the start with a line
naming the variable.
"""

from __future__ import annotations

import sys

from webapp.app import create_app
from webapp.auth import HostedModeError

try:
    app = create_app()
except HostedModeError as exc:
    print(f"error: {exc}", file=sys.stderr, flush=True)
    raise
server = app.server
