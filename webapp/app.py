"""The Dash app: a navbar, one module per page (``webapp/pages``), app-level stores and one polling interval.

State lives in Redis (jobs, results, datasets) and in the browser (``dcc.Store``: the selected dataset, the
cleaning rules and the last job per dataset in local storage); the web process keeps none, so any number of
processes serve the same users. The web process never computes: pages submit jobs through the client facade
(:func:`webapp.identity.team_client`) and render results.

Polling: one ``dcc.Interval`` (:data:`webapp.ids.POLL`) refreshes the team's job list; it is enabled only while a
job of the team is queued or running. While the job queue (Redis) is unreachable a second, slower interval
(``ids.QUEUE_RETRY``) asks again every :data:`RETRY_MS` ms, so a page opened before Redis was up (or during a
Redis restart) clears its "Queue unavailable" banner and shows the data by itself, without a reload. Pages that
submit a job write their ``ids.kick(page)`` store, which refreshes at once (and so switches polling on). Page
callbacks listen to the job list store and fetch a result once, when their job is done.

Callbacks that an app-level store triggers write only to their own page's components (a page asks the app for
changes of app-level state through pattern-matched stores such as ``ids.select_request(page)``): Dash refuses to
run a callback whose outputs are only partly on the page shown.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import flask
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from analysis.errors import AnalysisError
from webapp import auth, ids
from webapp import components as C
from webapp.auth import hosted_settings
from webapp.downloads import register_downloads
from webapp.healthz import register_healthz
from webapp.identity import current_identity, install, local_mode, team_client
from webapp.pages import PAGES
from workers.client import Client, QueueUnavailable

log = logging.getLogger("webapp")

ASSETS = Path(__file__).resolve().parents[1] / "assets"
TITLE = C.TITLE
TEAM = OWNER = "local"  # local mode; hosted mode signs users in (webapp.auth, webapp.identity)
ACTIVE = C.ACTIVE
POLL_MS = 1000
RETRY_MS = 3000  # while the queue is unavailable, ask again this often
JOB_LIMIT = 50
DEFAULT_MAX_UPLOAD_MB = 100
BASE64_OVERHEAD = 1.37  # uploads travel base64 inside JSON
DEMO_SWEEP = {"k": "2-8"}


def max_upload_mb(env=None) -> float:
    """``MAX_UPLOAD_MB`` (default 100); an invalid value falls back to the default with a warning."""
    raw = (env if env is not None else os.environ).get("MAX_UPLOAD_MB", "")
    try:
        value = float(raw) if raw else DEFAULT_MAX_UPLOAD_MB
    except ValueError:
        log.warning("MAX_UPLOAD_MB=%r is not a number; using %s", raw, DEFAULT_MAX_UPLOAD_MB)
        value = DEFAULT_MAX_UPLOAD_MB
    return value if value > 0 else DEFAULT_MAX_UPLOAD_MB


def max_request_bytes(mb: float) -> int:
    """Flask's ``MAX_CONTENT_LENGTH`` for a file limit of ``mb``: base64 grows files by 4/3, plus the JSON."""
    return int(mb * 2**20 * BASE64_OVERHEAD) + 2**20


# ---- the job list the whole app shares -----------------------------------------------------------------------

def snapshot(client, team: str | None = None) -> dict:
    """The team's ``datasets`` and newest ``jobs`` (compact), whether a job is ``active``, the ready ``demo``
    dataset (or None) with ``demo_note`` saying why not, and ``error`` (the queue is unavailable)."""
    team = team or current_identity().team
    try:
        # Jobs first: a dataset is stored before its ingest job is marked done, so a done ingest job always
        # finds its dataset in the list read after it.
        listing = client.list_jobs(team=team, limit=JOB_LIMIT)
        jobs = [C.compact_job(j) for j in listing["jobs"]]
        datasets = client.datasets(team=team)
    except QueueUnavailable as exc:
        return {"datasets": [], "jobs": [], "total": 0, "demo": None, "active": False, "error": str(exc),
                "demo_note": "The job queue is unavailable."}
    demo = next((d for d in datasets if d.get("demo")), None)
    note = ""
    if demo is None:
        ingest = next((j for j in jobs if j["kind"] == "ingest" and (j["params"] or {}).get("demo")), None)
        if ingest is None:
            note = "The demo dataset is not loaded yet."
        elif ingest["status"] in ACTIVE:
            note = f"The demo dataset is being prepared: {ingest['message']}"
        else:
            note = f"The demo dataset could not be prepared: {ingest['error'] or ingest['status']}"
    return {"datasets": datasets, "jobs": jobs, "total": listing.get("total", len(jobs)), "demo": demo,
            "demo_note": note, "error": None, "active": C.jobs_active(jobs)}


def render(state: dict) -> tuple:
    """A :func:`snapshot` as short texts: banner text and style, datasets line, jobs line, whether the demo needs
    loading first, the demo note and whether polling is off. (The minimal page's contract, kept for scripts and
    the launcher's tests.)"""
    banner = f"Queue unavailable: {state['error']}" if state["error"] else ""
    style = {"display": "block"} if banner else {"display": "none"}
    demo = state["demo"]
    note = f"Demo dataset '{demo['name']}' is ready." if demo else state["demo_note"]
    active = sum(j["status"] in ACTIVE for j in state["jobs"])
    return (banner, style, f"{len(state['datasets'])} datasets", f"{len(state['jobs'])} jobs, {active} active",
            demo is None, note, not state["active"])


def run_demo_sweep(client) -> str:
    """Submit the demo k-sweep for the current identity (or find the same job); a line for a page or a script."""
    user, team = current_identity()
    try:
        demo = next((d for d in client.datasets(team=team) if d.get("demo")), None)
        if demo is None:
            return "The demo dataset is not ready yet."
        job = client.submit("sweep", demo["id"], DEMO_SWEEP, owner=user, team=team)
    except QueueUnavailable as exc:
        return f"Could not submit: {exc}"
    except AnalysisError as exc:
        return f"Could not submit: {exc.message}"
    return f"Sweep job {job['id']}: {job['status']} ({job['message']})."


def poll_outputs(state: dict, previous_jobs, previous_datasets, *, tick: bool = True) -> tuple:
    """Outputs of the app-level refresh for a snapshot: jobs store, datasets store, job-poll interval disabled,
    navbar badge, queue alert children and open, queue-retry interval disabled.

    On a polling ``tick`` unchanged stores are ``no_update`` (pages do not redraw). Any other trigger (a page
    shown, a job submitted, a queue retry) sends them even when unchanged: the page's own callbacks wait for this
    refresh, and Dash drops a waiting first call when its input comes back as ``no_update``.

    While the queue is unavailable (``state["error"]``) stores that already hold data keep it (the selected dataset
    survives a Redis restart), the job poll stops and the retry interval runs until the queue answers again.
    ``active`` and the badge come from the snapshot (none while unavailable)."""
    error = state["error"]
    jobs = {"jobs": state["jobs"], "active": state["active"], "total": state.get("total", len(state["jobs"]))}
    datasets = state["datasets"]
    if error:  # the last known lists, not empty ones: a Redis restart must not unselect the user's dataset
        jobs = previous_jobs if previous_jobs is not None else jobs
        datasets = previous_datasets if previous_datasets is not None else datasets
    if not tick:
        previous_jobs = previous_datasets = object()
    active = sum(j["status"] in ACTIVE for j in state["jobs"])
    badge = (dbc.Badge(f"{active} job{'s' if active != 1 else ''} running", color="info", href="/jobs",
                       id="nav-active-badge") if active else "")
    return (no_update if jobs == previous_jobs else jobs,
            no_update if datasets == previous_datasets else datasets,
            not state["active"], badge,
            f"Queue unavailable: {error} (trying again every {RETRY_MS / 1000:g} s)" if error else "",
            bool(error), not error)


def ensure_dataset(datasets: list[dict] | None, selected: str | None):
    """The dataset to select: the stored one if it still exists, else the newest; ``no_update`` if unchanged."""
    if datasets is None:
        return no_update
    known = {d["id"] for d in datasets}
    if selected in known:
        return no_update
    newest = datasets[0]["id"] if datasets else None
    return newest if newest != selected else no_update


# ---- the app -------------------------------------------------------------------------------------------------

def layout() -> html.Div:
    return html.Div([
        dcc.Location(id=ids.URL, refresh=False),
        C.navbar(local_mode()),
        dbc.Container([
            dbc.Alert(id=ids.QUEUE_ALERT, color="warning", is_open=False),
            dash.page_container,
        ], fluid=True, className="pb-5"),
        dcc.Store(id=ids.JOBS, storage_type="memory"),
        dcc.Store(id=ids.DATASETS, storage_type="memory"),
        dcc.Store(id=ids.DATASET, storage_type="local"),
        dcc.Store(id=ids.RULES, storage_type="local", data={}),
        dcc.Store(id=ids.PICKS, storage_type="local", data={}),
        dcc.Interval(id=ids.POLL, interval=POLL_MS, disabled=True),
        dcc.Interval(id=ids.QUEUE_RETRY, interval=RETRY_MS, disabled=True),
    ])


def create_app(client: Client | None = None) -> dash.Dash:
    """The Dash app; ``client`` defaults to a :class:`Client` for the environment's settings, made on first use.

    Hosted mode (sign-in, one team per user) when the environment asks for it (:func:`webapp.auth.hosted_settings`;
    :class:`webapp.auth.HostedModeError` when it is misconfigured, e.g. without ``SECRET_KEY``), else local mode."""
    app = dash.Dash(__name__, title=TITLE, update_title=None, assets_folder=str(ASSETS), external_stylesheets=[],
                    external_scripts=[], serve_locally=True, use_pages=True, pages_folder="",
                    suppress_callback_exceptions=False)
    server = app.server
    hosted = hosted_settings()  # HostedModeError (naming the variable) when hosted mode cannot run safely
    if hosted is None:
        server.secret_key = os.environ.get("SECRET_KEY") or os.urandom(32)
    else:
        auth.install(app, hosted)
    mb = max_upload_mb()
    server.config["MAX_UPLOAD_MB"] = mb
    server.config["MAX_CONTENT_LENGTH"] = max_request_bytes(mb)
    get_client = install(server, client)

    @server.errorhandler(413)
    def too_large(_exc):
        return flask.jsonify({"error": f"The upload is larger than the limit of {mb:g} MB."}), 413

    for page in PAGES:
        page.register(app)
    app.layout = layout

    @app.callback(
        Output(ids.JOBS, "data"), Output(ids.DATASETS, "data"), Output(ids.POLL, "disabled"),
        Output(ids.NAV_ACTIVE, "children"), Output(ids.QUEUE_ALERT, "children"), Output(ids.QUEUE_ALERT, "is_open"),
        Output(ids.QUEUE_RETRY, "disabled"),
        Input(ids.POLL, "n_intervals"), Input(ids.kick(ALL), "data"), Input(ids.URL, "pathname"),
        Input(ids.QUEUE_RETRY, "n_intervals"),
        State(ids.JOBS, "data"), State(ids.DATASETS, "data"),
    )
    def refresh(_n, _kick, _path, _retry, previous_jobs, previous_datasets):
        try:
            tc = team_client()
            state = snapshot(tc.client, team=tc.team)
        except Exception:  # noqa: BLE001 - the page says so; the log has the traceback
            log.exception("refreshing the job list failed")
            state = {"datasets": previous_datasets or [], "jobs": (previous_jobs or {}).get("jobs") or [],
                     "active": False, "error": "the job list could not be read (the server log has the details)"}
        return poll_outputs(state, previous_jobs, previous_datasets, tick=ctx.triggered_id == ids.POLL)

    @app.callback(Output(ids.DATASET, "data"), Input(ids.DATASETS, "data"), Input(ids.DATASET, "data"),
                  Input(ids.select_request(ALL), "data"))
    def select_dataset(datasets, selected, requests):
        if isinstance(ctx.triggered_id, dict):  # a page asked for a dataset (just imported, or clicked)
            request = ctx.triggered[0].get("value") or {}
            return request.get("id") or no_update
        return ensure_dataset(datasets, selected)

    @app.callback(Output(ids.NAV_DATASET, "children"), Input(ids.DATASET, "data"), Input(ids.DATASETS, "data"))
    def show_dataset(selected, datasets):
        meta = C.dataset_by_id(datasets, selected)
        return f"Dataset: {meta['name']}" if meta else "No dataset selected"

    if hosted is not None:
        @app.callback(Output(C.NAV_USER, "children"), Output(C.NAV_SIGNOUT_TOKEN, "value"),
                      Output(C.NAV_SIGNOUT, "disabled"), Input(ids.URL, "pathname"))
        def show_user(_path):
            """Who is signed in, and the sign-out form's token; the button is enabled only once the token is in
            the form (a click before would post an empty token and be refused)."""
            user, team = current_identity()
            return [html.Strong(user), f" · team {team}"], auth.csrf_token(), False

    register_healthz(server, get_client)
    register_downloads(server)
    return app
