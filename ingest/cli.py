"""``ops-center ingest`` and ``ops-center simulate``."""

from __future__ import annotations

import argparse
from typing import Any


def _ingest(args: argparse.Namespace) -> int:
    from ingest.service import main

    return main()


def register(sub: Any) -> None:
    p = sub.add_parser("ingest", help="consume device telemetry from MQTT into the store")
    p.set_defaults(func=_ingest)
    try:
        from ingest.simulator.cli import register as register_simulator
    except ModuleNotFoundError:
        return
    register_simulator(sub)
