"""End to end through real processes: two salinity stations registered at points inside two real 2025 wards
publish over MQTT with their own credentials → the real ingest process stores the readings and fires the stream
rules → an operator drafts one warning from both alerts → a leader approves (the drafter may not) → it is
published: the public Atom feed lists it and its signed CAP document names exactly those wards, as the shared
GeoJSON file has them → Update → Cancel, each approved by someone else; a webhook subscriber of one of the wards
gets every message exactly once through a real Celery worker."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import shapely
from fastapi.testclient import TestClient
from lxml import etree
from paho.mqtt.enums import CallbackAPIVersion

from alerts import rule_changes
from alerts.rules.models import parse_rule
from ops_center.db import Conn, fetch_all
from tests.alerts.receivers import webhook_receiver
from tests.alerts.test_e2e import ingest
from tests.alerts.test_notify import worker
from tests.warnings.conftest import CAP_NS, RealWard, approve_and_publish, check_cap, texts_of, uid

ATOM = {"a": "http://www.w3.org/2005/Atom"}


def _until(what: str, check: Callable[[], Any], timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def station(stack: Any, creds: dict[str, str]) -> Iterator[Callable[[float], None]]:
    """A device's own MQTT v5 connection (its credentials, its topic); ``send(salinity)`` publishes at QoS 1."""
    s = stack.settings
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=creds["username"], protocol=mqtt.MQTTv5)
    c.username_pw_set(creds["username"], creds["password"])

    def connects() -> bool:
        try:
            return c.connect(s.mqtt_host, s.mqtt_port) == 0
        except OSError:
            return False

    _until("the broker to accept the new device", connects, 30)  # the ACL/password reload is asynchronous
    c.loop_start()
    _until("the connection", c.is_connected, 30)

    def send(salinity: float) -> None:
        body = orjson.dumps({"ts": time.time(), "metrics": {"salinity_ppt": salinity}})
        c.publish(f"ops/v1/devices/{creds['username']}/telemetry", body, qos=1).wait_for_publish(10)

    try:
        yield send
    finally:
        c.disconnect()
        c.loop_stop()


def _register(client: TestClient, admin: Any, ward: RealWard) -> dict[str, Any]:
    r = client.post("/devices", headers=admin.headers, json={
        "id": uid("man").replace("-", ""), "kind": "salinity", "name": f"Trạm đo mặn {ward.name}",
        "lon": ward.lon, "lat": ward.lat, "expected_interval_s": 600})
    assert r.status_code == 201, r.text
    device = r.json()
    assert device["ward_set"] == "camau-2025" and device["ward_code"] == ward.code  # geo agrees with the file
    return device  # type: ignore[no-any-return]


def _rule(conn: Conn, device_id: str) -> int:
    row = rule_changes.create_rule(conn, parse_rule({"name": uid("Mặn vượt 4‰"), "kind": "threshold",
                                                   "metric": "salinity_ppt", "operator": ">", "value": 4,
                                                   "scope": {"device": device_id}, "severity": "major"}), "test")
    conn.commit()
    return int(row["id"])


def _firing(conn: Conn, rule_id: int) -> list[dict[str, Any]]:
    rows = fetch_all(conn, "SELECT id, value FROM alerts WHERE rule_id = %s AND ends_at IS NULL", (rule_id,))
    conn.commit()
    return rows


def _outline(polygons: list[str]) -> shapely.Geometry:
    return shapely.union_all([shapely.Polygon([(float(p.split(",")[1]), float(p.split(",")[0])) for p in poly.split()])
                              for poly in polygons])


def _feed_entry(client: TestClient, identifier: str) -> bool:
    root = etree.fromstring(client.get("/cap/feed.atom").content)
    return any(e.text and e.text.endswith(f"/{identifier}.xml") for e in root.findall("a:entry/a:id", ATOM))


def _published(client: TestClient, w: dict[str, Any], cert: bytes, schema: Any, tmp: Path) -> etree._Element:
    last = [m for m in w["messages"] if m["status"] == "published"][-1]
    _until("the message in the public feed", lambda: _feed_entry(client, last["identifier"]), 30)
    doc = client.get(f"/cap/messages/{last['identifier']}.xml").content
    return check_cap(doc, cert, schema, tmp)


def test_salinity_reading_to_public_cap_warning(stack: Any, client: TestClient, people: dict[str, Any],
                                               conn: Conn, camau: None, real_wards: list[RealWard],
                                               cap_schema: Any, tmp_path: Path) -> None:
    op, leader, admin = people["operator"], people["leader"], people["admin"]
    ward_a, ward_b = random.sample(real_wards, 2)
    dev_a, dev_b = _register(client, admin, ward_a), _register(client, admin, ward_b)
    rule_a, rule_b = _rule(conn, dev_a["id"]), _rule(conn, dev_b["id"])
    with webhook_receiver() as hook, worker(stack, uid("w-e2e-cap")), ingest(stack, tmp_path) as proc, \
            station(stack, dev_a["credentials"]) as send_a, station(stack, dev_b["credentials"]) as send_b:
        name = uid("hook-ward")
        client.post("/notify-channels", headers=admin.headers,
                    json={"name": name, "type": "webhook", "config": {"url": hook.url}})
        sub = client.post("/warning-subscriptions", headers=admin.headers, json={"channel": name,
                                                                                 "wards": [ward_a.code]})
        assert sub.status_code == 201, sub.text
        send_a(6.8)
        send_b(5.2)
        [alert_a] = _until("the alert of station A", lambda: _firing(conn, rule_a))
        [alert_b] = _until("the alert of station B", lambda: _firing(conn, rule_b))
        assert alert_a["value"] == 6.8 and proc.proc is not None and proc.proc.poll() is None

        r = client.post("/warnings", headers=op.headers, json={"alerts": [alert_a["id"], alert_b["id"]]})
        assert r.status_code == 201, r.text
        w = r.json()
        assert client.post(f"/warnings/{w['id']}/approve", json={"version": 1},
                           headers=op.headers).status_code == 403  # the drafter may not approve
        w = approve_and_publish(client, w, op, leader)
        cert = client.get("/cap/certificate.pem").content
        alert = _published(client, w, cert, cap_schema, tmp_path)
        assert texts_of(alert, "cap:msgType") == ["Alert"]
        assert texts_of(alert, "cap:info/cap:area/cap:areaDesc")[:2] == [ward_a.name, ward_b.name]
        assert texts_of(alert, "cap:info/cap:area/cap:geocode/cap:value")[:2] == [ward_a.code, ward_b.code]
        areas = alert.findall("cap:info", CAP_NS)[0].findall("cap:area", CAP_NS)
        for area, ward in zip(areas, (ward_a, ward_b), strict=True):  # each outline holds its station's point
            assert _outline(texts_of(area, "cap:polygon")).buffer(0.003).contains(shapely.Point(ward.lon, ward.lat))
        assert "6,8‰" in texts_of(alert, "cap:info/cap:headline")[0]

        send_a(9.3)  # worse: the operator updates the warning with the new value
        r = client.post(f"/warnings/{w['id']}/update", headers=op.headers, json={"values": {"value": 9.3}})
        assert r.status_code == 201, r.text
        w = approve_and_publish(client, r.json(), op, people["leader2"])
        update = _published(client, w, cert, cap_schema, tmp_path)
        assert texts_of(update, "cap:msgType") == ["Update"]
        assert texts_of(update, "cap:info/cap:severity")[0] == "Moderate"  # risk level 2 (≥ 8‰ band)

        r = client.post(f"/warnings/{w['id']}/cancel", headers=op.headers,
                        json={"reason": "Độ mặn đã giảm, cống đã đóng."})
        assert r.status_code == 201, r.text
        w = approve_and_publish(client, r.json(), op, leader)
        cancel = _published(client, w, cert, cap_schema, tmp_path)
        assert texts_of(cancel, "cap:msgType") == ["Cancel"]
        assert len(texts_of(cancel, "cap:references")[0].split()) == 2
        _until("three webhook deliveries", lambda: len(hook.delivered) == 3)
        time.sleep(1.0)
    assert len(hook.requests) == 3  # each message exactly once to the subscriber of ward A
    published = [m for m in w["messages"] if m["status"] == "published"]
    assert [r["headers"]["x-cap-identifier"] for r in hook.requests] == [m["identifier"] for m in published]
    client.delete(f"/warning-subscriptions/{sub.json()['id']}", headers=admin.headers)
    conn.execute("UPDATE alert_rules SET enabled = false WHERE id = ANY(%s)", ([rule_a, rule_b],))
    conn.commit()
