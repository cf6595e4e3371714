"""Overview: the descriptive statistics of the selected dataset under its cleaning rules (a ``describe`` job).

Opening the page submits the describe job; the same dataset and rules give the same job, so this is cheap once
it has run. ``/results/<describe job id>`` shows that job's result instead (``pin``).

A finished describe job's result never changes, so each web process keeps the rendered KPIs, header and charts
of the last :data:`CACHE_SIZE` describe jobs it showed (:class:`Rendered`, keyed by job id, least recently used
out first). Every request still asks the queue for the job first, with the caller's team, so the cache never
answers another team (the browser's job list only decides what to show while the job runs). Building the
Plotly figures (about 150 ms of CPU on Online Retail) happens once per job and process instead of on every view.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import NamedTuple

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, dcc, html, no_update

from webapp import components as C
from webapp import figures as F
from webapp import ids
from webapp.identity import team_client

PATH = "/overview"
CACHE_SIZE = 32  # finished describe jobs whose rendered page each web process keeps
# (chart builder, the describe key it needs): charts whose data is missing are left out and listed as unavailable.
CHARTS = (
    (F.frequency_histogram, "frequency_distribution", 6),
    (F.lorenz_curve, "revenue_contribution", 6),
    (F.revenue_deciles, "revenue_contribution", 6),
    (F.monthly_trend, "seasonality", 6),
    (F.weekday_hour_heatmap, "seasonality", 12),
    (F.cohort_heatmap, "cohorts", 12),
    (F.revenue_by_country, "revenue_contribution.by_country", 12),
)


def layout(job_id: str | None = None, job: str | None = None, **_kwargs) -> html.Div:
    return html.Div([
        C.page_header("Overview", "Who buys, how often, how much, and when: from the selected dataset after "
                                  "cleaning."),
        html.Div(id=ids.OV_MSG),
        html.Div(id=ids.OV_HEADER),
        html.Div(id=ids.OV_STATUS),
        html.Div(id=ids.OV_UNAVAILABLE),
        html.Div(id=ids.OV_KPIS),
        html.Div(id=ids.OV_CHARTS),
        dcc.Store(id=ids.OV_PIN, data=job_id or job),
        dcc.Store(id=ids.OV_JOB),
        dcc.Store(id=ids.OV_RENDERED),
        dcc.Store(id=ids.OV_PAINTED),
        dcc.Store(id=ids.kick("overview")),
    ])


# ---- pure helpers --------------------------------------------------------------------------------------------

def _has(describe: dict, dotted: str) -> bool:
    value = describe
    for key in dotted.split("."):
        if not isinstance(value, dict):
            return False
        value = value.get(key)
    return bool(value)


def kpi_cards(describe: dict) -> dbc.Row:
    cols = []
    for i, k in enumerate(F.kpis(describe)):
        cols.append(dbc.Col(dbc.Card(dbc.CardBody([
            html.Div(k["label"], className="text-muted small kpi-label"),
            html.Div(k["value"], className="fs-4 fw-semibold kpi-value"),
            html.Div(k["detail"], className="small text-muted kpi-detail"),
        ]), className="h-100 kpi-card", id=f"kpi-{i}"), md=4, xxl=2, className="mb-3"))
    return dbc.Row(cols, className="g-3")


def unavailable_list(describe: dict) -> dbc.Alert | None:
    items = describe.get("unavailable") or []
    if not items:
        return None
    return C.alert([html.Strong("What this file cannot show:"),
                    html.Ul([html.Li([html.Code(u.get("analysis")), ": ", u.get("reason")]) for u in items],
                            className="mb-0")], "info", id="ov-unavailable-list")


def category_tables(describe: dict) -> list:
    out = []
    for column, rows in (describe.get("by_category") or {}).items():
        body = [html.Tr([html.Td(str(r.get("value"))), html.Td(F.fmt_number(r.get("customers"))),
                         html.Td(F.fmt_money(r.get("mean_spend")))]) for r in rows]
        table = dbc.Table([html.Thead(html.Tr([html.Th(column), html.Th("Customers"), html.Th("Mean spend")])),
                           html.Tbody(body)], size="sm", striped=True, className="small mb-0")
        out.append(dbc.Col(C.card(f"Spend by {column}", table), md=6, lg=4))
    return out


def _plain(figure) -> dict:
    """A Plotly figure as plain JSON data (what the browser receives), serialised again cheaply on every view."""
    return json.loads(figure.to_json())


def charts(describe: dict) -> dbc.Row:
    cols = []
    for builder, key, width in CHARTS:
        if _has(describe, key):
            cols.append(dbc.Col(dbc.Card(dbc.CardBody(C.graph(_plain(builder(describe))), className="p-1")),
                                lg=width, className="mb-3"))
    top = (describe.get("revenue_contribution") or {}).get("top_20pct_share")
    note = []
    if top is not None:
        note = [html.P([html.Strong("Top 20 % of customers: "), F.fmt_pct(top, fraction=True), " of revenue."],
                       id="ov-top20")]
    return html.Div([*note, dbc.Row(cols), dbc.Row(category_tables(describe))])


def header(job: dict, describe: dict) -> html.Div:
    ds = describe.get("dataset") or {}
    rules = C.rules_changed((job.get("params") or {}).get("rules"))
    bits = [html.Strong(ds.get("file") or job.get("dataset_id")), f" ({ds.get('shape', '?')}, "
            f"{F.fmt_number(ds.get('rows'))} rows)"]
    if describe.get("as_of"):
        bits.append(f"; recency as of {str(describe['as_of'])[:10]}")
    bits.append("; cleaning rules: " + (", ".join(rules) if rules else "defaults"))
    bits += [" · ", dcc.Link("shareable link", href=f"/results/{job['id']}")]
    return html.P(bits, className="small text-muted", id="ov-dataset-line")


def render_result(job: dict, describe: dict) -> tuple:
    """``(unavailable, kpis, header)`` for a finished describe job (the charts follow in a second step)."""
    return unavailable_list(describe), kpi_cards(describe), header(job, describe)


class Page(NamedTuple):
    """The rendered Overview of one finished describe job."""

    top: tuple  # (unavailable, kpis, header)
    charts: html.Div | None  # None: not built (see rendered_page's build_charts)


class Rendered:
    """A bounded, thread-safe map job id -> :class:`Page` (least recently used out first).

    Only finished describe jobs go in (their result is immutable); callers check the job with their team's client
    before asking, so a hit never shows another team's result."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._pages: OrderedDict[str, Page] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, job_id: str) -> Page | None:
        with self._lock:
            page = self._pages.get(job_id)
            if page is not None:
                self._pages.move_to_end(job_id)
            return page

    def put(self, job_id: str, page: Page) -> Page:
        with self._lock:
            self._pages[job_id] = page
            self._pages.move_to_end(job_id)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
        return page

    def __len__(self) -> int:
        return len(self._pages)


def rendered_page(tc, job_id: str, cache: Rendered, *, build_charts: bool = True) -> Page | None:
    """The rendered page of describe job ``job_id`` if the caller's team client ``tc`` sees it done, from ``cache`` or
    built from its result; None otherwise (absent, another team's, not done, or its result missing). The job is
    always asked for first: the cache is shared by every team of the process.

    ``build_charts=False`` (the KPI callback): on a cache miss only the KPIs and header are rendered (``charts`` is
    None, nothing is cached), so the figures are built once, by the charts callback, and never delay the KPIs."""
    job = tc.status(job_id)
    if job is None or job["kind"] != "describe" or job["status"] != "done":
        return None
    page = cache.get(job_id)
    if page is None:
        describe = tc.result(job_id, "describe")
        if describe is None:
            return None
        if not build_charts:
            return Page(render_result(job, describe), None)
        page = cache.put(job_id, Page(render_result(job, describe), charts(describe)))
    return page


# The charts are asked for only after the browser has painted the KPIs (two animation frames after they are in the
# page). A cached page's charts come back within about 10 ms of the KPIs; arriving in the same frame, drawing the
# seven Plotly charts (0.3-0.4 s of the browser's main thread) would hold back the KPIs' paint.
AFTER_PAINT_JS = """
function(jobId) {
    if (!jobId) { return jobId; }
    return new Promise(function(resolve) {
        requestAnimationFrame(function() { requestAnimationFrame(function() { resolve(jobId); }); });
    });
}
"""


# ---- callbacks -----------------------------------------------------------------------------------------------

def register(app: dash.Dash) -> None:
    dash.register_page(__name__, path=PATH, name="Overview", title=f"Overview · {C.TITLE}", order=1, layout=layout)
    cache = Rendered()  # one per app (per process under gunicorn); bounded

    @app.callback(
        Output(ids.OV_JOB, "data"), Output(ids.OV_MSG, "children"),
        Output(ids.kick("overview"), "data", allow_duplicate=True),
        Input(ids.DATASET, "data"), Input(ids.RULES, "data"), Input(ids.OV_PIN, "data"), State(ids.OV_JOB, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def submit(selected, rules_store, pin, current):
        if pin:  # the job of the link, whatever dataset is selected
            return (pin if current != pin else no_update), "", no_update
        if not selected:
            return None, C.alert(["No dataset yet: ", dcc.Link("load or upload one", href="/"), "."], "info"), \
                no_update
        try:
            job = team_client().submit("describe", selected, {"rules": C.rules_for(rules_store, selected)})
        except Exception as exc:  # noqa: BLE001 - every error becomes a message in the page
            return None, C.error_alert(exc, "computing the overview"), no_update
        return job["id"], "", (C.now_marker() if job["status"] in C.ACTIVE else no_update)

    @app.callback(
        Output(ids.OV_STATUS, "children"), Output(ids.OV_UNAVAILABLE, "children"), Output(ids.OV_KPIS, "children"),
        Output(ids.OV_HEADER, "children"), Output(ids.OV_RENDERED, "data"),
        Input(ids.OV_JOB, "data"), Input(ids.JOBS, "data"), State(ids.OV_RENDERED, "data"),
    )
    def show(job_id, jobs, rendered):
        """Status, KPIs and header first (fast); :func:`show_charts` follows once ``rendered`` is set and the
        browser has painted them (:data:`AFTER_PAINT_JS`)."""
        if not job_id:
            return "", "", "", "", None
        if rendered == job_id and ctx.triggered_id == ids.JOBS:
            return (no_update,) * 5
        try:
            tc = team_client()
            job = C.find_job((jobs or {}).get("jobs"), job_id) or tc.status(job_id)
            if job is not None and job["kind"] != "describe":
                return C.alert(f"Job {job_id} is a {job['kind']} job, not a describe job.", "warning"), \
                    "", "", "", None
            if job is not None and job["status"] == "done":
                page = rendered_page(tc, job_id, cache, build_charts=False)
                if page is None:
                    return C.alert("The result of this job is missing.", "warning"), "", "", "", None
                return ("", *page.top, job_id)
        except Exception as exc:  # noqa: BLE001
            return C.error_alert(exc, "showing the overview"), "", "", "", None
        problem = C.job_problem(job, "Computing the statistics", job_id)
        if problem is not None:
            return problem, "", "", "", None
        return C.job_running_view(job, "Computing the statistics"), "", "", "", None

    app.clientside_callback(AFTER_PAINT_JS, Output(ids.OV_PAINTED, "data"), Input(ids.OV_RENDERED, "data"))

    @app.callback(Output(ids.OV_CHARTS, "children"), Input(ids.OV_PAINTED, "data"))
    def show_charts(job_id):
        if not job_id:
            return ""
        try:
            page = rendered_page(team_client(), job_id, cache)
        except Exception as exc:  # noqa: BLE001
            return C.error_alert(exc, "drawing the overview charts")
        return page.charts if page else ""
