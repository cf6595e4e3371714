"""The one configuration module of the job queue, read from the environment.

| variable | default | meaning |
|---|---|---|
| ``REDIS_URL`` | ``redis://127.0.0.1:6379/0`` | broker, job registry and results |
| ``SEGMENTS_DATA_DIR`` | ``./data`` | datasets (Parquet) and large results, shared by web and workers |
| ``WORKER_CONCURRENCY`` | number of CPU cores | processes per worker (each single-threaded) |
| ``WORKER_THREADS`` | ``1`` | BLAS / OpenMP threads per worker process |
| ``TASK_SOFT_TIME_LIMIT`` | ``1800`` s | a task gets ``SoftTimeLimitExceeded`` and fails with a message |
| ``TASK_TIME_LIMIT`` | soft + 60 s | the task's process is killed |
| ``REDIS_VISIBILITY_TIMEOUT`` | hard limit + 300 s | an unacknowledged task is redelivered after this |
| ``UNACKED_RESTORE_INTERVAL`` | ``10`` s | how often workers look for tasks of dead workers |
| ``WORKER_LOST_MAX_RETRIES`` | ``3`` | a task whose worker process dies is retried this often, then fails |
| ``WORKER_SOFT_SHUTDOWN`` | ``30`` s | on SIGTERM a worker finishes or requeues its tasks within this |
| ``JOB_STALE_AFTER`` | visibility timeout + hard limit | a running job without news for this long is recovered |
| ``TEAM_MAX_ACTIVE_JOBS`` | ``4`` | queued or running jobs a team may have at once (0: no limit) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
QUEUE = "segments"
KEY_PREFIX = "seg:"


@dataclass(frozen=True)
class Settings:
    redis_url: str
    data_dir: Path
    concurrency: int
    threads_per_process: int
    soft_time_limit: float
    time_limit: float
    visibility_timeout: float
    unacked_restore_interval: float
    worker_lost_max_retries: int
    soft_shutdown_timeout: float
    stale_after: float
    team_max_active_jobs: int | None

    @property
    def datasets_dir(self) -> Path:
        return self.data_dir / "datasets"

    @property
    def results_dir(self) -> Path:
        return self.data_dir / "results"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"Environment variable {name}={raw!r} is not a number.") from exc
    if value <= 0:
        raise ValueError(f"Environment variable {name} must be positive (got {raw}).")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``env`` (default ``os.environ``); invalid values raise ``ValueError`` naming the variable."""
    env = os.environ if env is None else env
    soft = _number(env, "TASK_SOFT_TIME_LIMIT", 1800)
    hard = _number(env, "TASK_TIME_LIMIT", soft + 60)
    if hard <= soft:
        raise ValueError(f"TASK_TIME_LIMIT ({hard:g}) must be above TASK_SOFT_TIME_LIMIT ({soft:g}).")
    visibility = _number(env, "REDIS_VISIBILITY_TIMEOUT", hard + 300)
    if visibility <= hard:
        raise ValueError(
            f"REDIS_VISIBILITY_TIMEOUT ({visibility:g}) must be above TASK_TIME_LIMIT ({hard:g}), "
            "or a long task would be delivered twice while it runs."
        )
    stale_after = _number(env, "JOB_STALE_AFTER", visibility + hard)
    if stale_after <= hard:
        raise ValueError(f"JOB_STALE_AFTER ({stale_after:g}) must be above TASK_TIME_LIMIT ({hard:g}), or a job "
                         "still running would be taken for lost.")
    return Settings(
        redis_url=env.get("REDIS_URL") or DEFAULT_REDIS_URL,
        data_dir=Path(env.get("SEGMENTS_DATA_DIR") or "data").resolve(),
        concurrency=int(_number(env, "WORKER_CONCURRENCY", os.cpu_count() or 1)),
        threads_per_process=int(_number(env, "WORKER_THREADS", 1)),
        soft_time_limit=soft,
        time_limit=hard,
        visibility_timeout=visibility,
        unacked_restore_interval=_number(env, "UNACKED_RESTORE_INTERVAL", 10),
        worker_lost_max_retries=int(_number(env, "WORKER_LOST_MAX_RETRIES", 3)),
        soft_shutdown_timeout=_number(env, "WORKER_SOFT_SHUTDOWN", 30),
        stale_after=stale_after,
        team_max_active_jobs=_limit(env, "TEAM_MAX_ACTIVE_JOBS", 4),
    )


def _limit(env: Mapping[str, str], name: str, default: int) -> int | None:
    """A whole-number limit where 0 means none."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"Environment variable {name}={raw!r} is not a whole number.") from exc
    if value < 0:
        raise ValueError(f"Environment variable {name} must be 0 (no limit) or more (got {raw}).")
    return value or None
