"""Faults with real processes: a worker killed -9 mid-sweep, Redis restarted mid-sweep, a worker SIGTERMed."""

from __future__ import annotations

import threading
import time

import pytest

from tests.services import wait_for
from tests.test_jobs import FINAL, METRICS, TEAM, Stack
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


def _assert_same(result: dict, reference: dict) -> None:
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
    _assert_same(s.client.result(job["id"], "sweep", team=TEAM), reference_points)


def test_redis_restarted_mid_sweep_keeps_finished_jobs_and_ends_the_interrupted_one(fresh_stack,
                                                                                     reference_points):
    s = fresh_stack
    finished = s.wait(s.client.submit("describe", s.dataset_id, {}, owner="ann", team=TEAM)["id"])
    assert finished["status"] == DONE
    job = s.client.submit("sweep", s.dataset_id, SWEEP, owner="ann", team=TEAM)
    _mid_sweep(s, job["id"])
    s.redis.kill()
    time.sleep(1.0)
    s.redis.start()  # same port, same append-only directory
    ended = s.wait(job["id"], timeout=float(s.env["JOB_STALE_AFTER"]) * 3)
    assert ended["status"] in ("done", "failed")
    if ended["status"] == "failed":
        assert ended["error"]
    else:
        _assert_same(s.client.result(job["id"], "sweep", team=TEAM), reference_points)
    listed = [j["id"] for j in s.client.list_jobs(team=TEAM, limit=50)["jobs"]]
    assert finished["id"] in listed and job["id"] in listed
    summary = s.client.result(finished["id"], "describe", team=TEAM)["summary"]
    assert summary["customers"] == 4_338
    assert s.client.dataset(s.dataset_id, team=TEAM)["customers"] == 4_338


def test_worker_sigterm_mid_sweep_requeues_and_the_sweep_completes(fresh_stack, reference_points):
    s = fresh_stack
    job = s.client.submit("sweep", s.dataset_id, SWEEP, owner="ann", team=TEAM)
    _mid_sweep(s, job["id"])
    code = s.workers[0].terminate(timeout=60)
    assert code is not None
    assert s.client.status(job["id"], team=TEAM)["status"] not in FINAL
    s.add_worker("w2")
    done = s.wait(job["id"], timeout=120)
    assert done["status"] == DONE, done["error"]
    _assert_same(s.client.result(job["id"], "sweep", team=TEAM), reference_points)
