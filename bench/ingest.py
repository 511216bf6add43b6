"""Ingest benchmark: the real ingest process, our Mosquitto, a private PostgreSQL database, publishers in their
own processes. Prints and writes bench/results/ingest.json:

- the raw ceiling: one paho QoS 1 manual-ack subscriber doing no work, measured in the same run;
- single-reading JSON messages/s committed end to end (first publish → last row committed), with the whole
  pipeline on (decode, validation, registry, idempotent write with rollups and latest values, last_seen, dead
  letters, live-feed event, inline alert rules when the alerts package is present);
- publish → commit latency p50/p99 from probe readings (their timestamp is the publish time; the commit is seen by
  LISTEN on the live-feed channel);
- readings/s with 50-reading gateway packs;
- zero lost and zero duplicated rows, checked by count.

    .venv/bin/python bench/ingest.py [--messages 300000] [--packs 20000] [--publishers 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from statistics import quantiles
from typing import Any

import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import RESULTS, BenchStack, bench_stack
from ops_center.db import connect
from ops_center.testing.mqtt_load import Publisher
from ops_center.testing.services import free_port

REPO = Path(__file__).resolve().parent.parent
PY = sys.executable
OPS = str(REPO / ".venv" / "bin" / "ops-center")


def publishers(st: BenchStack, total: int, n: int, *, prefix: str, devices: int, kind: str = "json",
               extra: list[str] | None = None) -> list[subprocess.Popen[bytes]]:
    s = st.settings
    per = total // n
    procs = []
    for i in range(n):
        count = per if i < n - 1 else total - per * (n - 1)
        args = [PY, "-m", "ops_center.testing.mqtt_load", "--port", str(s.mqtt_port), "--user", s.mqtt_username,
                f"--password={s.mqtt_password.get_secret_value()}", "--prefix", prefix, "--devices", str(devices),
                "--count", str(count), "--start", str(i * per), "--kind", kind, "--client-id", f"bpub-{kind}-{i}",
                "--base-ts", str(time.time() - 3000)] + (extra or [])
        procs.append(subprocess.Popen(args, env={**os.environ, **st.env}, stdout=subprocess.PIPE))
    return procs


def count(url: str, prefix: str) -> int:
    with connect(url) as c:
        return int(c.execute("SELECT count(*) FROM readings WHERE device_id LIKE %s", (prefix + "%",)).fetchone()[0])


def wait_count(url: str, prefix: str, want: int, timeout: float = 600) -> tuple[int, float]:
    deadline = time.monotonic() + timeout
    n = 0
    while time.monotonic() < deadline:
        n = count(url, prefix)
        if n >= want:
            return n, time.perf_counter()
        time.sleep(0.02)
    return n, time.perf_counter()


def ceiling_drain(st: BenchStack, total: int, n_pub: int) -> dict[str, Any]:
    """The bare subscriber drains ``total`` messages queued for its persistent session."""
    s = st.settings
    base = [PY, str(REPO / "bench" / "ingest_ceiling.py"), "--port", str(s.mqtt_port), "--user", s.mqtt_username,
            f"--password={s.mqtt_password.get_secret_value()}", "--count", str(total)]
    subprocess.run([*base, "--subscribe-only"], check=True, stdout=subprocess.DEVNULL)
    for p in publishers(st, total, n_pub, prefix="c", devices=1000):
        p.wait()
    out = subprocess.run(base, check=True, stdout=subprocess.PIPE, env={**os.environ, **st.env}).stdout
    return dict(orjson.loads(out.strip().splitlines()[-1]))


class LatencyProbe:
    """Publishes probe readings (timestamp = publish time) and sees their commit through LISTEN."""

    def __init__(self, st: BenchStack, device: str) -> None:
        self.st, self.device = st, device
        self.latencies: list[float] = []
        self.stop = threading.Event()
        self.listen_ready = threading.Event()

    def _listen(self) -> None:
        with psycopg.connect(self.st.settings.database_url, autocommit=True) as conn:
            conn.execute("LISTEN ops_events")
            self.listen_ready.set()
            fetch = psycopg.connect(self.st.settings.database_url, autocommit=True)
            while not self.stop.is_set():
                for note in conn.notifies(timeout=0.2, stop_after=50):
                    seen = time.time()
                    row = fetch.execute("SELECT payload FROM events WHERE id = %s AND topic = 'telemetry'",
                                        (int(note.payload),)).fetchone()
                    if row:
                        for dev, _m, ts, _v in row[0]["readings"]:
                            if dev == self.device:
                                self.latencies.append((seen - ts) * 1000)
            fetch.close()

    def _publish(self) -> None:
        s = self.st.settings
        pub = Publisher(s.mqtt_host, s.mqtt_port, s.mqtt_username, s.mqtt_password.get_secret_value(),
                        "probe-publisher")
        topic = f"ops/v1/devices/{self.device}/telemetry"
        while not self.stop.is_set():
            pub.client.publish(topic, orjson.dumps({"ts": time.time(), "metrics": {"water_level_cm": 1.0}}), qos=1)
            time.sleep(0.02)
        pub.close()

    def __enter__(self) -> LatencyProbe:
        self.threads = [threading.Thread(target=self._listen, daemon=True)]
        self.threads[0].start()
        self.listen_ready.wait(10)
        self.threads.append(threading.Thread(target=self._publish, daemon=True))
        self.threads[1].start()
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.5)
        self.stop.set()
        for t in self.threads:
            t.join(5)


class Ingest:
    """``n`` ingest processes sharing the subscription (``--ingest-processes``)."""

    def __init__(self, st: BenchStack, n: int = 1) -> None:
        self.ports = [free_port() for _ in range(n)]
        self.port = self.ports[0]
        self.envs = [{**os.environ, **st.env, "OPS_INGEST_METRICS_PORT": str(port),
                      "OPS_INGEST_CLIENT_ID": f"bench-ingest-{i}"} for i, port in enumerate(self.ports)]
        self.log = open(st.run_dir / "ingest.log", "ab")  # noqa: SIM115
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> float:
        """Start every process and wait until all are connected; returns the time the last one connected."""
        self.procs = [subprocess.Popen([OPS, "ingest"], env=env, stdout=self.log, stderr=self.log)
                      for env in self.envs]
        for port in self.ports:
            for _ in range(600):
                try:
                    if metric(port, "ingest_broker_connected") == 1.0:
                        break
                except OSError:
                    pass
                time.sleep(0.02)
            else:
                raise RuntimeError("ingest did not connect")
        return time.perf_counter()

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(120)
        self.procs = []


def drain(st: BenchStack, ing: Ingest, total_msgs: int, readings: int, n_pub: int, *, prefix: str,
          kind: str = "json", extra: list[str] | None = None) -> dict[str, Any]:
    """Queue ``total_msgs`` for the (stopped) ingest session, then start ingest and time the drain."""
    for p in publishers(st, total_msgs, n_pub, prefix=prefix, devices=1000, kind=kind, extra=extra):
        p.wait()
    t0 = ing.start()
    _, t1 = wait_count(st.settings.database_url, prefix, readings)
    time.sleep(1.0)
    final = count(st.settings.database_url, prefix)
    secs = t1 - t0
    return {"messages": total_msgs, "readings": readings, "stored": final, "lost": readings - final,
            "duplicated": max(0, final - readings), "seconds": secs, "messages_per_s": total_msgs / secs,
            "readings_per_s": readings / secs}


def metric(port: int, name: str) -> float | None:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=300_000)
    ap.add_argument("--packs", type=int, default=20_000)
    ap.add_argument("--publishers", type=int, default=2)
    ap.add_argument("--ingest-processes", type=int, default=1)
    ap.add_argument("--live-rate", type=float, default=5000.0, help="messages/s during the latency run")
    ap.add_argument("--live-seconds", type=float, default=15.0)
    args = ap.parse_args()
    result: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "load": os.getloadavg()}, "args": vars(args),
                              "method": "drain: messages queued in the broker for a persistent session, then the "
                                        "consumer started; rate = messages / (connected -> last committed)"}
    with bench_stack() as st:
        url = st.settings.database_url
        with connect(url, autocommit=True) as c:
            c.execute("INSERT INTO gateways (id, name) VALUES ('gw-bench', 'bench gateway')")
            for p, gw in (("s", None), ("g", "gw-bench"), ("l", None)):
                c.execute("INSERT INTO devices (id, kind, name, gateway_id, expected_interval_s) "
                          "SELECT %s || g, 'water_level', 'Trạm ' || g, %s, 60 FROM generate_series(0, 999) g",
                          (p, gw))
            c.execute("INSERT INTO devices (id, kind, name) VALUES ('probe', 'water_level', 'probe')")

        print(f"ceiling: bare paho QoS 1 manual-ack subscriber draining {args.messages} queued messages ...",
              flush=True)
        result["ceiling"] = ceiling_drain(st, args.messages, args.publishers)
        ceil = result["ceiling"]["rate"]
        print(f"  {ceil:,.0f} msg/s", flush=True)

        ing = Ingest(st, args.ingest_processes)
        ing.start()  # creates the persistent session and shared subscription
        ing.stop()
        try:
            print(f"ours: ingest draining {args.messages} queued single-reading JSON messages ...", flush=True)
            result["single"] = drain(st, ing, args.messages, args.messages, args.publishers, prefix="s")
            print(f"  {result['single']['messages_per_s']:,.0f} msg/s committed, lost {result['single']['lost']}",
                  flush=True)
            ing.stop()

            readings = args.packs * 50
            print(f"ours: ingest draining {args.packs} gateway packs of 50 readings ...", flush=True)
            result["gateway"] = drain(st, ing, args.packs, readings, args.publishers, prefix="g", kind="gateway",
                                      extra=["--gateway", "gw-bench", "--pack", "50"])
            print(f"  {result['gateway']['readings_per_s']:,.0f} readings/s, lost {result['gateway']['lost']}",
                  flush=True)

            n_live = int(args.live_rate * args.live_seconds)
            print(f"latency: live stream at {args.live_rate:,.0f} msg/s for {args.live_seconds:.0f} s ...", flush=True)
            with LatencyProbe(st, "probe") as probe:
                pubs = publishers(st, n_live, args.publishers, prefix="l", devices=1000,
                                  extra=["--rate", str(args.live_rate / args.publishers)])
                for p in pubs:
                    p.wait()
                wait_count(url, "l", n_live)
            lat = sorted(probe.latencies)
            q = quantiles(lat, n=100) if len(lat) >= 2 else [float("nan")] * 99
            live_final = count(url, "l")
            result["live"] = {"rate": args.live_rate, "messages": n_live, "stored": live_final,
                              "lost": n_live - live_final,
                              "latency_ms": {"p50": q[49], "p99": q[98], "max": lat[-1] if lat else None,
                                             "samples": len(lat)}}
            print(f"  publish -> commit p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms ({len(lat)} probes)", flush=True)
            result["db_errors"] = metric(ing.port, "ingest_db_errors_total")
        finally:
            ing.stop()
    single = result["single"]["messages_per_s"]
    gw = result["gateway"]["readings_per_s"]
    result["targets"] = {
        "single_messages_per_s": {"target": 30000, "value": single, "met": single >= 30000},
        "share_of_ceiling": {"target": 0.8, "value": single / ceil, "met": single / ceil >= 0.8},
        "gateway_readings_per_s": {"target": 200000, "value": gw, "met": gw >= 200000},
        "zero_loss": {"met": all(result[k]["lost"] == 0 for k in ("single", "gateway", "live"))
                      and all(result[k]["duplicated"] == 0 for k in ("single", "gateway"))},
    }
    print(f"\nours {single:,.0f} msg/s beside the raw ceiling {ceil:,.0f} msg/s ({single / ceil:.0%}); "
          f"gateway packs {gw:,.0f} readings/s; zero loss: {result['targets']['zero_loss']['met']}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingest.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
