"""Hostile input: every file of ``tests/hostile_corpus.py`` through ``python -m analysis`` and through the web
app's upload (a real Redis and a real Celery worker), each with its specific message.

For a refused file: the command line prints one ``error: ...`` line and exits 2; the web app shows the same
message in the page, refused either at once by the cheap checks of the queue's client (nothing stored, no job)
or by the worker, whose rejection removes the ingest job again. Either way the team's job list, the dataset list,
every ``seg:`` Redis key of jobs, datasets and uploads, and the files of the data directory are exactly as
before, and the server answers the next request. A valid file (BOM, Latin-1, NaN / inf amounts, ...) loads, with
figures computed by hand. The size limit: a file one byte over ``MAX_UPLOAD_MB`` gets a message and is not
sent to the queue; a request over Flask's limit gets 413, and the next request is answered.
"""

from __future__ import annotations

import base64
import csv
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from analysis.cli import main
from tests.hostile_corpus import CASES, build_corpus
from tests.services import RedisServer, Worker, wait_for, worker_env
from tests.test_webapp import call
from webapp import ids
from webapp.app import create_app, max_request_bytes
from workers.client import Client
from workers.config import load_settings

REPO = Path(__file__).resolve().parents[1]
SIZE_LIMIT_MB = 1  # the web app of the size-limit test; just_over_limit.csv is one byte more
WEB_LIMIT_MB = 64  # the web app of the upload test: the 50 MB single line reaches the checks
TEAM = "local"
REFUSED = [c for c in CASES if c.expect]
ACCEPTED = [c for c in CASES if not c.expect]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    return build_corpus(tmp_path_factory.mktemp("hostile"), limit_bytes=SIZE_LIMIT_MB * 2**20)


def test_the_corpus_is_large_and_covers_the_issue():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)) and len(CASES) >= 30
    assert len(REFUSED) >= 25 and len(ACCEPTED) >= 10
    for needed in ("empty.csv", "header_only.csv", "bom.csv", "latin1.csv", "mixed_delimiters.csv",
                   "quoted_newlines.csv", "wide_100000_columns.csv", "single_line_50mb.csv", "nan_inf_negative.csv",
                   "dates_several_formats.csv", "one_customer.csv", "all_rows_duplicated.csv", "zip_bomb.xlsx",
                   "truncated.parquet", "program.csv", "formula_injection.csv", "just_over_limit.csv"):
        assert needed in names, needed


def test_the_corpus_files_are_what_they_claim(corpus):
    assert corpus["single_line_50mb.csv"].stat().st_size == 50 * 2**20
    assert b"\n" not in corpus["single_line_50mb.csv"].read_bytes()[: 9 * 2**20]
    assert corpus["wide_100000_columns.csv"].read_text().splitlines()[0].count(",") == 99_999
    assert corpus["just_over_limit.csv"].stat().st_size == SIZE_LIMIT_MB * 2**20 + 1
    assert corpus["empty.csv"].stat().st_size == 0


# ---- the command line ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_command_line(case, corpus, capsys):
    status = main(["describe", str(corpus[case.name]), "--json"])
    out, err = capsys.readouterr()
    if case.expect:
        assert status == 2, err
        assert out == "" and err.startswith("error: ") and err.count("\n") == 1, err
        assert case.expect in err
    else:
        assert status == 0, err
        result = json.loads(out)
        if case.check:
            case.check(result)


@pytest.mark.parametrize("name", ["single_line_50mb.csv", "zip_bomb.xlsx", "program.csv", "truncated.parquet"])
def test_command_line_in_a_real_process(corpus, name):
    """``python -m analysis`` itself (not only ``main``): status 2, nothing on stdout, one line on stderr."""
    out = subprocess.run([sys.executable, "-m", "analysis", "describe", str(corpus[name])], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and out.stdout == ""
    line = out.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line
    assert next(c for c in CASES if c.name == name).expect in line


def test_formula_cells_are_neutralised_in_the_membership_csv(corpus, tmp_path, capsys):
    assert main(["segment", str(corpus["formula_injection.csv"]), "--k", "2", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    with (tmp_path / "membership.csv").open(newline="") as fh:
        written = {row["customer_id"] for row in csv.DictReader(fh)}
    assert written == {"'+41", "'-3", "'=HYPERLINK(\"http://evil.example\",\"x\")"}


# ---- the web app with a real queue ---------------------------------------------------------------------------


class Web:
    """Redis, one worker and the Dash app (Flask test client) on the same temporary data directory."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.redis = RedisServer(folder / "redis").start()
        self.env = worker_env(self.redis.url, folder / "data")
        self.data_dir = folder / "data"
        self.client = Client(load_settings(self.env))
        self.worker = Worker(self.env, concurrency=1, log=folder / "worker.log").start()
        self.worker.wait_ready(self.client)

    def app(self, limit_mb: float):
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MAX_UPLOAD_MB", str(limit_mb))
            mp.delenv("HOSTED_MODE", raising=False)
            mp.delenv("USERS_FILE", raising=False)
            return create_app(self.client).server.test_client()

    def state(self) -> tuple[dict, list[str]]:
        """Every ``seg:`` key with its value (rejection messages and short locks aside) and every file of the
        data directory."""
        r = self.client.registry.r
        keys = {}
        for key in sorted(r.scan_iter("seg:*")):
            if key.startswith(("seg:rejected:", "seg:lock:")):
                continue
            kind = r.type(key)
            keys[key] = {"hash": r.hgetall, "set": lambda k: sorted(r.smembers(k)), "string": r.get,
                         "zset": lambda k: r.zrange(k, 0, -1, withscores=True),
                         "list": lambda k: r.lrange(k, 0, -1)}[kind](key)
        files = sorted(str(p.relative_to(self.data_dir)) for p in self.data_dir.rglob("*") if p.is_file())
        return keys, files

    def close(self) -> None:
        self.worker.kill()
        self.redis.stop()


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    stack = Web(tmp_path_factory.mktemp("hostile-web"))
    stack.server = stack.app(WEB_LIMIT_MB)
    try:
        yield stack
    finally:
        stack.close()


def texts(component) -> str:
    """Every text in a component tree (what the page shows), joined by spaces."""
    if isinstance(component, str):
        return component
    if isinstance(component, dict):
        return " ".join(texts(v) for k, v in component.items() if k in ("props", "children"))
    if isinstance(component, list):
        return " ".join(texts(c) for c in component)
    return ""


def upload(server, name: str, content: bytes) -> dict:
    """Post the Data page's upload callback as the browser does; returns its outputs."""
    contents = "data:application/octet-stream;base64," + base64.b64encode(content).decode()
    return call(server, "data-ingest.data", {"data-upload-pending.data": {"contents": contents, "filename": name}})


def page_answers(server) -> None:
    assert server.get("/").status_code == 200
    assert server.get("/_dash-layout").status_code == 200


def import_outcome(web: Web, out: dict) -> SimpleNamespace:
    """What the page says about an upload: refused at once (the callback's message), or the ingest job's end as
    the page's ingest watcher shows it."""
    record = (out.get(ids.DATA_INGEST) or {}).get("data")
    if record is None:
        return SimpleNamespace(status="refused", job=None, shown=texts(out[ids.DATA_MSG]["children"]))
    job_id = record["job"]
    job = wait_for(lambda: (j := web.client.upload_status(job_id, team=TEAM)) and
                   j["status"] not in ("queued", "running") and j, 120, what=f"ingest {job_id}")
    view = call(web.server, "data-ingest-status.children", {"data-ingest.data": record,
                                                            "store-jobs.data": {"jobs": [], "active": False},
                                                            "data-last-upload.data": {}})
    return SimpleNamespace(status=job["status"], job=job, shown=texts(view[ids.DATA_INGEST_STATUS]["children"]))


@pytest.mark.parametrize("case", [c for c in CASES if c.web == "upload"], ids=lambda c: c.name)
def test_web_upload(web, corpus, case):
    before = web.state()
    out = upload(web.server, case.name, corpus[case.name].read_bytes())
    outcome = import_outcome(web, out)
    if case.expect:
        assert outcome.status in ("refused", "rejected"), outcome
        assert f"Could not import {case.name}." in outcome.shown
        assert case.expect in outcome.shown, outcome.shown
        assert web.state() == before  # no job, no dataset, no stored bytes, no key changed
        if outcome.job is not None:
            assert web.client.status(outcome.job["id"], team=TEAM) is None
    else:
        assert outcome.status == "done", outcome
        dataset = outcome.job["result_keys"]["dataset"]
        assert dataset in [d["id"] for d in web.client.datasets(team=TEAM)]
        assert "ready and selected" in outcome.shown
    page_answers(web.server)


def test_both_refusal_paths_are_exercised(web, corpus):
    """Some files are refused by the cheap checks in the web process, others only by the worker."""
    seen = {}
    for name in ("program.csv", "extra_field.csv"):
        seen[name] = import_outcome(web, upload(web.server, name, corpus[name].read_bytes())).status
    assert seen == {"program.csv": "refused", "extra_field.csv": "rejected"}


def test_rejected_upload_of_bytes_a_dataset_uses_keeps_them(web, corpus, tmp_path):
    """A rejection deletes the stored bytes only when no dataset came from them: importing a good file again
    with a mapping that fails keeps the file for the dataset's "Import again"."""
    job = web.client.add_upload("keep.csv", corpus["bom.csv"].read_bytes(), owner="ann", team=TEAM)
    done = wait_for(lambda: (j := web.client.upload_status(job["id"], team=TEAM))["status"] == "done" and j, 60,
                    what="ingest")
    stored = web.data_dir / done["params"]["upload"]
    again = web.client.reimport(done["params"]["sha"], ".csv", "keep.csv", owner="ann", team=TEAM,
                                mapping={"amount": "InvoiceDate"})
    rejected = wait_for(lambda: (j := web.client.upload_status(again["id"], team=TEAM))["status"] != "queued"
                        and j["status"] != "running" and j, 60, what="reimport")
    assert rejected["status"] == "rejected"
    assert "Column 'InvoiceDate' of keep.csv should hold numbers" in rejected["error"]
    assert stored.exists()
    assert web.client.status(again["id"], team=TEAM) is None


def test_size_limit_and_413(web, corpus):
    server = web.app(SIZE_LIMIT_MB)
    before = web.state()
    out = upload(server, "just_over_limit.csv", corpus["just_over_limit.csv"].read_bytes())
    assert out[ids.DATA_INGEST]["data"] is None
    shown = texts(out[ids.DATA_MSG]["children"])
    assert "File 'just_over_limit.csv' is 1.0 MB, above the upload limit of 1 MB." in shown
    assert web.state() == before
    # A request larger than Flask's limit (the file limit plus the base64 and JSON overhead) never reaches the app.
    body = json.dumps({"contents": "x" * (max_request_bytes(SIZE_LIMIT_MB) + 1)})
    response = server.post("/_dash-update-component", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json() == {"error": "The upload is larger than the limit of 1 MB."}
    assert web.state() == before
    page_answers(server)
    # ... and the next upload goes through.
    outcome = import_outcome(web, upload(server, "after_413.csv", corpus["quoted_newlines.csv"].read_bytes()))
    assert outcome.status == "done"


def test_registry_removes_only_failed_upload_ingests(tmp_path):
    """The registry's part alone: a failing ingest of an upload disappears (record, team list, active set, request
    pointer, stored bytes) leaving its message for an hour; any other failing job is kept as failed."""
    from workers.registry import REJECTED_TTL, Registry, connect

    server = RedisServer(tmp_path / "redis").start()
    try:
        registry = Registry(connect(server.url), data_dir=tmp_path)
        stored = tmp_path / "uploads" / "ab.csv"
        stored.parent.mkdir()
        stored.write_text("x")
        job, _ = registry.create_job(kind="ingest", dataset_id="", params={"upload": "uploads/ab.csv", "name": "x.csv"},
                                     owner="ann", team="t")
        assert registry.fail(job["id"], "File 'x.csv' is bad.")
        assert registry.get(job["id"]) is None and not stored.exists()
        assert registry.rejection("t", job["id"])["error"] == "File 'x.csv' is bad."
        assert registry.rejection("other", job["id"]) is None
        assert 0 < registry.r.ttl(f"seg:rejected:t:{job['id']}") <= REJECTED_TTL
        assert sorted(registry.r.keys("seg:*")) == [f"seg:rejected:t:{job['id']}"]
        describe, _ = registry.create_job(kind="describe", dataset_id="d1", params={}, owner="ann", team="t")
        demo, _ = registry.create_job(kind="ingest", dataset_id="", params={"demo": True}, owner="ann", team="t")
        for other in (describe, demo):
            assert registry.fail(other["id"], "No.")
            assert registry.get(other["id"])["status"] == "failed"
    finally:
        server.stop()
