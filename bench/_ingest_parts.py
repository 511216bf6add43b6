"""Parts of bench/ingest.py: publishers that queue messages for a stopped consumer, a group of real ingest
processes in one share group, bare-subscriber drains, CPU accounting per component from /proc, exact counts."""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import BenchStack
from bench.ingest_write import cpu_seconds
from ops_center.db import connect
from tests.support.services import free_port

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
OPS = str(REPO / ".venv" / "bin" / "ops-center")


def publish(st: BenchStack, total: int, n: int, *, prefix: str, devices: int = 1000, kind: str = "json",
            extra: list[str] | None = None, base_ts: float | None = None) -> list[subprocess.Popen[bytes]]:
    """``n`` publisher processes sending ``total`` messages between them (message i to device prefix + i % devices)."""
    s = st.settings
    per = total // n
    base = str(base_ts if base_ts is not None else time.time() - 3000)
    procs = []
    for i in range(n):
        count = per if i < n - 1 else total - per * (n - 1)
        args = [PY, "-m", "tests.support.mqtt_load", "--port", str(s.mqtt_port), "--user", s.mqtt_username,
                f"--password={s.mqtt_password.get_secret_value()}", "--prefix", prefix, "--devices", str(devices),
                "--count", str(count), "--start", str(i * per), "--kind", kind,
                "--client-id", f"bpub-{prefix}-{i}-{secrets.token_hex(2)}", "--base-ts", base, *(extra or [])]
        procs.append(subprocess.Popen(args, env={**os.environ, **st.env}, stdout=subprocess.PIPE, cwd=REPO))
    return procs


def queue(st: BenchStack, total: int, n: int, **kw: Any) -> None:
    for p in publish(st, total, n, **kw):
        if p.wait() != 0:
            raise RuntimeError("a publisher failed")


@dataclass
class CpuMeter:
    """CPU seconds of named groups of processes between ``start`` and ``stop``."""

    groups: dict[str, list[int]]
    before: dict[str, float] = field(default_factory=dict)

    def _read(self) -> dict[str, float]:
        out = {}
        for name, pids in self.groups.items():
            total = 0.0
            for pid in pids:
                with contextlib.suppress(OSError):  # gone
                    total += cpu_seconds(pid)
            out[name] = total
        return out

    def start(self) -> None:
        self.before = self._read()

    def stop(self) -> dict[str, float]:
        after = self._read()
        return {k: after[k] - self.before.get(k, 0.0) for k in after}


def metric(port: int, name: str) -> float | None:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


class IngestGroup:
    """``n`` real ingest processes sharing the subscription (the default share group)."""

    def __init__(self, st: BenchStack, n: int = 1, **env: str) -> None:
        self.st = st
        self.ports = [free_port() for _ in range(n)]
        self.envs = [{**os.environ, **st.env, "OPS_INGEST_METRICS_PORT": str(port),
                      "OPS_INGEST_CLIENT_ID": f"bench-ingest-{i}", **env} for i, port in enumerate(self.ports)]
        self.log = open(st.run_dir / "ingest.log", "ab")  # noqa: SIM115 - closed in stop()
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> float:
        """Start every process and wait until all are connected; returns the time the last one connected."""
        self.procs = [subprocess.Popen([OPS, "ingest"], env=env, stdout=self.log, stderr=self.log)
                      for env in self.envs]
        for port, proc in zip(self.ports, self.procs, strict=True):
            deadline = time.monotonic() + 30
            while metric(port, "ingest_broker_connected") != 1.0:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"ingest did not connect; see {self.st.run_dir / 'ingest.log'}")
                time.sleep(0.01)
        return time.perf_counter()

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(120)
        self.procs = []

    def discard_sessions(self) -> None:
        """Forget the processes' persistent sessions (and so their place in the share group): messages published
        meanwhile (another drain's) are not queued for them. ``start`` makes them again."""
        from bench.ingest_ceiling import discard_session

        s = self.st.settings
        for env in self.envs:
            discard_session(argparse.Namespace(user=s.mqtt_username, password=s.mqtt_password.get_secret_value(),
                                               port=s.mqtt_port), env["OPS_INGEST_CLIENT_ID"])

    def backends(self) -> list[int]:
        with connect(self.st.settings.database_url) as c:
            rows = c.execute("SELECT pid FROM pg_stat_activity WHERE application_name LIKE 'ops-ingest:bench-%'")
            return [int(r[0]) for r in rows.fetchall()]

    def per_process(self, name: str) -> list[float]:
        return [metric(port, name) or 0.0 for port in self.ports]

    def wait_stored(self, want: int, timeout: float = 900) -> float:
        """Poll the processes' committed-readings counters (cheap, unlike counting rows) until ``want``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(self.per_process("ingest_readings_stored_total")) >= want:
                return time.perf_counter()
            time.sleep(0.05)  # each look costs the ingest process a metrics page
        raise RuntimeError(f"only {sum(self.per_process('ingest_readings_stored_total'))} of {want} stored")


def counts(url: str, prefix: str) -> dict[str, int]:
    """Rows stored and readings counted in each rollup for devices named ``prefix…``: all three must equal what
    was published (a reading stored or counted twice, or not at all, shows here)."""
    with connect(url) as c:
        like = prefix + "%"
        row = c.execute(
            "SELECT (SELECT count(*) FROM readings WHERE device_id LIKE %s), "
            "(SELECT coalesce(sum(count), 0) FROM readings_hourly WHERE device_id LIKE %s), "
            "(SELECT coalesce(sum(count), 0) FROM readings_daily WHERE device_id LIKE %s)", (like, like, like)
        ).fetchone()
    assert row is not None
    return {"rows": int(row[0]), "hourly_count": int(row[1]), "daily_count": int(row[2])}


def bare_drain(st: BenchStack, total: int, n_pub: int, client: str, protocol: str) -> dict[str, Any]:
    """The bare subscriber (``bench/ingest_ceiling.py``) drains ``total`` messages queued for its session."""
    s = st.settings
    group = f"ceil{secrets.token_hex(2)}"
    base = [PY, str(REPO / "bench" / "ingest_ceiling.py"), "--port", str(s.mqtt_port), "--user", s.mqtt_username,
            f"--password={s.mqtt_password.get_secret_value()}", "--count", str(total), "--client", client,
            "--protocol", protocol, "--group", group, "--client-id", f"bare-{group}"]
    subprocess.run([*base, "--subscribe-only"], check=True, stdout=subprocess.DEVNULL)
    queue(st, total, n_pub, prefix="c")
    out = subprocess.run(base, check=True, stdout=subprocess.PIPE).stdout
    res = dict(orjson.loads(out.strip().splitlines()[-1]))
    res["load"] = os.getloadavg()[0]
    return res


def drain(st: BenchStack, group: IngestGroup, messages: int, readings: int, n_pub: int, *, prefix: str,
          kind: str = "json", extra: list[str] | None = None) -> dict[str, Any]:
    """Queue ``messages`` for the (stopped) ingest group, start it and time connected → last reading committed.
    Reports the rate, each process's share, CPU per component and the exact counts."""
    queue(st, messages, n_pub, prefix=prefix, kind=kind, extra=extra)
    load = os.getloadavg()[0]
    t0 = group.start()
    meter = CpuMeter({"ingest": [p.pid for p in group.procs],
                      "mosquitto": [st.broker.proc.pid] if st.broker.proc else []})
    meter.start()
    t1 = group.wait_stored(readings)
    cpu = meter.stop()
    cpu["postgres_backends"] = CpuMeter({"b": group.backends()}).stop()["b"]  # started with the drain: all of it
    secs = t1 - t0
    acked = group.per_process("ingest_messages_acked_total")
    time.sleep(0.5)
    got = counts(st.settings.database_url, prefix)
    return {
        "messages": messages, "readings": readings, "seconds": secs, "load": load,
        "messages_per_s": messages / secs, "readings_per_s": readings / secs,
        "per_process_messages_per_s": [a / secs for a in acked],
        "cpu_us_per_message": {k: v / messages * 1e6 for k, v in cpu.items()},
        "cpu_us_per_reading": {k: v / readings * 1e6 for k, v in cpu.items()},
        "counts": got, "lost": readings - got["rows"],
        "duplicated": max(0, got["hourly_count"] - got["rows"]) + max(0, got["daily_count"] - got["rows"]),
        "exact": got["rows"] == got["hourly_count"] == got["daily_count"] == readings,
    }
