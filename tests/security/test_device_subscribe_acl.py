"""#11 item 2: a device cannot subscribe to anything but its own commands, so it cannot join the ingest shared
subscription and make the broker drop other devices' telemetry.

Real parts only: devices provisioned through the API, paho clients of MQTT 5, 3.1.1 and 3.1 with the devices' own
credentials, a real ingest process in its own share group, our Mosquitto, PostgreSQL, exact counts.

Before the fix (Mosquitto's ``acl_file``), every SUBSCRIBE below was granted, and the messages the broker routed to
the hijackers' share-group membership were dropped on the read check: most of the burst never reached ingest."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient

from ops_center.broker.passwd import mosquitto_hash
from ops_center.db import Conn
from ops_center.devices.credentials import sync_broker
from ops_center.settings import Settings
from tests.conftest import Login, Stack
from tests.pipeline.conftest import IngestProc, discard_session
from tests.security.support_h_broker import FAILURE, Probe, count_rows, provision, settled_count
from tests.support.mqtt_load import Publisher, json_message
from tests.support.services import free_port

BURST_DEVICES = 6
PER_DEVICE = 1_000
BURST = BURST_DEVICES * PER_DEVICE  # far above the stock broker limits (20 in flight, 1,000 queued per client)
PROTOCOLS = {"MQTT 5": mqtt.MQTTv5, "MQTT 3.1.1": mqtt.MQTTv311}
"""Versions whose SUBACK can say "refused". MQTT 3.1 cannot (the broker answers with the QoS and does not add the
subscription); a 3.1 hijacker still takes part in the burst, whose exact count shows it got nothing."""


def hijack_filters(group: str, me: str, victim: str) -> list[str]:
    """What a device must not subscribe to: the live ingest group, the default group, wildcards over every
    device, another device's topics, its own telemetry (it writes it, it does not read it), the dossier topics,
    the broker's system and control topics."""
    return [
        f"$share/{group}/ops/v1/devices/+/telemetry", f"$share/{group}/ops/v1/devices/+/status",
        f"$share/{group}/ops/v1/#", f"$share/{group}/#", "$share/ingest/ops/v1/devices/+/telemetry",
        f"$share/{group}/ops/v1/devices/{me}/commands/#",
        "#", "+/+/+/+/+", "ops/v1/#", "ops/v1/devices/+/telemetry", "ops/v1/devices/#",
        f"ops/v1/devices/{victim}/telemetry", f"ops/v1/devices/{victim}/commands/#", f"ops/v1/devices/{me}/telemetry",
        "ops/v1/egov/+/dossiers", f"$share/{group}/ops/v1/egov/+/dossiers", "$SYS/#", "$CONTROL/dynamic-security/#",
    ]


@pytest.fixture
def ingest(stack: Stack, tmp_path: Path) -> Iterator[IngestProc]:
    """A real ingest process in a share group of this test's own (as ``make up`` runs it, in ``ingest``); not
    started: the test starts it once its devices exist, so its registry knows them (a device that publishes before
    ingest knows it is issue #11 item 13, not this test's subject)."""
    group = f"sec{secrets.token_hex(3)}"
    port = free_port()
    env = {**stack.env, "OPS_INGEST_SHARE_GROUP": group, "OPS_INGEST_CLIENT_ID": f"ingest-{group}",
           "OPS_INGEST_METRICS_PORT": str(port), "OPS_INGEST_FLUSH_MS": "50"}
    proc = IngestProc(env, f"ingest-{group}", port, tmp_path / "ingest.log")
    yield proc
    if proc.proc is not None:
        proc.kill()
    s = stack.settings
    discard_session(s.mqtt_host, s.mqtt_port, s.mqtt_username, s.mqtt_password.get_secret_value(), proc.client_id)


def _burst(settings: Settings, prefix: str, creds: dict[str, dict[str, str]]) -> list[Publisher]:
    """Each burst device publishes its own readings with its own credentials (QoS 1), all at once."""
    base_ts = time.time() - 1800
    publishers = [Publisher(settings.mqtt_host, settings.mqtt_port, dev, c["password"], f"{dev}-{secrets.token_hex(3)}")
                  for dev, c in creds.items()]

    def run(k: int, pub: Publisher) -> None:
        pub.publish_all(json_message(prefix, i, BURST_DEVICES, base_ts) for i in range(k, BURST, BURST_DEVICES))

    threads = [threading.Thread(target=run, args=(k, p)) for k, p in enumerate(publishers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return publishers


def test_device_cannot_join_the_ingest_group_and_a_burst_is_stored_whole(
        client: TestClient, admin: Login, settings: Settings, db: Conn, ingest: IngestProc) -> None:
    tag = secrets.token_hex(3)
    prefix = f"sb{tag}-"
    mallory, victim = f"mal{tag}", f"vic{tag}"
    mallory_creds = provision(client, admin.headers, mallory)
    provision(client, admin.headers, victim)
    burst_creds = {f"{prefix}{k}": provision(client, admin.headers, f"{prefix}{k}") for k in range(BURST_DEVICES)}
    ingest.start()
    group = ingest.env["OPS_INGEST_SHARE_GROUP"]
    filters = hijack_filters(group, mallory, victim)

    # the hijacker, with its own valid credentials, in every protocol version, tries every filter
    probes = {name: Probe(settings, mallory, mallory_creds["password"], proto).connect()
              for name, proto in PROTOCOLS.items()}
    old = Probe(settings, mallory, mallory_creds["password"], mqtt.MQTTv31).connect()
    granted = {(name, f): code for name, p in probes.items() for f in filters if (code := p.subscribe(f)) < FAILURE}
    for f in filters:
        old.subscribe(f)

    # ... and keeps trying, on the live group, all through the burst
    stop = threading.Event()

    def keep_trying() -> None:
        while not stop.is_set():
            code = probes["MQTT 5"].subscribe(filters[0])
            if code < FAILURE:
                granted[("MQTT 5, during the burst", filters[0])] = code
            time.sleep(0.05)

    trier = threading.Thread(target=keep_trying)
    trier.start()
    try:
        publishers = _burst(settings, prefix, burst_creds)
        acked = [p.wait_acked(PER_DEVICE) for p in publishers]
        stored = settled_count(db, prefix, BURST)
    finally:
        stop.set()
        trier.join(30)
        for p in publishers:
            p.close()

    assert all(acked) and sum(p.refused for p in publishers) == 0, "every burst message accepted by the broker"
    dead = count_rows(db, "dead_letters", prefix)
    # refused at SUBACK, and the burst stored whole (readings are keyed by device, metric, time: no duplicate)
    assert (granted, stored, dead) == ({}, BURST, 0)

    _hears_only_its_own_commands(settings, probes, old, mallory, victim)


def _hears_only_its_own_commands(settings: Settings, probes: dict[str, Probe], old: Probe, me: str,
                                 victim: str) -> None:
    """Its own command topic is granted and delivers; another device's command does not reach it."""
    own = f"ops/v1/devices/{me}/commands/#"
    assert probes["MQTT 5"].subscribe(own) == 1 and probes["MQTT 3.1.1"].subscribe(own) == 1
    service = Probe(settings, settings.mqtt_username, settings.mqtt_password.get_secret_value()).connect()
    assert service.publish(f"ops/v1/devices/{victim}/commands/open", b"not-for-mallory") in (0x00, 0x10)
    assert service.publish(f"ops/v1/devices/{me}/commands/reboot", b"for-mallory") == 0x00
    deadline = time.monotonic() + 10
    while not all(p.received for p in probes.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    service.close()
    for p in [*probes.values(), old]:
        p.close()
    for name, p in probes.items():
        assert p.received == [(f"ops/v1/devices/{me}/commands/reboot", b"for-mallory")], name
    assert old.received == [], "an MQTT 3.1 client was never subscribed to anything"


def test_gateway_is_refused_like_a_device(client: TestClient, admin: Login, settings: Settings) -> None:
    gid = f"gw{secrets.token_hex(3)}"
    r = client.post("/gateways", headers=admin.headers, json={"id": gid, "name": "Cổng LoRa Đầm Dơi"})
    assert r.status_code == 201, r.text
    creds = r.json()["credentials"]
    p = Probe(settings, gid, creds["password"]).connect()
    try:
        refused = ["$share/ingest/ops/v1/gateways/+/telemetry", "$share/ingest/ops/v1/devices/+/telemetry", "#",
                   "ops/v1/gateways/+/telemetry", f"ops/v1/gateways/{gid}/telemetry", f"ops/v1/gateways/{gid}/#"]
        assert {f: p.subscribe(f) for f in refused} == {f: 0x87 for f in refused}
        assert p.subscribe(f"ops/v1/gateways/{gid}/commands/#") == 1
    finally:
        p.close()


def test_stored_integration_account_never_gets_a_shared_subscription(settings: Settings, db: Conn) -> None:
    """An account row written by hand or by a careless integration (a one-stop-shop system publishing dossier
    events) that lists ``$share`` or other ``$`` filters gets none of them; its publish topic works."""
    name, secret = f"egov-{secrets.token_hex(3)}", secrets.token_urlsafe(24)
    topic = "ops/v1/egov/UBND-XA-TANTHANH/dossiers"
    db.execute("INSERT INTO mqtt_accounts (username, kind, password_hash, publish, subscribe) "
               "VALUES (%s, 'service', %s, %s, %s)",
               (name, mosquitto_hash(secret), [topic, "$CONTROL/dynamic-security/v1"],
                ["$share/ingest/ops/v1/egov/+/dossiers", "$share/ingest/ops/v1/#", "$SYS/#", topic]))
    try:
        assert sync_broker(settings, db)
        p = Probe(settings, name, secret).connect()
        try:
            shared = ["$share/ingest/ops/v1/egov/+/dossiers", "$share/ingest/ops/v1/#", "$SYS/#",
                      "$CONTROL/dynamic-security/#", "ops/v1/devices/+/telemetry"]
            assert {f: p.subscribe(f) for f in shared} == {f: 0x87 for f in shared}
            assert p.subscribe(topic) == 1  # what its row grants, outside $, it keeps
            assert p.publish(topic, b'{"dossier_id": "x"}') in (0x00, 0x10)  # accepted (0x10: no subscriber)
            assert p.publish("$CONTROL/dynamic-security/v1", b'{"commands": []}') == 0x87
        finally:
            p.close()
    finally:
        db.execute("DELETE FROM mqtt_accounts WHERE username = %s", (name,))
        sync_broker(settings, db)


def test_rights_survive_a_broker_restart(client: TestClient, admin: Login, settings: Settings,
                                         stack: Stack) -> None:
    dev = f"rs{secrets.token_hex(3)}"
    creds = provision(client, admin.headers, dev)
    stack.broker.restart()
    p = Probe(settings, dev, creds["password"]).connect()
    try:
        assert p.subscribe("$share/ingest/ops/v1/devices/+/telemetry") == 0x87
        assert p.subscribe(f"ops/v1/devices/{dev}/commands/#") == 1
    finally:
        p.close()
    svc = Probe(settings, settings.mqtt_username, settings.mqtt_password.get_secret_value()).connect()
    try:
        assert svc.subscribe("$share/ingest/ops/v1/devices/+/telemetry") == 1  # ingest keeps its shared subscription
    finally:
        svc.close()
