"""The two-person workflow through the API: a draft from a salinity alert filled by the template, approval by
another person with the right to publish (never the drafter), publishing into the public feed as a signed CAP
document that outside validators accept, then Update and Cancel referencing the earlier messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
import shapely
from fastapi.testclient import TestClient

from ops_center.db import Conn
from tests.warnings.conftest import (
    RealWard,
    approve_and_publish,
    check_cap,
    fetch_public,
    fire_alert,
    publish_flow,
    texts_of,
)


def _draft(client: TestClient, who: Any, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/warnings", json=body, headers=who.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _open(warning: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in warning["messages"] if m["status"] in ("draft", "approved"))


def test_draft_from_a_salinity_alert_is_filled_by_the_template(client: TestClient, people: dict[str, Any],
                                                               conn: Conn, ward: RealWard) -> None:
    alert = fire_alert(conn, ward=ward.code, value=6.23)
    w = _draft(client, people["operator"], {"alerts": [alert["id"]]})
    assert w["state"] == "pending" and w["hazard"] == "salinity" and w["open_status"] == "draft"
    content = _open(w)["content"]
    assert content["wards"] == [ward.code] and content["ward_names"] == {ward.code: ward.name}
    assert content["risk_level"] == 1 and content["severity"] == "Minor"  # ≥ 4‰ band, Decision 18 level 1
    assert content["event_codes"] == ["OET-075", "OET-144"] and content["category"] == "Env"
    assert content["urgency"] == "Immediate" and content["certainty"] == "Observed"
    vi, en = content["texts"]["vi"], content["texts"]["en"]
    assert "6,2‰" in vi["headline"] and ward.name in vi["headline"] and "Cống Xẻo Rô" in vi["description"]
    assert "6.2‰" in en["headline"] and "cấp 1 (Rủi ro thấp)" in vi["description"]
    assert content["parameters"]["value"] == "6.23" and content["sources"] == [{"kind": "alert", "id": alert["id"]}]
    assert [e["kind"] for e in w["events"]] == ["drafted"]


def test_the_drafter_cannot_approve_their_own_warning(client: TestClient, people: dict[str, Any], conn: Conn,
                                                      ward: RealWard) -> None:
    admin, admin2 = people["admin"], people["admin2"]
    w = _draft(client, admin, {"alerts": [fire_alert(conn, ward=ward.code, value=5.0)["id"]]})
    r = client.post(f"/warnings/{w['id']}/approve", json={"version": 1}, headers=admin.headers)
    assert r.status_code == 403 and "two-person rule" in r.json()["detail"], r.text
    assert r.json()["errors"][0]["field"] == "approver"
    # an operator has no right to publish at all; a leader drafts nothing
    r = client.post(f"/warnings/{w['id']}/approve", json={"version": 1}, headers=people["operator"].headers)
    assert r.status_code == 403
    r = client.post(f"/warnings/{w['id']}/publish", headers=admin.headers)
    assert r.status_code == 409 and "not approved" in r.json()["detail"]
    # someone who edited the message is an author too
    r = client.patch(f"/warnings/{w['id']}", json={"version": 1, "risk_level": 2}, headers=admin2.headers)
    assert r.status_code == 200, r.text
    r = client.post(f"/warnings/{w['id']}/approve", json={"version": 2}, headers=admin2.headers)
    assert r.status_code == 403
    preview = client.get(f"/warnings/{w['id']}/preview.xml", headers=people["leader"].headers)
    assert preview.status_code == 200 and b"<msgType>Alert</msgType>" in preview.content
    assert ward.name.encode() in preview.content and b"Signature" not in preview.content
    r = client.post(f"/warnings/{w['id']}/approve", json={"version": 2}, headers=people["leader"].headers)
    assert r.status_code == 200 and r.json()["open_status"] == "approved"
    # the table refuses it as well, whoever writes it
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE warning_messages SET approved_by = drafted_by WHERE warning_id = %s", (w["id"],))
    conn.rollback()


def test_an_edit_withdraws_the_approval(client: TestClient, people: dict[str, Any], conn: Conn,
                                        ward: RealWard) -> None:
    w = _draft(client, people["operator"], {"alerts": [fire_alert(conn, ward=ward.code, value=9.1)["id"]]})
    assert _open(w)["content"]["risk_level"] == 2  # the ≥ 8‰ band
    r = client.post(f"/warnings/{w['id']}/approve", json={"version": 1}, headers=people["leader"].headers)
    assert r.status_code == 200
    r = client.patch(f"/warnings/{w['id']}", json={"version": 1, "texts": {"vi": {"instruction": "Đóng cống."}}},
                     headers=people["operator"].headers)
    assert r.status_code == 200 and r.json()["open_status"] == "draft" and r.json()["open_version"] == 2
    assert _open(r.json())["content"]["texts"]["vi"]["instruction"] == "Đóng cống."
    assert _open(r.json())["content"]["texts"]["en"]["instruction"].startswith("Do not let water")
    r = client.post(f"/warnings/{w['id']}/publish", headers=people["operator"].headers)
    assert r.status_code == 409
    r = client.post(f"/warnings/{w['id']}/approve", json={"version": 1}, headers=people["leader"].headers)
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "version"
    kinds = [e["kind"] for e in client.get(f"/warnings/{w['id']}", headers=people["leader"].headers).json()["events"]]
    assert kinds == ["drafted", "approved", "edited"]


def test_published_cap_validates_verifies_and_names_the_ward(client: TestClient, people: dict[str, Any],
                                                              conn: Conn, ward: RealWard, cap_schema: Any,
                                                              tmp_path: Path) -> None:
    alert = fire_alert(conn, ward=ward.code, value=4.6)
    w = publish_flow(client, people["operator"], people["leader"], {"alerts": [alert["id"]]})
    assert w["state"] == "active" and w["open_id"] is None
    msg = next(m for m in w["messages"] if m["status"] == "published")
    doc = fetch_public(client, f"/cap/messages/{msg['identifier']}.xml")
    cert = fetch_public(client, "/cap/certificate.pem")
    root = check_cap(doc, cert, cap_schema, tmp_path)
    assert texts_of(root, "cap:msgType") == ["Alert"] and texts_of(root, "cap:status") == ["Actual"]
    assert texts_of(root, "cap:info/cap:language") == ["vi-VN", "en-US"]
    assert texts_of(root, "cap:info/cap:area/cap:areaDesc") == [ward.name, ward.name]  # diacritics intact
    assert texts_of(root, "cap:info/cap:area/cap:geocode/cap:value") == [ward.code, ward.code]
    assert texts_of(root, "cap:info/cap:eventCode/cap:value")[:2] == ["OET-075", "OET-144"]
    assert "Cảnh báo xâm nhập mặn 4,6‰" in texts_of(root, "cap:info/cap:headline")[0]
    rings = []
    for polygon in texts_of(root, "cap:info/cap:area/cap:polygon"):
        pairs = polygon.split()
        assert 4 <= len(pairs) <= 100 and pairs[0] == pairs[-1]
        assert all(len(x.split(".")[-1]) <= 6 for p in pairs for x in p.split(","))
        rings.append(shapely.Polygon([(float(p.split(",")[1]), float(p.split(",")[0])) for p in pairs]))
        assert rings[-1].is_valid
    # the simplified outline still holds the ward's inner point taken from the shared file (within ~300 m)
    assert shapely.union_all(rings).buffer(0.003).contains(shapely.Point(ward.lon, ward.lat))


def test_update_and_cancel_reference_the_earlier_messages(client: TestClient, people: dict[str, Any],
                                                          conn: Conn, ward: RealWard, cap_schema: Any,
                                                          tmp_path: Path) -> None:
    op, leader = people["operator"], people["leader"]
    w = publish_flow(client, op, leader, {"alerts": [fire_alert(conn, ward=ward.code, value=5.5)["id"]]})
    first = next(m for m in w["messages"] if m["status"] == "published")
    r = client.post(f"/warnings/{w['id']}/update", json={"values": {"value": 8.4}}, headers=op.headers)
    assert r.status_code == 201, r.text
    w = approve_and_publish(client, r.json(), op, people["leader2"])
    assert w["state"] == "updated"
    second = [m for m in w["messages"] if m["status"] == "published"][-1]
    cert = fetch_public(client, "/cap/certificate.pem")
    root = check_cap(fetch_public(client, f"/cap/messages/{second['identifier']}.xml"), cert, cap_schema, tmp_path)
    assert texts_of(root, "cap:msgType") == ["Update"]
    assert texts_of(root, "cap:references")[0].split(",")[1] == first["identifier"]
    assert "8,4‰" in texts_of(root, "cap:info/cap:headline")[0]
    assert texts_of(root, "cap:info/cap:severity") == ["Moderate", "Moderate"]  # level 2 from the ≥ 8‰ band
    r = client.post(f"/warnings/{w['id']}/cancel", json={"reason": "Độ mặn đã giảm dưới 4‰."}, headers=op.headers)
    assert r.status_code == 201, r.text
    w = approve_and_publish(client, r.json(), op, leader)
    assert w["state"] == "cancelled"
    third = [m for m in w["messages"] if m["status"] == "published"][-1]
    root = check_cap(fetch_public(client, f"/cap/messages/{third['identifier']}.xml"), cert, cap_schema, tmp_path)
    assert texts_of(root, "cap:msgType") == ["Cancel"] and texts_of(root, "cap:note") == ["Độ mặn đã giảm dưới 4‰."]
    refs = [r.split(",")[1] for r in texts_of(root, "cap:references")[0].split()]
    assert refs == [first["identifier"], second["identifier"]]
    assert texts_of(root, "cap:info/cap:responseType") == ["AllClear", "AllClear"]
    feed = fetch_public(client, "/cap/feed.atom").decode()
    assert third["identifier"] in feed and first["identifier"] not in feed and second["identifier"] not in feed
    r = client.post(f"/warnings/{w['id']}/update", json={}, headers=op.headers)
    assert r.status_code == 409


def test_nothing_unpublished_reaches_the_public(client: TestClient, people: dict[str, Any], conn: Conn,
                                                ward: RealWard) -> None:
    secret = "Bản nháp chưa duyệt 7f3a"
    w = _draft(client, people["operator"], {"alerts": [fire_alert(conn, ward=ward.code, value=4.4)["id"]],
                                            "texts": {"vi": {"headline": secret}}})
    client.post(f"/warnings/{w['id']}/approve", json={"version": 1}, headers=people["leader"].headers)
    feed = fetch_public(client, "/cap/feed.atom").decode()
    assert secret not in feed
    guess = f"vn.camau.ioc.20250101.{_open(w)['id']}"
    assert client.get(f"/cap/messages/{guess}.xml").status_code == 404
    assert client.get("/warnings").status_code == 401


def test_every_step_is_audited_and_announced(client: TestClient, people: dict[str, Any], conn: Conn,
                                             ward: RealWard) -> None:
    op, leader = people["operator"], people["leader"]
    w = _draft(client, op, {"alerts": [fire_alert(conn, ward=ward.code, value=4.8)["id"]]})
    client.post(f"/warnings/{w['id']}/reject", json={"version": 1, "note": "Thiếu hướng dẫn"}, headers=leader.headers)
    client.patch(f"/warnings/{w['id']}", json={"version": 1, "texts": {"vi": {"instruction": "Đóng cống ngay."}}},
                 headers=op.headers)
    approve_and_publish(client, client.get(f"/warnings/{w['id']}", headers=op.headers).json(), op, leader)
    trail = client.get(f"/warnings/{w['id']}", headers=leader.headers).json()["events"]
    assert [(e["kind"], e["actor"]) for e in trail] == [
        ("drafted", op.username), ("rejected", leader.username), ("edited", op.username),
        ("approved", leader.username), ("published", op.username)]
    assert trail[1]["detail"]["note"] == "Thiếu hướng dẫn" and trail[1]["actor_role"] == "leader"
    audit = conn.execute("SELECT actor, action, status FROM audit_log WHERE target = %s ORDER BY id",
                         (f"warning:{w['id']}",)).fetchall()
    live = conn.execute("SELECT payload ->> 'step' FROM events WHERE topic = 'warning' AND subject = %s ORDER BY id",
                        (f"warning:{w['id']}",)).fetchall()
    conn.commit()
    assert [(a, s) for a, _, s in audit] == [(op.username, 201), (leader.username, 200), (op.username, 200),
                                             (leader.username, 200), (op.username, 200)]
    assert [r[0] for r in live] == ["drafted", "rejected", "edited", "approved", "published"]


def test_draft_from_an_erosion_incident(client: TestClient, people: dict[str, Any], ward: RealWard) -> None:
    r = client.post("/incidents", headers=people["operator"].headers, json={
        "title": "Sạt lở bờ sông Ông Đốc", "category": "riverbank_erosion", "lon": ward.lon, "lat": ward.lat,
        "address": "Bờ kè ấp 3, cạnh chợ", "description": "Sạt lở dài khoảng 40 m, nứt đường."})
    assert r.status_code == 201, r.text
    w = _draft(client, people["operator"], {"incidents": [r.json()["id"]]})
    content = _open(w)["content"]
    assert w["hazard"] == "erosion" and content["wards"] == [ward.code]
    assert content["risk_level"] == 1 and content["severity"] == "Minor" and content["response_type"] == "Evacuate"
    assert "Bờ kè ấp 3, cạnh chợ" in content["texts"]["vi"]["description"]
    assert content["event_codes"] == ["OET-179", "OET-119"]


def test_markup_in_texts_is_text_in_the_document(client: TestClient, people: dict[str, Any], ward: RealWard,
                                                cap_schema: Any, tmp_path: Path) -> None:
    tricky = 'Mặn <b>cao</b> & "bất thường" ]]> <?pi x?> <!--c-->'
    w = publish_flow(client, people["admin"], people["admin2"], {
        "hazard": "salinity", "wards": [ward.code], "values": {"value": 5.0},
        "texts": {"vi": {"headline": tricky}, "en": {"instruction": "<script>alert(1)</script>"}}})
    msg = next(m for m in w["messages"] if m["status"] == "published")
    root = check_cap(fetch_public(client, f"/cap/messages/{msg['identifier']}.xml"),
                     fetch_public(client, "/cap/certificate.pem"), cap_schema, tmp_path)
    assert texts_of(root, "cap:info/cap:headline")[0] == tricky
    assert texts_of(root, "cap:info/cap:instruction")[1] == "<script>alert(1)</script>"
