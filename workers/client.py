"""The job-queue client facade: the only place the web side touches Celery or Redis.

Every call is scoped to a team: another team's job or dataset is reported as absent (``None``), exactly like
an id that does not exist. Nothing is cached in the process, so any number of web processes agree.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import time
from pathlib import Path

import pandas as pd
import redis

from analysis.errors import AnalysisError
from analysis.loading import preflight
from workers import celery_app, storage
from workers.config import KEY_PREFIX, QUEUE, Settings
from workers.params import normalise
from workers.registry import (
    CANCELLED,
    FAILED,
    FINAL,
    QUEUED,
    REJECTED,
    RUNNING,
    Registry,
    TooManyJobs,
    connect,
    part_task_id,
)

log = logging.getLogger("workers.client")

UPLOAD_SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".xls", ".parquet", ".pq")
MAX_RECOVERIES = 2


def upload_name(filename: str) -> str:
    """The name an upload is called by: its last path part, without control characters, at most 120 characters
    (the suffix kept), ``upload`` when nothing is left."""
    name = re.sub(r"[\x00-\x1f\x7f]", "", Path(str(filename).replace("\\", "/")).name).strip()
    if len(name) > 120:
        suffix = Path(name).suffix[:10]
        name = name[: 120 - len(suffix)] + suffix
    return name if name not in ("", ".", "..") else "upload"


class QueueUnavailable(RuntimeError):
    """Redis cannot be reached: the web app shows "queue unavailable" instead of crashing."""


class Client:
    """submit / status / list_jobs / cancel / result / datasets, for one team at a time."""

    def __init__(self, settings: Settings | None = None, redis_client: redis.Redis | None = None, *,
                 patient: bool = True) -> None:
        """``patient=False`` (web requests) reports an unreachable Redis within about a second instead of
        retrying for a minute."""
        # The process-wide app for the environment's settings; a private one for explicit settings (tests, tools).
        self.settings = settings or celery_app.settings
        self.app = celery_app.app if settings is None else celery_app.make_celery(settings)
        self.registry = Registry(redis_client or connect(self.settings.redis_url, patient=patient),
                                 data_dir=self.settings.data_dir)

    # ---- datasets --------------------------------------------------------------------------------------------

    def add_upload(self, filename: str, content: bytes, *, owner: str, team: str,
                   mapping: dict[str, str] | None = None, sheet: str | int = 0) -> dict:
        """Queue an uploaded file for validation and storage; returns the ingest job.

        Cheap checks run here, in the caller's process, and raise :class:`AnalysisError` before anything is
        stored or queued: the type, an empty file, what the first and last bytes show (a program, an image, an
        archive, a truncated Parquet file, HTML or JSON) and the header line (no line break, too many columns,
        mixed delimiters): :func:`analysis.loading.preflight`, no parsing. Parsing runs in a worker: the
        dataset appears in :meth:`datasets` when the job is done. A file the worker rejects leaves no dataset,
        no job record and no stored bytes behind; :meth:`upload_status` gives its message.
        """
        name = upload_name(filename)
        suffix = Path(name).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            raise AnalysisError(f"File '{name}' has an unsupported type; upload CSV, XLSX or Parquet.", file=name)
        digest = hashlib.sha256(content).hexdigest()[:32]
        path = self.settings.uploads_dir / f"{digest}{suffix}"
        self._store_checked(name, content, path)
        return self._ingest(path, name, digest, mapping, sheet, owner=owner, team=team)

    def _store_checked(self, name: str, content: bytes, path: Path) -> None:
        """Write an upload to ``path`` if :func:`analysis.loading.preflight` accepts it (it reads the first and last
        bytes and the header line, no parsing), else raise its :class:`AnalysisError` and leave nothing behind.

        Written even when ``path`` exists: a rejection of the same bytes may be deleting them right now."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".check-") as folder:
            candidate = Path(folder) / name  # messages name the file as the user called it
            candidate.write_bytes(content)
            preflight(candidate)
            os.replace(candidate, path)

    def reimport(self, sha: str, suffix: str, name: str, *, owner: str, team: str,
                 mapping: dict[str, str] | None = None, sheet: str | int = 0) -> dict:
        """Import a file this team uploaded before again (e.g. with another column mapping); returns the ingest
        job. A file another team uploaded is reported as missing, like one never uploaded."""
        stored = f"{sha}{suffix.lower()}"
        if not re.fullmatch(r"[0-9a-f]{32}\.[a-z]{2,7}", stored) or not self._guard(
                self.registry.r.sismember, f"{KEY_PREFIX}uploads:{team}", stored):
            raise AnalysisError(f"The uploaded file '{Path(name).name}' is no longer available; upload it again.")
        path = self.settings.uploads_dir / stored
        if not path.exists():
            raise AnalysisError(f"The uploaded file '{Path(name).name}' is no longer available; upload it again.")
        return self._ingest(path, Path(name).name, sha, mapping, sheet, owner=owner, team=team)

    def _ingest(self, path: Path, name: str, digest: str, mapping, sheet, *, owner: str, team: str) -> dict:
        params = {"upload": storage.relative(self.settings, path), "name": name, "sha": digest,
                  "mapping": dict(mapping or {}), "sheet": sheet}
        return self._submit("ingest", "", params, owner=owner, team=team)

    def add_file(self, path: str | Path, *, owner: str, team: str, mapping: dict[str, str] | None = None) -> dict:
        path = Path(path)
        return self.add_upload(path.name, path.read_bytes(), owner=owner, team=team, mapping=mapping)

    def add_demo(self, *, owner: str, team: str, rows: int = 200_000, seed: int = 0) -> dict:
        """Queue the built-in demo dataset (generated by a worker); returns the ingest job."""
        params = {"demo": True, "rows": int(rows), "seed": int(seed), "name": f"Demo shop ({rows:,} rows)"}
        return self._submit("ingest", "", params, owner=owner, team=team)

    def datasets(self, *, team: str) -> list[dict]:
        """The team's datasets, newest first (metadata: id, name, shape, rows, columns, mapping, quality...)."""
        return self._guard(self.registry.list_datasets, team)

    def dataset(self, dataset_id: str, *, team: str) -> dict | None:
        return self._guard(self.registry.get_dataset, team, dataset_id)

    # ---- jobs ------------------------------------------------------------------------------------------------

    def submit(self, kind: str, dataset_id: str, params: dict | None = None, *, owner: str, team: str) -> dict:
        """Queue a ``describe``, ``cluster`` or ``sweep`` job, or return the job already answering the same
        dataset and normalised parameters (unless it failed or was cancelled)."""
        meta = self.dataset(dataset_id, team=team)
        if meta is None:
            raise AnalysisError(f"Dataset {dataset_id} does not exist.")
        normalised = normalise(kind, params, default_features=meta.get("default_features") or [])
        if kind == "cluster" and normalised["k"] > meta.get("customers", normalised["k"]):
            raise AnalysisError(f"Asked for {normalised['k']} clusters but dataset '{meta['name']}' has only "
                                f"{meta['customers']} customers.")
        return self._submit(kind, dataset_id, normalised, owner=owner, team=team)

    def _submit(self, kind: str, dataset_id: str, params: dict, *, owner: str, team: str) -> dict:
        total = len(params["k_values"]) if kind == "sweep" else 1
        job, created = self._guard(self.registry.create_job, kind=kind, dataset_id=dataset_id, params=params,
                                   owner=owner, team=team, total=total,
                                   max_active=self.settings.team_max_active_jobs)
        if created:
            try:
                self._dispatch(job)
            except Exception as exc:  # broker unreachable: do not leave a queued job with nothing behind it
                log.exception("could not queue the tasks of job %s", job["id"])
                self._guard(self.registry.fail, job["id"], "The job could not be queued (the queue was unreachable); "
                                                           "submit it again.")
                raise QueueUnavailable(f"The job queue is not reachable: {exc}") from exc
        return job

    def _dispatch(self, job: dict, *, only: list[int] | None = None) -> None:
        job_id = job["id"]
        if job["kind"] == "sweep":
            # Largest k first: the longest parts start first, so the workers finish together.
            for k in sorted(only if only is not None else job["params"]["k_values"], reverse=True):
                self.app.send_task("segments.sweep_part", args=[job_id, k], task_id=part_task_id(job_id, k),
                              queue=QUEUE)
        else:
            self.app.send_task(f"segments.{job['kind']}", args=[job_id], task_id=job_id, queue=QUEUE)

    def status(self, job_id: str, *, team: str) -> dict | None:
        """The job record (None if absent or another team's). Stale running jobs are recovered first."""
        job = self._guard(self.registry.get_for_team, job_id, team)
        return self._recover(job) if job else None

    def upload_status(self, job_id: str, *, team: str) -> dict | None:
        """The ingest job of an upload (:meth:`status`), or, once the worker rejected the file and removed the
        job, a record with status ``"rejected"`` and the ``error`` message (kept for an hour); None if neither."""
        return self.status(job_id, team=team) or self._guard(self.registry.rejection, team, job_id)

    def list_jobs(self, *, team: str, offset: int = 0, limit: int = 20) -> dict:
        """``{"jobs": [...newest first], "total": n}``."""
        jobs = self._guard(self.registry.list_jobs, team, offset=offset, limit=limit)
        return {"jobs": [self._recover(j) for j in jobs], "total": self._guard(self.registry.count_jobs, team)}

    def cancel(self, job_id: str, *, team: str) -> dict | None:
        """Cancel a queued or running job: revoke its tasks (killing running ones); None if absent."""
        job = self.status(job_id, team=team)
        if job is None:
            return None
        if job["status"] not in FINAL:
            self._guard(self.registry.cancel, job_id)
            ids = ([part_task_id(job_id, k) for k in job["params"]["k_values"]] + [f"{job_id}-join"]
                   if job["kind"] == "sweep" else [job_id])
            self.app.control.revoke(ids, terminate=True, signal="SIGKILL")
        return self._guard(self.registry.get, job_id)

    def result(self, job_id: str, name: str, *, team: str) -> dict | pd.DataFrame | None:
        """A result of a finished job by name (``describe``, ``sweep``, ``segments``, ``membership``, ...)."""
        job = self.status(job_id, team=team)
        if job is None or name not in job["result_keys"]:
            return None
        location = job["result_keys"][name]
        if location.startswith(KEY_PREFIX):
            return self.registry.get_result(location)
        if re.fullmatch(r"[0-9a-f]{16}", location):  # a dataset id (ingest jobs)
            return self.dataset(location, team=team)
        path = storage.resolve(self.settings, location)
        return pd.read_parquet(path) if path.suffix == ".parquet" else None

    def result_path(self, job_id: str, name: str, *, team: str) -> Path | None:
        """The file behind a file result (e.g. ``membership_csv`` to send as a download), or None."""
        job = self.status(job_id, team=team)
        location = (job or {}).get("result_keys", {}).get(name)
        if not location or location.startswith(KEY_PREFIX) or re.fullmatch(r"[0-9a-f]{16}", location):
            return None
        path = storage.resolve(self.settings, location)
        return path if path.exists() else None

    # ---- health and recovery ---------------------------------------------------------------------------------

    def health(self, *, ping_workers: bool = True) -> dict:
        """``{"redis": bool, "queue_length": n, "workers": [names]}`` for status pages and monitoring."""
        try:
            self.registry.r.ping()
            queue_length = int(self.registry.r.llen(QUEUE))
        except redis.RedisError:
            return {"redis": False, "queue_length": None, "workers": []}
        workers: list[str] = []
        if ping_workers:
            replies = self.app.control.ping(timeout=1.0) or []
            workers = sorted(name for reply in replies for name in reply)
        return {"redis": True, "queue_length": queue_length, "workers": workers}

    def _recover(self, job: dict) -> dict:
        """A running or queued job with no news for ``stale_after`` seconds lost its tasks (e.g. Redis lost its
        last second of writes): send the missing tasks again, at most twice; then fail it with a message."""
        if job["status"] not in (QUEUED, RUNNING):
            return job
        if time.time() - (job["updated"] or job["created"]) < self.settings.stale_after:
            return job
        if job["status"] == QUEUED and int(self.registry.r.llen(QUEUE)) > 0:
            return job  # still waiting its turn behind other work, not lost
        token = self.registry.acquire(f"recover:{job['id']}", ttl=30)
        if token is None:
            return job
        try:
            if job["attempts"] >= MAX_RECOVERIES:
                self.registry.fail(job["id"], "The job was interrupted (no worker reported progress for "
                                              f"{self.settings.stale_after:g} s) and could not be resumed.")
            else:
                missing = None
                if job["kind"] == "sweep":
                    parts = self.registry.parts(job["id"])
                    missing = [k for k in job["params"]["k_values"] if str(k) not in parts]
                self.registry.heartbeat(job["id"], attempts=job["attempts"] + 1, message="Resuming")
                log.warning("resuming stale job %s (attempt %d)", job["id"], job["attempts"] + 1)
                if missing == []:
                    self.app.send_task("segments.sweep_join", args=[job["id"]], queue=QUEUE)
                else:
                    self._dispatch(job, only=missing)
        finally:
            self.registry.release(f"recover:{job['id']}", token)
        return self.registry.get(job["id"]) or job

    def _guard(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except redis.RedisError as exc:
            raise QueueUnavailable(f"The job queue (Redis at {_safe_url(self.settings.redis_url)}) is not "
                                   f"reachable: {exc}") from exc


def _safe_url(url: str) -> str:
    """A Redis URL without its password."""
    return re.sub(r"//[^@/]*@", "//***@", url)


__all__ = ["CANCELLED", "FAILED", "REJECTED", "Client", "QueueUnavailable", "TooManyJobs"]
