"""Fixtures for end-to-end ingest tests: real ingest processes, real Mosquitto, real PostgreSQL."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.services import free_port

REPO = Path(__file__).resolve().parents[2]
OPS = str(REPO / ".venv" / "bin" / "ops-center")


def discard_session(host: str, port: int, user: str, password: str, client_id: str) -> None:
    """Connect once with clean start and no session expiry: the broker forgets that client's session."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.username_pw_set(user, password)
    c.connect(host, port, clean_start=True)
    c.loop_start()
    time.sleep(0.2)
    c.disconnect()
    c.loop_stop()


@dataclass
class IngestProc:
    env: dict[str, str]
    client_id: str
    metrics_port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    def start(self) -> None:
        fh = open(self.log, "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen([OPS, "ingest"], env=self.env, stdout=fh, stderr=fh)
        deadline = time.monotonic() + 120  # a readiness wait, not a timing check: a loaded CI machine is slow
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ingest exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            if self.metric("ingest_broker_connected") == 1.0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"ingest did not connect in 120 s (metric ingest_broker_connected="
                           f"{self.metric('ingest_broker_connected')}): {self.log.read_text()[-2000:]}")

    def metric(self, name: str, labels: str = "") -> float | None:
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=1).read().decode()
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith(name + labels + " ") or (not labels and line.startswith(name + " ")):
                return float(line.rsplit(" ", 1)[1])
        return None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.terminate()
        return self.proc.wait(60)


@pytest.fixture
def ingest_factory(stack, tmp_path: Path) -> Iterator:  # type: ignore[no-untyped-def]
    """``make(index)`` → a not-yet-started ingest process in this test's own share group."""
    group = f"t{secrets.token_hex(3)}"
    made: list[IngestProc] = []

    def make(index: int = 0, **extra: str) -> IngestProc:
        port = free_port()
        env = {**stack.env, "OPS_INGEST_SHARE_GROUP": group, "OPS_INGEST_CLIENT_ID": f"ingest-{group}-{index}",
               "OPS_INGEST_METRICS_PORT": str(port), "OPS_INGEST_FLUSH_MS": "50", **extra}
        p = IngestProc(env, f"ingest-{group}-{index}", port, tmp_path / f"ingest-{index}.log")
        made.append(p)
        return p

    yield make
    s = stack.settings
    for p in made:
        if p.proc is not None and p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait()
        discard_session(s.mqtt_host, s.mqtt_port, s.mqtt_username, s.mqtt_password.get_secret_value(), p.client_id)


def publish(stack, count: int, *, prefix: str, devices: int, start: int = 0, kind: str = "json",  # type: ignore[no-untyped-def]
            rate: float | None = None, extra: list[str] | None = None, base_ts: float | None = None
            ) -> subprocess.Popen[bytes]:
    """A publisher in its own process (returns it; ``.wait()`` for it)."""
    s = stack.settings
    args = [sys.executable, "-m", "tests.support.mqtt_load", "--port", str(s.mqtt_port),
            "--user", s.mqtt_username, f"--password={s.mqtt_password.get_secret_value()}",
            "--prefix", prefix, "--devices", str(devices), "--count", str(count), "--start", str(start),
            "--kind", kind, "--client-id", f"pub-{secrets.token_hex(4)}",
            "--base-ts", str(base_ts if base_ts is not None else time.time() - 1800)]
    if rate:
        args += ["--rate", str(rate)]
    return subprocess.Popen(args + (extra or []), env={**os.environ, **stack.env}, stdout=subprocess.PIPE, cwd=REPO)


def add_devices(db, prefix: str, n: int, gateway: str | None = None) -> None:  # type: ignore[no-untyped-def]
    if gateway:
        db.execute("INSERT INTO gateways (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING", (gateway, gateway))
    db.execute(
        "INSERT INTO devices (id, kind, name, gateway_id, expected_interval_s) "
        "SELECT %s || g, 'water_level', 'Trạm đo ' || g, %s, 60 FROM generate_series(0, %s - 1) g",
        (prefix, gateway, n),
    )


def count_readings(db, prefix: str) -> int:  # type: ignore[no-untyped-def]
    return int(db.execute("SELECT count(*) FROM readings WHERE device_id LIKE %s",
                          (prefix.replace("_", r"\_") + "%",)).fetchone()[0])


def wait_count(db, prefix: str, want: int, timeout: float = 120.0) -> int:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    n = count_readings(db, prefix)
    while n < want and time.monotonic() < deadline:
        time.sleep(0.2)
        n = count_readings(db, prefix)
    return n
