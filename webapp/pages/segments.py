"""Segments: choose features and transforms, run a k-sweep (live progress, cancel), read its recommendation, run
K-means at the recommended or a chosen k, and open its insights.

The sweep shown is the one in the URL (``/results/<sweep job id>``), else the last one this browser ran for the
dataset, else the team's newest for the dataset, so a reload or another browser mid-sweep shows the same job and
its progress. Jobs run on the selected dataset with its cleaning rules (chosen on the Data page).
"""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, State, ctx, dcc, html, no_update

from analysis import schema as S
from analysis.errors import AnalysisError
from webapp import components as C
from webapp import figures as F
from webapp import ids
from webapp.identity import TeamClient, team_client

PATH = "/segments"
K_MIN, K_MAX = 2, 15
DEFAULT_K_RANGE = [2, 10]
DEFAULT_N_INIT, DEFAULT_SEED, DEFAULT_STABILITY = 10, 0, 3
FEATURE_HELP = {
    S.RECENCY: "days since the last order", S.FREQUENCY: "number of orders", S.MONETARY: "total spend",
    S.AVG_ORDER_VALUE: "spend per order", S.TENURE: "days since the first order",
    S.MEAN_DAYS_BETWEEN: "mean gap between orders", S.DISTINCT_PRODUCTS: "different products bought",
    S.RETURN_RATE: "share of spend returned",
}
HIDDEN, SHOWN = {"display": "none"}, {"display": "block"}


# ---- pure helpers --------------------------------------------------------------------------------------------

def feature_options(meta: dict | None) -> tuple[list[dict], list[str]]:
    """Checklist options and default values: the 8 per-customer features for transaction data, the file's
    numeric columns for customer-level files."""
    if not meta:
        return [], []
    defaults = list(meta.get("default_features") or [])
    if meta.get("shape") == "customers":
        names = defaults
    else:
        names = list(S.FEATURES)
        defaults = defaults or list(S.DEFAULT_FEATURES)
    options = [{"label": f" {n}" + (f" ({FEATURE_HELP[n]})" if n in FEATURE_HELP else ""), "value": n}
               for n in names]
    return options, [d for d in defaults if d in names]


def _model_params(features, log, scaling, n_init, seed, context: dict) -> dict:
    if not features:
        raise AnalysisError("Choose at least one feature.")
    params = {"features": list(features), "log": "none" if log == "none" else "auto",
              "scaling": scaling or "standard", "rules": dict(context.get("rules") or {}),
              "as_of": context.get("as_of")}
    if n_init not in (None, ""):
        params["n_init"] = int(n_init)
    if seed not in (None, ""):
        params["random_state"] = int(seed)
    return params


def sweep_params(features, log, scaling, k_range, n_init, seed, stability, context: dict) -> dict:
    """The parameters of a sweep job from the form (see ``workers.params``)."""
    params = _model_params(features, log, scaling, n_init, seed, context)
    low, high = (sorted(int(k) for k in k_range) if k_range else DEFAULT_K_RANGE)
    if low == high:
        raise AnalysisError("Choose a range of at least two values of k.")
    params["k"] = f"{low}-{high}"
    if stability not in (None, ""):
        params["stability_seeds"] = int(stability)
    return params


def cluster_params(features, log, scaling, k, n_init, seed, context: dict) -> dict:
    """The parameters of a cluster (K-means) job from the form."""
    if k in (None, ""):
        raise AnalysisError("Choose the number of segments k.")
    params = _model_params(features, log, scaling, n_init, seed, context)
    params["k"] = int(k)
    if params["k"] < 1:
        raise AnalysisError("k must be at least 1.")
    return params


def form_from_params(params: dict | None) -> dict:
    """Form values that reproduce a job's parameters."""
    p = params or {}
    ks = p.get("k_values") or []
    return {
        "features": list(p.get("features") or []),
        "log": "none" if params and p.get("log") in (None, "none", []) else "auto",
        "scaling": p.get("scaling") or "standard",
        "k_range": [min(ks), max(ks)] if ks else list(DEFAULT_K_RANGE),
        "n_init": p.get("n_init", DEFAULT_N_INIT),
        "seed": p.get("random_state", DEFAULT_SEED),
        "stability": p.get("stability_seeds", DEFAULT_STABILITY),
    }


def recommendation_view(sweep: dict) -> html.Div:
    rec = sweep.get("recommendation") or {}
    votes = rec.get("votes") or {}
    vote_text = ", ".join(f"{name}: k={k}" for name, k in votes.items()) if votes else "none"
    return dbc.Alert([
        html.H5([f"Recommended k = {rec.get('k')}"], className="alert-heading", id="seg-recommended-k"),
        html.P(rec.get("reason") or "", className="mb-1", id="seg-recommendation-reason"),
        html.Small(f"Votes: {vote_text}. Elbow at k={rec.get('knee_k') or 'none'}; best silhouette k="
                   f"{rec.get('best_silhouette_k')}; best Davies-Bouldin k={rec.get('best_davies_bouldin_k')}; "
                   f"best Calinski-Harabasz k={rec.get('best_calinski_harabasz_k')}; most stable k="
                   f"{rec.get('most_stable_k')}. {F.fmt_number(sweep.get('n_customers'))} customers, "
                   f"{sweep.get('n_features')} features.", className="text-muted"),
    ], color="success")


def sweep_charts(sweep: dict) -> dbc.Row:
    figures = [F.elbow_chart(sweep)] + [F.metric_chart(sweep, m) for m in F.METRICS]
    return dbc.Row([dbc.Col(dbc.Card(dbc.CardBody(C.graph(fig, f"seg-chart-{i}"), className="p-1")),
                            lg=6 if i else 12, className="mb-3") for i, fig in enumerate(figures)])


def _find(tc: TeamClient, jobs: list[dict], picks: dict | None, kind: str, dataset_id: str) -> str | None:
    picked = C.pick(picks, kind, dataset_id)
    if picked and tc.status(picked) is not None:
        return picked
    job = C.latest_job(jobs, kind, dataset_id)
    return job["id"] if job else None


# ---- layout --------------------------------------------------------------------------------------------------

def layout(job_id: str | None = None, job: str | None = None, **_kwargs) -> html.Div:
    marks = {k: str(k) for k in range(K_MIN, K_MAX + 1)}
    form = C.card("Features and settings", [
        html.Div(id=ids.SEG_DATASET_NOTE, className="small text-muted mb-2"),
        dbc.Label("Features", html_for=ids.SEG_FEATURES, className="fw-semibold"),
        dbc.Checklist(id=ids.SEG_FEATURES, options=[], value=[]),
        dbc.Row([
            dbc.Col([dbc.Label("Log transform", className="fw-semibold mt-2"),
                     dbc.RadioItems(id=ids.SEG_LOG, value="auto", inline=True, options=[
                         {"label": "auto (skewed features)", "value": "auto"}, {"label": "none", "value": "none"}])],
                    md=6),
            dbc.Col([dbc.Label("Scaling", className="fw-semibold mt-2"),
                     dbc.RadioItems(id=ids.SEG_SCALING, value="standard", inline=True, options=[
                         {"label": "standard", "value": "standard"}, {"label": "robust", "value": "robust"}])], md=6),
        ]),
        dbc.Label("Range of k for the sweep", className="fw-semibold mt-2"),
        dcc.RangeSlider(id=ids.SEG_K_RANGE, min=K_MIN, max=K_MAX, step=1, value=list(DEFAULT_K_RANGE), marks=marks,
                        allowCross=False),
        dbc.Accordion([dbc.AccordionItem([
            dbc.Row([
                dbc.Col([dbc.Label("K-means restarts (n_init)"),
                         dbc.Input(id=ids.SEG_N_INIT, type="number", min=1, max=100, step=1,
                                   value=DEFAULT_N_INIT)], md=4),
                dbc.Col([dbc.Label("Random seed"),
                         dbc.Input(id=ids.SEG_SEED, type="number", min=0, step=1, value=DEFAULT_SEED)], md=4),
                dbc.Col([dbc.Label("Stability refits"),
                         dbc.Input(id=ids.SEG_STABILITY, type="number", min=0, max=20, step=1,
                                   value=DEFAULT_STABILITY)], md=4),
            ]),
        ], title="Advanced", item_id="advanced")], start_collapsed=True, className="mt-3", id="seg-advanced"),
        html.Div([
            dbc.Button("Run k-sweep", id=ids.SEG_RUN_SWEEP, color="primary", n_clicks=0, className="me-2"),
            dbc.Button("Cancel", id=ids.SEG_CANCEL, color="outline-danger", n_clicks=0, disabled=True),
        ], className="mt-3"),
    ])
    kmeans = C.card("K-means", [
        dbc.InputGroup([
            dbc.InputGroupText("k ="),
            dbc.Input(id=ids.SEG_K, type="number", min=1, max=100, step=1, value=4),
            dbc.Button("Run K-means", id=ids.SEG_RUN_CLUSTER, color="primary", n_clicks=0),
        ], style={"maxWidth": "22rem"}),
        html.Small("Uses the features and settings above; k is filled in with the sweep's recommendation.",
                   className="text-muted"),
        html.Div(id=ids.SEG_CLUSTER_STATUS, className="mt-2"),
    ])
    sweep = html.Div([
        C.card("k-sweep", [
            html.Div(id=ids.SEG_PROGRESS_MSG, className="small mb-1"),
            dbc.Progress(id=ids.SEG_PROGRESS, value=0, label="", striped=True, style={"height": "1.4rem"}),
            html.Div(id=ids.SEG_SWEEP_STATUS, className="mt-2"),
            html.Div(id=ids.SEG_RECOMMENDATION, className="mt-2"),
        ]),
        html.Div(id=ids.SEG_SWEEP_CHARTS),
    ], id=ids.SEG_SWEEP_SECTION, style=HIDDEN)
    return html.Div([
        C.page_header("Segments", "Compare numbers of segments with a k-sweep, then fit K-means."),
        html.Div(id=ids.SEG_MSG),
        dbc.Row([dbc.Col(form, lg=7), dbc.Col(kmeans, lg=5)]),
        sweep,
        dcc.Store(id=ids.SEG_PIN, data=job_id or job),
        dcc.Store(id=ids.SEG_CONTEXT),
        dcc.Store(id=ids.SEG_SWEEP_JOB),
        dcc.Store(id=ids.SEG_SWEEP_RENDERED),
        dcc.Store(id=ids.SEG_CLUSTER_JOB),
        dcc.Store(id=ids.kick("segments")),
    ])


# ---- callbacks -----------------------------------------------------------------------------------------------

def register(app: dash.Dash) -> None:
    dash.register_page(__name__, path=PATH, name="Segments", title=f"Segments · {C.TITLE}", order=2,
                       layout=layout)
    form_outputs = (Output(ids.SEG_FEATURES, "options"), Output(ids.SEG_FEATURES, "value"),
                    Output(ids.SEG_LOG, "value"), Output(ids.SEG_SCALING, "value"), Output(ids.SEG_K_RANGE, "value"),
                    Output(ids.SEG_N_INIT, "value"), Output(ids.SEG_SEED, "value"),
                    Output(ids.SEG_STABILITY, "value"))

    @app.callback(
        Output(ids.SEG_CONTEXT, "data"), *form_outputs, Output(ids.SEG_SWEEP_JOB, "data"),
        Output(ids.SEG_CLUSTER_JOB, "data"), Output(ids.SEG_DATASET_NOTE, "children"),
        Output(ids.SEG_MSG, "children"),
        Input(ids.DATASET, "data"), Input(ids.DATASETS, "data"),
        Input(ids.SEG_PIN, "data"), State(ids.SEG_CONTEXT, "data"), State(ids.RULES, "data"), State(ids.PICKS, "data"),
    )
    def set_up(selected, datasets, pin, context, rules_store, picks):
        n_out = 13
        keep = (no_update,) * n_out
        try:
            tc = team_client()
            if pin:
                if context and context.get("pinned") == pin:
                    return keep
                job = tc.status(pin)
                if job is None or job["kind"] != "sweep":
                    return (None, *(no_update,) * 10, "",
                            C.alert(f"Job {pin} is not a k-sweep of your team.", "warning"))
                meta = tc.dataset(job["dataset_id"])
                p = job["params"]
                ctx_new = {"dataset": job["dataset_id"], "rules": p.get("rules") or {}, "as_of": p.get("as_of"),
                           "pinned": pin}
                sweep_id, cluster_id, params = pin, None, p
            else:
                if not selected or datasets is None:
                    return (None, [], [], *(no_update,) * 6, None, None, "",
                            C.alert(["No dataset yet: ", dcc.Link("load or upload one", href="/"), "."], "info")
                            if datasets is not None else "")
                if context and context.get("dataset") == selected and not context.get("pinned"):
                    return keep
                meta = C.dataset_by_id(datasets, selected) or tc.dataset(selected)
                ctx_new = {"dataset": selected, "rules": C.rules_for(rules_store, selected), "as_of": None,
                           "pinned": None}
                jobs = tc.list_jobs(limit=100)["jobs"]
                sweep_id = _find(tc, jobs, picks, "sweep", selected)
                cluster_id = _find(tc, jobs, picks, "cluster", selected)
                sweep_job = tc.status(sweep_id) if sweep_id else None
                params = sweep_job["params"] if sweep_job else None
        except Exception as exc:  # noqa: BLE001 - every error becomes a message in the page
            return (*keep[:-1], C.error_alert(exc, "preparing the segments page"))
        options, defaults = feature_options(meta)
        form = form_from_params(params)
        features = [f for f in form["features"] if f in {o["value"] for o in options}] or defaults
        ctx_new["customer_level"] = (meta or {}).get("shape") == "customers"
        rules = C.rules_changed(ctx_new["rules"])
        note = [f"Dataset: {(meta or {}).get('name', ctx_new['dataset'])}",
                f" · cleaning rules: {', '.join(rules) if rules else 'defaults'}"]
        if pin:
            note.append(" · showing the k-sweep of this link")
        return (ctx_new, options, features, form["log"], form["scaling"], form["k_range"], form["n_init"],
                form["seed"], form["stability"], sweep_id, cluster_id, note, "")

    @app.callback(
        Output(ids.SEG_SWEEP_JOB, "data", allow_duplicate=True), Output(ids.PICKS, "data", allow_duplicate=True),
        Output(ids.kick("segments"), "data", allow_duplicate=True),
        Output(ids.SEG_MSG, "children", allow_duplicate=True),
        Input(ids.SEG_RUN_SWEEP, "n_clicks"),
        State(ids.SEG_FEATURES, "value"), State(ids.SEG_LOG, "value"), State(ids.SEG_SCALING, "value"),
        State(ids.SEG_K_RANGE, "value"), State(ids.SEG_N_INIT, "value"), State(ids.SEG_SEED, "value"),
        State(ids.SEG_STABILITY, "value"), State(ids.SEG_CONTEXT, "data"), State(ids.PICKS, "data"),
        prevent_initial_call=True,
    )
    def run_sweep(n_clicks, features, log, scaling, k_range, n_init, seed, stability, context, picks):
        if not n_clicks:
            return (no_update,) * 4
        if not context or not context.get("dataset"):
            return no_update, no_update, no_update, C.alert("Select a dataset first.", "warning")
        try:
            params = sweep_params(features, log, scaling, k_range, n_init, seed, stability, context)
            job = team_client().submit("sweep", context["dataset"], params)
        except Exception as exc:  # noqa: BLE001
            return no_update, no_update, no_update, C.error_alert(exc, "starting the k-sweep")
        return job["id"], C.with_pick(picks, "sweep", context["dataset"], job["id"]), C.now_marker(), ""

    @app.callback(
        Output(ids.kick("segments"), "data", allow_duplicate=True),
        Output(ids.SEG_MSG, "children", allow_duplicate=True),
        Input(ids.SEG_CANCEL, "n_clicks"), State(ids.SEG_SWEEP_JOB, "data"),
        prevent_initial_call=True,
    )
    def cancel(n_clicks, job_id):
        if not n_clicks or not job_id:
            return no_update, no_update
        try:
            team_client().cancel(job_id)
        except Exception as exc:  # noqa: BLE001
            return no_update, C.error_alert(exc, "cancelling the k-sweep")
        return C.now_marker(), ""

    @app.callback(
        Output(ids.SEG_SWEEP_SECTION, "style"), Output(ids.SEG_PROGRESS, "value"), Output(ids.SEG_PROGRESS, "label"),
        Output(ids.SEG_PROGRESS, "animated"), Output(ids.SEG_PROGRESS, "color"),
        Output(ids.SEG_PROGRESS_MSG, "children"), Output(ids.SEG_CANCEL, "disabled"),
        Output(ids.SEG_SWEEP_STATUS, "children"), Output(ids.SEG_RECOMMENDATION, "children"),
        Output(ids.SEG_SWEEP_CHARTS, "children"), Output(ids.SEG_K, "value"), Output(ids.SEG_SWEEP_RENDERED, "data"),
        Input(ids.SEG_SWEEP_JOB, "data"), Input(ids.JOBS, "data"), State(ids.SEG_SWEEP_RENDERED, "data"),
    )
    def show_sweep(job_id, jobs, rendered):
        if not job_id:
            return HIDDEN, 0, "", False, "primary", "", True, "", "", "", no_update, None
        if rendered == job_id and ctx.triggered_id == ids.JOBS:
            return (no_update,) * 12
        try:
            tc = team_client()
            job = C.find_job((jobs or {}).get("jobs"), job_id) or tc.status(job_id)
            if job is None:
                return (HIDDEN, 0, "", False, "primary", "", True, "", "", "", no_update, None)
            pct = C.progress_pct(job)
            label = f"{job['progress_done']}/{job['progress_total']}"
            color = C.STATUS_COLORS.get(job["status"], "primary")
            message = [C.status_badge(job["status"]), " ", job.get("message") or "",
                       html.Span(f" · sweep {C.params_summary(job)} · job {job_id} · {C.duration(job)}",
                                 className="text-muted")]
            active = job["status"] in C.ACTIVE
            if job["status"] == "done":
                sweep = tc.result(job_id, "sweep")
                if sweep is None:
                    return (SHOWN, pct, label, False, color, message, True,
                            C.alert("The sweep's result is missing.", "warning"), "", "", no_update, None)
                rec_k = (sweep.get("recommendation") or {}).get("k")
                return (SHOWN, pct, label, False, color, message, True,
                        dcc.Link("Shareable link to this k-sweep", href=f"/results/{job_id}", className="small"),
                        recommendation_view(sweep), sweep_charts(sweep), rec_k if rec_k else no_update, job_id)
        except Exception as exc:  # noqa: BLE001
            return (SHOWN, 0, "", False, "danger", "", True, C.error_alert(exc, "showing the k-sweep"), "", "",
                    no_update, None)
        problem = C.job_problem(job, "The k-sweep", job_id) or ""
        return SHOWN, pct, label, active, color, message, not active, problem, "", "", no_update, None

    @app.callback(
        Output(ids.SEG_CLUSTER_JOB, "data", allow_duplicate=True), Output(ids.PICKS, "data", allow_duplicate=True),
        Output(ids.kick("segments"), "data", allow_duplicate=True),
        Output(ids.SEG_MSG, "children", allow_duplicate=True),
        Input(ids.SEG_RUN_CLUSTER, "n_clicks"),
        State(ids.SEG_FEATURES, "value"), State(ids.SEG_LOG, "value"), State(ids.SEG_SCALING, "value"),
        State(ids.SEG_K, "value"), State(ids.SEG_N_INIT, "value"), State(ids.SEG_SEED, "value"),
        State(ids.SEG_CONTEXT, "data"), State(ids.PICKS, "data"),
        prevent_initial_call=True,
    )
    def run_cluster(n_clicks, features, log, scaling, k, n_init, seed, context, picks):
        if not n_clicks:
            return (no_update,) * 4
        if not context or not context.get("dataset"):
            return no_update, no_update, no_update, C.alert("Select a dataset first.", "warning")
        try:
            params = cluster_params(features, log, scaling, k, n_init, seed, context)
            job = team_client().submit("cluster", context["dataset"], params)
        except Exception as exc:  # noqa: BLE001
            return no_update, no_update, no_update, C.error_alert(exc, "starting K-means")
        return job["id"], C.with_pick(picks, "cluster", context["dataset"], job["id"]), C.now_marker(), ""

    @app.callback(
        Output(ids.SEG_CLUSTER_STATUS, "children"),
        Input(ids.SEG_CLUSTER_JOB, "data"), Input(ids.JOBS, "data"),
    )
    def show_cluster(job_id, jobs):
        if not job_id:
            return ""
        try:
            job = C.find_job((jobs or {}).get("jobs"), job_id) or team_client().status(job_id)
        except Exception as exc:  # noqa: BLE001
            return C.error_alert(exc, "checking K-means")
        if job is None:
            return ""
        what = f"K-means with k={job['params'].get('k')} ({C.params_summary(job)})"
        if job["status"] == "done":
            return C.alert([f"{what} is done. ", dcc.Link("Open its insights", href=f"/results/{job_id}",
                                                          id="seg-insights-link", className="alert-link")],
                           "success", id="seg-cluster-done")
        problem = C.job_problem(job, what, job_id)
        return problem if problem is not None else C.job_running_view(job, what)
