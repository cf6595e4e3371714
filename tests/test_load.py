"""Load test (issue 7): 50 browser-like clients for one minute against gunicorn with 2 processes while 2 k-sweeps
keep both cores of a Celery worker busy.

The stack is real: a throwaway redis-server, one Celery worker with concurrency 2 (niced, like ``make run`` and
compose run workers), and ``gunicorn --config gunicorn.conf.py webapp.wsgi:server`` with 2 processes in local
mode. The Online Retail data is ingested and described, then two long sweeps start, then :func:`bench.load.run_load`
runs the clients. The test asserts zero errors (HTTP status, Dash callback errors, error alerts in the page, the
Overview's KPIs and 7 charts present), that both sweeps were running for the whole minute, and prints the summary
table (also written to ``test-artifacts/load-summary.md`` and the JUnit report). Latencies are reported, not
asserted (no timed tests); ``python -m bench.load --stack ../shared/data/online_retail.parquet --clients 20
--scenario overview`` measures the issue-6 figure (20 clients on the Overview) on the same stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from plotly.utils import PlotlyJSONEncoder

from bench.load import run_load
from tests.services import REPO, RedisServer, Worker, wait_for, worker_env
from tests.test_hosted import Gunicorn as HostedGunicorn
from workers.client import Client
from workers.config import load_settings
from workers.launcher import WORKER_NICE, lower_priority

TEAM = OWNER = "local"  # gunicorn runs in local mode: everyone is user "local" of team "local"
FINAL = ("done", "failed", "cancelled")
ARTIFACT = REPO / "test-artifacts" / "load-summary.md"
# Two different sweeps (different seeds), each long enough to outlast the minute of load on 2 worker processes.
# (About 3 s of one core per k: 40 parts per sweep, so the two keep the worker's 2 processes busy for ~2 min.)
SWEEPS = ({"k": "2-41", "n_init": 100, "random_state": 0}, {"k": "2-41", "n_init": 100, "random_state": 1})


class Gunicorn(HostedGunicorn):
    """The compose ``web`` command with 2 processes and the threads of gunicorn.conf.py, in local mode, without an
    access log."""

    def __init__(self, env: dict[str, str], folder: Path, workers: int = 2) -> None:
        super().__init__(env, folder)
        self.env["GUNICORN_WORKERS"] = str(workers)
        for name in ("HOSTED_MODE", "USERS_FILE", "GUNICORN_THREADS", "GUNICORN_ACCESS_LOG"):
            self.env.pop(name, None)

    def start(self) -> Gunicorn:
        out = open(self.log, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "--config", "gunicorn.conf.py", "webapp.wsgi:server"],
            cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        return self


class LoadStack:
    """Redis, one niced worker with 2 processes, gunicorn with 2 processes, the Online Retail data described."""

    def __init__(self, folder: Path, data_path: Path, *, web_workers: int = 2) -> None:
        self.folder = folder
        self.data_path = data_path
        self.redis = RedisServer(folder / "redis").start()
        # Sweep parts of the long sweeps take longer than the suite's 20 s limit; no team limit on jobs.
        self.env = worker_env(self.redis.url, folder / "data", TASK_SOFT_TIME_LIMIT="600", TASK_TIME_LIMIT="660",
                              REDIS_VISIBILITY_TIMEOUT="900", JOB_STALE_AFTER="1800", TEAM_MAX_ACTIVE_JOBS="0",
                              OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.client = Client(load_settings(self.env))
        self.worker = Worker(self.env, concurrency=2, name="load", log=folder / "worker.log")
        self.web = Gunicorn(self.env, folder, workers=web_workers)
        self.dataset_id = self.describe_id = ""
        self.sweep_ids: list[str] = []

    def wait(self, job_id: str, timeout: float = 300) -> dict:
        job = wait_for(lambda: (j := self.client.status(job_id, team=TEAM))["status"] in FINAL and j, timeout,
                       what=f"job {job_id}")
        assert job["status"] == "done", job
        return job

    def prepare(self) -> LoadStack:
        self.web.start()  # starts while the worker prepares the data
        self.worker.start()
        self.worker.wait_ready(self.client)
        # Below the web's priority, as workers/launcher.py (and compose's cpu_shares) do: the worker's session
        # (autogroup) and its process group; pool processes forked later inherit it from the main process.
        lower_priority(WORKER_NICE, self.worker.proc.pid)
        os.setpriority(os.PRIO_PGRP, self.worker.proc.pid, WORKER_NICE)
        ingest = self.wait(self.client.add_file(self.data_path, owner=OWNER, team=TEAM)["id"])
        self.dataset_id = ingest["result_keys"]["dataset"]
        self.describe_id = self.wait(self.client.submit("describe", self.dataset_id, {}, owner=OWNER,
                                                        team=TEAM)["id"])["id"]
        self.web.wait_ready()
        return self

    def start_sweeps(self, sweeps=SWEEPS) -> list[str]:
        self.sweep_ids = [self.client.submit("sweep", self.dataset_id, params, owner=OWNER, team=TEAM)["id"]
                          for params in sweeps]
        # The queue is first in, first out: the first sweep's parts take both processes, the second waits.
        wait_for(lambda: self.sweep_states()[0][0] == "running", 60, what="the first sweep running")
        return self.sweep_ids

    def sweep_states(self) -> list[tuple[str, int]]:
        return [(j["status"], j["progress_done"]) for j in (self.client.status(i, team=TEAM) for i in self.sweep_ids)]

    def close(self) -> None:
        for job_id in self.sweep_ids:
            self.client.cancel(job_id, team=TEAM)
        self.web.stop()
        self.worker.kill()
        self.redis.stop()


def sweep_cpu_seconds(worker: Worker) -> float:
    """CPU seconds used so far by the worker's pool processes (where the sweeps run)."""
    import psutil

    total = 0.0
    for child in psutil.Process(worker.proc.pid).children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def run_under_sweeps(stack: LoadStack, clients: int, seconds: float, scenario: str) -> tuple:
    """Run the load while the sweeps run: the report, a Markdown section with the sweeps' state around it, and the
    sweeps' ``(status, k values done)`` before and after."""
    before, cpu_before, start = stack.sweep_states(), sweep_cpu_seconds(stack.worker), time.monotonic()
    report = run_load(stack.web.url, clients, seconds, scenario, expected_describe=stack.describe_id)
    after, cpu = stack.sweep_states(), sweep_cpu_seconds(stack.worker) - cpu_before
    wall = time.monotonic() - start
    text = (f"## {clients} clients, scenario '{scenario}', gunicorn 2 processes, while 2 sweeps run\n\n"
            f"Sweeps (status, k values done) before: {before}, after: {after}; the worker's pool used "
            f"{cpu / wall:.2f} cores during the load.\n\n{report.table()}")
    return report, text, before, after


@pytest.fixture(scope="module")
def load_stack(tmp_path_factory, online_retail_path):
    stack = LoadStack(tmp_path_factory.mktemp("load"), online_retail_path)
    try:
        yield stack.prepare()
    finally:
        stack.close()


def test_50_clients_for_a_minute_while_two_sweeps_run(load_stack, capsys, record_property):
    load_stack.start_sweeps()
    report, text, before, after = run_under_sweeps(load_stack, 50, 60, "browse")
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.write_text(f"# Load test (tests/test_load.py)\n\n{text}", encoding="utf-8")
    record_property("load_summary", text)
    with capsys.disabled():
        print(f"\n\n{text}")
    assert report.errors == 0, "\n".join(report.error_samples)
    # Every part of the browser's work happened, many times: page loads, both pages, charts, polling.
    for kind in ("GET page", "GET _dash-layout", "GET _dash-dependencies", "cb overview charts",
                 "cb overview status+KPIs", "cb jobs table", "cb refresh (poll tick)", "cb jobs table (poll tick)"):
        assert len(report.kinds[kind].latencies) >= 50, (kind, report.table())
    assert report.pages >= 100, report.table()
    # The sweeps ran for the whole minute: one was running at the start, one still runs at the end (none
    # finished all its work or failed), and k values were scored meanwhile.
    assert before[0][0] == "running" and all(status in ("queued", "running") for status, _ in before), before
    assert any(status == "running" for status, _ in after), after
    assert all(status in ("queued", "running") for status, _ in after), after
    assert sum(done for _, done in after) > sum(done for _, done in before), (before, after)


# ---- the Overview's cache of rendered pages (no stack needed) ------------------------------------------------

def test_rendered_overview_cache_is_bounded_and_team_checked():
    from analysis import pipeline
    from tests.test_webapp import FakeClient, make_job
    from webapp.identity import Identity, TeamClient
    from webapp.pages import overview

    describe = json.loads(json.dumps(pipeline.describe(pipeline.prepare(pipeline.demo_dataset(3_000, seed=0)))))
    demo_results = {"describe": describe}
    client = FakeClient(jobs=[make_job("a1", team="A"), make_job("a2", team="A"), make_job("r1", "cluster", team="A"),
                              make_job("q1", status="running", team="A")],
                        results={("a1", "describe"): demo_results["describe"],
                                 ("a2", "describe"): demo_results["describe"]})
    a, b = TeamClient(client, Identity("ann", "A")), TeamClient(client, Identity("bob", "B"))
    cache = overview.Rendered(size=1)
    page = overview.rendered_page(a, "a1", cache)
    assert json.dumps(page.charts, cls=PlotlyJSONEncoder).count('"type": "Graph"') == 7
    summary = demo_results["describe"]["summary"]
    assert f"{summary['customers']:,}" in json.dumps(page.top, cls=PlotlyJSONEncoder)
    client.results.clear()  # a hit does not read the result again
    assert overview.rendered_page(a, "a1", cache) is page and len(cache) == 1
    # another team, a job that is not a done describe job, an unknown id: nothing, even though a1 is cached
    for team_client, job_id in ((b, "a1"), (a, "r1"), (a, "q1"), (a, "nope")):
        assert overview.rendered_page(team_client, job_id, cache) is None, job_id
    # bounded: a second job pushes the first out (and a2's result is gone, so it is "missing")
    assert overview.rendered_page(a, "a2", cache) is None and len(cache) == 1
    client.results[("a2", "describe")] = demo_results["describe"]
    assert overview.rendered_page(a, "a2", cache) is not None and cache.get("a1") is None and len(cache) == 1
