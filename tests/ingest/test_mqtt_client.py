"""ingest's ConsumerClient against our Mosquitto: every message arrives once, intact, on the short path or through
paho's own (properties, QoS 0, packets split across reads); acks sent with ``ack_many`` are honoured by the broker
(nothing comes back after a reconnect); both MQTT 5 and 3.1.1."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from ingest.mqtt_client import RECV_CHUNK, ConsumerClient
from tests.support.services import PrivateStack

PROTOCOLS = {"5": mqtt.MQTTv5, "3.1.1": mqtt.MQTTv311}


@dataclass
class Consumer:
    """A ConsumerClient on a persistent session that records what reaches each path and acks in batches."""

    stack: PrivateStack
    protocol: str
    client_id: str
    topic: str
    raw: list[tuple[int, bytes, bytes]] = field(default_factory=list)
    stock: list[mqtt.MQTTMessage] = field(default_factory=list)
    subscribed: threading.Event = field(default_factory=threading.Event)
    client: ConsumerClient | None = None

    def start(self) -> None:
        s = self.stack.settings
        c = ConsumerClient(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=PROTOCOLS[self.protocol],
                           manual_ack=True, clean_session=False if self.protocol == "3.1.1" else None)
        c.username_pw_set(s.mqtt_username, s.mqtt_password.get_secret_value())
        c.on_raw_message = lambda mid, topic, payload: self.raw.append((mid, topic, payload))
        c.on_message = lambda client, userdata, msg: self.stock.append(msg)
        c.on_connect = self._on_connect
        c.on_subscribe = lambda *a: self.subscribed.set()
        if self.protocol == "5":
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 600
            props.ReceiveMaximum = 65535
            c.connect(s.mqtt_host, s.mqtt_port, clean_start=False, properties=props)
        else:
            c.connect(s.mqtt_host, s.mqtt_port)
        c.loop_start()
        self.client = c
        assert self.subscribed.wait(10)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if self.protocol == "5":
            client.subscribe([(self.topic, SubscribeOptions(qos=1))])
        else:
            client.subscribe([(self.topic, 1)])

    def wait(self, n: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.raw) + len(self.stock) < n and time.monotonic() < deadline:
            time.sleep(0.02)

    def ack_all(self) -> int:
        assert self.client is not None
        return self.client.ack_many([mid for mid, _t, _p in self.raw] + [m.mid for m in self.stock if m.qos])

    def stop(self) -> None:
        if self.client is not None:
            time.sleep(0.3)  # let the acks go out
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None


def _publisher(stack: PrivateStack) -> mqtt.Client:
    s = stack.settings
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{secrets.token_hex(4)}", protocol=mqtt.MQTTv5)
    c.username_pw_set(s.mqtt_username, s.mqtt_password.get_secret_value())
    c.max_inflight_messages_set(100)
    c.connect(s.mqtt_host, s.mqtt_port)
    c.loop_start()
    return c


@pytest.fixture(params=list(PROTOCOLS))
def consumer(request: pytest.FixtureRequest, stack: PrivateStack) -> Iterator[Consumer]:
    root = f"ops/v1/test-{secrets.token_hex(3)}"
    cons = Consumer(stack, request.param, f"consumer-{secrets.token_hex(3)}", f"{root}/#")
    cons.start()
    yield cons
    cons.stop()


def test_every_kind_of_publish_arrives_once_and_intact(consumer: Consumer, stack: PrivateStack) -> None:
    root = consumer.topic[:-2]
    pub = _publisher(stack)
    small = [(f"{root}/d{i}/telemetry", f'{{"i": {i}, "v": "trạm"}}'.encode()) for i in range(3000)]
    big = (f"{root}/big/telemetry", bytes(range(256)) * (RECV_CHUNK // 256 * 2 + 7))  # spans reads
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = ("source", "gateway")
    props.ContentType = "application/json"
    with_props = (f"{root}/props/telemetry", b'{"with": "properties"}')
    qos0 = (f"{root}/qos0/telemetry", b'{"qos": 0}')
    infos = [pub.publish(t, p, qos=1) for t, p in small[:1500]]
    infos.append(pub.publish(*big, qos=1))
    infos.append(pub.publish(*with_props, qos=1, properties=props))
    infos += [pub.publish(t, p, qos=1) for t, p in small[1500:]]
    infos.append(pub.publish(*qos0, qos=0))
    for info in infos:
        info.wait_for_publish(30)
    pub.disconnect()
    pub.loop_stop()
    total = len(small) + 3
    consumer.wait(total)
    got = [(t, p) for _m, t, p in consumer.raw] + [(m._topic, bytes(m.payload)) for m in consumer.stock]
    assert len(got) == total
    want = [(t.encode(), p) for t, p in [*small, big, with_props, qos0]]
    assert sorted(got) == sorted(want)
    assert len({mid for mid, _t, _p in consumer.raw}) == len(consumer.raw)  # no packet id twice
    on_stock_path = {qos0[0].encode()} | ({with_props[0].encode()} if consumer.protocol == "5" else set())
    assert {m._topic for m in consumer.stock} == on_stock_path  # everything else took the short path
    by_topic = {m._topic: m for m in consumer.stock}
    if consumer.protocol == "5":  # properties went through paho's decoder, intact
        m = by_topic[with_props[0].encode()]
        assert m.properties is not None
        assert getattr(m.properties, "UserProperty", None) == [("source", "gateway")]
        assert getattr(m.properties, "ContentType", None) == "application/json"
    assert by_topic[qos0[0].encode()].qos == 0
    assert consumer.ack_all() == total - 1  # the QoS 0 message has nothing to ack


def test_acks_sent_together_are_honoured_by_the_broker(consumer: Consumer, stack: PrivateStack) -> None:
    """Ack the first half with ``ack_many``, reconnect: the broker redelivers exactly the unacked half."""
    root = consumer.topic[:-2]
    pub = _publisher(stack)
    n = 4000
    for info in [pub.publish(f"{root}/d{i % 50}/telemetry", str(i).encode(), qos=1) for i in range(n)]:
        info.wait_for_publish(30)
    pub.disconnect()
    pub.loop_stop()
    consumer.wait(n)
    assert len(consumer.raw) == n
    first, rest = consumer.raw[: n // 2], consumer.raw[n // 2:]
    assert consumer.client is not None
    assert consumer.client.ack_many(mid for mid, _t, _p in first) == n // 2
    consumer.stop()
    again = Consumer(stack, consumer.protocol, consumer.client_id, consumer.topic)
    again.start()
    try:
        again.wait(len(rest), timeout=20)
        time.sleep(1.0)  # anything more would come now
        assert sorted(p for _m, _t, p in again.raw) == sorted(p for _m, _t, p in rest)
        assert again.ack_all() == len(rest)
    finally:
        again.stop()
