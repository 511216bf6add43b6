"""A private stack for benchmarks: its own database, our Mosquitto on a free port, its own Redis."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.services import PrivateStack, private_stack

RESULTS = Path(__file__).resolve().parent / "results"
BenchStack = PrivateStack


@contextmanager
def bench_stack() -> Iterator[BenchStack]:
    os.environ["OPS_ENV_FILE"] = "/dev/null"
    with tempfile.TemporaryDirectory(prefix="ops-bench-") as run_dir, private_stack(Path(run_dir), "ops_bench") as st:
        yield st
