"""A private stack for benchmarks: its own database, our Mosquitto on a free port, its own Redis."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from ops_center.db import connect
from ops_center.migrate import migrate
from ops_center.settings import Settings
from ops_center.testing.services import (
    Broker,
    broker,
    database,
    free_port,
    redis_server,
    settings_env,
    test_settings,
)

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class BenchStack:
    settings: Settings
    broker: Broker
    run_dir: Path

    @property
    def env(self) -> dict[str, str]:
        return settings_env(self.settings)


@contextmanager
def bench_stack() -> Iterator[BenchStack]:
    os.environ["OPS_ENV_FILE"] = "/dev/null"
    with ExitStack() as es:
        run_dir = Path(es.enter_context(tempfile.TemporaryDirectory(prefix="ops-bench-")))
        url = es.enter_context(database("ops_bench"))
        redis_port, mqtt_port = free_port(), free_port()
        es.enter_context(redis_server(redis_port, run_dir / "redis"))
        settings = test_settings(run_dir, url, mqtt_port, redis_port)
        with connect(url, autocommit=True) as conn:
            migrate(conn, "postgres")
        b = es.enter_context(broker(settings, run_dir / "mosquitto"))
        yield BenchStack(settings, b, run_dir)
