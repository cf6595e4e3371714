"""A minimal Dash app: team ``local``'s datasets and jobs, and a button that runs the demo k-sweep.

The page polls (``dcc.Interval``) only while a job is queued or running. When Redis cannot be reached the page
still renders, with a "queue unavailable" banner. Everything goes through :class:`workers.client.Client`; the
client is made lazily, once per app, so importing this module touches neither Redis nor Celery.
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import dash
from dash import Input, Output, ctx, dcc, html, no_update

from analysis.errors import AnalysisError
from webapp.healthz import register_healthz
from workers.client import Client, QueueUnavailable

ASSETS = Path(__file__).resolve().parents[1] / "assets"
TITLE = "Segmentation workbench"
TEAM = OWNER = "local"
ACTIVE = ("queued", "running")
POLL_MS = 2000
DEMO_SWEEP = {"k": "2-8"}
JOB_COLUMNS = ("id", "kind", "status", "progress", "message", "error")
DATASET_COLUMNS = ("id", "name", "shape", "rows", "customers", "created")
HIDDEN, BANNER = {"display": "none"}, {"display": "block", "padding": "0.5em 1em", "background": "#fde2e1",
                                        "border": "1px solid #e0a5a2", "margin": "0.5em 0"}


class LazyClient:
    """The app's client, made on first use (a test or a caller may hand one in)."""

    def __init__(self, client: Client | None = None) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __call__(self) -> Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = Client(patient=False)
        return self._client


def snapshot(client: Client) -> dict:
    """What the page shows: ``datasets``, ``jobs`` (newest first), ``demo`` (the ready demo dataset or None),
    ``demo_note`` (why the demo button is disabled), ``active`` (a job is queued or running), ``error``."""
    try:
        datasets = client.datasets(team=TEAM)
        jobs = client.list_jobs(team=TEAM, limit=50)["jobs"]
    except QueueUnavailable as exc:
        return {"datasets": [], "jobs": [], "demo": None, "active": False, "error": str(exc),
                "demo_note": "The job queue is unavailable."}
    demo = next((d for d in datasets if d.get("demo")), None)
    note = ""
    if demo is None:
        ingest = next((j for j in jobs if j["kind"] == "ingest" and j["params"].get("demo")), None)
        if ingest is None:
            note = "The demo dataset is not registered yet (python -m workers run adds it)."
        elif ingest["status"] in ACTIVE:
            note = f"The demo dataset is being prepared: {ingest['message']}"
        else:
            note = f"The demo dataset could not be prepared: {ingest['error'] or ingest['status']}"
    return {"datasets": datasets, "jobs": jobs, "demo": demo, "demo_note": note, "error": None,
            "active": any(j["status"] in ACTIVE for j in jobs)}


def _when(ts) -> str:
    return datetime.fromtimestamp(float(ts)).strftime("%Y-%m-%d %H:%M") if ts else ""


def _table(columns: tuple[str, ...], rows: list[tuple], empty: str, table_id: str) -> html.Div:
    if not rows:
        return html.P(empty, className="empty")
    return html.Table([
        html.Thead(html.Tr([html.Th(c) for c in columns])),
        html.Tbody([html.Tr([html.Td("" if v is None else str(v)) for v in row]) for row in rows]),
    ], id=table_id, className="table")


def jobs_table(jobs: list[dict]) -> html.Div:
    rows = [(j["id"], j["kind"], j["status"], f"{j['progress_done']}/{j['progress_total']}", j["message"],
             j["error"] or "") for j in jobs]
    return _table(JOB_COLUMNS, rows, "No jobs yet.", "jobs-table")


def datasets_table(datasets: list[dict]) -> html.Div:
    rows = [(d.get("id"), d.get("name"), d.get("shape"), d.get("rows"), d.get("customers"), _when(d.get("created")))
            for d in datasets]
    return _table(DATASET_COLUMNS, rows, "No datasets yet.", "datasets-table")


def render(state: dict) -> tuple:
    """The callback's outputs for a :func:`snapshot`: banner text and style, datasets, jobs, button disabled,
    button note, interval disabled."""
    banner = f"Queue unavailable: {state['error']}" if state["error"] else ""
    demo = state["demo"]
    note = f"Runs K-means for k = 2..8 on '{demo['name']}'." if demo else state["demo_note"]
    return (banner, BANNER if banner else HIDDEN, datasets_table(state["datasets"]), jobs_table(state["jobs"]),
            demo is None, note, not state["active"])


def run_demo_sweep(client: Client) -> str:
    """Submit the demo k-sweep (or find the same job already queued / done); a line for the page."""
    try:
        demo = next((d for d in client.datasets(team=TEAM) if d.get("demo")), None)
        if demo is None:
            return "The demo dataset is not ready yet."
        job = client.submit("sweep", demo["id"], DEMO_SWEEP, owner=OWNER, team=TEAM)
    except QueueUnavailable as exc:
        return f"Could not submit: {exc}"
    except AnalysisError as exc:
        return f"Could not submit: {exc.message}"
    return f"Sweep job {job['id']}: {job['status']} ({job['message']})."


def layout() -> html.Div:
    return html.Div([
        html.H1(TITLE),
        html.Div(id="banner", role="alert", style=HIDDEN),
        html.H2("Demo"),
        html.Div([
            html.Button("Run demo k-sweep", id="run-demo", n_clicks=0, disabled=True),
            html.Span(id="run-demo-note", style={"marginLeft": "1em"}),
        ]),
        html.P(id="run-demo-result"),
        html.H2("Datasets"),
        html.Div(id="datasets"),
        html.H2("Jobs"),
        html.Div(id="jobs"),
        dcc.Interval(id="poll", interval=POLL_MS, disabled=True),
    ], className="container")


def create_app(client: Client | None = None) -> dash.Dash:
    """The Dash app; ``client`` defaults to a :class:`Client` for the environment's settings, made on first use."""
    get_client = LazyClient(client)
    app = dash.Dash(__name__, title=TITLE, update_title=None, assets_folder=str(ASSETS), external_stylesheets=[],
                    external_scripts=[], serve_locally=True)
    app.layout = layout

    @app.callback(
        Output("banner", "children"), Output("banner", "style"), Output("datasets", "children"),
        Output("jobs", "children"), Output("run-demo", "disabled"), Output("run-demo-note", "children"),
        Output("poll", "disabled"), Output("run-demo-result", "children"),
        Input("poll", "n_intervals"), Input("run-demo", "n_clicks"),
    )
    def refresh(_n_intervals, n_clicks):
        result = no_update
        if ctx.triggered_id == "run-demo" and n_clicks:
            result = run_demo_sweep(get_client())
        return (*render(snapshot(get_client())), result)

    register_healthz(app.server, get_client)
    return app
