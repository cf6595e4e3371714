"""``/healthz`` for monitoring and the launcher: ``{"status", "redis", "workers"}``, HTTP 200 when ok, else 503."""

from __future__ import annotations

import logging
from collections.abc import Callable

import flask

log = logging.getLogger("webapp.healthz")


def health_report(client) -> tuple[dict, int]:
    """``({"status": "ok"|"degraded", "redis": bool, "workers": n}, http status)``: ok needs Redis and a worker."""
    try:
        health = client.health()
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not fail
        log.warning("health check failed: %s", exc)
        health = {"redis": False, "workers": []}
    redis_ok = bool(health.get("redis"))
    workers = len(health.get("workers") or [])
    ok = redis_ok and workers > 0
    return {"status": "ok" if ok else "degraded", "redis": redis_ok, "workers": workers}, 200 if ok else 503


def register_healthz(server: flask.Flask, get_client: Callable[[], object]) -> None:
    """Add ``GET /healthz`` to ``server``; ``get_client()`` returns the app's job-queue client."""

    def healthz() -> flask.Response:
        body, code = health_report(get_client())
        response = flask.jsonify(body)
        response.status_code = code
        response.headers["Cache-Control"] = "no-store"
        return response

    server.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
