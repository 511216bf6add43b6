"""Devices are real broker principals: proven with real MQTT v5 clients against the test stack's Mosquitto, with
credentials provisioned through the API.

The broker reloads its password file on SIGHUP, asynchronously, so a test waits (``eventually``) for a change to
take effect; nothing here measures time. (Rights change through the dynamic-security plugin's ``$CONTROL`` topic,
answered before the API returns; tests/security/test_device_subscribe_acl.py covers SUBSCRIBE rights.)"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from paho.mqtt.reasoncodes import ReasonCode

from tests.devices.conftest import Mqtt, eventually, uid

NOT_AUTHORIZED = 0x87
BAD_CREDENTIALS = 0x86


def rc(code: ReasonCode) -> int:
    return int(code.value)


def _connects(mqtt_client: Callable[[str, str], Mqtt], username: str, password: str) -> int:
    """The CONNACK reason code of a fresh connection (0: accepted)."""
    m = mqtt_client(username, password)
    code = rc(m.connect())
    m.close()
    return code


def _ready(mqtt_client: Callable[[str, str], Mqtt], creds: dict[str, Any]) -> Mqtt:
    """A connected client for ``creds``, waiting for the broker to have loaded them."""
    eventually(lambda: _connects(mqtt_client, creds["username"], creds["password"]) == 0,
               f"{creds['username']} can connect")
    m = mqtt_client(creds["username"], creds["password"])
    assert rc(m.connect()) == 0
    return m


def test_device_publishes_its_own_telemetry(new_device, mqtt_client, service_subscriber: Mqtt) -> None:  # type: ignore[no-untyped-def]
    d = new_device()
    m = _ready(mqtt_client, d["credentials"])
    topic = f"ops/v1/devices/{d['id']}/telemetry"
    payload = b'{"ts": 1751330000, "metrics": {"salinity_ppt": 4.2}}'
    assert rc(m.publish(topic, payload)) == 0  # PUBACK: success
    got = service_subscriber.receive_until(lambda msg: msg.topic == topic)
    assert got[-1].payload == payload
    # its status (retained, as its last will would be) and events too
    assert rc(m.publish(f"ops/v1/devices/{d['id']}/status", b"online", retain=True)) == 0
    assert rc(m.publish(f"ops/v1/devices/{d['id']}/events", b'{"ts": 1, "kind": "door_open"}')) == 0
    # it hears its own commands, never another device's: the broker refuses those SUBSCRIBEs (SUBACK 0x87)
    other = new_device()
    assert not m.subscribe(f"ops/v1/devices/{d['id']}/commands/#")[0].is_failure
    assert rc(m.subscribe(f"ops/v1/devices/{other['id']}/commands/#")[0]) == NOT_AUTHORIZED
    assert rc(m.subscribe("ops/v1/#")[0]) == NOT_AUTHORIZED
    assert rc(service_subscriber.publish(f"ops/v1/devices/{other['id']}/commands/reboot", b"not-for-you")) == 0
    assert rc(service_subscriber.publish(f"ops/v1/devices/{d['id']}/commands/reboot", b"for-you")) == 0
    heard = m.receive_until(lambda msg: msg.payload == b"for-you")
    assert [msg.payload for msg in heard] == [b"for-you"]


def test_device_cannot_publish_to_another_devices_topic(new_device, mqtt_client,  # type: ignore[no-untyped-def]
                                                        service_subscriber: Mqtt) -> None:
    mallory, victim = new_device(), new_device()
    m = _ready(mqtt_client, mallory["credentials"])
    forged_topics = [f"ops/v1/devices/{victim['id']}/telemetry", f"ops/v1/devices/{victim['id']}/status",
                     f"ops/v1/gateways/{victim['id']}/telemetry", "ops/v1/devices/+/telemetry",
                     "ops/v1/alerts", f"ops/v1/devices/{mallory['id']}/telemetry/extra"]
    for topic in forged_topics:
        if "+" in topic:
            continue  # wildcards are not publishable topics at all
        assert rc(m.publish(topic, b'{"ts": 1751330000, "metrics": {"salinity_ppt": 49}}')) == NOT_AUTHORIZED, topic
    # a marker on its own topic, published after the forgeries, arrives; the forgeries never do
    marker_topic = f"ops/v1/devices/{mallory['id']}/telemetry"
    marker = secrets.token_hex(8).encode()
    assert rc(m.publish(marker_topic, marker)) == 0
    got = service_subscriber.receive_until(lambda msg: msg.payload == marker)
    assert not [msg.topic for msg in got if msg.topic in forged_topics]


def test_wrong_password_and_unknown_user_are_refused_at_connect(new_device, mqtt_client) -> None:  # type: ignore[no-untyped-def]
    d = new_device()
    _ready(mqtt_client, d["credentials"]).close()
    assert _connects(mqtt_client, d["id"], d["credentials"]["password"] + "x") in (BAD_CREDENTIALS, NOT_AUTHORIZED)
    assert _connects(mqtt_client, d["id"], "") in (BAD_CREDENTIALS, NOT_AUTHORIZED)
    assert _connects(mqtt_client, uid("nobody"), d["credentials"]["password"]) in (BAD_CREDENTIALS, NOT_AUTHORIZED)
    # one device's secret does not open another's account
    other = new_device()
    assert _connects(mqtt_client, other["id"], d["credentials"]["password"]) in (BAD_CREDENTIALS, NOT_AUTHORIZED)


def test_disable_revokes_and_enable_restores(client: TestClient, admin, new_device, mqtt_client) -> None:  # type: ignore[no-untyped-def]
    d = new_device()
    creds = d["credentials"]
    connected = _ready(mqtt_client, creds)
    assert client.post(f"/devices/{d['id']}/disable", headers=admin.headers).status_code == 200
    eventually(lambda: _connects(mqtt_client, creds["username"], creds["password"]) != 0,
               "a disabled device is refused at CONNECT")
    # the connection it already had can no longer publish either
    def cut_off() -> bool:
        if connected.disconnected.is_set():
            return True
        try:
            return rc(connected.publish(f"ops/v1/devices/{d['id']}/telemetry", b"{}")) == NOT_AUTHORIZED
        except AssertionError:  # no PUBACK: the broker dropped the connection meanwhile
            return connected.disconnected.is_set()

    eventually(cut_off, "the open connection of a disabled device is cut off")
    assert client.post(f"/devices/{d['id']}/enable", headers=admin.headers).status_code == 200
    _ready(mqtt_client, creds)  # the same secret works again


def test_delete_revokes(client: TestClient, admin, new_device, mqtt_client) -> None:  # type: ignore[no-untyped-def]
    d = new_device()
    creds = d["credentials"]
    _ready(mqtt_client, creds).close()
    assert client.delete(f"/devices/{d['id']}", headers=admin.headers).status_code == 204
    eventually(lambda: _connects(mqtt_client, creds["username"], creds["password"]) != 0,
               "a deleted device is refused at CONNECT")


def test_rotation_replaces_the_secret(client: TestClient, admin, new_device, mqtt_client,  # type: ignore[no-untyped-def]
                                      service_subscriber: Mqtt) -> None:
    d = new_device()
    old = d["credentials"]
    _ready(mqtt_client, old).close()
    r = client.post(f"/devices/{d['id']}/rotate-credentials", headers=admin.headers)
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["username"] == d["id"] and new["password"] != old["password"] and new["broker_synced"] is True
    eventually(lambda: _connects(mqtt_client, old["username"], old["password"]) != 0, "the old secret fails")
    m = _ready(mqtt_client, new)
    topic = f"ops/v1/devices/{d['id']}/telemetry"
    assert rc(m.publish(topic, b"after-rotation")) == 0
    assert service_subscriber.receive_until(lambda msg: msg.payload == b"after-rotation")[-1].topic == topic


def test_gateway_writes_only_under_its_own_topics(client: TestClient, admin, new_device, mqtt_client,  # type: ignore[no-untyped-def]
                                                  service_subscriber: Mqtt) -> None:
    r = client.post("/gateways", headers=admin.headers, json={"id": uid("gw"), "name": "Cổng LoRa Cà Mau"})
    assert r.status_code == 201, r.text
    gw = r.json()
    behind = new_device(gateway_id=gw["id"])
    m = _ready(mqtt_client, gw["credentials"])
    own = f"ops/v1/gateways/{gw['id']}/telemetry"
    pack = f'[{{"bn": "{behind["id"]}:", "n": "salinity_ppt", "v": 3.1}}]'.encode()
    assert rc(m.publish(own, pack)) == 0
    assert rc(m.publish(f"ops/v1/gateways/{gw['id']}/status", b"online", retain=True)) == 0
    # even the devices behind it publish through the gateway topic, not their own
    assert rc(m.publish(f"ops/v1/devices/{behind['id']}/telemetry", b"{}")) == NOT_AUTHORIZED
    assert rc(m.publish("ops/v1/gateways/another-gw/telemetry", b"[]")) == NOT_AUTHORIZED
    assert service_subscriber.receive_until(lambda msg: msg.topic == own)[-1].payload == pack
    # the gateway's own credentials are separate from its devices'
    assert _connects(mqtt_client, behind["id"], gw["credentials"]["password"]) != 0
