"""Download routes of a finished cluster job, checked against the viewer's team like every other read.

* ``GET /download/<job id>/membership.csv``: one row per customer (formula-injection safe, see ``webapp.exports``);
* ``GET /download/<job id>/report.html``: a self-contained HTML report (``webapp.report``).

Another team's job, an unknown id, or a job that is not a finished cluster job answers 404 (the same answer for
all, so ids of other teams cannot be probed); an unavailable queue answers 503.
"""

from __future__ import annotations

import logging
import re

import flask

from webapp.identity import TeamClient, team_client
from workers.client import QueueUnavailable

log = logging.getLogger("webapp.downloads")

JOB_ID = re.compile(r"[0-9a-f]{8,64}")


def related_results(tc: TeamClient, job: dict) -> tuple[dict | None, dict | None]:
    """The sweep and describe results that belong with a cluster job (same dataset and settings), if done."""
    p = job.get("params") or {}
    sweep = describe = None
    for other in tc.list_jobs(limit=100)["jobs"]:
        if other["dataset_id"] != job["dataset_id"] or other["status"] != "done":
            continue
        q = other.get("params") or {}
        same_data = q.get("rules") == p.get("rules") and q.get("as_of") == p.get("as_of")
        if other["kind"] == "describe" and describe is None and same_data:
            describe = tc.result(other["id"], "describe")
        elif other["kind"] == "sweep" and sweep is None and same_data and all(
                q.get(key) == p.get(key) for key in ("features", "log", "scaling")):
            sweep = tc.result(other["id"], "sweep")
        if sweep is not None and describe is not None:
            break
    return sweep, describe


def _finished_cluster_job(tc: TeamClient, job_id: str) -> dict:
    if not JOB_ID.fullmatch(job_id):
        flask.abort(404)
    job = tc.status(job_id)
    if job is None or job["kind"] != "cluster" or job["status"] != "done":
        flask.abort(404)
    return job


def _attachment(body: str, mimetype: str, filename: str) -> flask.Response:
    response = flask.Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def membership_csv_view(job_id: str) -> flask.Response:
    from webapp.exports import membership_csv

    tc = team_client()
    filename = f"segments-{job_id}-membership.csv"
    try:
        _finished_cluster_job(tc, job_id)
        path = tc.result_path(job_id, "membership_csv")
        if path is not None:  # written (formula-safe) by the worker: streamed, never loaded here
            response = flask.send_file(path, mimetype="text/csv", as_attachment=True, download_name=filename,
                                       max_age=0)
            response.headers["Cache-Control"] = "no-store"
            response.headers["X-Content-Type-Options"] = "nosniff"
            return response
        membership = tc.result(job_id, "membership")  # runs from before the worker wrote the CSV
    except QueueUnavailable as exc:
        log.warning("download %s: %s", job_id, exc)
        flask.abort(503, description="The job queue is unavailable; try again later.")
    if membership is None:
        flask.abort(404)
    return _attachment(membership_csv(membership), "text/csv; charset=utf-8", filename)


def report_view(job_id: str) -> flask.Response:
    from webapp.report import build_report_html

    tc = team_client()
    try:
        job = _finished_cluster_job(tc, job_id)
        segments = tc.result(job_id, "segments")
        membership = tc.result(job_id, "sample")  # the report's charts draw a display sample
        if membership is None:
            membership = tc.result(job_id, "membership")
        if segments is None or membership is None:
            flask.abort(404)
        sweep, describe = related_results(tc, job)
    except QueueUnavailable as exc:
        log.warning("report %s: %s", job_id, exc)
        flask.abort(503, description="The job queue is unavailable; try again later.")
    meta = tc.dataset(job["dataset_id"])
    name = (meta or {}).get("name") or segments.get("dataset_name") or job["dataset_id"]
    html = build_report_html(title=f"Customer segments: {name} (k={job['params'].get('k')})", job=job,
                             segments=segments, membership=membership, sweep=sweep, describe=describe)
    return _attachment(html, "text/html; charset=utf-8", f"segments-{job_id}-report.html")


def register_downloads(server: flask.Flask) -> None:
    server.add_url_rule("/download/<job_id>/membership.csv", "download_membership", membership_csv_view,
                        methods=["GET"])
    server.add_url_rule("/download/<job_id>/report.html", "download_report", report_view, methods=["GET"])
