"""The incidents API through the real app: roles, reporter contacts hidden from leaders, audit rows for every
write, transitions and their errors as problem+json, hostile and oversized input, categories."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from ops_center.db import Conn
from tests.incidents.conftest import Ward, north, when

PROBLEM = "application/problem+json"


def body(ward: Ward, **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "title": "Sạt lở bờ kè sông Gành Hào, nguy cơ ảnh hưởng 5 hộ dân",
        "description": "Đoạn sạt dài khoảng 30 m",
        "category": "riverbank_erosion",
        "lon": ward.lon, "lat": ward.lat,
        "address": "Ấp 3, đường Nguyễn Tất Thành",
        "reporter": {"name": "Trần Thị Bích", "phone": "0290 3822 062", "email": "bich@example.vn"},
        "reported_at": when().isoformat(),
    }
    out.update(kw)
    return out


def audit(db: Conn, actor: str) -> list[tuple[Any, ...]]:
    return db.execute("SELECT action, target, status, actor_role FROM audit_log WHERE actor = %s ORDER BY id",
                      (actor,)).fetchall()


@pytest.fixture(scope="module")
def people(login):  # type: ignore[no-untyped-def]
    return {role: login(role) for role in ("admin", "operator", "leader", "integration")}


def test_report_read_and_contact_visibility(client: TestClient, people, ward25: Ward, db: Conn) -> None:  # type: ignore[no-untyped-def]
    op, leader, admin = people["operator"], people["leader"], people["admin"]
    r = client.post("/incidents", json=body(ward25), headers=op.headers)
    assert r.status_code == 201, r.text
    inc = r.json()
    assert inc["linked"] is False and inc["ward_code"] == ward25.code and inc["ward_set"] == "camau-2025"
    assert inc["category_label_vi"] == "Sạt lở bờ sông, bờ biển" and inc["category_label_en"] == "Riverbank erosion"
    assert inc["reporter"] == {"name": "Trần Thị Bích", "phone": "0290 3822 062", "email": "bich@example.vn"}
    for key in ("id", "title", "description", "category", "severity", "status", "source", "lon", "lat", "ward_set",
                "ward_code", "ward_name", "reported_at", "due_at", "overdue", "report_count", "assigned_unit"):
        assert key in inc, key
    iid = inc["id"]
    for who, sees in ((op, True), (admin, True), (leader, False)):
        got = client.get(f"/incidents/{iid}", headers=who.headers)
        assert got.status_code == 200
        assert ("reporter" in got.json()) is sees
        listed = client.get("/incidents", params={"category": "riverbank_erosion", "limit": 500},
                            headers=who.headers).json()["items"]
        mine = [i for i in listed if i["id"] == iid]
        assert mine and ("reporter" in mine[0]) is sees
        reps = client.get(f"/incidents/{iid}/reports", headers=who.headers).json()["items"]
        assert ("reporter" in reps[0]) is sees
        text = client.get(f"/incidents/{iid}", headers=who.headers).text
        assert ("0290 3822 062" in text) is sees and ("bich@example.vn" in text) is sees
    assert client.get(f"/incidents/{iid}", headers=people["integration"].headers).status_code == 403
    assert ("POST /incidents", f"incident:{iid}", 201, "operator") in audit(db, op.username)


def test_leader_reads_but_cannot_write(client: TestClient, people, ward25: Ward) -> None:  # type: ignore[no-untyped-def]
    leader = people["leader"]
    assert client.post("/incidents", json=body(ward25), headers=leader.headers).status_code == 403
    assert client.get("/incidents", headers=leader.headers).status_code == 200
    assert client.get("/incidents").status_code == 401


def test_transitions_comments_and_audit(client: TestClient, people, ward25: Ward, unit: str,  # type: ignore[no-untyped-def]
                                        db: Conn) -> None:
    op = people["operator"]
    iid = client.post("/incidents", json=body(ward25, category="fallen_tree"), headers=op.headers).json()["id"]
    bad = client.post(f"/incidents/{iid}/transition", json={"to": "closed"}, headers=op.headers)
    assert bad.status_code == 409 and bad.headers["content-type"].startswith(PROBLEM)
    assert "cannot go from 'new' to 'closed'" in bad.json()["detail"]
    no_unit = client.post(f"/incidents/{iid}/transition", json={"to": "assigned"}, headers=op.headers)
    assert no_unit.status_code == 422 and "unit: required" in no_unit.json()["detail"]
    for step in ({"to": "assigned", "unit": unit, "note": "Giao Đội cây xanh"}, {"to": "in_progress"},
                 {"to": "resolved", "note": "Đã dọn"}, {"to": "closed"}, {"to": "in_progress", "note": "Mở lại"}):
        r = client.post(f"/incidents/{iid}/transition", json=step, headers=op.headers)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == step["to"]
    c = client.post(f"/incidents/{iid}/comments", json={"text": "Người dân báo cây lại nghiêng"}, headers=op.headers)
    assert c.status_code == 201 and c.json()["note"] == "Người dân báo cây lại nghiêng"
    tl = client.get(f"/incidents/{iid}/timeline", headers=people["leader"].headers).json()["items"]
    assert [e["kind"] for e in tl] == ["created", "assigned", "status", "status", "status", "status", "comment"]
    assert all(e["actor"] == op.username for e in tl)
    rows = audit(db, op.username)
    target = f"incident:{iid}"
    assert [(a, s) for a, t, s, _ in rows if t == target] == [
        ("POST /incidents", 201), ("POST /incidents/{incident_id}/transition", 409),
        ("POST /incidents/{incident_id}/transition", 422)] + [("POST /incidents/{incident_id}/transition", 200)] * 5 + [
        ("POST /incidents/{incident_id}/comments", 201)]
    missing = client.post("/incidents/999999999/transition", json={"to": "assigned", "unit": unit},
                          headers=op.headers)
    assert missing.status_code == 404 and "no incident 999999999" in missing.json()["detail"]


def test_duplicate_report_through_the_api(client: TestClient, people, ward25: Ward) -> None:  # type: ignore[no-untyped-def]
    op = people["operator"]
    at = when()
    first = client.post("/incidents", json=body(ward25, category="flooding", reported_at=at.isoformat()),
                        headers=op.headers).json()
    second = client.post("/incidents", json=body(ward25, category="flooding", lat=north(ward25.lat, 100),
                                                 reported_at=at.isoformat()), headers=op.headers)
    assert second.status_code == 201
    assert second.json()["linked"] is True and second.json()["id"] == first["id"]
    assert second.json()["report_count"] == 2


HOSTILE: list[tuple[dict[str, Any], str]] = [
    ({"title": "x" * 201}, "title"),
    ({"title": ""}, "title"),
    ({"lon": "abc"}, "lon"),
    ({"lon": 1e308}, "lon"),
    ({"lat": -91}, "lat"),
    ({"category": "'; DROP TABLE incidents; --"}, "category"),
    ({"category": "volcano"}, "category"),
    ({"severity": "apocalyptic"}, "severity"),
    ({"reported_at": "2025-08-01T10:00:00"}, "reported_at"),
    ({"reported_at": "2099-08-01T10:00:00+07:00"}, "reported_at"),
    ({"reporter": {"name": "A", "phone": "<script>alert(1)</script>"}}, "reporter.phone"),
    ({"reporter": {"name": {"a": {"b": {"c": [[[[1]]]]}}}}}, "reporter.name"),
    ({"unexpected": 1}, "unexpected"),
    ({"description": "d" * 5001}, "description"),
    ({"assigned_unit": "NO-SUCH-UNIT"}, "assigned_unit"),
    ({"source": "device_event"}, "source"),
]


@pytest.mark.parametrize(("patch", "field"), HOSTILE, ids=[f"{h[1]}-{i}" for i, h in enumerate(HOSTILE)])
def test_hostile_input_is_refused_naming_the_field(client: TestClient, people, ward25: Ward,  # type: ignore[no-untyped-def]
                                                   patch: dict[str, Any], field: str) -> None:
    r = client.post("/incidents", json=body(ward25, **patch), headers=people["operator"].headers)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    assert field in r.json()["detail"]


def test_not_json_and_oversized(client: TestClient, people) -> None:  # type: ignore[no-untyped-def]
    h = {**people["operator"].headers, "content-type": "application/json"}
    assert client.post("/incidents", content=b"{not json", headers=h).status_code == 422
    deep = client.post("/incidents", content=b"[" * 100_000 + b"]" * 100_000, headers=h)
    assert deep.status_code in (400, 422) and deep.headers["content-type"].startswith(PROBLEM)
    huge = client.post("/incidents", json={"title": "t" * 2_000_000}, headers=people["operator"].headers)
    assert huge.status_code == 422
    bad_id = client.get("/incidents/abc", headers=people["operator"].headers)
    assert bad_id.status_code == 422 and "incident_id" in bad_id.json()["detail"]
    assert client.get("/incidents", params={"cursor": "!!!"}, headers=people["operator"].headers).status_code == 400


def test_categories_are_configurable_by_admin(client: TestClient, people) -> None:  # type: ignore[no-untyped-def]
    got = client.get("/incidents/categories", headers=people["leader"].headers).json()["items"]
    codes = [c["code"] for c in got]
    for code in ("flooding", "salinity_intrusion", "riverbank_erosion", "fallen_tree", "traffic_accident",
                 "power_outage", "environmental_pollution", "public_order", "infrastructure_damage", "other"):
        assert code in codes
    flood = next(c for c in got if c["code"] == "flooding")
    assert (flood["label_vi"], flood["label_en"], flood["sla_hours"]) == ("Ngập úng", "Flooding", 4)
    new = {"label_vi": "Cháy rừng tràm", "label_en": "Forest fire", "default_severity": "critical", "sla_hours": 1,
           "device_kinds": ["smoke", "fire.detected"]}
    assert client.put("/incidents/categories/forest_fire", json=new,
                      headers=people["operator"].headers).status_code == 403
    r = client.put("/incidents/categories/forest_fire", json=new, headers=people["admin"].headers)
    assert r.status_code == 200 and r.json()["label_vi"] == "Cháy rừng tràm"
    bad = client.put("/incidents/categories/forest_fire", json={**new, "sla_hours": 0},
                     headers=people["admin"].headers)
    assert bad.status_code == 422 and "sla_hours" in bad.json()["detail"]
    assert client.put("/incidents/categories/Bad Code", json=new, headers=people["admin"].headers).status_code == 422
