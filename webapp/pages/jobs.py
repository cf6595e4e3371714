"""Jobs: the team's jobs, newest first, with status, progress, who ran what with which settings, duration and
a link to each result (``/results/<job id>``); queued and running jobs can be cancelled."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, ctx, dcc, html, no_update

from webapp import components as C
from webapp import ids
from webapp.identity import team_client

PATH = "/jobs"
KIND_LABELS = {"ingest": "import", "describe": "statistics", "sweep": "k-sweep", "cluster": "K-means"}


def job_row(job: dict, dataset_names: dict[str, str]) -> html.Tr:
    href = C.result_href(job)
    links = []
    if href and job["status"] == "done":
        links.append(dcc.Link("open", href=href, className="me-2"))
    if job["kind"] == "ingest" and job["status"] == "done":
        links.append(html.Span(f"dataset {(job.get('result_keys') or {}).get('dataset', '')}",
                               className="text-muted"))
    if job["status"] in C.ACTIVE:
        links.append(dbc.Button("Cancel", id=ids.cancel_job(job["id"]), size="sm", color="outline-danger",
                                n_clicks=0))
    dataset = dataset_names.get(job.get("dataset_id") or "", job.get("dataset_id") or "")
    if job["kind"] == "ingest":
        dataset = (job.get("params") or {}).get("name") or "demo"
    status = [C.status_badge(job["status"])]
    if job["status"] == "failed" and job.get("error"):
        status.append(html.Div(job["error"], className="small text-danger"))
    return html.Tr([
        html.Td(C.fmt_when(job.get("created")), className="text-nowrap small"),
        html.Td(KIND_LABELS.get(job["kind"], job["kind"])),
        html.Td(dataset, className="small"),
        html.Td(job.get("owner") or ""),
        html.Td(status),
        html.Td([C.progress_bar(job), html.Div(job.get("message") or "", className="small text-muted")],
                style={"minWidth": "10rem"}),
        html.Td(C.params_summary(job), className="small"),
        html.Td(C.duration(job), className="text-nowrap small"),
        html.Td(links, className="text-nowrap"),
    ], **{"data-job": job["id"], "data-status": job["status"]})


def jobs_table(jobs: list[dict], datasets: list[dict] | None, total: int | None = None) -> html.Div:
    if not jobs:
        return html.P("No jobs yet.", className="text-muted")
    more = (html.P(f"The {len(jobs)} newest of {total:,} jobs.", className="small text-muted")
            if total and total > len(jobs) else None)
    names = {d["id"]: d.get("name") or d["id"] for d in datasets or []}
    head = html.Thead(html.Tr([html.Th(h) for h in ("Created", "Kind", "Dataset", "By", "Status", "Progress",
                                                    "Settings", "Duration", "")]))
    table = dbc.Table([head, html.Tbody([job_row(j, names) for j in jobs])], hover=True, size="sm",
                      responsive=True, id="jobs-list")
    return html.Div([table, more]) if more else table


def layout(**_kwargs) -> html.Div:
    return html.Div([
        C.page_header("Jobs", "Everything your team has run, newest first. Each result has a shareable link."),
        html.Div(id=ids.JOBS_MSG),
        html.Div(C.spinner("Loading jobs"), id=ids.JOBS_TABLE),
        dcc.Store(id=ids.kick("jobs")),
    ])


def register(app: dash.Dash) -> None:
    dash.register_page(__name__, path=PATH, name="Jobs", title=f"Jobs · {C.TITLE}", order=4, layout=layout)

    @app.callback(Output(ids.JOBS_TABLE, "children"), Input(ids.JOBS, "data"), Input(ids.DATASETS, "data"))
    def show(jobs, datasets):
        if jobs is None:
            return no_update
        return jobs_table(jobs.get("jobs") or [], datasets, jobs.get("total"))

    @app.callback(
        Output(ids.kick("jobs"), "data", allow_duplicate=True), Output(ids.JOBS_MSG, "children"),
        Input(ids.cancel_job(ALL), "n_clicks"),
        prevent_initial_call=True,
    )
    def cancel(clicks):
        if not ctx.triggered_id or not ctx.triggered[0].get("value"):
            return no_update, no_update
        job_id = ctx.triggered_id["id"]
        try:
            job = team_client().cancel(job_id)
        except Exception as exc:  # noqa: BLE001 - every error becomes a message in the page
            return no_update, C.error_alert(exc, "cancelling the job")
        if job is None:
            return no_update, C.alert(f"Job {job_id} does not exist in your team.", "warning")
        return C.now_marker(), C.alert(f"Job {job_id} is {job['status']}.", "info", dismissable=True)
