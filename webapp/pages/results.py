"""``/results/<job id>``: the shareable page of one run, for any member of the job's team.

A cluster job opens its insights, a sweep job its sweep charts (on the Segments page), a describe job its
overview; the page is the same layout as those pages with the job pinned, so it also shows live progress while
the job runs. Another team's job is reported exactly like an unknown id.
"""

from __future__ import annotations

import logging

import dash
from dash import dcc, html

from webapp import components as C
from webapp.identity import team_client
from webapp.pages import insights, overview, segments

log = logging.getLogger("webapp.pages.results")

PATH_TEMPLATE = "/results/<job_id>"
VIEWS = {"cluster": insights.layout, "sweep": segments.layout, "describe": overview.layout}


def layout(job_id: str | None = None, **_kwargs) -> html.Div:
    if not job_id:
        return html.Div([C.page_header("Result"), C.alert("No job id in the address.", "warning")])
    try:
        job = team_client().status(job_id)
    except Exception as exc:  # noqa: BLE001 - every error becomes a message in the page
        return html.Div([C.page_header("Result"), C.error_alert(exc, "opening this result")])
    if job is None:
        return html.Div([C.page_header("Result"), C.alert(
            [f"There is no job {job_id} in your team. ", dcc.Link("See your team's jobs", href="/jobs"), "."],
            "warning", id="results-not-found")])
    view = VIEWS.get(job["kind"])
    if view is None:
        return html.Div([C.page_header("Result"), C.alert(
            [f"Job {job_id} imported a dataset; open it on the ", dcc.Link("Data page", href="/"), "."], "info")])
    return view(job_id=job_id)


def title(job_id: str | None = None) -> str:
    return f"Result {job_id or ''} · {C.TITLE}"


def register(app: dash.Dash) -> None:
    dash.register_page(__name__, path_template=PATH_TEMPLATE, name="Result", title=title, layout=layout)
