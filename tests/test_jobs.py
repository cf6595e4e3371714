"""The job queue against a real redis-server and real Celery worker processes started by the tests."""

from __future__ import annotations

import time

import pytest

from analysis import pipeline
from analysis.errors import AnalysisError
from tests.services import RedisServer, Worker, wait_for, worker_env
from workers.client import Client
from workers.config import load_settings
from workers.registry import DONE, FAILED

TEAM = "team-a"
FINAL = ("done", "failed", "cancelled")
METRICS = ("inertia", "silhouette", "calinski_harabasz", "davies_bouldin", "stability", "silhouette_sample_size")


class Stack:
    """Redis + one worker + a client, all pointing at the same temporary data directory."""

    def __init__(self, folder, *, concurrency: int = 2, worker_niceness: int = 0) -> None:
        self.folder = folder
        self.redis = RedisServer(folder / "redis").start()
        self.env = worker_env(self.redis.url, folder / "data")
        self.client = Client(load_settings(self.env))
        self.workers: list[Worker] = []
        self.concurrency = concurrency
        self.worker_niceness = worker_niceness

    def add_worker(self, name: str | None = None) -> Worker:
        worker = Worker(self.env, concurrency=self.concurrency, name=name or f"w{len(self.workers) + 1}",
                        log=self.folder / "worker.log", niceness=self.worker_niceness).start()
        worker.wait_ready(self.client)
        self.workers.append(worker)
        return worker

    def wait(self, job_id: str, timeout: float = 120) -> dict:
        return wait_for(lambda: (j := self.client.status(job_id, team=TEAM))["status"] in FINAL and j, timeout,
                        what=f"job {job_id}")

    def ingest(self, path) -> str:
        job = self.wait(self.client.add_file(path, owner="ann", team=TEAM)["id"])
        assert job["status"] == DONE, job["error"]
        return job["result_keys"]["dataset"]

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()
        self.redis.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, online_retail_path):
    s = Stack(tmp_path_factory.mktemp("jobs"))
    try:
        s.add_worker()
        s.dataset_id = s.ingest(online_retail_path)
        yield s
    finally:
        s.close()


def _direct_sweep(path, ks):
    fs = pipeline.feature_set(pipeline.prepare(pipeline.load_dataset(path)))
    return pipeline.sweep(fs, ks, random_state=0)


def _same_points(a: list[dict], b: list[dict]) -> None:
    assert [p["k"] for p in a] == [p["k"] for p in b]
    for pa, pb in zip(a, b, strict=True):
        for key in METRICS:
            assert pa[key] == pytest.approx(pb[key], rel=1e-9, abs=1e-12), (pa["k"], key)


def test_dataset_metadata(stack):
    meta = stack.client.dataset(stack.dataset_id, team=TEAM)
    assert meta["shape"] == "line_items"
    assert meta["rows"] == 541_909
    assert meta["customers"] == 4_338
    assert meta["quality"]["clean_rows"] == 397_884
    assert meta["owner"] == "ann" and meta["team"] == TEAM
    assert stack.client.dataset(stack.dataset_id, team="team-b") is None  # another team sees nothing
    assert [d["id"] for d in stack.client.datasets(team=TEAM)] == [stack.dataset_id]


def test_sweep_on_real_data_equals_direct_analysis(stack, online_retail_path):
    job = stack.client.submit("sweep", stack.dataset_id, {"k": "2-10"}, owner="ann", team=TEAM)
    assert job["progress_total"] == 9
    done = stack.wait(job["id"])
    assert done["status"] == DONE, done["error"]
    assert done["progress_done"] == 9
    result = stack.client.result(job["id"], "sweep", team=TEAM)
    direct = _direct_sweep(online_retail_path, range(2, 11))
    _same_points(result["points"], direct["points"])
    assert result["recommendation"]["k"] == direct["recommendation"]["k"]
    assert result["features"]["columns"] == ["recency_days", "frequency", "monetary"]


def test_same_request_returns_the_same_job(stack):
    a = stack.client.submit("describe", stack.dataset_id, {}, owner="ann", team=TEAM)
    b = stack.client.submit("describe", stack.dataset_id, {"rules": {"duplicates": False}, "as_of": None},
                            owner="bob", team=TEAM)
    assert a["id"] == b["id"]
    assert stack.wait(a["id"])["status"] == DONE
    c = stack.client.submit("describe", stack.dataset_id, {}, owner="ann", team=TEAM)
    assert c["id"] == a["id"]  # done jobs answer again
    ids = [j["id"] for j in stack.client.list_jobs(team=TEAM, limit=100)["jobs"]]
    assert ids.count(a["id"]) == 1
    summary = stack.client.result(a["id"], "describe", team=TEAM)["summary"]
    assert (summary["customers"], summary["orders"]) == (4_338, 18_532)


def test_listing_is_per_team_newest_first_with_paging(stack):
    first = stack.client.submit("describe", stack.dataset_id, {"rules": {"duplicates": True}}, owner="ann",
                                team=TEAM)
    second = stack.client.submit("describe", stack.dataset_id, {"rules": {"non_product_codes": True}},
                                 owner="ann", team=TEAM)
    listing = stack.client.list_jobs(team=TEAM, limit=2)
    assert [j["id"] for j in listing["jobs"]] == [second["id"], first["id"]]
    assert listing["total"] >= 3
    assert stack.client.list_jobs(team=TEAM, offset=1, limit=1)["jobs"][0]["id"] == first["id"]
    assert stack.client.list_jobs(team="team-b")["jobs"] == []
    assert stack.client.status(first["id"], team="team-b") is None
    for job in (first, second):
        assert stack.wait(job["id"])["status"] == DONE


def test_missing_dataset_fails_with_message(stack):
    job, created = stack.client.registry.create_job(kind="describe", dataset_id="0123456789abcdef", params={
        "rules": {}, "as_of": None}, owner="ann", team=TEAM)
    assert created
    stack.client._dispatch(job)
    failed = stack.wait(job["id"])
    assert failed["status"] == FAILED
    assert failed["error"] == "Dataset 0123456789abcdef does not exist (or was deleted)."


def test_parameters_analysis_rejects_fail_the_job_with_its_message(stack):
    job = stack.client.submit("cluster", stack.dataset_id, {"k": 3, "features": ["recency_days", "loyalty"]},
                              owner="ann", team=TEAM)
    failed = stack.wait(job["id"])
    assert failed["status"] == FAILED
    assert failed["error"].startswith("Unknown feature(s): loyalty.")


def test_user_errors_at_submit_name_the_problem(stack):
    with pytest.raises(AnalysisError, match="Asked for 5000 clusters but dataset 'online_retail.parquet' has only "
                                            "4338 customers"):
        stack.client.submit("cluster", stack.dataset_id, {"k": 5000}, owner="ann", team=TEAM)
    with pytest.raises(AnalysisError, match="Unknown cleaning rule 'nope'"):
        stack.client.submit("describe", stack.dataset_id, {"rules": {"nope": True}}, owner="ann", team=TEAM)
    with pytest.raises(AnalysisError, match="does not exist"):
        stack.client.submit("describe", stack.dataset_id, {}, owner="ann", team="team-b")


def test_bad_upload_is_refused_and_leaves_nothing(stack):
    before = (stack.client.datasets(team=TEAM), stack.client.list_jobs(team=TEAM, limit=500))
    uploads_before = sorted((stack.folder / "data" / "uploads").iterdir())
    # What the first bytes show is refused at once, before anything is stored or queued.
    with pytest.raises(AnalysisError, match="File 'broken.csv' is a binary file"):
        stack.client.add_upload("broken.csv", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)), owner="ann", team=TEAM)
    # What only parsing shows is refused by the worker, which removes the ingest job again and keeps its message.
    job = stack.client.add_upload("extra.csv", b"CustomerID,InvoiceDate,Amount\na,2024-01-01,1\nb,2024-01-02,2,x\n",
                                  owner="ann", team=TEAM)
    rejected = wait_for(lambda: (j := stack.client.upload_status(job["id"], team=TEAM))["status"] not in
                        ("queued", "running") and j, 60, what="the rejection")
    assert rejected["status"] == "rejected"
    assert rejected["error"].startswith("Data row 2 of 'extra.csv' has 4 fields but the header has 3")
    assert stack.client.status(job["id"], team=TEAM) is None
    assert stack.client.upload_status(job["id"], team="team-b") is None  # another team sees nothing
    assert (stack.client.datasets(team=TEAM), stack.client.list_jobs(team=TEAM, limit=500)) == before
    assert sorted((stack.folder / "data" / "uploads").iterdir()) == uploads_before
    assert not any((stack.folder / "data" / "datasets").glob("*.tmp"))


def test_cluster_job_writes_membership(stack):
    job = stack.client.submit("cluster", stack.dataset_id, {"k": 4}, owner="ann", team=TEAM)
    done = stack.wait(job["id"])
    assert done["status"] == DONE, done["error"]
    members = stack.client.result(job["id"], "membership", team=TEAM)
    segments = stack.client.result(job["id"], "segments", team=TEAM)
    assert len(members) == 4_338
    assert sorted(members["segment"].unique()) == [0, 1, 2, 3]
    sizes = {p["segment"]: p["size"] for p in segments["profiles"]["segments"]}
    assert sizes == members["segment"].value_counts().to_dict()


def test_cancel_running_sweep_within_5_seconds_and_workers_are_free(stack):
    job = stack.client.submit("sweep", stack.dataset_id, {"k": "2-40", "n_init": 40, "stability_seeds": 5},
                              owner="ann", team=TEAM)
    wait_for(lambda: stack.client.status(job["id"], team=TEAM)["status"] == "running", 60, what="running")
    started = time.time()
    stack.client.cancel(job["id"], team=TEAM)
    wait_for(lambda: stack.client.status(job["id"], team=TEAM)["status"] == "cancelled", 5, what="cancelled")
    assert time.time() - started < 5
    # The next job runs at once: nothing of the cancelled sweep keeps the workers busy.
    nxt = stack.client.submit("describe", stack.dataset_id, {"as_of": "2012-01-01"}, owner="ann", team=TEAM)
    t0 = time.time()
    assert stack.wait(nxt["id"], timeout=30)["status"] == DONE
    assert time.time() - t0 < 15
    final = stack.client.status(job["id"], team=TEAM)
    assert final["status"] == "cancelled" and final["progress_done"] < final["progress_total"]


def test_team_limit_on_active_jobs(stack, online_retail_path):
    from dataclasses import replace

    from workers.client import TooManyJobs

    team = "team-limit"
    limited = Client(replace(stack.client.settings, team_max_active_jobs=2))
    ingest = limited.add_file(online_retail_path, owner="lee", team=team)
    done = wait_for(lambda: (j := limited.status(ingest["id"], team=team))["status"] in FINAL and j, 60, what="ingest")
    dataset = done["result_keys"]["dataset"]
    slow = {"k": "2-30", "n_init": 30}
    first = limited.submit("sweep", dataset, {**slow, "random_state": 1}, owner="lee", team=team)
    second = limited.submit("sweep", dataset, {**slow, "random_state": 2}, owner="lee", team=team)
    with pytest.raises(TooManyJobs, match="already has 2 jobs queued or running"):
        limited.submit("sweep", dataset, {**slow, "random_state": 3}, owner="lee", team=team)
    # The same request as a running job is not a new job: it is answered, not refused.
    assert limited.submit("sweep", dataset, {**slow, "random_state": 1}, owner="kim", team=team)["id"] == first["id"]
    assert limited.registry.active_count(team) == 2
    limited.cancel(first["id"], team=team)
    assert limited.registry.active_count(team) == 1
    third = limited.submit("sweep", dataset, {**slow, "random_state": 3}, owner="lee", team=team)
    for job in (second, third):
        limited.cancel(job["id"], team=team)
    assert limited.registry.active_count(team) == 0
    # Other teams are not limited by this team's jobs.
    assert stack.client.registry.active_count(TEAM) <= 4


def test_identical_requests_racing_get_one_job(stack):
    import threading

    params = {"rules": {"duplicates": True, "non_product_codes": True}, "as_of": "2012-02-01"}
    ids: list[str] = []
    barrier = threading.Barrier(8)

    def submit() -> None:
        barrier.wait()
        ids.append(stack.client.submit("describe", stack.dataset_id, params, owner="ann", team=TEAM)["id"])

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(ids) == 8 and len(set(ids)) == 1
    assert stack.wait(ids[0])["status"] == DONE


def test_reimport_with_another_mapping_is_team_scoped(stack, tmp_path):
    csv = "Client,When,Paid,Total\na,2024-01-01,5,1\nb,2024-01-02,7,2\nc,2024-01-03,9,3\n"
    job = stack.wait(stack.client.add_upload("paid.csv", csv.encode(), owner="ann", team=TEAM)["id"])
    assert job["status"] == DONE
    first = stack.client.dataset(job["result_keys"]["dataset"], team=TEAM)
    assert first["mapping"]["amount"] == "Total"  # the guess
    sha = job["params"]["sha"]
    with pytest.raises(AnalysisError, match="no longer available"):
        stack.client.reimport(sha, ".csv", "paid.csv", owner="bob", team="team-b", mapping={"amount": "Paid"})
    again = stack.wait(stack.client.reimport(sha, ".csv", "paid.csv", owner="ann", team=TEAM,
                                             mapping={"amount": "Paid"})["id"])
    assert again["status"] == DONE, again["error"]
    second = stack.client.dataset(again["result_keys"]["dataset"], team=TEAM)
    assert second["mapping"]["amount"] == "Paid" and second["id"] != first["id"]


def test_cluster_job_writes_display_sample_and_safe_csv(stack):
    job = stack.wait(stack.client.submit("cluster", stack.dataset_id, {"k": 3}, owner="ann", team=TEAM)["id"])
    assert job["status"] == DONE, job["error"]
    sample = stack.client.result(job["id"], "sample", team=TEAM)
    members = stack.client.result(job["id"], "membership", team=TEAM)
    assert len(sample) == 4_338 and {"pc1", "pc2", "segment"} <= set(sample.columns)  # small data: all of it
    csv_path = stack.client.result_path(job["id"], "membership_csv", team=TEAM)
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("customer_id,segment,segment_name")
    assert len(lines) == 1 + len(members)
    assert stack.client.result_path(job["id"], "membership_csv", team="team-b") is None
