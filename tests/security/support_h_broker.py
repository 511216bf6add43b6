"""Helpers for the broker-rights security tests (tests/security/test_device_subscribe_acl.py): devices provisioned
through the real API, paho clients of every MQTT version reporting their SUBACK codes, exact counts."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from ops_center.db import Conn
from ops_center.settings import Settings

WAIT_S = 15.0
FAILURE = 0x80
"""SUBACK reason codes from 0x80 up are refusals (MQTT 3.1.1: 0x80; MQTT 5: 0x80-0xA2, 0x87 "Not authorized")."""


def provision(client: TestClient, headers: dict[str, str], device_id: str, **fields: Any) -> dict[str, Any]:
    """A device created by an admin through ``POST /devices``: its credentials, once."""
    body = {"id": device_id, "kind": "water_level", "name": "Trạm đo mực nước Năm Căn", **fields}
    r = client.post("/devices", json=body, headers=headers)
    assert r.status_code == 201, r.text
    creds: dict[str, Any] = r.json()["credentials"]
    assert creds["broker_synced"] is True, creds
    return creds


@dataclass
class Probe:
    """A paho client of one MQTT version (3.1, 3.1.1 or 5) that records SUBACK codes and every message it gets."""

    settings: Settings
    username: str
    password: str
    protocol: int = mqtt.MQTTv5
    client_id: str = field(default_factory=lambda: f"probe-{secrets.token_hex(4)}")
    received: list[tuple[str, bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=self.protocol)
        self.c.username_pw_set(self.username, self.password)
        self._cond = threading.Condition()
        self._connack: Any = None
        self._subacks: dict[int, list[int]] = {}
        self._pubacks: dict[int, int] = {}
        self.c.on_connect = self._on_connect
        self.c.on_subscribe = self._on_subscribe
        self.c.on_publish = self._on_publish
        self.c.on_message = lambda _c, _u, m: self.received.append((m.topic, bytes(m.payload)))

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        with self._cond:
            self._connack = reason
            self._cond.notify_all()

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, reasons: list[Any], _p: Any) -> None:
        with self._cond:
            self._subacks[mid] = [int(r.value) for r in reasons]
            self._cond.notify_all()

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        with self._cond:
            self._pubacks[mid] = int(reason.value)
            self._cond.notify_all()

    def publish(self, topic: str, payload: bytes) -> int:
        """The PUBACK reason code of a QoS 1 publish (MQTT 5: 0 or 0x10 accepted, 0x87 refused)."""
        info = self.c.publish(topic, payload, qos=1)
        with self._cond:
            assert self._cond.wait_for(lambda: info.mid in self._pubacks, WAIT_S), f"no PUBACK for {topic}"
            return self._pubacks.pop(info.mid)

    def connect(self) -> Probe:
        self.c.connect(self.settings.mqtt_host, self.settings.mqtt_port, keepalive=30)
        self.c.loop_start()
        with self._cond:
            assert self._cond.wait_for(lambda: self._connack is not None, WAIT_S), "no CONNACK"
        assert not self._connack.is_failure, f"{self.username} refused at CONNECT: {self._connack}"
        return self

    def subscribe(self, topic_filter: str) -> int:
        """The SUBACK reason code for one filter at QoS 1 (1: granted; >= 0x80: refused)."""
        _rc, mid = self.c.subscribe(topic_filter, qos=1)
        with self._cond:
            assert self._cond.wait_for(lambda: mid in self._subacks, WAIT_S), f"no SUBACK for {topic_filter}"
            return self._subacks.pop(mid)[0]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def count_rows(db: Conn, table: str, prefix: str) -> int:
    like = prefix.replace("_", r"\_") + "%"
    return int(db.execute(f"SELECT count(*) FROM {table} WHERE device_id LIKE %s",  # type: ignore[index]
                          (like,)).fetchone()[0])


def settled_count(db: Conn, prefix: str, want: int, *, quiet_s: float = 10.0, timeout: float = 180.0) -> int:
    """Readings stored for ``prefix`` once ``want`` is reached, or once nothing more arrives for ``quiet_s`` (a
    loss shows as a short count instead of a timeout)."""
    deadline = time.monotonic() + timeout
    last, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = count_rows(db, "readings", prefix)
        if n >= want:
            return n
        if n != last:
            last, last_change = n, time.monotonic()
        elif time.monotonic() - last_change > quiet_s:
            return n
        time.sleep(0.2)
    return last
