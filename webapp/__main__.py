"""``python -m webapp [--host 127.0.0.1] [--port 8050]``: the web app on Dash's development server.
``python -m webapp users add|list|remove ...``: the users and teams of hosted mode (see :mod:`webapp.users`).

The job queue is found through the environment (``REDIS_URL``, ``SEGMENTS_DATA_DIR``); ``python -m workers run``
starts this together with Redis and a worker. Hosted mode (sign-in) is on when ``HOSTED_MODE`` / ``USERS_FILE``
ask for it (:mod:`webapp.auth`); a misconfigured hosted mode (e.g. no ``SECRET_KEY``) exits with status 2 and
one line saying what to set.
"""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["users"]:
        from webapp.users import main as users_main

        return users_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m webapp", description="Segmentation workbench web app.",
                                     epilog="python -m webapp users --help: manage the users of hosted mode")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from webapp.app import create_app
    from webapp.auth import HostedModeError

    try:
        app = create_app()
    except HostedModeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    app.run(host=args.host, port=args.port, debug=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
