"""Who is asking: the user and team every job-queue call is made for.

* Local mode (``python -m workers run``, no ``HOSTED_MODE`` / ``USERS_FILE``): no sign-in; everyone is user
  ``local`` of team ``local`` and the navbar shows a "local mode" badge.
* Hosted mode (:mod:`webapp.auth`): the signed-in user and the team the users file gives them. A request without
  a signed-in user never gets an identity (:class:`NotSignedIn`, HTTP 401), so it can never fall back to another
  team.

Every client call of the web app goes through :func:`team_client`, which binds the identity's team (and user, as
the owner of new jobs) to each call; the client answers another team's ids like unknown ones.

The job-queue client itself is kept on the Flask app (``server.extensions``), made lazily on first use, so
importing the web app touches neither Redis nor Celery and each app (tests make several) has its own.
"""

from __future__ import annotations

import threading
from typing import NamedTuple

import flask
from werkzeug.exceptions import Unauthorized

from workers.client import Client

EXTENSION = "segments_client"
AUTH_EXTENSION = "segments_auth"  # set by webapp.auth.install in hosted mode
LOCAL_USER = LOCAL_TEAM = "local"


class Identity(NamedTuple):
    user: str
    team: str


LOCAL = Identity(LOCAL_USER, LOCAL_TEAM)


class NotSignedIn(Unauthorized):
    description = "Sign in first."


def _hosted() -> bool:
    return flask.has_app_context() and flask.current_app.extensions.get(AUTH_EXTENSION) is not None


def local_mode() -> bool:
    """True while the app has no sign-in (the navbar says so)."""
    return not _hosted()


def signed_in() -> Identity | None:
    """The signed-in user's identity in hosted mode, else None (also outside a request)."""
    if not _hosted() or not flask.has_request_context():
        return None
    from flask_login import current_user

    if current_user is None or not current_user.is_authenticated:
        return None
    return Identity(current_user.name, current_user.team)


def current_identity() -> Identity:
    """``(user, team)`` of the request being served: ``("local", "local")`` in local mode, the signed-in user and
    their team in hosted mode (:class:`NotSignedIn` when nobody is signed in)."""
    if not _hosted():
        return LOCAL
    identity = signed_in()
    if identity is None:
        raise NotSignedIn()
    return identity


class LazyClient:
    """The app's :class:`Client`, made on first use (tests hand one in). Thread-safe; one per app."""

    def __init__(self, client: Client | None = None) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __call__(self) -> Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = Client(patient=False)
        return self._client


def install(server: flask.Flask, client: Client | None = None) -> LazyClient:
    """Attach the (lazy) client to a Flask app; returns the getter."""
    getter = LazyClient(client)
    server.extensions[EXTENSION] = getter
    return getter


class TeamClient:
    """The client facade with the identity bound: the only way pages and routes reach the job queue."""

    def __init__(self, client: Client, identity: Identity) -> None:
        self.client = client
        self.user, self.team = identity

    # datasets
    def datasets(self) -> list[dict]:
        return self.client.datasets(team=self.team)

    def dataset(self, dataset_id: str | None) -> dict | None:
        return self.client.dataset(dataset_id, team=self.team) if dataset_id else None

    def add_demo(self) -> dict:
        return self.client.add_demo(owner=self.user, team=self.team)

    def add_upload(self, filename: str, content: bytes, *, mapping: dict[str, str] | None = None) -> dict:
        return self.client.add_upload(filename, content, owner=self.user, team=self.team, mapping=mapping)

    def reimport(self, name: str, sha: str, suffix: str, *, mapping: dict[str, str] | None = None) -> dict:
        """Import an earlier upload of this team again (the queue keeps it; another team's hash is refused)."""
        return self.client.reimport(sha, suffix, name, owner=self.user, team=self.team, mapping=mapping)

    # jobs
    def submit(self, kind: str, dataset_id: str, params: dict | None = None) -> dict:
        return self.client.submit(kind, dataset_id, params, owner=self.user, team=self.team)

    def status(self, job_id: str | None) -> dict | None:
        return self.client.status(job_id, team=self.team) if job_id else None

    def upload_status(self, job_id: str | None) -> dict | None:
        """An upload's ingest job, or its rejection (status ``"rejected"``, with the message) once the worker
        refused the file and removed the job."""
        return self.client.upload_status(job_id, team=self.team) if job_id else None

    def list_jobs(self, *, offset: int = 0, limit: int = 50) -> dict:
        return self.client.list_jobs(team=self.team, offset=offset, limit=limit)

    def cancel(self, job_id: str) -> dict | None:
        return self.client.cancel(job_id, team=self.team)

    def result(self, job_id: str, name: str):
        return self.client.result(job_id, name, team=self.team)

    def result_path(self, job_id: str, name: str):
        return self.client.result_path(job_id, name, team=self.team)


def team_client(server: flask.Flask | None = None) -> TeamClient:
    """The job-queue client of the current app, scoped to the current identity (call inside a request)."""
    app = server or flask.current_app
    return TeamClient(app.extensions[EXTENSION](), current_identity())
