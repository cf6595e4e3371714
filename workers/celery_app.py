"""The Celery application: JSON only, and every setting that keeps work from being lost.

Start a worker with ``celery -A workers.celery_app worker -Q segments`` (the launcher does it for you).
"""

from __future__ import annotations

import os

# BLAS / OpenMP / polars read these once, when numpy, scikit-learn or polars first loads: set them before anything
# imports them (one thread per prefork process; the web stays responsive while workers are busy).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS", "POLARS_MAX_THREADS"):
    os.environ.setdefault(_var, os.environ.get("WORKER_THREADS") or "1")

from celery import Celery, signals  # noqa: E402

from workers.config import QUEUE, Settings, load_settings  # noqa: E402


def make_celery(settings: Settings) -> Celery:
    """A Celery app for ``settings``; tasks are registered by importing :mod:`workers.tasks`."""
    app = Celery("segments", broker=settings.redis_url, backend=settings.redis_url, include=["workers.tasks"])
    transport = {
        # Longer than the longest task, or a running task is delivered a second time.
        "visibility_timeout": settings.visibility_timeout,
        # How soon tasks of a worker that died are found again (kombu >= 5.7).
        "unacked_restore_interval": settings.unacked_restore_interval,
        "unacked_restore_throttle": 1,
        # The lock a worker holds while it restores those tasks. kombu keeps it 5 minutes, so a worker killed
        # during a restore scan (milliseconds) held every redelivery back for 5 minutes (seen in the fault
        # battery). A scan that outlives 20 s may restore a task twice; tasks are idempotent.
        "unacked_mutex_expire": 20,
        "socket_timeout": 30,
        "socket_connect_timeout": 5,
        "health_check_interval": 10,
    }
    app.conf.update(
        # JSON everywhere: no pickle in messages or results.
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        event_serializer="json",
        # At-least-once delivery: acknowledge after the task ran; a task whose worker died goes back to the queue.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_retry_on_worker_lost=True,  # ... at most max_retries times, then the task fails
        task_default_retry_delay=1,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.soft_time_limit,
        task_time_limit=settings.time_limit,
        task_track_started=True,
        task_default_queue=QUEUE,
        broker_transport_options=transport,
        result_backend_transport_options={"visibility_timeout": settings.visibility_timeout},
        result_backend_always_retry=True,
        result_backend_max_retries=20,
        result_expires=24 * 3600,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,
        # Celery 6 will default this to True, which would restart long sweeps on any Redis blip: keep running.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        # On SIGTERM (a redeploy) give running tasks time, then requeue them instead of dropping them.
        worker_soft_shutdown_timeout=settings.soft_shutdown_timeout,
        worker_enable_soft_shutdown_on_idle=False,  # an idle worker stops at once
        worker_concurrency=settings.concurrency,
        worker_hijack_root_logger=False,
    )
    return app


settings = load_settings()
app = make_celery(settings)


@signals.worker_process_init.connect
def _limit_threads(**_kwargs) -> None:
    """One BLAS / OpenMP thread per prefork process (WORKER_THREADS): scale with processes, not threads."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(settings.threads_per_process)
