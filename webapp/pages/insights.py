"""Insights of a K-means (cluster) job: who is in which segment, how segments differ, outliers, advice, downloads.

The job is the one in the URL (``/results/<cluster job id>`` or ``/insights?job=<id>``), else the last one this
browser ran for the selected dataset, else the team's newest for it. Segment names and colours come from
``webapp.figures`` so every chart (and the report) agrees.
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, dcc, html, no_update

from webapp import components as C
from webapp import figures as F
from webapp import ids
from webapp.identity import team_client

PATH = "/insights"
HIDDEN, SHOWN = {"display": "none"}, {"display": "block"}
NOT_FEATURES = ("segment", "segment_name", "rfm_segment", "pc1", "pc2")
PROJECTION = "__projection__"
BAR_METRICS = ("size", "revenue_share", "avg_purchase_value", "frequency")


# ---- pure helpers --------------------------------------------------------------------------------------------

def feature_columns(membership) -> list[str]:
    """The membership's numeric feature columns (what the scatter and distribution dropdowns offer)."""
    cols = []
    for c in membership.columns:
        if c in NOT_FEATURES:
            continue
        if str(membership[c].dtype) not in ("object", "str", "string", "category") and \
                membership[c].dtype.kind in "biuf":
            cols.append(str(c))
    return cols


def axis_options(features: list[str]) -> list[dict]:
    return [{"label": "2-D projection (PC1 / PC2)", "value": PROJECTION}] + [{"label": f, "value": f}
                                                                            for f in features]


def scatter_axes(x: str | None, y: str | None, features: list[str]) -> tuple[str, str]:
    """The columns to plot: the projection, or two features (the second defaulting to another feature)."""
    if not x or x == PROJECTION or x not in features:
        return "pc1", "pc2"
    if not y or y == PROJECTION or y not in features or y == x:
        others = [f for f in features if f != x]
        y = others[0] if others else x
    return x, y


def advice_view(segments: dict) -> list:
    cards = []
    for a in F.advice_cards(segments):
        cards.append(dbc.Col(html.Div(dbc.Card([
            dbc.CardHeader(html.Span([html.Span(className="me-2", style={
                "display": "inline-block", "width": "0.9rem", "height": "0.9rem", "borderRadius": "50%",
                "background": a["color"], "verticalAlign": "middle"}), html.Strong(a["name"])])),
            dbc.CardBody([html.P(a["headline"], className="fw-semibold small"),
                          html.P(a["advice"], className="small")]),
        ], className="h-100", style={"borderLeft": f"6px solid {a['color']}"}), className="h-100 advice-card",
            **{"data-segment": str(a["segment"])}), md=6, xl=4, className="mb-3"))
    return cards


def outliers_view(segments: dict) -> html.Div:
    rows = F.outlier_rows(segments, limit=200)
    if not rows:
        return html.P("No customer stands out strongly from the rest.", className="text-muted")
    body = [html.Tr([html.Td(r["customer"]), html.Td(r["flagged"]), html.Td(r["score"]), html.Td(r["reason"])])
            for r in rows]
    return dbc.Table([html.Thead(html.Tr([html.Th(h) for h in ("Customer", "Flagged", "Score", "Reason")])),
                      html.Tbody(body)], size="sm", striped=True, responsive=True, className="small",
                     id="ins-outlier-table")


def segment_table(segments: dict) -> dbc.Table:
    columns, rows = F.segment_table_rows(segments)
    head = html.Thead(html.Tr([html.Th(c) for c in columns]))
    body = []
    for r in rows:
        cells = [html.Td([html.Span(style={"display": "inline-block", "width": "0.8rem", "height": "0.8rem",
                                           "background": r["color"], "marginRight": "0.4rem"}), r["Segment"]])]
        cells += [html.Td(r[c]) for c in columns[1:]]
        body.append(html.Tr(cells))
    return dbc.Table([head, html.Tbody(body)], size="sm", responsive=True, className="small mb-0")


def header_view(job: dict, segments: dict, dataset_name: str) -> html.Div:
    return html.Div([
        html.P([html.Strong(dataset_name), f" · K-means with k={segments.get('k')} · ",
                C.params_summary(job), " · ", dcc.Link("shareable link", href=f"/results/{job['id']}")],
               className="small text-muted mb-2", id="ins-job-line"),
        html.Div([
            html.A("Download membership CSV", href=f"/download/{job['id']}/membership.csv", id=ids.INS_DOWNLOAD_CSV,
                   className="btn btn-primary btn-sm me-2"),
            html.A("Download HTML report", href=f"/download/{job['id']}/report.html", id=ids.INS_DOWNLOAD_REPORT,
                   className="btn btn-outline-primary btn-sm"),
        ], className="mb-3"),
    ])


def graph_card(figure, graph_id: str) -> dbc.Card:
    """A chart in a card (rendered as children once the result is there: a graph drawn while hidden has no
    size)."""
    return dbc.Card(dbc.CardBody(C.graph(figure, graph_id), className="p-1"), className="mb-3")


# ---- layout --------------------------------------------------------------------------------------------------

def layout(job_id: str | None = None, job: str | None = None, **_kwargs) -> html.Div:
    content = html.Div([
        html.Div(id=ids.INS_HEADER),
        C.card("Segments at a glance", html.Div(id=ids.INS_TABLE)),
        dbc.Card(dbc.CardBody([
            dbc.Row([
                dbc.Col([dbc.Label("x axis"), dcc.Dropdown(id=ids.INS_X, clearable=False, value=PROJECTION,
                                                           options=axis_options([]))], md=4),
                dbc.Col([dbc.Label("y axis"), dcc.Dropdown(id=ids.INS_Y, clearable=False, options=[])], md=4),
            ], className="mb-2"),
            dcc.Graph(id=ids.INS_SCATTER, config=C.GRAPH_CONFIG),
        ]), className="mb-3"),
        html.Div(id=ids.INS_SCATTER_3D),
        html.Div(id=ids.INS_BARS),
        html.Div(id=ids.INS_PROFILE),
        dbc.Card(dbc.CardBody([
            dbc.Row(dbc.Col([dbc.Label("Feature"), dcc.Dropdown(id=ids.INS_DIST_FEATURE, clearable=False,
                                                                 options=[])], md=4), className="mb-2"),
            dcc.Graph(id=ids.INS_DIST, config=C.GRAPH_CONFIG),
        ]), className="mb-3"),
        html.Div(id=ids.INS_CROSSTAB),
        C.card("Outliers", html.Div(id=ids.INS_OUTLIERS)),
        html.H4("Marketing advice per segment", className="mt-2"),
        dbc.Row(id=ids.INS_ADVICE),
    ], id=ids.INS_CONTENT, style=HIDDEN)
    return html.Div([
        C.page_header("Insights", "The segments of a K-means run: size, value, profile, outliers and what to do."),
        html.Div(id=ids.INS_STATUS),
        content,
        dcc.Store(id=ids.INS_PIN, data=job_id or job),
        dcc.Store(id=ids.INS_JOB),
        dcc.Store(id=ids.INS_RENDERED),
    ])


# ---- callbacks -----------------------------------------------------------------------------------------------

def _membership(job_id: str | None):
    if not job_id:
        return None, None
    tc = team_client()
    job = tc.status(job_id)
    if job is None or job["status"] != "done" or job["kind"] != "cluster":
        return None, None
    return tc.result(job_id, "segments"), chart_rows(tc, job_id)


def chart_rows(tc, job_id: str):
    """The customers charts draw: the job's display sample (a few thousand rows, small segments kept), or the
    whole membership for runs made before samples were written."""
    sample = tc.result(job_id, "sample")
    return sample if sample is not None else tc.result(job_id, "membership")


def register(app: dash.Dash) -> None:
    dash.register_page(__name__, path=PATH, name="Insights", title=f"Insights · {C.TITLE}", order=3,
                       layout=layout)

    @app.callback(
        Output(ids.INS_JOB, "data"), Output(ids.INS_STATUS, "children", allow_duplicate=True),
        Input(ids.DATASET, "data"), Input(ids.INS_PIN, "data"), State(ids.PICKS, "data"), State(ids.INS_JOB, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def choose_job(selected, pin, picks, current):
        if pin:  # the job of the link, whatever dataset is selected
            return (pin if current != pin else no_update), no_update
        if not selected:
            return None, C.alert(["No dataset yet: ", dcc.Link("load or upload one", href="/"), "."], "info")
        try:
            tc = team_client()
            picked = C.pick(picks, "cluster", selected)
            if picked and tc.status(picked) is not None:
                return picked, no_update
            job = C.latest_job(tc.list_jobs(limit=100)["jobs"], "cluster", selected)
        except Exception as exc:  # noqa: BLE001 - every error becomes a message in the page
            return None, C.error_alert(exc, "finding the latest K-means run")
        if job is None:
            return None, C.alert(["No K-means run for this dataset yet: run one on the ",
                                  dcc.Link("Segments page", href="/segments"), "."], "info")
        return job["id"], no_update

    @app.callback(
        Output(ids.INS_STATUS, "children"), Output(ids.INS_CONTENT, "style"), Output(ids.INS_HEADER, "children"),
        Output(ids.INS_TABLE, "children"), Output(ids.INS_SCATTER_3D, "children"), Output(ids.INS_BARS, "children"),
        Output(ids.INS_PROFILE, "children"), Output(ids.INS_CROSSTAB, "children"), Output(ids.INS_OUTLIERS, "children"),
        Output(ids.INS_ADVICE, "children"), Output(ids.INS_X, "options"), Output(ids.INS_Y, "options"),
        Output(ids.INS_Y, "value"), Output(ids.INS_DIST_FEATURE, "options"), Output(ids.INS_DIST_FEATURE, "value"),
        Output(ids.INS_RENDERED, "data"),
        Input(ids.INS_JOB, "data"), Input(ids.JOBS, "data"), State(ids.INS_RENDERED, "data"),
    )
    def show(job_id, jobs, rendered):
        n = 16
        if not job_id:
            return (no_update, HIDDEN, *(no_update,) * (n - 3), None)
        if rendered == job_id and ctx.triggered_id == ids.JOBS:
            return (no_update,) * n
        try:
            tc = team_client()
            job = C.find_job((jobs or {}).get("jobs"), job_id) or tc.status(job_id)
            if job is not None and job["kind"] != "cluster":
                return (C.alert(f"Job {job_id} is a {job['kind']} job, not a K-means run.", "warning"), HIDDEN,
                        *(no_update,) * (n - 3), None)
            if job is not None and job["status"] == "done":
                segments = tc.result(job_id, "segments")
                membership = chart_rows(tc, job_id)
                if segments is None or membership is None:
                    return (C.alert("The result of this K-means run is missing.", "warning"), HIDDEN,
                            *(no_update,) * (n - 3), None)
                meta = tc.dataset(job["dataset_id"]) or {}
                features = feature_columns(membership)
                bars = dbc.Row([dbc.Col(dbc.Card(dbc.CardBody(C.graph(F.segment_bars(segments, m), f"ins-bar-{m}"),
                                                              className="p-1"), className="mb-3"), lg=6)
                                for m in BAR_METRICS])
                return ("", SHOWN,
                        header_view(job, segments, meta.get("name") or segments.get("dataset_name") or ""),
                        segment_table(segments), graph_card(F.scatter_3d_rfm(membership, segments), "ins-3d"), bars,
                        graph_card(F.profile_heatmap(segments), "ins-profile-heatmap"),
                        graph_card(F.crosstab_heatmap(segments), "ins-crosstab-heatmap"), outliers_view(segments),
                        advice_view(segments), axis_options(features), axis_options(features)[1:],
                        features[1] if len(features) > 1 else (features[0] if features else None),
                        [{"label": f, "value": f} for f in features], features[0] if features else None, job_id)
        except Exception as exc:  # noqa: BLE001
            return (C.error_alert(exc, "showing the insights"), HIDDEN, *(no_update,) * (n - 3), None)
        what = f"K-means (job {job_id})"
        problem = C.job_problem(job, what, job_id)
        status = problem if problem is not None else C.job_running_view(job, "K-means")
        return (status, HIDDEN, *(no_update,) * (n - 3), None)

    @app.callback(
        Output(ids.INS_SCATTER, "figure"),
        Input(ids.INS_X, "value"), Input(ids.INS_Y, "value"), Input(ids.INS_RENDERED, "data"),
    )
    def scatter(x, y, job_id):
        if not job_id:
            return no_update
        try:
            segments, membership = _membership(job_id)
        except Exception as exc:  # noqa: BLE001
            C.error_alert(exc, "drawing the scatter")
            return F.empty_figure("The customers could not be loaded; the server log has the details.")
        if membership is None:
            return no_update
        cx, cy = scatter_axes(x, y, feature_columns(membership))
        return F.segment_scatter(membership, segments, cx, cy)

    @app.callback(
        Output(ids.INS_DIST, "figure"),
        Input(ids.INS_DIST_FEATURE, "value"), Input(ids.INS_RENDERED, "data"),
    )
    def distribution(feature, job_id):
        if not job_id or not feature:
            return no_update
        try:
            segments, membership = _membership(job_id)
        except Exception as exc:  # noqa: BLE001
            C.error_alert(exc, "drawing the distribution")
            return F.empty_figure("The customers could not be loaded; the server log has the details.")
        if membership is None:
            return no_update
        return F.distribution_by_segment(membership, segments, feature)
