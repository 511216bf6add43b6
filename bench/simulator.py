"""Simulator benchmark: CPU of ``ops-center simulate`` with 300 devices at the demo pace, beside the design it
replaces and its own ceiling, all measured in the same run on a private stack (database, our Mosquitto).

1. realtime: 300 devices, each its own MQTT v5 connection, one message every ~10 s (30 messages/s), default
   anomalies: CPU % of the simulator process over the run (process CPU time / wall time, all threads).
2. baseline, the obvious design: the same 300 connections, each paho client with its own network thread
   (``loop_start``), publishing at the same pace from a scheduler thread: CPU % the same way.
3. ceiling: the same simulator in ``--rate`` mode asked for far more than it can do: messages/s it sustains on one
   core (so the demo pace is that many times below saturation), and in ``--gateway`` mode the readings/s.

    .venv/bin/python bench/simulator.py [--seconds 30] [--devices 300]

Prints the figures and writes bench/results/simulator.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._stack import RESULTS, BenchStack, bench_stack

REPO = Path(__file__).resolve().parent.parent
OPS = str(REPO / ".venv" / "bin" / "ops-center")

BASELINE = r'''
import json, random, sys, threading, time
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
import orjson
state, host, port, seconds, interval = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
secrets = json.load(open(state))["secrets"]
clients = {}
for dev, pw in sorted(secrets.items()):
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=dev, protocol=mqtt.MQTTv5)
    c.username_pw_set(dev, pw)
    c.will_set(f"ops/v1/devices/{dev}/status", "offline", qos=1, retain=True)
    c.connect(host, port, keepalive=60)
    c.loop_start()
    clients[dev] = c
time.sleep(3)
for dev, c in clients.items():
    c.publish(f"ops/v1/devices/{dev}/status", "online", qos=1, retain=True)
rng = random.Random(1)
due = {dev: time.monotonic() + rng.uniform(0, interval) for dev in clients}
t0, cpu0, sent = time.monotonic(), time.process_time(), 0
while time.monotonic() - t0 < seconds:
    dev = min(due, key=due.get)
    time.sleep(max(0.0, due[dev] - time.monotonic()))
    clients[dev].publish(f"ops/v1/devices/{dev}/telemetry",
                         orjson.dumps({"ts": round(time.time(), 3), "metrics": {"water_level_cm": 12.5}}), qos=1)
    sent += 1
    due[dev] += interval * rng.uniform(0.8, 1.2)
elapsed, cpu = time.monotonic() - t0, time.process_time() - cpu0
for dev, c in clients.items():
    c.publish(f"ops/v1/devices/{dev}/status", "offline", qos=1, retain=True)
    c.disconnect()
    c.loop_stop()
print(json.dumps({"messages": sent, "elapsed_s": elapsed, "cpu_s": cpu, "threads": len(clients) + 1}))
'''


def simulate(st: BenchStack, state: Path, *args: str) -> dict[str, Any]:
    out = subprocess.run([OPS, "simulate", "--state", str(state), "--stats-every", "0", *args],
                         env={**os.environ, **st.env, "OPS_LOG_LEVEL": "WARNING"}, capture_output=True, check=True,
                         timeout=600)
    return dict(json.loads(out.stdout.decode().strip().splitlines()[-1]))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--devices", type=int, default=300)
    args = ap.parse_args()
    with bench_stack() as st, tempfile.TemporaryDirectory(prefix="ops-bench-sim-") as tmp:
        state = Path(tmp) / "fleet.json"
        s = st.settings
        n = str(args.devices)
        print(f"provisioning {n} devices and warming up ...", flush=True)
        simulate(st, state, "--devices", n, "--duration", "2", "--anomaly-rate", "0")

        print(f"1. realtime: {n} devices, interval 10 s, {args.seconds:.0f} s ...", flush=True)
        real = simulate(st, state, "--devices", n, "--duration", str(args.seconds))

        print(f"2. baseline: {n} paho clients with a network thread each, same pace ...", flush=True)
        out = subprocess.run([sys.executable, "-c", BASELINE, str(state), s.mqtt_host, str(s.mqtt_port),
                              str(args.seconds), "10"], capture_output=True, check=True, timeout=600)
        base = json.loads(out.stdout.decode().strip().splitlines()[-1])
        base["cpu_pct"] = round(100.0 * base["cpu_s"] / base["elapsed_s"], 2)

        print("3. ceiling: rate mode, asking for 100,000 messages/s ...", flush=True)
        ceiling = simulate(st, state, "--devices", n, "--rate", "100000", "--duration", "15", "--anomaly-rate", "0")
        print("   gateway mode, packs of 50 readings ...", flush=True)
        gw_state = Path(tmp) / "gw.json"
        gw = simulate(st, gw_state, "--devices", n, "--gateway", "--pack", "50", "--rate", "100000",
                      "--duration", "15", "--anomaly-rate", "0", "--prefix", "gwb")

    per_msg_us = 1e6 * real["cpu_s"] / max(1, real["telemetry_messages"])
    result = {
        "benchmark": "simulator",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_avg": os.getloadavg()},
        "params": {"devices": args.devices, "seconds": args.seconds, "interval_s": 10},
        "realtime": {"cpu_pct": real["cpu_pct"], "messages_per_s": real["messages_per_s"],
                     "readings_per_s": real["readings_per_s"], "connections": real["connections"],
                     "cpu_us_per_message": round(per_msg_us, 1), "garbage": real["garbage"],
                     "events": real["events"], "anomalies": real["anomalies"], "threads": 1},
        "baseline_thread_per_connection": {"cpu_pct": base["cpu_pct"],
                                           "messages_per_s": round(base["messages"] / base["elapsed_s"], 2),
                                           "threads": base["threads"]},
        "ceiling_rate_mode": {"messages_per_s": ceiling["messages_per_s"], "readings_per_s": ceiling["readings_per_s"],
                              "cpu_pct": ceiling["cpu_pct"], "behind": ceiling["skipped"]["behind"]},
        "ceiling_gateway_packs_of_50": {"packs_per_s": gw["messages_per_s"], "readings_per_s": gw["readings_per_s"],
                                        "cpu_pct": gw["cpu_pct"]},
    }
    headroom = ceiling["messages_per_s"] / max(1e-9, real["messages_per_s"])
    result["headroom_x"] = round(headroom, 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "simulator.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print()
    print(f"realtime, {args.devices} devices on one thread: CPU {real['cpu_pct']:.2f}% "
          f"at {real['messages_per_s']:.1f} messages/s ({per_msg_us:.0f} µs CPU a message)")
    print(f"baseline, one network thread per connection ({base['threads']} threads): CPU {base['cpu_pct']:.2f}% "
          f"at {base['messages'] / base['elapsed_s']:.1f} messages/s")
    print(f"ceiling, rate mode on one core: {ceiling['messages_per_s']:.0f} messages/s "
          f"({ceiling['readings_per_s']:.0f} readings/s) = {headroom:.0f}x the demo pace")
    print(f"ceiling, gateway packs of 50: {gw['readings_per_s']:.0f} readings/s ({gw['messages_per_s']:.0f} packs/s)")
    print(f"written to {RESULTS / 'simulator.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
