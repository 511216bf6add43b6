"""A QoS 1 MQTT v5 publisher for tests and benchmarks; also runnable as a process:

    python -m tests.support.mqtt_load --port 1883 --user u --password p --devices 100 --count 20000 \
        --start 0 --kind json|senml|gateway [--rate 5000] [--gateway gw-1 --pack 50]

Message i goes to device ``d{prefix}{i % devices}`` with timestamp ``base_ts + i * 0.001`` so every
(device, metric, time) is unique and counts can be checked exactly. It reconnects with a persistent session and
paho resends what the broker had not acknowledged, so a broker restart loses nothing. It prints one JSON line
with what it did.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties


def device_id(prefix: str, i: int, devices: int) -> str:
    return f"{prefix}{i % devices}"


def json_message(prefix: str, i: int, devices: int, base_ts: float) -> tuple[str, bytes]:
    dev = device_id(prefix, i, devices)
    body = orjson.dumps({"ts": base_ts + i * 0.001, "metrics": {"water_level_cm": float(i % 900)}})
    return f"ops/v1/devices/{dev}/telemetry", body


def senml_message(prefix: str, i: int, devices: int, base_ts: float) -> tuple[str, bytes]:
    dev = device_id(prefix, i, devices)
    body = orjson.dumps([{"bn": f"urn:dev:{dev}:", "bt": base_ts + i * 0.001, "n": "water_level_cm",
                          "v": float(i % 900)}])
    return f"ops/v1/devices/{dev}/telemetry", body


def gateway_pack(prefix: str, i: int, devices: int, base_ts: float, gateway: str, pack: int) -> tuple[str, bytes]:
    """Message i carries readings i*pack .. i*pack+pack-1, one per device in turn."""
    recs: list[dict[str, Any]] = []
    for j in range(i * pack, i * pack + pack):
        recs.append({"n": f"{device_id(prefix, j, devices)}:water_level_cm", "t": base_ts + j * 0.001,
                     "v": float(j % 900)})
    return f"ops/v1/gateways/{gateway}/telemetry", orjson.dumps(recs)


class Publisher:
    def __init__(self, host: str, port: int, user: str, password: str, client_id: str,
                 max_inflight: int = 20) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(user, password)
        self.client.max_inflight_messages_set(max_inflight)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(1, 4)  # as devices do: back off from 1 s
        self.acked = 0
        self.refused = 0
        self.lock = threading.Lock()
        self.client.on_publish = self._on_publish
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.connect(host, port, keepalive=30, clean_start=False, properties=props)
        self.client.loop_start()

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self.lock:
            if reason is not None and getattr(reason, "is_failure", False):
                self.refused += 1
            else:
                self.acked += 1

    def publish_all(self, messages: Iterator[tuple[str, bytes]], rate: float | None = None,
                    window: int = 20000) -> int:
        """Publish at QoS 1; keeps at most ``window`` unacknowledged (paho stalls past ~65,000)."""
        sent = 0
        started = time.perf_counter()
        for topic, body in messages:
            while sent - (self.acked + self.refused) >= window:
                time.sleep(0.001)
            self.client.publish(topic, body, qos=1)
            sent += 1
            if rate:
                ahead = sent / rate - (time.perf_counter() - started)
                if ahead > 0.002:
                    time.sleep(ahead)
        return sent

    def wait_acked(self, total: int, timeout: float = 120.0) -> bool:
        deadline = time.monotonic() + timeout
        while self.acked + self.refused < total and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.acked + self.refused >= total

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def generate(args: argparse.Namespace) -> Iterator[tuple[str, bytes]]:
    for i in range(args.start, args.start + args.count):
        if args.kind == "json":
            yield json_message(args.prefix, i, args.devices, args.base_ts)
        elif args.kind == "senml":
            yield senml_message(args.prefix, i, args.devices, args.base_ts)
        else:
            yield gateway_pack(args.prefix, i, args.devices, args.base_ts, args.gateway, args.pack)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--client-id", default=f"loadgen-{time.monotonic_ns()}")
    p.add_argument("--prefix", default="d")
    p.add_argument("--devices", type=int, default=100)
    p.add_argument("--count", type=int, default=10000)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--base-ts", type=float, default=time.time() - 3600)
    p.add_argument("--kind", choices=("json", "senml", "gateway"), default="json")
    p.add_argument("--gateway", default="gw-1")
    p.add_argument("--pack", type=int, default=50)
    p.add_argument("--rate", type=float, default=None)
    p.add_argument("--max-inflight", type=int, default=20)
    args = p.parse_args(argv)
    pub = Publisher(args.host, args.port, args.user, args.password, args.client_id, args.max_inflight)
    t0 = time.perf_counter()
    sent = pub.publish_all(generate(args), args.rate)
    ok = pub.wait_acked(sent)
    elapsed = time.perf_counter() - t0
    pub.close()
    sys.stdout.write(orjson.dumps({"sent": sent, "acked": pub.acked, "refused": pub.refused, "complete": ok,
                                   "seconds": elapsed, "rate": sent / elapsed if elapsed else None}).decode() + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
