"""Data: load the demo dataset or upload a file, fix the column mapping, switch cleaning rules, pick a dataset.

Uploads are checked for size in the browser (a clear message, nothing sent) and again on the server (Flask's
``MAX_CONTENT_LENGTH`` answers 413; the callback re-checks the decoded size). The queue's client then runs the
cheap checks (type, empty, first and last bytes) and refuses a file that is certainly not a table at once. A
file becomes a dataset through an ingest job in a worker; a file the worker rejects leaves no job, no dataset
and no stored bytes, and this page shows the analysis core's message (:meth:`TeamClient.upload_status`). The
bytes of accepted uploads stay in the queue's ``uploads`` folder; the browser keeps their name and hash
(local storage) so "Import again with this mapping" can re-submit them.
"""

from __future__ import annotations

import base64
import binascii
import logging
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import flask
from dash import ALL, Input, Output, State, ctx, dcc, html, no_update

from analysis import schema as S
from analysis.errors import AnalysisError
from webapp import components as C
from webapp import figures as F
from webapp import ids
from webapp.identity import team_client
from workers.client import REJECTED, UPLOAD_SUFFIXES

log = logging.getLogger("webapp.pages.data")

PATH = "/"
ROLES = S.TRANSACTION_ROLES
ROLE_HELP = {
    "order_id": "invoice / order number", "customer_id": "who bought", "order_date": "when",
    "quantity": "units per line", "unit_price": "price per unit", "amount": "line or order total",
    "product_id": "stock code / SKU", "description": "product name", "country": "customer's country",
}

# Browser-side size check: nothing is sent when the file is above the limit.
SIZE_CHECK_JS = """
function(contents, filename, limit) {
    const nu = window.dash_clientside.no_update;
    if (!contents) { return [nu, nu, nu, nu]; }
    const comma = contents.indexOf(',');
    const size = Math.floor((contents.length - comma - 1) * 3 / 4);
    if (limit && size > limit) {
        const mb = (size / 1048576).toFixed(1);
        const lim = (limit / 1048576).toFixed(0);
        return [nu, "File '" + filename + "' is " + mb + " MB, above the upload limit of " + lim +
                " MB. Nothing was uploaded; split the file or ask for a higher MAX_UPLOAD_MB.",
                "alert alert-danger", null];
    }
    return [{"contents": contents, "filename": filename}, "", "", null];
}
"""


# ---- pure helpers --------------------------------------------------------------------------------------------

def decode_upload(contents: str | None, filename: str | None, limit_bytes: int) -> bytes:
    """The bytes of a ``dcc.Upload`` data URL; :class:`AnalysisError` with a message for the user when the
    upload is empty, not base64 or above ``limit_bytes``."""
    name = Path(filename or "upload").name
    if not contents or "," not in contents:
        raise AnalysisError(f"The upload of '{name}' arrived empty; try again.", file=name)
    b64 = contents.split(",", 1)[1]
    approx = len(b64) * 3 // 4
    if approx > limit_bytes:
        raise AnalysisError(f"File '{name}' is {approx / 2**20:.1f} MB, above the upload limit of "
                            f"{limit_bytes / 2**20:.0f} MB.", file=name)
    try:
        return base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AnalysisError(f"The upload of '{name}' was damaged on the way (not base64); try again.",
                            file=name) from exc


def upload_record(job: dict, filename: str) -> dict:
    """What the browser keeps of an upload: its name, content hash and suffix (the bytes stay on the server)."""
    return {"name": Path(filename).name, "sha": (job.get("params") or {}).get("sha"),
            "suffix": Path(filename).suffix.lower()}


def upload_source(dataset_id: str | None, last_uploads: dict | None, jobs: list[dict] | None) -> dict | None:
    """Where a dataset's file can be read again: the browser's record of the upload, else the params of the
    ingest job that made it. None for the demo data or when unknown."""
    if not dataset_id:
        return None
    record = (last_uploads or {}).get(dataset_id)
    if isinstance(record, dict) and record.get("sha") and record.get("suffix"):
        return record
    for job in jobs or []:
        params = job.get("params") or {}
        if job.get("kind") == "ingest" and (job.get("result_keys") or {}).get("dataset") == dataset_id and \
                params.get("sha") and params.get("upload"):
            return {"name": params.get("name"), "sha": params["sha"], "suffix": Path(params["upload"]).suffix}
    return None


def mapping_from_form(values: list, id_list: list[dict]) -> dict[str, str]:
    """``{role: column}`` from the mapping dropdowns (empty ones left out)."""
    return {i["role"]: v for v, i in zip(values or [], id_list or [], strict=False) if v}


def rules_from_checklist(enabled: list[str] | None, rule_names: list[str]) -> dict[str, bool]:
    on = set(enabled or [])
    return {name: name in on for name in rule_names}


def rejected_alert(name: str, message: str) -> dbc.Alert:
    """The one way this page says a file was not imported: its name and the analysis core's message."""
    return C.alert([html.Strong(f"Could not import {name}. "), message], "danger", id="data-ingest-error")


def ingest_view(job: dict | None, record: dict | None) -> tuple:
    """``(status children, dataset id to select or None)`` for the page's ingest job."""
    name = ((record or {}).get("file") or {}).get("name") or "the demo dataset"
    if job is None:
        return "", None
    if job["status"] in C.ACTIVE:
        return C.spinner(f"Importing {name}: {job.get('message') or job['status']}"), None
    if job["status"] in ("failed", REJECTED):
        return rejected_alert(name, job.get("error") or "No reason given."), None
    if job["status"] == "cancelled":
        return C.alert(f"The import of {name} was cancelled.", "warning"), None
    dataset_id = (job.get("result_keys") or {}).get("dataset")
    return C.alert(f"{job.get('message') or 'Dataset ready'} and selected.", "success", dismissable=True,
                   id="data-ingest-ok"), dataset_id


# ---- layout --------------------------------------------------------------------------------------------------

def layout(**_kwargs) -> html.Div:
    mb = flask.current_app.config.get("MAX_UPLOAD_MB", 100) if flask.has_app_context() else 100
    return html.Div([
        C.page_header("Data", "Load the demo shop or upload your own transactions (or one row per customer); "
                              "check the column mapping and the cleaning rules; pick the dataset to analyse."),
        dbc.Row([
            dbc.Col(C.card("Demo dataset", [
                html.P("A synthetic shop with planted customer segments: 200,000 order lines over two years.",
                       className="small"),
                dbc.Button("Load demo dataset", id=ids.DATA_DEMO, color="primary", n_clicks=0),
            ]), md=4),
            dbc.Col(C.card("Upload a file", [
                dcc.Upload(
                    id=ids.DATA_UPLOAD, multiple=False, accept=",".join(UPLOAD_SUFFIXES),
                    children=html.Div(["Drag and drop a file here, or ", html.A("choose one", href="#")]),
                    style={"borderWidth": "2px", "borderStyle": "dashed", "borderRadius": "6px", "padding": "1.6rem",
                           "textAlign": "center", "cursor": "pointer"},
                ),
                html.Small(f"CSV (any common delimiter), Excel .xlsx or Parquet; up to {mb:g} MB.",
                           className="text-muted"),
            ]), md=8),
        ]),
        html.Div(id=ids.DATA_SIZE_MSG, role="alert"),
        html.Div(id=ids.DATA_MSG),
        html.Div(id=ids.DATA_INGEST_STATUS),
        C.card("Your team's datasets", html.Div(id=ids.DATA_LIST)),
        dbc.Row([
            dbc.Col(C.card("Column mapping", [
                html.P("The roles the importer recognised; change them and import the same file again.",
                       className="small text-muted"),
                html.Div(id=ids.DATA_MAPPING),
                dbc.Button("Import again with this mapping", id=ids.DATA_REIMPORT, color="secondary", n_clicks=0,
                           className="mt-2", disabled=True),
                html.Div(id=ids.DATA_REIMPORT_NOTE, className="small text-muted mt-1"),
            ]), lg=4),
            dbc.Col(C.card("Data quality and cleaning rules", [
                html.P("Each rule's rows and revenue are counted whether it is on or off; switched-on rules are "
                       "the steps of the revenue bridge. The rules apply to every analysis of this dataset.",
                       className="small text-muted"),
                dbc.Checklist(id=ids.DATA_RULES, switch=True, options=[], value=[]),
                html.Div(id=ids.DATA_QUALITY, className="mt-3"),
            ]), lg=8),
        ]),
        dcc.Store(id=ids.DATA_UPLOAD_PENDING, storage_type="memory"),
        dcc.Store(id=ids.DATA_UPLOAD_LIMIT, data=int(mb * 2**20)),
        dcc.Store(id=ids.DATA_INGEST, storage_type="session"),
        dcc.Store(id=ids.DATA_LAST_UPLOAD, storage_type="local", data={}),
        dcc.Store(id=ids.DATA_DESCRIBE_JOB),
        dcc.Store(id=ids.DATA_QUALITY_RENDERED),
        dcc.Store(id=ids.kick("data")),
        dcc.Store(id=ids.select_request("data")),
    ])


def datasets_table(datasets: list[dict], selected: str | None) -> html.Div:
    if not datasets:
        return html.P("No datasets yet: load the demo dataset or upload a file.", className="text-muted")
    head = html.Thead(html.Tr([html.Th(h) for h in ("", "Name", "Shape", "Rows", "Customers", "Added by", "Added")]))
    rows = []
    for d in datasets:
        chosen = d["id"] == selected
        button = (dbc.Badge("selected", color="success", className="p-2") if chosen else
                  dbc.Button("Select", id=ids.select_dataset(d["id"]), size="sm", color="outline-primary",
                             n_clicks=0))
        rows.append(html.Tr([
            html.Td(button), html.Td([d.get("name"), html.Br(), html.Small(_mapping_note(d), className="text-muted")]),
            html.Td(d.get("shape")), html.Td(F.fmt_number(d.get("rows"))),
            html.Td(F.fmt_number(d.get("customers"))), html.Td(d.get("owner")), html.Td(C.fmt_when(d.get("created"))),
        ], className="table-active" if chosen else None, **{"data-dataset": d["id"]}))
    return dbc.Table([head, html.Tbody(rows)], hover=True, size="sm", responsive=True, className="mb-0",
                     id="data-datasets-table")


def _mapping_note(meta: dict) -> str:
    """A short line telling datasets of the same file apart: id and the columns used for the main roles."""
    mapping = meta.get("mapping") or {}
    roles = ", ".join(f"{role}={mapping[role]}" for role in ("customer_id", "amount", "order_date")
                      if mapping.get(role))
    return f"{meta.get('id')}" + (f" · {roles}" if roles else "")


def mapping_form(meta: dict | None) -> list:
    if not meta:
        return [html.P("Select a dataset first.", className="text-muted")]
    columns = [str(c) for c in meta.get("columns") or []]
    mapping = meta.get("mapping") or {}
    rows = []
    for role in ROLES:
        rows.append(dbc.Row([
            dbc.Label([role, html.Br(), html.Small(ROLE_HELP.get(role, ""), className="text-muted")], width=5,
                      className="small"),
            dbc.Col(dcc.Dropdown(id=ids.mapping_role(role), options=[{"label": c, "value": c} for c in columns],
                                 value=mapping.get(role), placeholder="(not in the file)", clearable=True), width=7),
        ], className="mb-1"))
    notes = [html.Li(n) for n in meta.get("notes") or []]
    if notes:
        rows.append(html.Ul(notes, className="small mt-2"))
    return rows


def quality_view(quality: dict | None, shape: str | None, pending: bool = False) -> list:
    if shape == "customers":
        return [C.alert("This file has one row per customer: there are no transactions to clean, so the cleaning "
                        "rules do not apply.", "info")]
    if not quality:
        return [C.spinner("Computing the quality report for these rules")] if pending else []
    rows = [html.Tr([html.Td(r.get("label")), html.Td("on" if r.get("enabled") else "off"),
                     html.Td(F.fmt_number(r.get("rows_matched"))), html.Td(F.fmt_money(r.get("revenue_matched"))),
                     html.Td(F.fmt_number(r.get("rows_removed"))), html.Td(F.fmt_money(r.get("revenue_removed")))])
            for r in quality.get("rules") or []]
    table = dbc.Table([html.Thead(html.Tr([html.Th(h) for h in ("Rule", "", "Rows matched", "Revenue matched",
                                                                   "Rows removed", "Revenue removed")])),
                       html.Tbody(rows)], size="sm", striped=True, responsive=True, className="small")
    summary = html.P([f"Raw: {F.fmt_number(quality.get('raw_rows'))} rows, revenue "
                      f"{F.fmt_money(quality.get('raw_revenue'))}. Clean: {F.fmt_number(quality.get('clean_rows'))} "
                      f"rows, revenue {F.fmt_money(quality.get('clean_revenue'))}."], id="data-quality-summary")
    out = [summary]
    out += [C.alert(w, "warning") for w in quality.get("warnings") or []]
    out += [C.graph(F.quality_bridge({"quality": quality, "dataset": {"shape": shape}}), "data-bridge"), table]
    if pending:
        out.insert(0, C.spinner("Updating the quality report for these rules"))
    return out


# ---- callbacks -----------------------------------------------------------------------------------------------

def register(app: dash.Dash) -> None:
    dash.register_page(__name__, path=PATH, name="Data", title=f"Data · {C.TITLE}", order=0, layout=layout)

    app.clientside_callback(
        SIZE_CHECK_JS,
        Output(ids.DATA_UPLOAD_PENDING, "data"), Output(ids.DATA_SIZE_MSG, "children"),
        Output(ids.DATA_SIZE_MSG, "className"), Output(ids.DATA_UPLOAD, "contents"),
        Input(ids.DATA_UPLOAD, "contents"), State(ids.DATA_UPLOAD, "filename"), State(ids.DATA_UPLOAD_LIMIT, "data"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(ids.DATA_INGEST, "data", allow_duplicate=True), Output(ids.DATA_MSG, "children", allow_duplicate=True),
        Output(ids.kick("data"), "data", allow_duplicate=True),
        Output(ids.DATA_UPLOAD_PENDING, "data", allow_duplicate=True),
        Input(ids.DATA_UPLOAD_PENDING, "data"),
        prevent_initial_call=True,
    )
    def upload(pending):
        if not pending:
            return no_update, no_update, no_update, no_update
        filename = pending.get("filename") or "upload"
        try:
            limit = int(flask.current_app.config.get("MAX_UPLOAD_MB", 100) * 2**20)
            content = decode_upload(pending.get("contents"), filename, limit)
            job = team_client().add_upload(filename, content)
        except AnalysisError as exc:  # refused before anything was stored or queued
            return None, rejected_alert(Path(filename).name, exc.message), no_update, None
        except Exception as exc:  # noqa: BLE001 - every error becomes a message in the page
            return None, C.error_alert(exc, f"uploading {Path(filename).name}"), no_update, None
        record = {"job": job["id"], "file": upload_record(job, filename), "handled": False}
        return record, "", C.now_marker(), None

    @app.callback(
        Output(ids.DATA_INGEST, "data", allow_duplicate=True), Output(ids.DATA_MSG, "children", allow_duplicate=True),
        Output(ids.kick("data"), "data", allow_duplicate=True),
        Input(ids.DATA_DEMO, "n_clicks"),
        prevent_initial_call=True,
    )
    def load_demo(n_clicks):
        if not n_clicks:
            return no_update, no_update, no_update
        try:
            job = team_client().add_demo()
        except Exception as exc:  # noqa: BLE001
            return no_update, C.error_alert(exc, "loading the demo dataset"), no_update
        return {"job": job["id"], "file": None, "handled": False}, "", C.now_marker()

    @app.callback(
        Output(ids.DATA_INGEST_STATUS, "children"),
        Output(ids.select_request("data"), "data", allow_duplicate=True),
        Output(ids.DATA_INGEST, "data", allow_duplicate=True),
        Output(ids.DATA_LAST_UPLOAD, "data", allow_duplicate=True),
        Input(ids.DATA_INGEST, "data"), Input(ids.JOBS, "data"), State(ids.DATA_LAST_UPLOAD, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def watch_ingest(record, jobs, last_uploads):
        if not record or not record.get("job"):
            return "", no_update, no_update, no_update
        try:
            job = C.find_job((jobs or {}).get("jobs"), record["job"]) or team_client().upload_status(record["job"])
        except Exception as exc:  # noqa: BLE001
            return C.error_alert(exc, "checking the import"), no_update, no_update, no_update
        view, dataset_id = ingest_view(job, record)
        if record.get("handled") and dataset_id:
            return no_update, no_update, no_update, no_update  # said once; a later visit starts clean
        if job is None or job["status"] in C.ACTIVE or record.get("handled"):
            return view, no_update, no_update, no_update
        handled = {**record, "handled": True}
        if not dataset_id:
            return view, no_update, handled, no_update
        uploads = dict(last_uploads or {})
        if record.get("file"):
            uploads[dataset_id] = record["file"]
        return view, {"id": dataset_id, "at": C.now_marker()}, handled, uploads

    @app.callback(Output(ids.DATA_LIST, "children"), Input(ids.DATASETS, "data"), Input(ids.DATASET, "data"))
    def show_datasets(datasets, selected):
        if datasets is None:
            return C.spinner("Loading datasets")
        return datasets_table(datasets, selected)

    @app.callback(
        Output(ids.select_request("data"), "data", allow_duplicate=True),
        Input(ids.select_dataset(ALL), "n_clicks"),
        prevent_initial_call=True,
    )
    def select(clicks):
        if not ctx.triggered_id or not any(clicks or []) or not ctx.triggered[0].get("value"):
            return no_update
        return {"id": ctx.triggered_id["id"], "at": C.now_marker()}

    @app.callback(
        Output(ids.DATA_MAPPING, "children"), Output(ids.DATA_REIMPORT, "disabled"),
        Output(ids.DATA_REIMPORT_NOTE, "children"),
        Input(ids.DATASET, "data"), Input(ids.DATASETS, "data"),
        State(ids.DATA_LAST_UPLOAD, "data"), State(ids.JOBS, "data"),
    )
    def show_mapping(selected, datasets, last_uploads, jobs):
        meta = C.dataset_by_id(datasets, selected)
        if meta is None:
            return mapping_form(None), True, ""
        source = upload_source(selected, last_uploads, (jobs or {}).get("jobs"))
        if meta.get("demo"):
            return mapping_form(meta), True, "The demo data is generated, not uploaded: nothing to import again."
        note = "" if source else "Looking for this dataset's file among the team's imports when you click."
        return mapping_form(meta), False, note

    @app.callback(
        Output(ids.DATA_INGEST, "data", allow_duplicate=True), Output(ids.DATA_MSG, "children", allow_duplicate=True),
        Output(ids.kick("data"), "data", allow_duplicate=True),
        Input(ids.DATA_REIMPORT, "n_clicks"),
        State(ids.mapping_role(ALL), "value"), State(ids.mapping_role(ALL), "id"), State(ids.DATASET, "data"),
        State(ids.DATA_LAST_UPLOAD, "data"),
        prevent_initial_call=True,
    )
    def reimport(n_clicks, values, id_list, selected, last_uploads):
        if not n_clicks:
            return no_update, no_update, no_update
        try:
            tc = team_client()
            source = upload_source(selected, last_uploads, tc.list_jobs(limit=200)["jobs"])
            if source is None:
                raise AnalysisError("The file of this dataset is not known here (it was not uploaded from this "
                                    "team's imports); upload it again instead.")
            mapping = mapping_from_form(values, id_list)
            job = tc.reimport(source["name"], source["sha"], source["suffix"], mapping=mapping)
        except Exception as exc:  # noqa: BLE001
            return no_update, C.error_alert(exc, "importing the file again"), no_update
        record = {"job": job["id"], "file": {"name": source["name"], "sha": source["sha"],
                                             "suffix": source["suffix"]}, "handled": False}
        return record, "", C.now_marker()

    @app.callback(
        Output(ids.DATA_RULES, "options"), Output(ids.DATA_RULES, "value"),
        Input(ids.DATASET, "data"), Input(ids.DATASETS, "data"), State(ids.RULES, "data"),
    )
    def show_rules(selected, datasets, rules_store):
        meta = C.dataset_by_id(datasets, selected)
        rules = ((meta or {}).get("quality") or {}).get("rules") or []
        if not rules:
            return [], []
        chosen = C.rules_for(rules_store, selected)
        options = [{"label": html.Span([html.Strong(r["label"]), " ", html.Small(r["description"],
                                                                                  className="text-muted")]),
                    "value": r["name"]} for r in rules]
        value = [r["name"] for r in rules if chosen.get(r["name"], r["enabled"])]
        return options, value

    @app.callback(
        Output(ids.RULES, "data"),
        Input(ids.DATA_RULES, "value"), State(ids.DATA_RULES, "options"), State(ids.DATASET, "data"),
        State(ids.RULES, "data"),
        prevent_initial_call=True,
    )
    def choose_rules(enabled, options, selected, rules_store):
        if not selected or not options:
            return no_update
        rules = rules_from_checklist(enabled, [o["value"] for o in options])
        if C.rules_for(rules_store, selected) == rules:
            return no_update
        return {**(rules_store or {}), selected: rules}

    @app.callback(
        Output(ids.DATA_DESCRIBE_JOB, "data"), Output(ids.kick("data"), "data", allow_duplicate=True),
        Output(ids.DATA_MSG, "children", allow_duplicate=True),
        Input(ids.DATASET, "data"), Input(ids.RULES, "data"), State(ids.DATASETS, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def describe_for_quality(selected, rules_store, datasets):
        if not selected:
            return None, no_update, no_update
        meta = C.dataset_by_id(datasets, selected)
        if meta is not None and meta.get("shape") == "customers":
            return None, no_update, ""
        try:
            job = team_client().submit("describe", selected, {"rules": C.rules_for(rules_store, selected)})
        except Exception as exc:  # noqa: BLE001
            return None, no_update, C.error_alert(exc, "checking data quality")
        return job["id"], (C.now_marker() if job["status"] in C.ACTIVE else no_update), ""

    @app.callback(
        Output(ids.DATA_QUALITY, "children"), Output(ids.DATA_QUALITY_RENDERED, "data"),
        Input(ids.DATA_DESCRIBE_JOB, "data"), Input(ids.JOBS, "data"), Input(ids.DATASETS, "data"),
        State(ids.DATASET, "data"), State(ids.RULES, "data"), State(ids.DATA_QUALITY_RENDERED, "data"),
    )
    def show_quality(job_id, jobs, datasets, selected, rules_store, rendered):
        meta = C.dataset_by_id(datasets, selected)
        if meta is None:
            return "", None
        shape = meta.get("shape")
        if shape == "customers" or not job_id:
            return quality_view(meta.get("quality"), shape), None
        if rendered == job_id and ctx.triggered_id == ids.JOBS:
            return no_update, no_update
        try:
            tc = team_client()
            job = C.find_job((jobs or {}).get("jobs"), job_id) or tc.status(job_id)
            if job is not None and job["status"] == "done":
                result = tc.result(job_id, "describe") or {}
                return quality_view(result.get("quality"), shape), job_id
        except Exception as exc:  # noqa: BLE001
            return C.error_alert(exc, "reading the quality report"), None
        problem = C.job_problem(job, "The quality report", job_id)
        if problem is not None:
            return problem, None
        defaults = not C.rules_changed(C.rules_for(rules_store, selected))
        return quality_view(meta.get("quality") if defaults else None, shape, pending=True), None
