"""The Dash app without a browser or a queue: page layouts, callbacks over HTTP with a fake client, the pure
helpers, download routes and their team check, the upload size limit, and polling only while a job is active."""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path
from types import SimpleNamespace

import dash
import pandas as pd
import pytest
from plotly.utils import PlotlyJSONEncoder

from analysis.errors import AnalysisError
from webapp import components as C
from webapp import ids
from webapp.app import create_app, ensure_dataset, max_request_bytes, max_upload_mb, poll_outputs, snapshot
from webapp.identity import Identity, TeamClient, current_identity, local_mode
from webapp.pages import data, insights, jobs, overview, results, segments
from workers.client import QueueUnavailable
from workers.params import normalise

TEAM = "local"


# ---- a fake job-queue client ---------------------------------------------------------------------------------

def make_job(job_id: str, kind: str = "describe", status: str = "done", *, team: str = TEAM, dataset_id="d1",
             params: dict | None = None, created: float | None = None, **extra) -> dict:
    now = time.time()
    job = {"id": job_id, "kind": kind, "status": status, "team": team, "owner": "local", "dataset_id": dataset_id,
           "params": params or {}, "progress_done": 1 if status == "done" else 0, "progress_total": 1,
           "message": "Done" if status == "done" else "Waiting for a worker", "error": None,
           "created": created or now, "started": now if status != "queued" else None,
           "finished": now if status in ("done", "failed", "cancelled") else None, "result_keys": {}}
    job.update(extra)
    return job


DEMO_META = {"id": "d1", "name": "Demo shop", "team": TEAM, "shape": "line_items", "rows": 100, "customers": 10,
             "columns": ["InvoiceNo", "CustomerID", "InvoiceDate", "Quantity", "UnitPrice"],
             "mapping": {"order_id": "InvoiceNo", "customer_id": "CustomerID", "order_date": "InvoiceDate",
                         "quantity": "Quantity", "unit_price": "UnitPrice"},
             "default_features": ["recency_days", "frequency", "monetary"], "demo": True, "created": 1.0,
             "owner": "local", "notes": [], "quality": None}


class FakeClient:
    """The parts of :class:`workers.client.Client` the web app uses, in memory, scoped by team like the real one."""

    def __init__(self, jobs=(), datasets=(DEMO_META,), results=None, uploads_dir: Path | None = None) -> None:
        self.jobs = {j["id"]: j for j in jobs}
        self._datasets = list(datasets)
        self.results = dict(results or {})
        self.calls: list[tuple] = []
        self.settings = SimpleNamespace(uploads_dir=uploads_dir or Path("/nonexistent"))

    def datasets(self, *, team):
        return [d for d in self._datasets if d.get("team", TEAM) == team]

    def dataset(self, dataset_id, *, team):
        return next((d for d in self.datasets(team=team) if d["id"] == dataset_id), None)

    def list_jobs(self, *, team, offset=0, limit=20):
        mine = sorted((j for j in self.jobs.values() if j["team"] == team), key=lambda j: -j["created"])
        return {"jobs": mine[offset:offset + limit], "total": len(mine)}

    def status(self, job_id, *, team):
        job = self.jobs.get(job_id)
        return job if job is not None and job["team"] == team else None

    def result(self, job_id, name, *, team):
        return self.results.get((job_id, name)) if self.status(job_id, team=team) else None

    def submit(self, kind, dataset_id, params=None, *, owner, team):
        self.calls.append(("submit", kind, dataset_id, params, owner, team))
        if self.dataset(dataset_id, team=team) is None:
            raise AnalysisError(f"Dataset {dataset_id} does not exist.")
        job = make_job(f"new{len(self.jobs)}", kind, "queued", team=team, dataset_id=dataset_id, params=params)
        self.jobs[job["id"]] = job
        return job

    def add_upload(self, filename, content, *, owner, team, mapping=None, sheet=0):
        self.calls.append(("add_upload", filename, content, mapping, owner, team))
        job = make_job(f"ingest{len(self.jobs)}", "ingest", "queued", team=team, dataset_id="",
                       params={"name": filename, "sha": "ab12", "upload": "uploads/ab12.csv"})
        self.jobs[job["id"]] = job
        return job

    def reimport(self, sha, suffix, name, *, owner, team, mapping=None, sheet=0):
        self.calls.append(("reimport", name, sha, suffix, mapping, owner, team))
        job = make_job(f"ingest{len(self.jobs)}", "ingest", "queued", team=team, dataset_id="",
                       params={"name": name, "sha": sha, "upload": f"uploads/{sha}{suffix}"})
        self.jobs[job["id"]] = job
        return job

    def result_path(self, job_id, name, *, team):
        return None  # no worker-written files here: downloads fall back to converting the result

    def add_demo(self, *, owner, team, rows=200_000, seed=0):
        self.calls.append(("add_demo", owner, team))
        job = make_job("demo-ingest", "ingest", "queued", team=team, dataset_id="", params={"demo": True})
        self.jobs[job["id"]] = job
        return job

    def cancel(self, job_id, *, team):
        job = self.status(job_id, team=team)
        if job is not None and job["status"] in ("queued", "running"):
            job["status"] = "cancelled"
        return job

    def health(self, ping_workers=True):
        return {"redis": True, "queue_length": 0, "workers": ["w1@host"]}


class DownClient:
    def __getattr__(self, name):
        def fail(*_args, **_kwargs):
            raise QueueUnavailable("The job queue (Redis at redis://127.0.0.1:1/0) is not reachable: refused")

        return fail


# ---- calling callbacks the way the browser does --------------------------------------------------------------

def _split_outputs(output: str) -> list[dict]:
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    out = []
    for part in parts:
        ident, prop = part.rsplit(".", 1) if not part.startswith("{") else part.split("}.", 1)
        if part.startswith("{"):
            ident = ident + "}"
        out.append({"id": json.loads(ident) if ident.startswith("{") else ident, "property": prop})
    return out


def _item(dep: dict, values: dict):
    if dep["id"].startswith("{"):  # a pattern (ALL): no matching components
        return []
    return {"id": dep["id"], "property": dep["property"], "value": values.get(f"{dep['id']}.{dep['property']}")}


def call(server, output_part: str, values: dict | None = None, triggered: str | None = None) -> dict:
    """POST the callback that outputs ``output_part`` and has ``triggered`` ("id.prop", default: the first key of
    ``values``) among its inputs. ``values``: ``{"id.prop": value}`` for inputs and state (pattern inputs get no
    matching components). Returns ``{id: {prop: value}}`` without no_update outputs (``{}`` on 204)."""
    values = values or {}
    triggered = triggered or next(iter(values))

    def named(dep):
        return f"{dep['id']}.{dep['property']}"

    deps = [d for d in server.get("/_dash-dependencies").get_json()
            if output_part in d["output"] and triggered in [named(i) for i in d["inputs"]]]
    assert len(deps) == 1, (output_part, triggered, [d["output"] for d in deps])
    dep = deps[0]
    outputs = _split_outputs(dep["output"])
    body = {"output": dep["output"], "outputs": outputs if dep["output"].startswith("..") else outputs[0],
            "inputs": [_item(i, values) for i in dep["inputs"]], "state": [_item(s, values) for s in dep["state"]],
            "changedPropIds": [triggered]}
    response = server.post("/_dash-update-component", json=body)
    if response.status_code == 204:
        return {}
    assert response.status_code == 200, response.data[:2000]
    return response.get_json()["response"]


def dumps(component) -> str:
    """A component tree as JSON text (what the browser receives)."""
    return json.dumps(component, cls=PlotlyJSONEncoder)


def find_ids(component) -> dict:
    """``{id: component}`` of a layout (string ids and JSON of dict ids)."""
    found = {}
    for child in [component, *component._traverse()]:
        ident = getattr(child, "id", None)
        if ident is not None:
            found[json.dumps(ident, sort_keys=True) if isinstance(ident, dict) else ident] = child
    return found


@pytest.fixture
def make_app():
    def make(client):
        app = create_app(client)
        return app, app.server.test_client()

    return make


# ---- analysis results to render (computed once, small) -------------------------------------------------------

@pytest.fixture(scope="module")
def demo_results():
    """describe / sweep / segments / membership of a small demo dataset, through JSON like Redis stores them."""
    from analysis import pipeline
    from analysis.projection import project_2d

    prepared = pipeline.prepare(pipeline.demo_dataset(20_000, seed=0))
    fs = pipeline.feature_set(prepared)
    seg = pipeline.segment(fs, 4, random_state=0, n_init=2, prepared=prepared)
    coords, explained = project_2d(fs.matrix.values, random_state=0)
    segments = {"features": fs.matrix.to_dict(), "projection_explained": explained, "dataset_name": "demo",
                **seg.to_dict()}
    roundtrip = lambda value: json.loads(json.dumps(value))  # noqa: E731
    return {"describe": roundtrip(pipeline.describe(prepared)), "segments": roundtrip(segments),
            "membership": seg.membership.join(coords),
            "sweep": roundtrip(pipeline.sweep(fs, [2, 3, 4], n_init=1, stability_seeds=1))}


# ---- layouts -------------------------------------------------------------------------------------------------

def test_the_app_and_every_page_render(make_app):
    app, server = make_app(FakeClient())
    assert Path(app.config.assets_folder).name == "assets" and app.config.external_stylesheets == []
    page = server.get("/")
    assert page.status_code == 200 and b"Segmentation workbench" in page.data
    assert b"bootstrap.min.css" in page.data  # served from assets/, not a CDN
    assert b"cdn" not in page.data.lower()
    assert server.get("/_dash-layout").status_code == 200
    paths = {p["module"].rsplit(".", 1)[-1]: p for p in dash.page_registry.values()}
    assert {"data", "overview", "segments", "insights", "jobs", "results"} <= set(paths)
    assert paths["results"]["path_template"] == "/results/<job_id>"
    with app.server.test_request_context("/"):
        for module, needed in ((data, ids.DATA_UPLOAD), (overview, ids.OV_KPIS), (segments, ids.SEG_RUN_SWEEP),
                               (insights, ids.INS_SCATTER), (jobs, ids.JOBS_TABLE)):
            assert needed in find_ids(module.layout()), module.__name__
    # The router renders every page (this also builds Dash's validation layout of all pages).
    for path, needed in (("/", ids.DATA_UPLOAD), ("/overview", ids.OV_KPIS), ("/segments", ids.SEG_K_RANGE),
                         ("/insights", ids.INS_CONTENT), ("/jobs", ids.JOBS_TABLE), ("/nowhere", "Page not found")):
        out = call(server, "_pages_content.children", {"_pages_location.pathname": path,
                                                       "_pages_location.search": ""})
        assert needed in json.dumps(out["_pages_content"]["children"]), path


def test_results_page_opens_the_right_view_for_each_kind(make_app):
    client = FakeClient(jobs=[make_job("c1", "cluster"), make_job("s1", "sweep"), make_job("x1", "describe"),
                              make_job("i1", "ingest"), make_job("o1", "cluster", team="other")])
    app, _ = make_app(client)
    with app.server.test_request_context("/"):
        assert find_ids(results.layout(job_id="c1"))[ids.INS_PIN].data == "c1"
        assert find_ids(results.layout(job_id="s1"))[ids.SEG_PIN].data == "s1"
        assert find_ids(results.layout(job_id="x1"))[ids.OV_PIN].data == "x1"
        assert "Data page" in dumps(results.layout(job_id="i1"))
        assert "results-not-found" in find_ids(results.layout(job_id="o1"))  # another team's job: absent
        assert "results-not-found" in find_ids(results.layout(job_id="nope"))
    down_app, _ = make_app(DownClient())
    with down_app.server.test_request_context("/"):
        assert "unavailable" in dumps(results.layout(job_id="c1"))


def test_queue_unavailable_shows_a_banner_and_stops_polling(make_app):
    _, server = make_app(DownClient())
    assert server.get("/").status_code == 200
    out = call(server, "store-jobs.data", {"poll.n_intervals": 1}, triggered="poll.n_intervals")
    assert out["poll"]["disabled"] is True
    assert out["queue-alert"]["is_open"] is True
    assert out["queue-alert"]["children"].startswith("Queue unavailable: ")
    assert server.get("/healthz").status_code == 503


# ---- polling -------------------------------------------------------------------------------------------------

def test_polling_runs_only_while_a_job_is_active(make_app):
    running = make_job("s1", "sweep", "running")
    client = FakeClient(jobs=[make_job("x1"), running])
    _, server = make_app(client)
    out = call(server, "store-jobs.data", {"url.pathname": "/"}, triggered="url.pathname")
    assert out["poll"]["disabled"] is False
    assert out["store-jobs"]["data"]["active"] is True
    assert "1 job running" in json.dumps(out["nav-active"]["children"])
    previous = out["store-jobs"]["data"]
    # a tick with nothing new changes nothing on the page
    out = call(server, "store-jobs.data", {"poll.n_intervals": 3, "store-jobs.data": previous,
                                           "store-datasets.data": [DEMO_META]}, triggered="poll.n_intervals")
    assert "store-jobs" not in out and "store-datasets" not in out and out["poll"]["disabled"] is False
    running["status"] = "done"
    out = call(server, "store-jobs.data", {"poll.n_intervals": 4, "store-jobs.data": previous},
               triggered="poll.n_intervals")
    assert out["poll"]["disabled"] is True and out["store-jobs"]["data"]["active"] is False
    assert out["nav-active"]["children"] == ""


def test_poll_outputs_and_snapshot_helpers():
    state = snapshot(FakeClient(jobs=[make_job("a", status="queued")]), team=TEAM)
    assert state["active"] and state["error"] is None and [d["id"] for d in state["datasets"]] == ["d1"]
    jobs_store, datasets_store, disabled, *_ = poll_outputs(state, None, None)
    assert jobs_store["active"] and datasets_store[0]["id"] == "d1" and disabled is False
    same = poll_outputs(state, jobs_store, datasets_store, tick=True)
    assert same[0] is dash.no_update and same[1] is dash.no_update
    forced = poll_outputs(state, jobs_store, datasets_store, tick=False)  # a page shown: always sent
    assert forced[0] == jobs_store and forced[1] == datasets_store
    idle = snapshot(FakeClient(jobs=[make_job("a")]), team=TEAM)
    assert poll_outputs(idle, None, None)[2] is True
    assert snapshot(FakeClient(jobs=[make_job("a", team="other", status="running")]), team=TEAM)["active"] is False


def test_selected_dataset_falls_back_to_the_newest():
    datasets = [{"id": "new"}, {"id": "old"}]
    assert ensure_dataset(datasets, "old") is dash.no_update
    assert ensure_dataset(datasets, "gone") == "new"
    assert ensure_dataset(datasets, None) == "new"
    assert ensure_dataset([], None) is dash.no_update
    assert ensure_dataset(None, "x") is dash.no_update


# ---- identity ------------------------------------------------------------------------------------------------

def test_local_identity_scopes_every_call():
    assert current_identity() == ("local", "local") and local_mode()
    client = FakeClient(jobs=[make_job("mine"), make_job("theirs", team="other")])
    tc = TeamClient(client, Identity("ann", "local"))
    assert tc.status("mine") is not None and tc.status("theirs") is None
    assert [j["id"] for j in tc.list_jobs()["jobs"]] == ["mine"]
    tc.submit("describe", "d1", {})
    assert client.calls[-1][-2:] == ("ann", "local")


def test_navbar_shows_local_mode(make_app):
    _, server = make_app(FakeClient())
    layout = server.get("/_dash-layout").get_json()
    assert "local mode" in json.dumps(layout)


# ---- downloads -----------------------------------------------------------------------------------------------

MINE, THEIRS, RUNNING, DESCRIBE = "c1c1c1c1c1c1c1c1", "0101010101010101", "7777777777777777", "dddddddddddddddd"


def _download_client(demo_results) -> FakeClient:
    results_map = {(job_id, name): demo_results[name] for job_id in (MINE, THEIRS)
                   for name in ("segments", "membership")}
    return FakeClient(jobs=[make_job(MINE, "cluster", params={"k": 4}), make_job(THEIRS, "cluster", team="other"),
                            make_job(RUNNING, "cluster", "running"), make_job(DESCRIBE, "describe")],
                      results=results_map)


@pytest.mark.parametrize("name", ["membership.csv", "report.html"])
def test_downloads_are_404_for_another_teams_job(make_app, demo_results, name):
    _, server = make_app(_download_client(demo_results))
    for job_id in ("0000000000000001", RUNNING, DESCRIBE, "not-an-id"):  # unknown, running, not K-means, junk
        assert server.get(f"/download/{job_id}/{name}").status_code == 404
    other = server.get(f"/download/{THEIRS}/{name}")
    assert other.status_code == 404 and b"Lapsed" not in other.data  # exists, but in another team
    assert server.get(f"/download/{MINE}/{name}").status_code == 200
    sneaky = server.get(f"/download/..%2F..%2Fetc/{name}")
    assert "Content-Disposition" not in sneaky.headers  # not a download route (Dash's page shell at most)


def test_membership_csv_download_is_formula_safe_and_complete(make_app, demo_results):
    client = _download_client(demo_results)
    membership = demo_results["membership"].copy()
    first = membership.index[0]
    membership.loc[first, "segment_name"] = "=HYPERLINK(\"http://x\")"
    client.results[(MINE, "membership")] = membership
    _, server = make_app(client)
    response = server.get(f"/download/{MINE}/membership.csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f'attachment; filename="segments-{MINE}-membership.csv"'
    frame = pd.read_csv(io.StringIO(response.data.decode()), dtype={"customer_id": str}).set_index("customer_id")
    assert len(frame) == len(membership)
    assert frame.loc[str(first), "segment_name"].startswith("'=")
    assert frame["segment"].tolist() == membership["segment"].tolist()
    report = server.get(f"/download/{MINE}/report.html")
    assert report.status_code == 200 and b"<html" in report.data.lower()


# ---- upload limit --------------------------------------------------------------------------------------------

def test_upload_limit_on_the_server(monkeypatch, make_app):
    monkeypatch.setenv("MAX_UPLOAD_MB", "1")
    app, server = make_app(FakeClient())
    assert app.server.config["MAX_CONTENT_LENGTH"] == max_request_bytes(1)
    big = b"x" * (max_request_bytes(1) + 10)
    response = server.post("/_dash-update-component", data=big, content_type="application/json")
    assert response.status_code == 413
    assert "larger than the limit of 1 MB" in response.get_json()["error"]
    # Within the request limit but above the file limit once decoded: a message in the page, nothing queued.
    client = FakeClient()
    _, server = make_app(client)
    contents = "data:text/csv;base64," + base64.b64encode(b"a,b\n" * (300_000)).decode()
    out = call(server, "data-ingest.data", {"data-upload-pending.data": {"contents": contents,
                                                                          "filename": "big.csv"}})
    assert "above the upload limit of 1 MB" in json.dumps(out[ids.DATA_MSG]["children"])
    assert not [c for c in client.calls if c[0] == "add_upload"]


def test_upload_limit_settings(monkeypatch):
    assert max_upload_mb({}) == 100 and max_upload_mb({"MAX_UPLOAD_MB": "2.5"}) == 2.5
    assert max_upload_mb({"MAX_UPLOAD_MB": "lots"}) == 100 and max_upload_mb({"MAX_UPLOAD_MB": "-1"}) == 100
    assert 1.37 * 2**20 < max_request_bytes(1) < 3 * 2**20


def test_decode_upload():
    payload = base64.b64encode(b"customer_id,amount\n1,2\n").decode()
    assert data.decode_upload(f"data:text/csv;base64,{payload}", "x.csv", 1000) == b"customer_id,amount\n1,2\n"
    with pytest.raises(AnalysisError, match="above the upload limit"):
        data.decode_upload(f"data:text/csv;base64,{payload}", "x.csv", 5)
    with pytest.raises(AnalysisError, match="arrived empty"):
        data.decode_upload(None, "x.csv", 5)
    with pytest.raises(AnalysisError, match="damaged"):
        data.decode_upload("data:text/csv;base64,@@@@", "x.csv", 1000)


# ---- the Data page's callbacks and helpers -------------------------------------------------------------------

def test_upload_submits_the_bytes_and_reports_a_bad_file(make_app):
    client = FakeClient()
    _, server = make_app(client)
    contents = "data:text/csv;base64," + base64.b64encode(b"a,b\n1,2\n").decode()
    out = call(server, "data-ingest.data", {"data-upload-pending.data": {"contents": contents, "filename": "x.csv"}})
    assert client.calls[-1][:3] == ("add_upload", "x.csv", b"a,b\n1,2\n")
    record = out[ids.DATA_INGEST]["data"]
    assert record["file"] == {"name": "x.csv", "sha": "ab12", "suffix": ".csv"} and not record["handled"]
    job = client.jobs[record["job"]]
    job.update(status="failed", error="File 'x.csv' is a binary file, not CSV text.")
    out = call(server, "data-ingest-status.children", {"data-ingest.data": record,
                                                       "store-jobs.data": {"jobs": [job], "active": False}})
    shown = json.dumps(out[ids.DATA_INGEST_STATUS]["children"])
    assert "Could not import x.csv" in shown and "binary file" in shown
    assert "select-request" not in json.dumps(out)  # nothing gets selected


def test_ingest_done_selects_the_new_dataset_once():
    job = make_job("i1", "ingest", result_keys={"dataset": "d9"}, message="Dataset x.csv is ready")
    view, dataset_id = data.ingest_view(job, {"job": "i1", "file": {"name": "x.csv"}})
    assert dataset_id == "d9" and "ready" in dumps(view)
    assert data.ingest_view(None, None) == ("", None)
    running = make_job("i1", "ingest", "running")
    assert data.ingest_view(running, {"file": {"name": "x.csv"}})[1] is None


def test_upload_source_mapping_and_rules_helpers():
    jobs_list = [make_job("i1", "ingest", result_keys={"dataset": "d2"},
                          params={"name": "shop.csv", "sha": "ff00", "upload": "uploads/ff00.csv"})]
    assert data.upload_source("d2", {}, jobs_list) == {"name": "shop.csv", "sha": "ff00", "suffix": ".csv"}
    kept = {"d2": {"name": "a.xlsx", "sha": "aa", "suffix": ".xlsx"}}
    assert data.upload_source("d2", kept, jobs_list)["suffix"] == ".xlsx"
    assert data.upload_source("d1", {}, jobs_list) is None and data.upload_source(None, kept, jobs_list) is None
    id_list = [ids.mapping_role("customer_id"), ids.mapping_role("amount"), ids.mapping_role("country")]
    assert data.mapping_from_form(["Cust", "Spend", None], id_list) == {"customer_id": "Cust", "amount": "Spend"}
    assert data.rules_from_checklist(["a"], ["a", "b"]) == {"a": True, "b": False}
    assert C.rules_for({"d1": {"duplicates": True}}, "d1") == {"duplicates": True}
    assert C.rules_for(None, "d1") == {} and C.rules_for({"d1": "junk"}, "d1") == {}


def test_reimport_asks_the_queue_for_the_kept_upload_with_the_mapping(make_app):
    client = FakeClient(datasets=[{**DEMO_META, "id": "d2", "demo": False}])
    _, server = make_app(client)
    values = {"store-dataset.data": "d2",
              "data-last-upload.data": {"d2": {"name": "shop.csv", "sha": "ab12", "suffix": ".csv"}}}
    deps = [d for d in server.get("/_dash-dependencies").get_json() if "data-msg" in d["output"]
            and any(i["id"] == ids.DATA_REIMPORT for i in d["inputs"])]
    assert len(deps) == 1
    dep = deps[0]
    state = []
    for s in dep["state"]:
        if s["id"].startswith("{"):
            state.append([{"id": ids.mapping_role("customer_id"), "property": s["property"],
                           "value": "c" if s["property"] == "value" else ids.mapping_role("customer_id")}])
        else:
            state.append({"id": s["id"], "property": s["property"], "value": values.get(f"{s['id']}.{s['property']}")})
    body = {"output": dep["output"], "outputs": _split_outputs(dep["output"]),
            "inputs": [{"id": ids.DATA_REIMPORT, "property": "n_clicks", "value": 1}], "state": state,
            "changedPropIds": ["data-reimport.n_clicks"]}
    response = server.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.data
    assert client.calls[-1] == ("reimport", "shop.csv", "ab12", ".csv", {"customer_id": "c"}, "local", "local")


# ---- Overview ------------------------------------------------------------------------------------------------

def test_overview_submits_describe_with_the_rules_and_shows_kpis(make_app, demo_results):
    client = FakeClient(jobs=[make_job("x1")], results={("x1", "describe"): demo_results["describe"]})
    _, server = make_app(client)
    out = call(server, "ov-job.data", {"store-dataset.data": "d1", "store-rules.data": {"d1": {"duplicates": True}}})
    assert client.calls[-1][:4] == ("submit", "describe", "d1", {"rules": {"duplicates": True}})
    assert out["ov-job"]["data"].startswith("new")
    out = call(server, "ov-status.children", {"ov-job.data": "x1"})
    kpis = json.dumps(out["ov-kpis"]["children"])
    summary = demo_results["describe"]["summary"]
    assert f"{summary['customers']:,}" in kpis and f"{summary['revenue']:,.2f}" in kpis
    assert out["ov-rendered"]["data"] == "x1"
    # the browser passes the rendered job on once the KPIs are painted; then the charts are asked for
    relay = [d for d in server.get("/_dash-dependencies").get_json() if d["output"] == "ov-painted.data"]
    assert [(i["id"], i["property"]) for i in relay[0]["inputs"]] == [("ov-rendered", "data")]
    assert relay[0]["clientside_function"]["namespace"] == "_dashprivate_clientside_funcs"
    charts = call(server, "ov-charts.children", {"ov-painted.data": "x1"})
    assert json.dumps(charts).count('"type": "Graph"') == 7
    # a running job: a spinner with its message, and nothing rendered yet
    client.jobs["x2"] = make_job("x2", status="running", message="Computing statistics")
    out = call(server, "ov-status.children", {"ov-job.data": "x2"})
    assert "Computing statistics" in json.dumps(out["ov-status"]["children"])
    assert out["ov-rendered"]["data"] is None
    client.jobs["x3"] = make_job("x3", status="failed", error="Column 'Amount' has text in row 7.")
    assert "row 7" in json.dumps(call(server, "ov-status.children", {"ov-job.data": "x3"}))


def test_overview_lists_what_customer_level_data_cannot_show():
    describe = {"summary": {"customers": 3, "revenue": 10.0}, "unavailable": [
        {"analysis": "cohorts", "reason": "No order dates."}], "revenue_contribution": None}
    alert = overview.unavailable_list(describe)
    text = dumps(alert)
    assert "cohorts" in text and "No order dates." in text
    assert overview.unavailable_list({"unavailable": []}) is None
    assert dumps(overview.charts(describe)).count('"Graph"') == 0


# ---- Segments ------------------------------------------------------------------------------------------------

def test_sweep_and_cluster_params_are_valid_job_parameters():
    context = {"dataset": "d1", "rules": {"duplicates": True}, "as_of": None}
    params = segments.sweep_params(["recency_days", "monetary"], "none", "robust", [2, 6], 2, 7, 1, context)
    assert params == {"features": ["recency_days", "monetary"], "log": "none", "scaling": "robust",
                      "rules": {"duplicates": True}, "as_of": None, "n_init": 2, "random_state": 7, "k": "2-6",
                      "stability_seeds": 1}
    normalised = normalise("sweep", params, default_features=["recency_days"])
    assert normalised["k_values"] == [2, 3, 4, 5, 6] and normalised["log"] is None
    form = segments.form_from_params(normalised)
    assert form["k_range"] == [2, 6] and form["log"] == "none" and form["n_init"] == 2
    cluster = segments.cluster_params(["monetary"], "auto", "standard", 4, None, None, context)
    assert normalise("cluster", cluster, default_features=[])["k"] == 4
    with pytest.raises(AnalysisError, match="at least one feature"):
        segments.sweep_params([], "auto", "standard", [2, 5], None, None, None, context)
    with pytest.raises(AnalysisError, match="two values of k"):
        segments.sweep_params(["monetary"], "auto", "standard", [3, 3], None, None, None, context)
    with pytest.raises(AnalysisError, match="number of segments"):
        segments.cluster_params(["monetary"], "auto", "standard", None, None, None, context)
    assert segments.form_from_params(None)["log"] == "auto"


def test_feature_options_by_shape():
    options, defaults = segments.feature_options(DEMO_META)
    assert len(options) == 8 and defaults == ["recency_days", "frequency", "monetary"]
    customers = {"shape": "customers", "default_features": ["Age", "Total_Spend"]}
    options, defaults = segments.feature_options(customers)
    assert [o["value"] for o in options] == ["Age", "Total_Spend"] == defaults


def test_sweep_progress_then_charts_and_recommended_k(make_app, demo_results):
    sweep_job = make_job("s1", "sweep", "running", progress_done=1, message="1 of 3 values of k scored")
    sweep_job["progress_total"] = 3
    client = FakeClient(jobs=[sweep_job], results={("s1", "sweep"): demo_results["sweep"]})
    _, server = make_app(client)
    out = call(server, "seg-sweep-section.style", {"seg-sweep-job.data": "s1"})
    assert out["seg-progress"]["value"] == pytest.approx(33.3) and out["seg-progress"]["label"] == "1/3"
    assert out["seg-cancel"]["disabled"] is False
    assert "1 of 3 values of k scored" in json.dumps(out["seg-progress-msg"]["children"])
    sweep_job.update(status="done", progress_done=3)
    out = call(server, "seg-sweep-section.style", {"seg-sweep-job.data": "s1"})
    rec = demo_results["sweep"]["recommendation"]["k"]
    assert out["seg-k"]["value"] == rec and out["seg-cancel"]["disabled"] is True
    assert f"Recommended k = {rec}" in json.dumps(out["seg-recommendation"]["children"])
    assert json.dumps(out["seg-sweep-charts"]["children"]).count('"type": "Graph"') == 5
    # once drawn, a later poll changes nothing
    again = call(server, "seg-sweep-section.style", {"seg-sweep-job.data": "s1", "seg-sweep-rendered.data": "s1",
                                                     "store-jobs.data": {"jobs": [sweep_job]}},
                 triggered="store-jobs.data")
    assert again == {}


def test_cancel_and_run_buttons(make_app):
    client = FakeClient(jobs=[make_job("s1", "sweep", "running")])
    _, server = make_app(client)
    call(server, "seg-msg.children", {"seg-cancel.n_clicks": 1, "seg-sweep-job.data": "s1"},
         triggered="seg-cancel.n_clicks")
    assert client.jobs["s1"]["status"] == "cancelled"
    out = call(server, "seg-cluster-job.data", {"seg-run-cluster.n_clicks": 1, "seg-features.value": ["monetary"],
                                                "seg-log.value": "none", "seg-scaling.value": "standard",
                                                "seg-k.value": 3, "seg-context.data": {"dataset": "d1", "rules": {}},
                                                "store-picks.data": {}})
    assert client.calls[-1][1:3] == ("cluster", "d1") and client.calls[-1][3]["k"] == 3
    job_id = out["seg-cluster-job"]["data"]
    assert out["store-picks"]["data"] == {"cluster": {"d1": job_id}}
    out = call(server, "seg-cluster-job.data", {"seg-run-cluster.n_clicks": 1, "seg-features.value": [],
                                                "seg-k.value": 3, "seg-context.data": {"dataset": "d1", "rules": {}}})
    assert "Choose at least one feature" in json.dumps(out)


# ---- Insights ------------------------------------------------------------------------------------------------

def test_insights_render_with_consistent_segments(make_app, demo_results):
    client = FakeClient(jobs=[make_job("c1", "cluster", params={"k": 4, "features": ["recency_days"]})],
                        results={("c1", "segments"): demo_results["segments"],
                                 ("c1", "membership"): demo_results["membership"]})
    _, server = make_app(client)
    out = call(server, "ins-status.children", {"ins-job.data": "c1"})
    assert out["ins-content"]["style"] == {"display": "block"} and out["ins-rendered"]["data"] == "c1"
    header = json.dumps(out["ins-header"]["children"])
    assert "/download/c1/membership.csv" in header and "/download/c1/report.html" in header
    advice = json.dumps(out["ins-advice"]["children"])
    for name in demo_results["segments"]["profiles"]["names"].values():
        assert name in advice
    features = out["ins-dist-feature"]["options"]
    assert [o["value"] for o in features] == ["recency_days", "frequency", "monetary"]
    scatter = call(server, "ins-scatter.figure", {"ins-x.value": "monetary", "ins-y.value": "frequency",
                                                  "ins-rendered.data": "c1"})
    figure = scatter["ins-scatter"]["figure"]
    assert len(figure["data"]) == 4 and figure["layout"]["xaxis"]["title"]["text"] == "monetary"
    dist = call(server, "ins-dist.figure", {"ins-dist-feature.value": "monetary", "ins-rendered.data": "c1"})
    assert len(dist["ins-dist"]["figure"]["data"]) == 4


def test_insights_pure_helpers(demo_results):
    membership = demo_results["membership"]
    assert insights.feature_columns(membership) == ["recency_days", "frequency", "monetary"]
    features = insights.feature_columns(membership)
    assert insights.scatter_axes(insights.PROJECTION, "monetary", features) == ("pc1", "pc2")
    assert insights.scatter_axes("monetary", "monetary", features) == ("monetary", "recency_days")
    assert insights.scatter_axes("monetary", "frequency", features) == ("monetary", "frequency")


# ---- Jobs ----------------------------------------------------------------------------------------------------

def test_jobs_table_and_summaries(make_app):
    sweep = make_job("s1", "sweep", "running", params={"features": ["recency_days", "monetary"],
                                                       "k_values": [2, 3, 4, 5], "log": "auto",
                                                       "scaling": "standard", "n_init": 2,
                                                       "rules": {"duplicates": True}})
    failed = make_job("f1", "ingest", "failed", params={"name": "bad.csv"}, error="not a CSV")
    client = FakeClient(jobs=[sweep, failed, make_job("x1")])
    _, server = make_app(client)
    out = call(server, "jobs-table.children", {"store-jobs.data": {"jobs": list(client.jobs.values())},
                                               "store-datasets.data": [DEMO_META]})
    table = json.dumps(out["jobs-table"]["children"])
    assert "/results/x1" in table and "not a CSV" in table and "Demo shop" in table
    assert '"type": "cancel-job"' in table  # the running job can be cancelled
    summary = C.params_summary(sweep)
    assert summary == "features recency_days, monetary; k 2-5; log auto; scaling standard; n_init 2; " \
                      "rules duplicates=on"
    assert C.params_summary(make_job("i", "ingest", params={"demo": True, "rows": 1000})) == "demo data, 1,000 rows"
    assert C.params_summary(make_job("c", "cluster", params={"k": 3, "features": ["a"], "log": None})).startswith(
        "features a; k=3; log none")
    assert C.duration({"started": 10.0, "finished": 12.5}) == "2.5 s"
    assert C.duration({"started": 1.0, "finished": 126.0}) == "2 min 05 s"
    assert C.duration({"status": "queued", "created": 100.0}, now=103.0) == "waiting 3.0 s"
    assert C.progress_pct({"status": "running", "progress_done": 1, "progress_total": 4}) == 25.0
    assert C.progress_pct({"status": "done", "progress_done": 0, "progress_total": 4}) == 100.0
    assert C.latest_job([make_job("b", "sweep"), make_job("a", "sweep")], "sweep", "d1")["id"] == "b"
    assert C.latest_job([make_job("b", "sweep")], "cluster", "d1") is None
    picks = C.with_pick({}, "sweep", "d1", "s1")
    assert C.pick(picks, "sweep", "d1") == "s1" and C.pick(picks, "cluster", "d1") is None
    assert C.result_href({"id": "x", "kind": "cluster"}) == "/results/x" and C.result_href({"kind": "ingest",
                                                                                           "id": "i"}) is None
