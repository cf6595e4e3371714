"""Celery tasks, each as thin as a web view: load by id, call ``analysis``, store, update the job record.

Delivery is at-least-once (late acknowledgement), so every task may run twice: results are written whole
(one Redis ``SET`` or a file renamed into place), a final job status is never changed again, and the sweep's
join is guarded by a lock and by the count of stored parts.

A user-caused problem (:class:`AnalysisError`) fails the job with its message; anything else fails it with
a short message and the traceback in the worker log. Both re-raise so Celery records the failure.
"""

from __future__ import annotations

import functools
import json
import logging

import pandas as pd
from celery import signals
from celery.exceptions import SoftTimeLimitExceeded, WorkerLostError

from analysis import pipeline
from analysis.clustering import SweepPoint, SweepResult, evaluate_k
from analysis.errors import AnalysisError
from analysis.exports import neutralise_formulas
from analysis.normalize import Dataset
from analysis.projection import project_2d
from analysis.sampling import stratified_sample
from workers import storage
from workers.celery_app import app, settings
from workers.registry import Registry, connect, part_task_id

log = logging.getLogger("workers.tasks")

# A task whose worker process dies is sent again after 1 s, at most WORKER_LOST_MAX_RETRIES times.
TASK_OPTIONS = {"bind": True, "max_retries": settings.worker_lost_max_retries, "default_retry_delay": 1}

DISPLAY_SAMPLE = 5000  # customers in the chart sample of a cluster job

TASK_NAMES = ("segments.ingest", "segments.describe", "segments.cluster", "segments.sweep_part",
              "segments.sweep_join")


@functools.cache
def registry() -> Registry:
    """This process's registry (one connection pool per process)."""
    return Registry(connect(settings.redis_url))


class JobFailed(Exception):
    """Raised after the job record says failed, so Celery records the task as failed too."""


def _run(job_id: str, what: str, body, *, current: str | None = None):
    """Run ``body(job)`` for a job that is not final; turn errors into a failed job with a message.

    ``current``: the Celery id of the running task (not revoked when a failure stops the job's other tasks).
    """
    reg = registry()
    job = reg.get(job_id)
    if job is None:
        raise JobFailed(f"job {job_id} does not exist")
    if job["status"] in ("done", "failed", "cancelled"):
        log.info("job %s is %s; skipping %s", job_id, job["status"], what)
        return None
    try:
        return body(job)
    except AnalysisError as exc:
        reg.fail(job_id, exc.message)
        _revoke_parts(job, current=current)
        raise JobFailed(exc.message) from exc
    except SoftTimeLimitExceeded as exc:
        message = f"{what} took longer than the {settings.soft_time_limit:g} s limit and was stopped."
        reg.fail(job_id, message)
        _revoke_parts(job, current=current)
        raise JobFailed(message) from exc
    except Exception as exc:
        log.exception("job %s (%s, dataset %s) failed in %s", job_id, job["kind"], job["dataset_id"], what)
        reg.fail(job_id, f"Internal error in {what} ({type(exc).__name__}); the worker log has the details "
                         f"under job {job_id}.")
        _revoke_parts(job, current=current)
        raise


def _revoke_parts(job: dict, *, current: str | None = None) -> None:
    """Stop the other parts of a failed sweep: queued ones are skipped, running ones killed (like a cancel)."""
    if job["kind"] == "sweep":
        ids = [part_task_id(job["id"], k) for k in job["params"].get("k_values", [])] + [f"{job['id']}-join"]
        app.control.revoke([i for i in ids if i != current], terminate=True, signal="SIGKILL")


# ---- loading -------------------------------------------------------------------------------------------------

def _dataset(job: dict) -> Dataset:
    meta = registry().get_dataset(job["team"], job["dataset_id"])
    if meta is None:
        raise AnalysisError(f"Dataset {job['dataset_id']} does not exist (or was deleted).")
    try:
        return storage.load_dataset(settings, meta["id"], shape=meta["shape"], mapping=meta["mapping"],
                                    source=meta["name"], notes=meta["notes"], raw_rows=meta["rows"],
                                    raw_columns=meta["columns"])
    except FileNotFoundError as exc:
        raise AnalysisError(f"The file of dataset '{meta['name']}' ({meta['id']}) is missing from the data "
                            "directory.") from exc


def _prepared(job: dict) -> pipeline.Prepared:
    p = job["params"]
    return pipeline.prepare(_dataset(job), rules=p["rules"], as_of=p["as_of"])


def _feature_set(job: dict) -> pipeline.FeatureSet:
    p = job["params"]
    return pipeline.feature_set(_prepared(job), p["features"], log=p["log"], scaling=p["scaling"])


# ---- ingest --------------------------------------------------------------------------------------------------

@app.task(name="segments.ingest", **TASK_OPTIONS)
def ingest(self, job_id: str) -> str | None:
    """Validate and normalise an uploaded file, store it as Parquet and record the dataset's metadata."""

    def body(job: dict) -> str:
        reg = registry()
        p = job["params"]
        reg.mark_running(job_id, f"Reading {p['name']}")
        if p.get("demo"):
            dataset = pipeline.demo_dataset(p["rows"], seed=p["seed"])
            dataset.source = p["name"]
        else:
            dataset = pipeline.load_dataset(storage.resolve(settings, p["upload"]), mapping=p.get("mapping") or None,
                                            sheet=p.get("sheet", 0), name=p["name"])
        reg.heartbeat(job_id, message="Checking data quality")
        prepared = pipeline.prepare(dataset)
        ds_id = storage.store_dataset(settings, dataset, rule_bits=prepared.rule_bits)
        meta = {
            "id": ds_id, "name": p["name"], "owner": job["owner"], "team": job["team"], "created": job["created"],
            **{k: v for k, v in dataset.info().items() if k != "file"},
            "quality": prepared.quality.to_dict() if prepared.quality else None,
            "default_features": pipeline.default_feature_names(prepared),
            "customers": pipeline.customer_count(prepared),
            "demo": bool(p.get("demo")),
        }
        reg.put_dataset(job["team"], meta)
        reg.finish(job_id, result_keys={"dataset": ds_id}, message=f"Dataset {p['name']} is ready")
        return ds_id

    # The upload is kept (content-addressed, so a re-upload costs nothing): the user may import it again with
    # another column mapping.
    return _run(job_id, "reading the file", body)


# ---- describe and cluster ------------------------------------------------------------------------------------

@app.task(name="segments.describe", **TASK_OPTIONS)
def describe(self, job_id: str) -> str | None:
    """Quality report and descriptive statistics of a dataset."""

    def body(job: dict) -> str:
        reg = registry()
        reg.mark_running(job_id, "Computing statistics")
        result = pipeline.describe(_prepared(job))
        key = reg.put_result(job_id, "describe", result)
        reg.finish(job_id, result_keys={"describe": key})
        return key

    return _run(job_id, "describing the data", body)


@app.task(name="segments.cluster", **TASK_OPTIONS)
def cluster(self, job_id: str) -> str | None:
    """K-means at one k with profiles, names, outliers and advice; membership as Parquet."""

    def body(job: dict) -> str:
        reg = registry()
        p = job["params"]
        reg.mark_running(job_id, f"Fitting K-means with k={p['k']}")
        prepared = _prepared(job)
        fs = pipeline.feature_set(prepared, p["features"], log=p["log"], scaling=p["scaling"])
        seg = pipeline.segment(fs, p["k"], random_state=p["random_state"], n_init=p["n_init"], prepared=prepared)
        coords, explained = project_2d(fs.matrix.values, random_state=p["random_state"])
        membership = seg.membership.join(coords)
        folder = storage.job_dir(settings, job_id)
        # The full table, a display sample (what charts read: a few thousand rows, small segments kept) and the
        # formula-safe CSV download, so the web never loads or converts a million rows per request.
        storage.atomic_write_parquet(folder / "membership.parquet", membership)
        storage.atomic_write_parquet(folder / "sample.parquet", stratified_sample(membership, DISPLAY_SAMPLE))
        csv = neutralise_formulas(membership.reset_index()).to_csv(index=False)
        storage.atomic_write_bytes(folder / "membership.csv", csv.encode("utf-8"))
        key = reg.put_result(job_id, "segments", {"features": fs.matrix.to_dict(), "projection_explained": explained,
                                                  "dataset_name": prepared.dataset.source,
                                                  "display_sample_size": min(len(membership), DISPLAY_SAMPLE),
                                                  **seg.to_dict()})
        reg.finish(job_id, result_keys={
            "segments": key,
            "membership": storage.relative(settings, folder / "membership.parquet"),
            "sample": storage.relative(settings, folder / "sample.parquet"),
            "membership_csv": storage.relative(settings, folder / "membership.csv"),
        })
        return key

    return _run(job_id, "clustering", body)


# ---- the k-sweep: one part per k, then a join ----------------------------------------------------------------

def _matrix(job: dict) -> tuple[pd.DataFrame, dict]:
    """The job's transformed feature matrix, computed once per job and shared by its parts via Parquet."""
    folder = storage.job_dir(settings, job["id"])
    values_path, info_path = folder / "matrix.parquet", folder / "matrix.json"
    if values_path.exists() and info_path.exists():
        return pd.read_parquet(values_path), json.loads(info_path.read_text())
    fs = _feature_set(job)
    info = fs.matrix.to_dict()
    storage.atomic_write_parquet(values_path, fs.matrix.values)
    storage.atomic_write_bytes(info_path, json.dumps(info).encode())
    return fs.matrix.values, info


@app.task(name="segments.sweep_part", **TASK_OPTIONS)
def sweep_part(self, job_id: str, k: int) -> dict | None:
    """Score one k; the part that completes the set sends the join."""

    def body(job: dict) -> dict:
        reg = registry()
        p = job["params"]
        reg.mark_running(job_id, f"Scoring k={k}")
        values, _ = _matrix(job)
        point = evaluate_k(values.to_numpy(dtype=float), k, random_state=p["random_state"], n_init=p["n_init"],
                           stability_seeds=p["stability_seeds"],
                           silhouette_sample_size=p["silhouette_sample_size"])
        total = len(p["k_values"])
        done = reg.save_part(job_id, str(k), point.to_dict(), total=total)
        if done >= total:
            sweep_join.apply_async((job_id,), task_id=f"{job_id}-join")
        return point.to_dict()

    return _run(job_id, f"scoring k={k}", body, current=self.request.id)


@app.task(name="segments.sweep_join", **TASK_OPTIONS)
def sweep_join(self, job_id: str) -> str | None:
    """Combine the parts into the sweep result and its recommendation (idempotent)."""

    def body(job: dict) -> str | None:
        reg = registry()
        p = job["params"]
        parts = reg.parts(job_id)
        missing = [k for k in p["k_values"] if str(k) not in parts]
        if missing:
            log.info("join of %s: waiting for k=%s", job_id, missing)
            return None
        # No lock: the result is one SET and a final status is never changed, so a second join (a redelivery,
        # or two last parts finishing together) writes the same result and changes nothing else.
        points = [SweepPoint.from_dict(parts[str(k)]) for k in p["k_values"]]
        values, info = _matrix(job)
        result = SweepResult.from_points(points, n_customers=len(values), n_features=values.shape[1],
                                         silhouette_sample_size=p["silhouette_sample_size"])
        body_ = {"features": info, "random_state": p["random_state"], "n_init": p["n_init"],
                 "stability_seeds": p["stability_seeds"], **result.to_dict()}
        key = reg.put_result(job_id, "sweep", body_)
        reg.finish(job_id, result_keys={"sweep": key}, message=f"Recommended k = {result.recommendation.k}")
        return key

    return _run(job_id, "choosing k", body)


@signals.task_failure.connect
def _worker_lost(sender=None, task_id=None, exception=None, args=None, **_kwargs) -> None:
    """A task whose worker process died more often than allowed fails its job with a message."""
    if isinstance(exception, WorkerLostError) and getattr(sender, "name", "") in TASK_NAMES and args:
        registry().fail(args[0], f"A worker process died {settings.worker_lost_max_retries + 1} times while "
                                 f"running this job ({sender.name}); it may need more memory.")
        job = registry().get(args[0])
        if job is not None:
            _revoke_parts(job, current=task_id)


