"""Shared UI pieces and pure helpers: navbar, alerts, job badges and summaries, formatting.

Everything here is a pure function of its arguments (no client calls), so tests can call it directly.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

import dash_bootstrap_components as dbc
from dash import dcc, html

from analysis.cleaning import DEFAULT_RULES  # constants only: the web never cleans data
from analysis.errors import AnalysisError
from webapp import ids
from workers.client import QueueUnavailable

log = logging.getLogger("webapp")

TITLE = "Segmentation workbench"
ACTIVE = ("queued", "running")
FINAL = ("done", "failed", "cancelled")
STATUS_COLORS = {"queued": "secondary", "running": "primary", "done": "success", "failed": "danger",
                 "cancelled": "warning"}
NAV = (("Data", "/"), ("Overview", "/overview"), ("Segments", "/segments"), ("Insights", "/insights"),
       ("Jobs", "/jobs"))
GRAPH_CONFIG = {"displaylogo": False, "responsive": True}
# The compact job record the app keeps in the browser (no result payloads).
JOB_KEYS = ("id", "kind", "status", "progress_done", "progress_total", "message", "error", "dataset_id", "owner",
            "created", "started", "finished", "params", "result_keys")


# Hosted mode's navbar items (webapp.app fills them in for the signed-in user).
NAV_USER = "nav-user"
NAV_SIGNOUT_FORM = "nav-signout-form"
NAV_SIGNOUT_TOKEN = "nav-signout-token"
NAV_SIGNOUT = "nav-signout"


# ---- layout pieces -------------------------------------------------------------------------------------------

def navbar(local: bool) -> dbc.Navbar:
    links = [dbc.NavItem(dbc.NavLink(label, href=href, active="exact", id=f"nav-{label.lower()}"))
             for label, href in NAV]
    right = [
        html.Span(id=ids.NAV_DATASET, className="navbar-text text-light me-3 small"),
        html.Span(id=ids.NAV_ACTIVE, className="me-2"),
    ]
    if local:
        right.append(dbc.Badge("local mode", id=ids.LOCAL_BADGE, color="warning", text_color="dark",
                               className="ms-1", title="No sign-in: everyone is user 'local' of team 'local'."))
    else:
        # Hosted mode: who is signed in is filled in by a callback (the layout is the same for every user: Dash
        # sends a validation copy of it to every browser). Signing out is a POST with the session's CSRF token.
        right.append(html.Span(id=NAV_USER, className="navbar-text text-light small ms-1"))
        right.append(html.Form([
            dcc.Input(type="hidden", name="csrf_token", id=NAV_SIGNOUT_TOKEN, value=""),
            html.Button("Sign out", type="submit", id=NAV_SIGNOUT, disabled=True,  # until the token is set
                        className="btn btn-link btn-sm text-light text-decoration-underline p-0 ms-3"),
        ], action="/logout", method="POST", id=NAV_SIGNOUT_FORM, className="d-inline m-0"))
    return dbc.Navbar(
        dbc.Container([
            dbc.NavbarBrand(TITLE, href="/"),
            dbc.Nav(links, navbar=True, className="me-auto"),
            html.Div(right, className="d-flex align-items-center"),
        ], fluid=True),
        color="dark", dark=True, className="mb-3",
    )


def page_header(title: str, lead: str | None = None) -> html.Div:
    children = [html.H2(title, className="mb-1")]
    if lead:
        children.append(html.P(lead, className="text-muted"))
    return html.Div(children, className="mb-3")


def graph(figure, graph_id: str | dict | None = None, height: int | None = None) -> dcc.Graph:
    kwargs = {"id": graph_id} if graph_id is not None else {}
    if height:
        kwargs["style"] = {"height": f"{height}px"}
    return dcc.Graph(figure=figure, config=GRAPH_CONFIG, **kwargs)


def card(title: str, body, *, card_id: str | None = None, class_name: str = "mb-3") -> dbc.Card:
    kwargs = {"id": card_id} if card_id else {}
    return dbc.Card([dbc.CardHeader(title), dbc.CardBody(body)], className=class_name, **kwargs)


def chart_card(title: str, figure, *, note: str | None = None, graph_id=None) -> dbc.Card:
    body = [graph(figure, graph_id)]
    if note:
        body.append(html.Small(note, className="text-muted"))
    return card(title, body)


def alert(message, color: str = "danger", **kwargs) -> dbc.Alert:
    return dbc.Alert(message, color=color, className="mb-3", **kwargs)


def error_alert(exc: BaseException, doing: str) -> dbc.Alert:
    """A readable message for the page; unexpected errors are logged with their traceback."""
    if isinstance(exc, QueueUnavailable):
        log.warning("queue unavailable while %s: %s", doing, exc)
        return alert(f"The job queue is unavailable, so {doing} is not possible right now: {exc}", "warning")
    if isinstance(exc, AnalysisError):
        return alert(exc.message, "danger")
    log.exception("error while %s", doing)
    return alert(f"Something went wrong while {doing} ({type(exc).__name__}); the server log has the details.",
                 "danger")


def spinner(text: str) -> html.Div:
    return html.Div([dbc.Spinner(size="sm", color="primary", spinner_class_name="me-2"), html.Span(text)],
                    className="d-flex align-items-center my-2 job-running")


def status_badge(status: str) -> dbc.Badge:
    return dbc.Badge(status, color=STATUS_COLORS.get(status, "secondary"), className="job-status")


def progress_bar(job: dict, bar_id: str | None = None) -> dbc.Progress:
    pct = progress_pct(job)
    kwargs = {"id": bar_id} if bar_id else {}
    return dbc.Progress(value=pct, label=f"{job.get('progress_done', 0)}/{job.get('progress_total', 1)}",
                        striped=job.get("status") in ACTIVE, animated=job.get("status") in ACTIVE,
                        color=STATUS_COLORS.get(job.get("status", ""), "primary"), style={"height": "1.2rem"},
                        **kwargs)


def job_running_view(job: dict, what: str) -> html.Div:
    """Spinner with the job's message, for a queued or running job."""
    return spinner(f"{what}: {job.get('message') or job.get('status')} (job {job['id']}, {job['status']})")


def job_problem(job: dict | None, what: str, job_id: str | None = None) -> dbc.Alert | None:
    """An alert for a job that is missing, failed or cancelled; None when it is fine."""
    if job is None:
        return alert(f"Job {job_id or ''} does not exist in your team.", "warning")
    if job["status"] == "failed":
        return alert(f"{what} failed: {job.get('error') or 'no message'}", "danger")
    if job["status"] == "cancelled":
        return alert(f"{what} was cancelled.", "warning")
    return None


# ---- pure helpers --------------------------------------------------------------------------------------------

def compact_job(job: dict) -> dict:
    return {key: job.get(key) for key in JOB_KEYS}


def jobs_active(jobs: list[dict]) -> bool:
    return any(j.get("status") in ACTIVE for j in jobs or [])


def find_job(jobs: list[dict] | None, job_id: str | None) -> dict | None:
    if not job_id:
        return None
    return next((j for j in jobs or [] if j.get("id") == job_id), None)


def latest_job(jobs: list[dict] | None, kind: str, dataset_id: str | None,
               statuses: tuple[str, ...] | None = None) -> dict | None:
    """The newest job of ``kind`` for ``dataset_id`` (jobs are newest first), optionally with a status."""
    for job in jobs or []:
        if job.get("kind") == kind and job.get("dataset_id") == dataset_id and (
                statuses is None or job.get("status") in statuses):
            return job
    return None


def progress_pct(job: dict) -> float:
    total = job.get("progress_total") or 1
    done = job.get("progress_done") or 0
    if job.get("status") == "done":
        return 100.0
    return round(100.0 * min(max(done / total, 0.0), 1.0), 1)


def fmt_when(ts) -> str:
    if not ts:
        return ""
    try:
        return datetime.fromtimestamp(float(ts)).strftime("%Y-%m-%d %H:%M:%S")
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


def duration(job: dict, now: float | None = None) -> str:
    """How long the job ran (or has been running / waiting): '' when unknown."""
    start = job.get("started") or None
    end = job.get("finished") or None
    if not start:
        if job.get("status") in ACTIVE and job.get("created"):
            return f"waiting {_seconds((now or time.time()) - float(job['created']))}"
        return ""
    end = float(end) if end else (now or time.time())
    return _seconds(end - float(start))


def _seconds(value: float) -> str:
    value = max(0.0, float(value))
    if value < 60:
        return f"{value:.1f} s"
    minutes, seconds = divmod(int(round(value)), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def rules_changed(params_rules: dict | None, defaults: dict | None = None) -> list[str]:
    """Rule names whose setting differs from the defaults (``defaults``: name -> default on/off)."""
    if not params_rules:
        return []
    defaults = DEFAULT_RULES if defaults is None else defaults
    return [f"{name}={'on' if on else 'off'}" for name, on in sorted(params_rules.items())
            if name in defaults and bool(on) != bool(defaults[name])]


def params_summary(job: dict) -> str:
    """One line: what a job was asked to do (features, k, transforms, non-default rules)."""
    p = job.get("params") or {}
    kind = job.get("kind")
    if kind == "ingest":
        if p.get("demo"):
            return f"demo data, {int(p.get('rows', 0)):,} rows"
        mapping = p.get("mapping") or {}
        extra = f", mapping {', '.join(f'{k}={v}' for k, v in sorted(mapping.items()))}" if mapping else ""
        return f"file {p.get('name', '?')}{extra}"
    parts = []
    if kind in ("sweep", "cluster"):
        features = p.get("features") or []
        parts.append(f"features {', '.join(features)}" if features else "default features")
        if kind == "sweep":
            ks = p.get("k_values") or []
            parts.append(f"k {ks[0]}-{ks[-1]}" if len(ks) > 1 and ks == list(range(ks[0], ks[-1] + 1))
                         else f"k {','.join(map(str, ks))}")
        else:
            parts.append(f"k={p.get('k')}")
        log_value = p.get("log")
        parts.append(f"log {log_value if isinstance(log_value, str) else ','.join(log_value or []) or 'none'}")
        parts.append(f"scaling {p.get('scaling', 'standard')}")
        if p.get("n_init") not in (None, 10):
            parts.append(f"n_init {p['n_init']}")
    changed = rules_changed(p.get("rules"))
    if changed:
        parts.append("rules " + ", ".join(changed))
    if p.get("as_of"):
        parts.append(f"as of {str(p['as_of'])[:10]}")
    return "; ".join(parts) if parts else "default settings"


def result_href(job: dict) -> str | None:
    """The shareable page of a job's result (``/results/<id>``), for kinds that have one."""
    return f"/results/{job['id']}" if job.get("kind") in ("describe", "sweep", "cluster") else None


def dataset_label(meta: dict) -> str:
    shape = {"line_items": "line items", "orders": "orders", "customers": "customer-level"}.get(
        meta.get("shape"), meta.get("shape") or "?")
    rows = meta.get("rows")
    customers = meta.get("customers")
    bits = [shape]
    if rows is not None:
        bits.append(f"{int(rows):,} rows")
    if customers is not None:
        bits.append(f"{int(customers):,} customers")
    return f"{meta.get('name', meta.get('id'))} ({', '.join(bits)})"


def dataset_by_id(datasets: list[dict] | None, dataset_id: str | None) -> dict | None:
    if not dataset_id:
        return None
    return next((d for d in datasets or [] if d.get("id") == dataset_id), None)


def rules_for(rules_store: dict | None, dataset_id: str | None) -> dict:
    """The cleaning-rule overrides chosen for a dataset ({} = the defaults)."""
    if not dataset_id or not isinstance(rules_store, dict):
        return {}
    chosen = rules_store.get(dataset_id)
    return dict(chosen) if isinstance(chosen, dict) else {}


def pick(picks: dict | None, kind: str, dataset_id: str | None) -> str | None:
    """The job this browser last ran of ``kind`` for a dataset (local storage), or None."""
    if not dataset_id or not isinstance(picks, dict):
        return None
    return (picks.get(kind) or {}).get(dataset_id)


def with_pick(picks: dict | None, kind: str, dataset_id: str, job_id: str) -> dict:
    out = {k: dict(v) for k, v in (picks or {}).items() if isinstance(v, dict)}
    out.setdefault(kind, {})[dataset_id] = job_id
    return out


def fmt_number(value, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    try:
        return f"{float(value):,.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def now_marker() -> float:
    """A fresh value for :data:`webapp.ids.KICK` (refresh the job list now)."""
    return time.time()
