"""Helpers for the device tests: an API caller, device factories and a real MQTT v5 client."""

from __future__ import annotations

import queue
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from ops_center.settings import Settings

PROBLEM = "application/problem+json"
WAIT_S = 15.0


def uid(prefix: str = "t") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def eventually(check: Callable[[], Any], what: str, timeout: float = WAIT_S) -> Any:
    """Poll ``check`` until it returns something truthy (the broker reloads its files asynchronously on SIGHUP)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what}: not reached within {timeout}s (last: {last!r})")


def assert_problem(r: Any, status: int, *fragments: str) -> dict[str, Any]:
    """A problem+json answer with ``status`` whose detail names every fragment (field names, values)."""
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers["content-type"]
    body: dict[str, Any] = r.json()
    detail = body.get("detail", "")
    for fragment in fragments:
        assert fragment in detail, f"{fragment!r} not in {detail!r}"
    return body


@pytest.fixture(scope="module")
def op(login):  # type: ignore[no-untyped-def]
    return login("operator")


@pytest.fixture(scope="module")
def leader(login):  # type: ignore[no-untyped-def]
    return login("leader")


@pytest.fixture
def new_device(client: TestClient, admin):  # type: ignore[no-untyped-def]
    """``new_device(**fields)`` → the API's answer (with ``credentials``) for a device created by an admin."""

    def make(**fields: Any) -> dict[str, Any]:
        body = {"id": uid("dev"), "kind": "salinity", "name": "Trạm đo độ mặn thử nghiệm", **fields}
        r = client.post("/devices", json=body, headers=admin.headers)
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    return make


# ----------------------------------------------------------------------------------------------------- MQTT client


@dataclass
class Mqtt:
    """A paho-mqtt 2 MQTT v5 client with blocking helpers (connect, publish at QoS 1, subscribe, receive)."""

    settings: Settings
    username: str
    password: str
    client_id: str = field(default_factory=lambda: uid("c"))
    messages: queue.Queue[mqtt.MQTTMessage] = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5)
        self.c.username_pw_set(self.username, self.password)
        self.connack: ReasonCode | None = None
        self._connected = threading.Event()
        self._pubacks: dict[int, ReasonCode] = {}
        self._subacks: dict[int, list[ReasonCode]] = {}
        self._acked = threading.Condition()
        self.disconnected = threading.Event()
        self.c.on_connect = self._on_connect
        self.c.on_publish = self._on_publish
        self.c.on_subscribe = self._on_subscribe
        self.c.on_message = lambda _c, _u, msg: self.messages.put(msg)
        self.c.on_disconnect = lambda *_a: self.disconnected.set()

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        self.connack = reason
        self._connected.set()

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        with self._acked:
            self._pubacks[mid] = reason
            self._acked.notify_all()

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, reasons: list[ReasonCode], _p: Any) -> None:
        with self._acked:
            self._subacks[mid] = reasons
            self._acked.notify_all()

    def connect(self) -> ReasonCode:
        """Connect and wait for the CONNACK; a refused client is stopped (no reconnect loop)."""
        self.c.connect(self.settings.mqtt_host, self.settings.mqtt_port, keepalive=30, clean_start=True)
        self.c.loop_start()
        assert self._connected.wait(WAIT_S), "no CONNACK"
        assert self.connack is not None
        if self.connack.is_failure:
            self.close()
        return self.connack

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> ReasonCode:
        """Publish at QoS 1 and return the PUBACK's reason code."""
        info = self.c.publish(topic, payload, qos=1, retain=retain)
        with self._acked:
            assert self._acked.wait_for(lambda: info.mid in self._pubacks, WAIT_S), f"no PUBACK for {topic}"
            return self._pubacks.pop(info.mid)

    def subscribe(self, topic: str) -> list[ReasonCode]:
        _rc, mid = self.c.subscribe(topic, qos=1)
        with self._acked:
            assert self._acked.wait_for(lambda: mid in self._subacks, WAIT_S), f"no SUBACK for {topic}"
            return self._subacks.pop(mid)

    def receive_until(self, predicate: Callable[[mqtt.MQTTMessage], bool]) -> list[mqtt.MQTTMessage]:
        """Every message received up to and including the first one matching ``predicate``."""
        got: list[mqtt.MQTTMessage] = []
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                msg = self.messages.get(timeout=0.2)
            except queue.Empty:
                continue
            got.append(msg)
            if predicate(msg):
                return got
        raise AssertionError(f"expected message not received; got {[m.topic for m in got]}")

    def close(self) -> None:
        try:
            self.c.disconnect()
        finally:
            self.c.loop_stop()


@pytest.fixture
def mqtt_client(settings: Settings) -> Iterator[Callable[[str, str], Mqtt]]:
    """``mqtt_client(username, password)`` → an unconnected client; all are closed after the test."""
    made: list[Mqtt] = []

    def make(username: str, password: str) -> Mqtt:
        m = Mqtt(settings, username, password)
        made.append(m)
        return m

    yield make
    for m in made:
        m.close()


@pytest.fixture
def service_subscriber(settings: Settings) -> Iterator[Mqtt]:
    """The service account (the one ingest uses), subscribed to everything under ops/v1."""
    m = Mqtt(settings, settings.mqtt_username, settings.mqtt_password.get_secret_value())
    assert not m.connect().is_failure
    assert not m.subscribe("ops/v1/#")[0].is_failure
    yield m
    m.close()
