"""The raw ceiling: one QoS 1 manual-ack subscriber doing no work. Run as a process:

    python bench/ingest_ceiling.py --port P --user U --password W --count N [--protocol 5|3.1.1] [--client paho|ours]

``--client paho`` is stock paho-mqtt (``on_message``, ``ack`` per message: the client library's ceiling);
``--client ours`` is ingest's ``ConsumerClient`` (``on_raw_message``, one ``ack_many`` per 1,000 messages).
Prints one JSON line: messages/s from the first to the last message received.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ingest.mqtt_client import ConsumerClient

PROTOCOLS = {"5": mqtt.MQTTv5, "3.1.1": mqtt.MQTTv311}
ACK_EVERY = 1000


def make_client(protocol: str, kind: str, client_id: str) -> mqtt.Client:
    cls = ConsumerClient if kind == "ours" else mqtt.Client
    return cls(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=PROTOCOLS[protocol], manual_ack=True,
               clean_session=False if protocol == "3.1.1" else None)


def connect(c: mqtt.Client, protocol: str, port: int) -> None:
    if protocol == "5":
        props = Properties(PacketTypes.CONNECT)
        props.ReceiveMaximum = 65535
        props.SessionExpiryInterval = 3600
        c.connect("127.0.0.1", port, clean_start=False, properties=props)
    else:
        c.connect("127.0.0.1", port)


def discard_session(a: argparse.Namespace, client_id: str) -> None:
    """Connect once with a clean start and no session expiry: the broker forgets the session and its shared
    subscription, so later runs' messages are not queued for it."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.username_pw_set(a.user, a.password)
    c.connect("127.0.0.1", a.port, clean_start=True)
    c.loop(timeout=0.2)
    c.disconnect()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--topic", default="ops/v1/devices/+/telemetry")
    p.add_argument("--protocol", choices=tuple(PROTOCOLS), default="5")
    p.add_argument("--client", choices=("paho", "ours"), default="paho")
    p.add_argument("--group", default="ceiling")
    p.add_argument("--client-id", default=None)
    p.add_argument("--subscribe-only", action="store_true",
                   help="create the persistent session and subscription, then leave (messages queue for it)")
    p.add_argument("--timeout", type=float, default=600.0)
    a = p.parse_args()
    got = 0
    first = last = 0.0
    ready = False
    mids: list[int] = []
    client_id = a.client_id or f"ceiling-{a.client}-{a.protocol}"
    c = make_client(a.protocol, a.client, client_id)
    c.username_pw_set(a.user, a.password)

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        share = f"$share/{a.group}/{a.topic}"
        client.subscribe([(share, SubscribeOptions(qos=1))] if a.protocol == "5" else [(share, 1)])

    def on_subscribe(client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        nonlocal ready
        ready = True

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        nonlocal got, first, last
        if got == 0:
            first = time.perf_counter()
        got += 1
        client.ack(msg.mid, msg.qos)
        last = time.perf_counter()

    def on_raw(mid: int, topic: bytes, payload: bytes) -> None:
        nonlocal got, first, last
        if got == 0:
            first = time.perf_counter()
        got += 1
        mids.append(mid)
        if len(mids) >= ACK_EVERY or got >= a.count:
            c.ack_many(mids)  # type: ignore[attr-defined]
            mids.clear()
        last = time.perf_counter()

    c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
    if isinstance(c, ConsumerClient):
        c.on_raw_message = on_raw
    connect(c, a.protocol, a.port)
    if a.subscribe_only:
        while not ready:
            c.loop(timeout=0.05)
        c.disconnect()
        return 0
    deadline = time.monotonic() + a.timeout
    idle_since = time.monotonic()
    while got < a.count and time.monotonic() < deadline:
        before = got
        c.loop(timeout=0.05)
        if got != before:
            idle_since = time.monotonic()
        elif got and time.monotonic() - idle_since > 10:
            break  # nothing more is coming: report what arrived
    if mids and isinstance(c, ConsumerClient):
        c.ack_many(mids)
    c.loop(timeout=0.05)
    c.disconnect()
    discard_session(a, client_id)
    rate = (got - 1) / (last - first) if got > 1 and last > first else None
    sys.stdout.write(orjson.dumps({"protocol": a.protocol, "client": a.client, "received": got,
                                   "seconds": last - first, "rate": rate}).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
