"""``python -m webapp [--host 127.0.0.1] [--port 8050]``: the web app on Dash's development server.

The job queue is found through the environment (``REDIS_URL``, ``SEGMENTS_DATA_DIR``); ``python -m workers run``
starts this together with Redis and a worker.
"""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m webapp", description="Segmentation workbench web app.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from webapp.app import create_app

    create_app().run(host=args.host, port=args.port, debug=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
