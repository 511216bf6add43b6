"""Ingest benchmark (#13): the real ingest process(es), our Mosquitto, a private PostgreSQL database, publishers in
their own processes. Every figure is printed beside a ceiling measured in the same run, with the load average; JSON
goes to bench/results/ingest.json.

1. Single-reading JSON messages/s committed by one ingest process (``--ingest-processes N``: N processes in the share
   group, each one's rate and the total), beside the bare QoS 1 manual-ack subscriber draining the same queue —
   stock paho-mqtt and ingest's ConsumerClient, each over MQTT 3.1.1 and MQTT 5 (the four ceilings are drained
   alternately with ours, ``--rounds`` times).
2. Gateway packs of 50: readings/s committed, beside the database's staging-COPY + ON CONFLICT ceiling for the same
   batch size (``bench/ingest_write.py``: also the plain-insert bound and our write path alone).
3. Publish → alert committed at ``--live-rate`` msg/s background (a threshold rule on ten probe devices, every
   probe reading a transition), beside publish → committed with no rules, in the same run.
4. Zero lost, zero duplicated: rows, hourly and daily rollup counts equal what was published, in every drain.

Method for 1–2: messages are queued in the broker for the consumer's persistent session, then the consumer starts;
rate = messages / (connected → last reading committed). CPU µs per message is reported per component (ingest,
its PostgreSQL backends, Mosquitto): steadier than wall time on a busy machine.

    .venv/bin/python bench/ingest.py [--messages 300000] [--packs 20000] [--ingest-processes 1] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from statistics import median
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import ingest_write
from bench._ingest_parts import IngestGroup, bare_drain, drain
from bench._stack import RESULTS, BenchStack, bench_stack
from ops_center.db import connect

CEILINGS = (("paho", "3.1.1"), ("paho", "5"), ("ours", "3.1.1"), ("ours", "5"))
PACK = 50


def seed(url: str, rounds: int) -> None:
    with connect(url, autocommit=True) as c:
        c.execute("INSERT INTO gateways (id, name) VALUES ('gw-bench', 'bench gateway')")
        prefixes = [(f"s{r}x", None) for r in range(rounds)] + [(f"g{r}x", "gw-bench") for r in range(rounds)]
        for p, gw in [*prefixes, ("l", None)]:
            c.execute("INSERT INTO devices (id, kind, name, gateway_id, expected_interval_s) "
                      "SELECT %s || g, 'water_level', 'Trạm ' || g, %s, 60 FROM generate_series(0, 999) g", (p, gw))
        c.execute("INSERT INTO device_kinds (code, label_vi, label_en) VALUES ('probe', 'Trạm mẫu', 'Probe') "
                  "ON CONFLICT DO NOTHING")
        c.execute("INSERT INTO devices (id, kind, name) SELECT 'probe' || g, 'probe', 'Trạm đo mẫu' "
                  "FROM generate_series(0, 9) g")


def single_phase(st: BenchStack, args: argparse.Namespace) -> dict[str, Any]:
    """Bare drains and ours, alternated ``rounds`` times."""
    out: dict[str, Any] = {"ceilings": {f"{c}_{p}": [] for c, p in CEILINGS}, "ours": []}
    group = IngestGroup(st, args.ingest_processes)
    for r in range(args.rounds):
        group.discard_sessions()  # the ceilings' messages must not queue for ingest
        for client, protocol in CEILINGS:
            res = bare_drain(st, args.messages, args.publishers, client, protocol)
            out["ceilings"][f"{client}_{protocol}"].append(res)
            print(f"  ceiling {client:4s} MQTT {protocol:5s}: {res['rate'] or 0:>9,.0f} msg/s   "
                  f"(received {res['received']:,}, load {res['load']:.1f})", flush=True)
        group.start()  # the persistent sessions and the shared subscription exist from here on
        group.stop()
        res = drain(st, group, args.messages, args.messages, args.publishers, prefix=f"s{r}x")
        group.stop()
        out["ours"].append(res)
        per = ", ".join(f"{x:,.0f}" for x in res["per_process_messages_per_s"])
        print(f"  ours ({args.ingest_processes} process{'es' if args.ingest_processes > 1 else ''}): "
              f"{res['messages_per_s']:>9,.0f} msg/s (each: {per}), exact counts: {res['exact']}, "
              f"CPU µs/msg {_cpu(res['cpu_us_per_message'])} (load {res['load']:.1f})", flush=True)
    return out


def gateway_phase(st: BenchStack, args: argparse.Namespace) -> dict[str, Any]:
    """The write ceilings and the packs drain, alternated ``rounds`` times."""
    out: dict[str, Any] = {"write": [], "ours": []}
    group = IngestGroup(st, args.ingest_processes)
    batch_rows = pack_batch_rows(st)
    for r in range(args.rounds):
        res = ingest_write.measure(st.settings.database_url, batch_rows, max(1, args.packs * PACK // batch_rows // 2),
                                   1, prefix=f"w{r}x")
        out["write"].append(res)
        print(ingest_write.report(res), flush=True)
        res = drain(st, group, args.packs, args.packs * PACK, args.publishers, prefix=f"g{r}x", kind="gateway",
                    extra=["--gateway", "gw-bench", "--pack", str(PACK)])
        group.stop()
        out["ours"].append(res)
        print(f"  ours, gateway packs of {PACK}: {res['readings_per_s']:>9,.0f} readings/s, exact counts: "
              f"{res['exact']}, CPU µs/reading {_cpu(res['cpu_us_per_reading'])} (load {res['load']:.1f})",
              flush=True)
    return out


def pack_batch_rows(st: BenchStack) -> int:
    """Readings in one of ingest's batches of packs (cut by message count or payload bytes): the write ceiling is
    measured with batches of that size."""
    from tests.support.mqtt_load import gateway_pack

    _topic, body = gateway_pack("g0x", 0, 1000, time.time(), "gw-bench", PACK)
    s = st.settings
    packs = min(s.ingest_batch_max, -(-s.ingest_batch_max_bytes // len(body)))
    return packs * PACK


def latency_phase(st: BenchStack, args: argparse.Namespace) -> dict[str, Any]:
    """Rounds alternating: no rule at all (the ceiling: publish -> committed) and the probe rule on (ours:
    publish -> alert committed), each ``live_seconds`` of background at ``live_rate``."""
    from alerts import rule_changes
    from alerts.rules.models import parse_rule
    from bench.alerts import Probe, background, pct

    url = st.settings.database_url
    probes = [f"probe{i}" for i in range(10)]
    with connect(url) as c:
        rid = rule_changes.create_rule(c, parse_rule({
            "name": "probe > 100", "kind": "threshold", "metric": "water_level_cm", "operator": ">",
            "value": 100, "scope": {"kind": "probe"}, "flap_window": 0}), "bench")["id"]
        c.execute("UPDATE alert_rules SET enabled = false WHERE id = %s", (rid,))
        c.commit()
    # every process of the group runs: a member left offline keeps its share of the messages queued for it
    group = IngestGroup(st, args.ingest_processes, OPS_ALERTS_RULES_REFRESH_S="1")
    group.start()
    out: dict[str, Any] = {"rate": args.live_rate, "seconds_per_round": args.live_seconds, "rounds": args.rounds,
                           "load": os.getloadavg()[0]}
    commit_ms: list[float] = []
    alert_ms: list[float] = []
    sent = started = 0
    try:
        for _ in range(args.rounds):
            for on in (False, True):
                with connect(url) as c:
                    c.execute("UPDATE alert_rules SET enabled = %s WHERE id = %s", (on, rid))
                    c.commit()
                time.sleep(2.5)  # the evaluator reloads its rules every second here
                with Probe(st, probes, rid if on else None, start=started) as probe:
                    n, _rate = background(st, args.live_rate, args.live_seconds, args.publishers, sent)
                sent += n
                if on:  # the next round's probe readings go on alternating where these stopped
                    started += probe.sent
                    alert_ms.extend(probe.alert_ms)
                else:
                    commit_ms.extend(probe.commit_ms)
        out["taken_to_commit_buckets"] = [_histogram(port, "ingest_taken_to_commit_seconds") for port in group.ports]
        time.sleep(1.0)
        with connect(url) as c:
            stored = int(c.execute("SELECT count(*) FROM readings WHERE device_id LIKE 'l%'").fetchone()[0])  # type: ignore[index]
    finally:
        group.stop()
    out.update(ceiling_commit_ms=pct(commit_ms), alert_ms=pct(alert_ms), background_sent=sent,
               background_stored=stored, exact=stored == sent, load_after=os.getloadavg()[0])
    a, c0 = out["alert_ms"], out["ceiling_commit_ms"]
    print(f"  publish -> alert committed p50 {a['p50']} / p95 {a['p95']} / p99 {a['p99']} ms ({a['samples']} alerts), "
          f"beside publish -> committed with no rule p50 {c0['p50']} / p95 {c0['p95']} / p99 {c0['p99']} ms "
          f"(rounds alternated); background {stored:,}/{sent:,} stored (load {out['load']:.1f})", flush=True)
    return out


def _histogram(port: int, name: str) -> dict[str, float]:
    """Cumulative bucket counts of a histogram on an ingest process's metrics page."""
    import urllib.request

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    prefix = name + '_bucket{le="'
    return {line[len(prefix):].split('"')[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line.startswith(prefix)}


def _cpu(d: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in d.items())


def targets(res: dict[str, Any]) -> dict[str, Any]:
    single = median(r["messages_per_s"] for r in res["single"]["ours"])
    ceilings = {k: median(r["rate"] or 0 for r in v) for k, v in res["single"]["ceilings"].items()}
    best_paho = max(v for k, v in ceilings.items() if k.startswith("paho"))
    best_any = max(ceilings.values())
    gw = median(r["readings_per_s"] for r in res["gateway"]["ours"])
    write_ceiling = median(r["copy_on_conflict"]["rows_per_s"] for r in res["gateway"]["write"])
    p99 = res["latency"]["alert_ms"]["p99"]
    drains = res["single"]["ours"] + res["gateway"]["ours"]
    return {
        "single_messages_per_s": {"target": 35000, "value": single, "met": single >= 35000},
        "single_share_of_best_paho_ceiling": {"target": 0.8, "value": single / best_paho,
                                              "met": single / best_paho >= 0.8, "ceilings_msg_per_s": ceilings},
        "single_share_of_best_ceiling_incl_ours": {"value": single / best_any},
        "gateway_readings_per_s": {"target": 150000, "value": gw, "met": gw >= 150000},
        "gateway_share_of_write_ceiling": {"target": 0.75, "value": gw / write_ceiling,
                                           "met": gw / write_ceiling >= 0.75, "ceiling_rows_per_s": write_ceiling},
        "alert_p99_ms": {"target": 100, "value": p99, "met": p99 is not None and p99 <= 100},
        "zero_loss_zero_duplicates": {"met": all(d["exact"] for d in drains) and res["latency"]["exact"]},
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=300_000)
    ap.add_argument("--packs", type=int, default=20_000)
    ap.add_argument("--publishers", type=int, default=2)
    ap.add_argument("--ingest-processes", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=1, help="ceilings and ours alternated this many times")
    ap.add_argument("--live-rate", type=float, default=5000.0, help="background messages/s in the latency phase")
    ap.add_argument("--live-seconds", type=float, default=10.0, help="per round, with and without the rule")
    args = ap.parse_args()
    res: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "load_before": os.getloadavg()}, "args": vars(args)}
    with bench_stack() as st:
        seed(st.settings.database_url, args.rounds)
        print("1. single-reading JSON: bare subscribers (ceilings) and ingest, alternated", flush=True)
        res["single"] = single_phase(st, args)
        print("2. gateway packs: the database's write ceilings and ingest, alternated", flush=True)
        res["gateway"] = gateway_phase(st, args)
        print(f"3. publish -> alert at {args.live_rate:,.0f} msg/s background", flush=True)
        res["latency"] = latency_phase(st, args)
    res["machine"]["load_after"] = os.getloadavg()
    res["targets"] = t = targets(res)
    print("\ntargets:")
    for name, v in t.items():
        shown = v.get("value")
        print(f"  {name}: {shown if not isinstance(shown, float) else round(shown, 3)} "
              f"(target {v.get('target', '-')}) {'met' if v.get('met') else 'NOT met' if 'met' in v else ''}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingest.json").write_bytes(orjson.dumps(res, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
