"""Faults with real processes: a worker killed -9 mid-sweep, Redis restarted mid-sweep, a worker SIGTERMed, the web
app started before Redis.

Run with ``-s`` to see the measured figures (RELIABILITY.md quotes them). The battery of ten kills is in
``tests/test_fault_battery.py``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.browser_helpers import http_get, launch_chromium, require_browser
from tests.services import REPO, RedisServer, Worker, free_port, wait_for, worker_env
from tests.test_jobs import FINAL, METRICS, TEAM, Stack
from webapp.app import RETRY_MS
from webapp.identity import LOCAL_TEAM, LOCAL_USER
from workers.client import Client
from workers.config import load_settings
from workers.registry import DONE

SWEEP = {"k": "2-16", "n_init": 20}


@pytest.fixture()
def fresh_stack(tmp_path, online_retail_path):
    s = Stack(tmp_path, concurrency=1)
    try:
        s.dataset_id = None
        s.add_worker()
        s.dataset_id = s.ingest(online_retail_path)
        yield s
    finally:
        s.close()


@pytest.fixture(scope="module")
def reference_points(tmp_path_factory, online_retail_path):
    """The undisturbed run of SWEEP (its per-k metrics)."""
    s = Stack(tmp_path_factory.mktemp("reference"), concurrency=2)
    try:
        s.add_worker()
        dataset_id = s.ingest(online_retail_path)
        job = s.wait(s.client.submit("sweep", dataset_id, SWEEP, owner="ann", team=TEAM)["id"])
        assert job["status"] == DONE, job["error"]
        return s.client.result(job["id"], "sweep", team=TEAM)
    finally:
        s.close()


class DoneWatcher:
    """Polls a job in the background and records whether it ever showed done with parts missing."""

    def __init__(self, stack: Stack, job_id: str) -> None:
        self.stack, self.job_id = stack, job_id
        self.violations: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                job = self.stack.client.registry.get(self.job_id)
                if job and job["status"] == DONE:
                    parts = self.stack.client.registry.parts(self.job_id)
                    if len(parts) < job["progress_total"] or not job["result_keys"]:
                        self.violations.append(f"done with {len(parts)} of {job['progress_total']} parts")
                    return
            except Exception:  # Redis may be down on purpose
                pass
            time.sleep(0.05)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)


def assert_same_sweep(result: dict, reference: dict) -> None:
    assert [p["k"] for p in result["points"]] == [p["k"] for p in reference["points"]]
    for a, b in zip(result["points"], reference["points"], strict=True):
        for key in METRICS:
            assert a[key] == pytest.approx(b[key], rel=1e-9, abs=1e-12), (a["k"], key)
    assert result["recommendation"] == reference["recommendation"]


def _mid_sweep(stack: Stack, job_id: str, parts: int = 2) -> None:
    wait_for(lambda: stack.client.status(job_id, team=TEAM)["progress_done"] >= parts, 90, interval=0.05,
             what=f"{parts} parts done")


def test_worker_killed_9_mid_sweep_is_completed_by_a_new_worker(fresh_stack, reference_points):
    s = fresh_stack
    job = s.client.submit("sweep", s.dataset_id, SWEEP, owner="ann", team=TEAM)
    watcher = DoneWatcher(s, job["id"])
    _mid_sweep(s, job["id"])
    before = s.client.status(job["id"], team=TEAM)["progress_done"]
    s.workers[0].kill()
    killed_at = time.time()
    assert s.client.status(job["id"], team=TEAM)["status"] == "running"
    s.add_worker("w2")
    done = s.wait(job["id"], timeout=float(s.env["REDIS_VISIBILITY_TIMEOUT"]) + 60)
    watcher.close()
    assert done["status"] == DONE, done["error"]
    assert watcher.violations == []
    print(f"killed after {before} parts; done {time.time() - killed_at:.1f} s after the kill")
    assert_same_sweep(s.client.result(job["id"], "sweep", team=TEAM), reference_points)


def test_redis_restarted_mid_sweep_keeps_finished_jobs_and_ends_the_interrupted_one(fresh_stack,
                                                                                     reference_points):
    s = fresh_stack
    finished = s.wait(s.client.submit("describe", s.dataset_id, {}, owner="ann", team=TEAM)["id"])
    assert finished["status"] == DONE
    clustered = s.wait(s.client.submit("cluster", s.dataset_id, {"k": 3}, owner="ann", team=TEAM)["id"])
    assert clustered["status"] == DONE, clustered["error"]
    before = {j["id"]: j for j in s.client.list_jobs(team=TEAM, limit=50)["jobs"]}
    assert len(before) == 3 and all(j["status"] == DONE for j in before.values())  # ingest, describe, cluster
    job = s.client.submit("sweep", s.dataset_id, SWEEP, owner="ann", team=TEAM)
    _mid_sweep(s, job["id"])
    parts_at_kill = s.client.status(job["id"], team=TEAM)["progress_done"]
    s.redis.kill()
    time.sleep(1.0)
    s.redis.start()  # same port, same append-only directory
    restarted = time.time()
    ended = s.wait(job["id"], timeout=float(s.env["JOB_STALE_AFTER"]) * 3)
    print(f"Redis killed with {parts_at_kill}/{ended['progress_total']} parts done; the sweep ended {ended['status']} "
          f"{time.time() - restarted:.1f} s after the restart (recoveries: {ended['attempts']})")
    assert ended["status"] in ("done", "failed")
    if ended["status"] == "failed":
        assert ended["error"]
    else:
        assert_same_sweep(s.client.result(job["id"], "sweep", team=TEAM), reference_points)
    after = {j["id"]: j for j in s.client.list_jobs(team=TEAM, limit=50)["jobs"]}
    assert set(after) == set(before) | {job["id"]}
    for job_id, old in before.items():  # every finished job is kept, unchanged, with its results
        assert {k: after[job_id][k] for k in ("status", "result_keys", "finished")} == \
            {k: old[k] for k in ("status", "result_keys", "finished")}
    summary = s.client.result(finished["id"], "describe", team=TEAM)["summary"]
    assert summary["customers"] == 4_338
    assert len(s.client.result(clustered["id"], "membership", team=TEAM)) == 4_338
    assert s.client.dataset(s.dataset_id, team=TEAM)["customers"] == 4_338


@pytest.mark.parametrize("soft_shutdown", ["20", "0.05"])
def test_worker_sigterm_mid_sweep_requeues_and_the_sweep_completes(fresh_stack, reference_points, soft_shutdown):
    """SIGTERM as ``docker stop`` sends it (remapped to SIGQUIT, as compose and the launcher run workers): running
    parts get ``WORKER_SOFT_SHUTDOWN`` s to finish (20 s: they do; 0.05 s: they are cut off and requeued), the
    rest stay queued, and a new worker completes the sweep with the undisturbed metrics."""
    s = fresh_stack
    if soft_shutdown != s.env["WORKER_SOFT_SHUTDOWN"]:
        s.workers.pop().terminate(timeout=60)  # idle: stops at once
        s.env["WORKER_SOFT_SHUTDOWN"] = soft_shutdown
        s.add_worker("w1b")
    assert s.env["REMAP_SIGTERM"] == "SIGQUIT"
    job = s.client.submit("sweep", s.dataset_id, SWEEP, owner="ann", team=TEAM)
    _mid_sweep(s, job["id"])
    signalled = time.time()
    code = s.workers[-1].terminate(timeout=60)
    stopped = time.time()
    assert code is not None
    at_stop = s.client.status(job["id"], team=TEAM)
    assert at_stop["status"] not in FINAL
    s.add_worker("w2")
    done = s.wait(job["id"], timeout=120)
    received = re.findall(rf"sweep_part\[{job['id']}-k(\d+)\] received", (s.folder / "worker.log").read_text())
    rerun = sorted({int(k) for k in received if received.count(k) > 1})
    print(f"SIGTERM (soft shutdown {soft_shutdown} s): the worker exited (code {code}) {stopped - signalled:.1f} s "
          f"after the signal with {at_stop['progress_done']}/{at_stop['progress_total']} parts stored (parts run "
          f"twice: k={rerun}); the sweep was done {time.time() - stopped:.1f} s after")
    assert done["status"] == DONE, done["error"]
    assert_same_sweep(s.client.result(job["id"], "sweep", team=TEAM), reference_points)


def test_web_app_started_before_redis_shows_queue_unavailable_and_recovers_without_a_reload(tmp_path):
    """The web app comes up first (as after a reboot where Redis is slow); an open page shows the banner, then
    clears it and shows live jobs once Redis and a worker are up, in the same page (no navigation)."""
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    redis = RedisServer(tmp_path / "redis")  # a free port; the server is not started yet
    env = worker_env(redis.url, tmp_path / "data")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp_path / "web.log", "ab")  # noqa: SIM115 - closed in finally
    web = subprocess.Popen([sys.executable, "-m", "webapp", "--port", str(port)], cwd=REPO, env=env, stdout=log,
                           stderr=subprocess.STDOUT, start_new_session=True)
    worker = None
    try:
        wait_for(lambda: http_get(url + "/", timeout=2)[0] == 200, 60, interval=0.3, what="the web app")
        status, body, _ = http_get(url + "/healthz")
        assert status == 503 and b'"redis":false' in body.replace(b" ", b"")
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                page = browser.new_page()
                page.goto(url + "/jobs")
                alert = page.locator("#queue-alert")
                expect(alert).to_contain_text("Queue unavailable: ", timeout=20_000)
                expect(alert).to_contain_text(f"trying again every {RETRY_MS / 1000:g} s")
                page.evaluate("window.__sameDocument = 'yes'")  # gone if the page reloads or navigates

                redis.start()
                up = time.time()
                worker = Worker(env, name="w1", log=tmp_path / "worker.log").start()
                job = Client(load_settings(env)).add_demo(owner=LOCAL_USER, team=LOCAL_TEAM, rows=2_000)
                expect(alert).to_be_hidden(timeout=RETRY_MS + 10_000)
                banner_gone = time.time() - up
                expect(page.locator(f'tr[data-job="{job["id"]}"][data-status="done"]')).to_be_visible(
                    timeout=60_000)
                job_shown = time.time() - up
                assert page.evaluate("window.__sameDocument") == "yes"
            finally:
                browser.close()
        print(f"web before Redis: banner gone {banner_gone:.1f} s after Redis started (retry every "
              f"{RETRY_MS / 1000:g} s); the new job shown done {job_shown:.1f} s after, without a reload")
        status, _, _ = http_get(url + "/healthz")
        assert status == 200
    finally:
        if worker is not None:
            worker.kill()
        if web.poll() is None:
            os.killpg(web.pid, signal.SIGKILL)
            web.wait(10)
        log.close()
        redis.stop()
