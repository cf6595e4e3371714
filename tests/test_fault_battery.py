"""Fault battery: 10 k-sweeps in a row, each with its worker killed -9 at a random moment (real Redis, real Celery).

Each sweep must end ``done`` with every metric of every k equal to an undisturbed run of the same request, within
the visibility timeout plus a minute of the kill, and must never show ``done`` while parts are missing.

To keep the battery bounded (about two minutes), the workers run with short limits (soft 4 s, hard 5 s, visibility
timeout 8 s: above the hard limit, as :func:`workers.config.load_settings` requires) on a real but small dataset:
the first 120,000 rows of Online Retail (1,885 customers after cleaning; one k takes about 0.2 s). The kill moment
is drawn from a seeded RNG (``FAULT_SEED``, logged) so that kills spread over the whole sweep: a number of
stored parts (0 to all but four) plus a delay of 0-0.2 s; the kill must find the sweep unfinished.
A replacement worker is started at once (as a restart policy does): parts still queued run as soon as it is up,
parts the dead worker had taken are redelivered once the visibility timeout has passed since they were taken.

Run with ``-s`` to see one line per kill (moment, parts done, time to the first redelivered part, time to done).
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.services import Worker, wait_for, worker_env
from tests.test_faults import DoneWatcher, assert_same_sweep
from tests.test_jobs import FINAL, Stack
from workers.client import Client
from workers.config import load_settings
from workers.registry import DONE

SWEEPS = 10
K_MAX = 13
PARTS = K_MAX - 1  # values of k (parts) per sweep
MAX_DELAY = 0.2  # s
SLICE_ROWS = 120_000
CUSTOMERS = 1_885  # of the slice after the default cleaning rules
LIMITS = {"TASK_SOFT_TIME_LIMIT": "4", "TASK_TIME_LIMIT": "5", "REDIS_VISIBILITY_TIMEOUT": "8",
          "UNACKED_RESTORE_INTERVAL": "1", "JOB_STALE_AFTER": "90", "WORKER_SOFT_SHUTDOWN": "4"}
SEED = int(os.environ.get("FAULT_SEED", "20261127"))
REFERENCE_TEAM, BATTERY_TEAM = "undisturbed", "battery"


def sweep_params(i: int) -> dict:
    """The i-th sweep of the battery (its own seed, so each is a new request with its own undisturbed twin)."""
    return {"k": f"2-{K_MAX}", "n_init": 20, "stability_seeds": 3, "random_state": i}


class BatteryStack(Stack):
    """A :class:`Stack` whose workers run with the battery's short limits."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder, concurrency=2)
        self.env = worker_env(self.redis.url, folder / "data", **LIMITS)
        self.client = Client(load_settings(self.env))

    def wait_team(self, job_id: str, team: str, timeout: float) -> dict:
        return wait_for(lambda: (j := self.client.status(job_id, team=team))["status"] in FINAL and j, timeout,
                        interval=0.05, what=f"job {job_id}")

    def ingest_team(self, path: Path, team: str) -> str:
        job = self.wait_team(self.client.add_file(path, owner="ann", team=team)["id"], team, 60)
        assert job["status"] == DONE, job["error"]
        return job["result_keys"]["dataset"]


@pytest.fixture(scope="module")
def retail_slice(tmp_path_factory, online_retail_path) -> Path:
    path = tmp_path_factory.mktemp("slice") / "online_retail_120k.parquet"
    pd.read_parquet(online_retail_path).iloc[:SLICE_ROWS].to_parquet(path)
    return path


@pytest.fixture(scope="module")
def battery(tmp_path_factory, retail_slice):
    """A stack with the battery's limits and the ten undisturbed runs (under their own team)."""
    folder = tmp_path_factory.mktemp("battery")
    s = BatteryStack(folder)
    try:
        s.add_worker("w0")
        # The undisturbed runs: the same ten requests under another team (jobs and datasets are per team).
        ref_dataset = s.ingest_team(retail_slice, REFERENCE_TEAM)
        assert s.client.dataset(ref_dataset, team=REFERENCE_TEAM)["customers"] == CUSTOMERS
        s.references, durations = [], []
        for i in range(SWEEPS):
            t0 = time.monotonic()
            job = s.client.submit("sweep", ref_dataset, sweep_params(i), owner="ann", team=REFERENCE_TEAM)
            done = s.wait_team(job["id"], REFERENCE_TEAM, 60)
            durations.append(time.monotonic() - t0)
            assert done["status"] == DONE, done["error"]
            s.references.append(s.client.result(job["id"], "sweep", team=REFERENCE_TEAM))
        print(f"\nFAULT_SEED={SEED}; undisturbed sweep ({PARTS} values of k, {CUSTOMERS} customers): median "
              f"{sorted(durations)[SWEEPS // 2]:.2f} s, range {min(durations):.2f}-{max(durations):.2f} s")
        yield s
    finally:
        s.close()


def _kill_point(s: BatteryStack, job_id: str, team: str, rng: random.Random) -> tuple[int, float]:
    """Wait for a random number of stored parts (0 to all but four) plus a random delay; returns both."""
    after_parts, delay = rng.randrange(0, PARTS - 3), rng.uniform(0.0, MAX_DELAY)
    wait_for(lambda: s.client.status(job_id, team=team)["progress_done"] >= after_parts, 60, interval=0.01,
             what=f"{after_parts} parts of job {job_id}")
    time.sleep(delay)
    return after_parts, delay


def test_ten_sweeps_each_with_its_worker_killed_9_at_a_random_moment(battery, retail_slice, tmp_path):
    s, rng = battery, random.Random(SEED)
    visibility = float(s.env["REDIS_VISIBILITY_TIMEOUT"])
    dataset = s.ingest_team(retail_slice, BATTERY_TEAM)
    rows = []
    for i in range(SWEEPS):
        submitted = time.monotonic()
        job = s.client.submit("sweep", dataset, sweep_params(i), owner="ann", team=BATTERY_TEAM)
        assert job["status"] == "queued"
        watcher = DoneWatcher(s, job["id"])
        after_parts, delay = _kill_point(s, job["id"], BATTERY_TEAM, rng)
        s.workers[-1].kill()
        killed = time.monotonic()
        moment = killed - submitted
        at_kill = s.client.status(job["id"], team=BATTERY_TEAM)
        assert at_kill["status"] not in FINAL, f"sweep {i} ended before the kill at {moment:.2f} s"
        s.workers.append(Worker(s.env, concurrency=2, name=f"w{i + 1}", log=tmp_path / "worker.log").start())
        redelivered = wait_for(
            lambda j=job["id"], n=at_kill["progress_done"]: (
                (st := s.client.status(j, team=BATTERY_TEAM))["progress_done"] > n or st["status"] in FINAL)
            and time.monotonic(),
            visibility + 60, interval=0.05, what=f"progress of sweep {i} after the kill")
        done = s.wait_team(job["id"], BATTERY_TEAM, visibility + 60 - (time.monotonic() - killed))
        finished = time.monotonic()
        watcher.close()
        assert done["status"] == DONE, done["error"]
        assert watcher.violations == []
        assert_same_sweep(s.client.result(job["id"], "sweep", team=BATTERY_TEAM), s.references[i])
        rows.append(finished - killed)
        print(f"sweep {i}: drew {after_parts} parts + {delay:.2f} s; killed {moment:.2f} s after the submit "
              f"with {at_kill['progress_done']}/{PARTS} parts stored; next part {redelivered - killed:.1f} s "
              f"and done {finished - killed:.1f} s after the kill (limit {visibility + 60:g} s); all metrics equal "
              "to the undisturbed run")
    print(f"battery: {len(rows)} kills, time from kill to done min {min(rows):.1f} s, median "
          f"{sorted(rows)[len(rows) // 2]:.1f} s, max {max(rows):.1f} s (visibility timeout {visibility:g} s)")
    assert len(rows) == SWEEPS
    assert max(rows) < visibility + 60


def test_a_pool_process_killed_9_mid_sweep_is_retried_at_once(battery, retail_slice):
    """One worker process killed -9 (as the kernel's OOM killer does) while its worker lives on: the part is
    retried within seconds (reject-on-worker-lost), not after the visibility timeout, and the result is equal."""
    s, rng = battery, random.Random(SEED + 1)
    team = "pool-kill"
    dataset = s.ingest_team(retail_slice, team)
    worker = s.workers[-1]
    for i in range(3):
        job = s.client.submit("sweep", dataset, sweep_params(i), owner="ann", team=team)
        watcher = DoneWatcher(s, job["id"])
        after_parts, delay = _kill_point(s, job["id"], team, rng)
        children = worker.pool_children()
        assert len(children) == 2
        victim = rng.choice(children)
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        at_kill = s.client.status(job["id"], team=team)
        assert at_kill["status"] not in FINAL
        done = s.wait_team(job["id"], team, 60)
        finished = time.monotonic()
        watcher.close()
        assert done["status"] == DONE, done["error"]
        assert watcher.violations == []
        assert_same_sweep(s.client.result(job["id"], "sweep", team=team), s.references[i])
        assert worker.proc.poll() is None  # the worker itself lives on and replaced its process
        print(f"pool process kill {i}: after {at_kill['progress_done']}/{PARTS} parts (drew {after_parts} + "
              f"{delay:.2f} s); done {finished - killed:.1f} s after the kill; all metrics equal")
