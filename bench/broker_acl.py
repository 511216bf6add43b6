"""What the broker's access-control check costs on the hot path: the dynamic-security plugin (ours) against
Mosquitto's ``acl_file`` (what we had, which lets every SUBSCRIBE through), same machine, same run, alternating.

Two brokers with our config and the same accounts (the service account and ``--accounts`` device accounts), one
with the plugin, one with the ACL file. Per round and broker:

- ceiling: a bare paho QoS 1 manual-ack subscriber (``bench/ingest_ceiling.py``) drains messages queued for its
  persistent shared subscription;
- ingest: the real ingest process drains the same number of single-reading JSON messages into PostgreSQL;
- broker CPU seconds (user + system, from /proc) spent while the messages are published and while they drain:
  each message is checked on publish (``publishClientSend``) and on delivery (``publishClientReceive``).

Prints the figures and writes bench/results/broker_acl.json.

    .venv/bin/python bench/broker_acl.py [--messages 30000] [--rounds 2] [--accounts 1000] [--publishers 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any, TypeVar

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._ingest_parts import IngestGroup, bare_drain, drain
from bench._stack import RESULTS, BenchStack, bench_stack
from ops_center.broker.accounts import Account, service_accounts
from ops_center.broker.files import render_config, render_passwd, write_files
from ops_center.broker.passwd import mosquitto_hash
from ops_center.db import connect
from ops_center.devices.credentials import acl
from tests.support.services import Broker, PrivateStack, free_port, wait_port

T = TypeVar("T")


def device_accounts(n: int) -> list[Account]:
    secret_hash = mosquitto_hash("bench-device-secret")
    accounts = []
    for i in range(n):
        publish, subscribe = acl("device", f"acct{i}")
        accounts.append(Account(f"acct{i}", secret_hash, publish, subscribe))
    return accounts


def legacy_acl(accounts: list[Account]) -> str:
    """The ACL file we rendered before (one ``user`` block per account)."""
    lines = []
    for a in accounts:
        lines.append(f"user {a.username}")
        lines += [f"topic write {t}" for t in a.publish if not t.startswith("$")]
        lines += [f"topic read {t}" for t in a.subscribe if not t.startswith("$")]
        lines.append("")
    return "\n".join(lines)


class LegacyBroker(Broker):
    """Our config with ``acl_file`` in place of the plugin."""

    def start(self) -> None:
        conf = self.run_dir / "mosquitto.conf"
        text = render_config(self.settings, port=self.port, run_dir=self.run_dir)
        kept = [line for line in text.splitlines() if not line.startswith(("plugin ", "plugin_opt_"))]
        kept.insert(kept.index(f"password_file {self.settings.mqtt_passwd_file}") + 1,
                    f"acl_file {self.run_dir / 'acl'}")
        conf.write_text("\n".join(kept) + "\n")
        log = open(self.run_dir / "stderr.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=log, stderr=log)
        wait_port(self.port, proc=self.proc, what="mosquitto (acl_file)")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_cpu(pid: int, work: Callable[[], T]) -> tuple[T, float]:
    before = cpu_seconds(pid)
    out = work()
    return out, cpu_seconds(pid) - before


def stacks(st: BenchStack, accounts: list[Account]) -> dict[str, PrivateStack]:
    """The stack's own broker restarted with every account in its plugin state, and an acl_file broker beside it."""
    write_files(st.settings, accounts)
    st.broker.restart()
    legacy_dir = st.run_dir / "legacy-mosquitto"
    legacy_dir.mkdir()
    legacy_settings = st.settings.model_copy(update={
        "mqtt_port": free_port(), "mqtt_passwd_file": legacy_dir / "passwd",
        "mqtt_pid_file": legacy_dir / "mosquitto.pid"})
    (legacy_dir / "passwd").write_text(render_passwd(accounts))
    (legacy_dir / "acl").write_text(legacy_acl(accounts))
    legacy = LegacyBroker(legacy_settings.mqtt_port, legacy_dir, legacy_settings)
    legacy.start()
    return {"dynsec": st, "acl_file": PrivateStack(legacy_settings, legacy, legacy_dir)}


def one_round(name: str, st: PrivateStack, args: argparse.Namespace, prefix: str) -> dict[str, Any]:
    assert st.broker.proc is not None
    pid = st.broker.proc.pid
    with connect(st.settings.database_url, autocommit=True) as c:
        c.execute("INSERT INTO devices (id, kind, name, expected_interval_s) "
                  "SELECT %s || g, 'water_level', 'Trạm ' || g, 60 FROM generate_series(0, 999) g", (prefix,))
    ceiling, ceiling_cpu = timed_cpu(pid, lambda: bare_drain(st, args.messages, args.publishers, "paho", "5"))
    ing = IngestGroup(st)
    ing.start()  # the persistent session and its shared subscription
    ing.stop()
    try:
        ingest, ingest_cpu = timed_cpu(pid, lambda: drain(st, ing, args.messages, args.messages, args.publishers,
                                                          prefix=prefix))
    finally:
        ing.stop()
    out = {"ceiling_msg_per_s": ceiling["rate"], "ingest_msg_per_s": ingest["messages_per_s"],
           "ingest_lost": ingest["lost"],
           "broker_cpu_us_per_msg": {"ceiling_run": ceiling_cpu / args.messages * 1e6,
                                     "ingest_run": ingest_cpu / args.messages * 1e6}}
    print(f"  {name:8s} ceiling {ceiling['rate']:>9,.0f} msg/s   ingest {ingest['messages_per_s']:>8,.0f} msg/s "
          f"(lost {ingest['lost']})   broker CPU {out['broker_cpu_us_per_msg']['ceiling_run']:.1f} / "
          f"{out['broker_cpu_us_per_msg']['ingest_run']:.1f} µs/msg", flush=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=30_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--accounts", type=int, default=1000)
    ap.add_argument("--publishers", type=int, default=2)
    args = ap.parse_args()
    result: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "load": os.getloadavg()}, "args": vars(args),
                              "rounds": []}
    with bench_stack() as st:
        both = stacks(st, service_accounts(st.settings) + device_accounts(args.accounts))
        try:
            for r in range(args.rounds):
                print(f"round {r + 1}: {args.messages:,} messages, {args.accounts:,} device accounts", flush=True)
                result["rounds"].append({name: one_round(name, s, args, f"r{r}{name[0]}")
                                         for name, s in both.items()})
        finally:
            both["acl_file"].broker.stop()
    for name in ("dynsec", "acl_file"):  # medians: the rounds alternate, the machine is shared
        rows = [rd[name] for rd in result["rounds"]]
        result[name] = {
            "ceiling_msg_per_s": median(x["ceiling_msg_per_s"] for x in rows),
            "ingest_msg_per_s": median(x["ingest_msg_per_s"] for x in rows),
            "broker_cpu_us_per_msg": median(x["broker_cpu_us_per_msg"][k] for x in rows
                                            for k in ("ceiling_run", "ingest_run"))}
    ratio = {k: result["dynsec"][k] / result["acl_file"][k] for k in result["dynsec"]}
    result["dynsec_over_acl_file"] = ratio
    print("dynsec / acl_file (medians): " + ", ".join(f"{k} {v:.2f}" for k, v in ratio.items()))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "broker_acl.json").write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
