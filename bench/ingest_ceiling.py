"""The raw ceiling: one paho-mqtt QoS 1 subscriber with manual ack doing no work. Run as a process:

    python bench/ingest_ceiling.py --port P --user U --password W --count N

Prints one JSON line: messages/s from the first to the last message received.
"""

from __future__ import annotations

import argparse
import sys
import time

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--topic", default="ops/v1/devices/+/telemetry")
    p.add_argument("--subscribe-only", action="store_true",
                   help="create the persistent session and subscription, then leave (messages queue for it)")
    a = p.parse_args()
    got = 0
    first = last = 0.0
    ready = False

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ceiling-sub", protocol=mqtt.MQTTv5, manual_ack=True)
    c.username_pw_set(a.user, a.password)

    def on_connect(client, userdata, flags, reason, props):  # type: ignore[no-untyped-def]
        client.subscribe([(f"$share/ceiling/{a.topic}", SubscribeOptions(qos=1))])

    def on_subscribe(client, userdata, mid, reasons, props):  # type: ignore[no-untyped-def]
        nonlocal ready
        ready = True
        sys.stdout.write("READY\n")
        sys.stdout.flush()

    def on_message(client, userdata, msg):  # type: ignore[no-untyped-def]
        nonlocal got, first, last
        if got == 0:
            first = time.perf_counter()
        got += 1
        client.ack(msg.mid, msg.qos)
        last = time.perf_counter()

    c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
    props = Properties(PacketTypes.CONNECT)
    props.ReceiveMaximum = 65535
    props.SessionExpiryInterval = 3600
    c.connect("127.0.0.1", a.port, clean_start=False, properties=props)
    if a.subscribe_only:
        while not ready:
            c.loop(timeout=0.05)
        c.disconnect()
        return 0
    deadline = time.monotonic() + 600
    while got < a.count and time.monotonic() < deadline:
        c.loop(timeout=0.05)
    c.disconnect()
    rate = (got - 1) / (last - first) if got > 1 and last > first else None
    sys.stdout.write(orjson.dumps({"received": got, "seconds": last - first, "rate": rate}).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
