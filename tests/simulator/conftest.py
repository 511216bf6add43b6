"""Fixtures for the simulator tests: the real Cà Mau wards, the boundary sets in the session database (for ward
assignment), a real ingest process (from the pipeline tests) and a runner for ``ops-center simulate``."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ingest.simulator.geography import Geography, load_geography
from ops_center.settings import Settings
from tests.geo.dbsupport import camau  # noqa: F401  (fixture: the Cà Mau boundary sets imported once)
from tests.pipeline.conftest import OPS, ingest_factory  # noqa: F401  (fixture: real ingest processes)


def wards_file(settings: Settings) -> Path:
    return settings.data_dir / "camau" / "wards_2025.geojson"


@pytest.fixture(scope="session")
def geography(settings: Settings) -> Geography:
    return load_geography(wards_file(settings))


@dataclass
class SimRun:
    proc: subprocess.Popen[bytes]
    log: Path
    anomaly_log: Path

    def wait(self, timeout: float = 120.0) -> dict[str, Any]:
        """Wait for the simulator to exit and return its JSON summary (the last line of stdout)."""
        out, _ = self.proc.communicate(timeout=timeout)
        assert self.proc.returncode == 0, f"simulate exited {self.proc.returncode}: {self.log.read_text()[-3000:]}"
        summary: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        return summary

    def anomalies(self) -> list[dict[str, Any]]:
        if not self.anomaly_log.exists():
            return []
        return [json.loads(line) for line in self.anomaly_log.read_text().splitlines() if line.strip()]


@pytest.fixture
def simulate(stack, tmp_path: Path) -> Iterator[Callable[..., SimRun]]:  # type: ignore[no-untyped-def]
    """``simulate(*args, state=path, env={...})`` → a running ``ops-center simulate`` process."""
    started: list[subprocess.Popen[bytes]] = []

    def run(*args: str, state: Path | None = None, env: dict[str, str] | None = None) -> SimRun:
        n = len(started)
        log = tmp_path / f"simulate-{n}.log"
        anomaly_log = tmp_path / f"anomalies-{n}.jsonl"
        cmd = [OPS, "simulate", "--state", str(state or tmp_path / "fleet.json"), "--anomaly-log", str(anomaly_log),
               "--stats-every", "0", *args]
        fh = open(log, "ab")  # noqa: SIM115 - owned by the process
        proc = subprocess.Popen(cmd, env={**stack.env, **(env or {})}, stdout=subprocess.PIPE, stderr=fh)
        started.append(proc)
        return SimRun(proc, log, anomaly_log)

    yield run
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"{what}: not reached within {timeout}s (last: {last!r})")
