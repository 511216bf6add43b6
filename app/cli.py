"""The ``ops-center`` command: every package's subcommands, assembled.

Each package adds its own through ``register(sub)`` in its ``cli`` module; the Celery ``worker`` and ``beat`` run the
app wired in ``app/celery.py``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from alerts import cli as alerts_cli
from api import cli as api_cli
from geo import cli as geo_cli
from ingest import cli as ingest_cli
from ops_center import cli as core_cli
from ops_center import feed_replay
from ops_center.dossiers import cli as dossiers_cli
from ops_center.federation import cli as federation_cli
from ops_center.redact import install_log_redaction

Handler = Callable[[argparse.Namespace], int]


def _worker(args: argparse.Namespace) -> int:
    from app.celery import app

    argv = ["worker", "--loglevel", args.loglevel, "--concurrency", str(args.concurrency)]
    if args.hostname:
        argv += ["--hostname", args.hostname]
    app.worker_main(argv)
    return 0


def _beat(args: argparse.Namespace) -> int:
    from app.celery import app

    app.start(["beat", "--loglevel", args.loglevel, "--schedule", args.schedule])
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ops-center", description="Operations center backend")
    sub = parser.add_subparsers(dest="command", required=True)
    core_cli.register(sub)

    p = sub.add_parser("worker", help="run a Celery worker")
    p.add_argument("--loglevel", default="INFO")
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--hostname")
    p.set_defaults(func=_worker)

    p = sub.add_parser("beat", help="run Celery beat (scheduled rules and maintenance)")
    p.add_argument("--loglevel", default="INFO")
    p.add_argument("--schedule", default=".run/celerybeat-schedule")
    p.set_defaults(func=_beat)

    for package_cli in (api_cli, ingest_cli, geo_cli, alerts_cli, dossiers_cli, federation_cli, feed_replay):
        package_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()  # every process we start: no token, key or password in a log line
    args = build_parser().parse_args(argv)
    func: Handler = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
