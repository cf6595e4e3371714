"""The WSGI entry point of hosted mode: ``gunicorn --config gunicorn.conf.py webapp.wsgi:server``.

``server`` is the Dash app's Flask server. Every gunicorn process builds its own app; none keeps state (jobs,
results and datasets live in Redis and the shared data directory), so any number of processes serve the same
users. Building the app touches neither Redis nor Celery: the job-queue client is made on the first request.
"""

from __future__ import annotations

from webapp.app import create_app

app = create_app()
server = app.server
