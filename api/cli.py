"""``ops-center api``: serve the API with uvicorn."""

from __future__ import annotations

import argparse
from typing import Any


def _serve(args: argparse.Namespace) -> int:
    from api.server import serve

    serve(args.host, args.port, args.workers, args.log_level)
    return 0


def register(sub: Any) -> None:
    from api import schemas

    schemas.register(sub)
    p = sub.add_parser("api", help="serve the HTTP API, WebSocket feed and screens")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--log-level", default="info")
    p.set_defaults(func=_serve)
