"""The dossier API through the real app: the batch event endpoint (integration role, API key), bad bodies kept as
dead letters, audit rows, procedures, dossiers by state, the calendar and the KPIs endpoint."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ops_center.db import Conn
from tests.dossiers.conftest import Catalog, make_catalog, t

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def people(login):  # type: ignore[no-untyped-def]
    return {role: login(role) for role in ("admin", "operator", "leader", "integration")}


@pytest.fixture
def key(client: TestClient, people) -> tuple[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    name = f"motcua-{secrets.token_hex(3)}"
    r = client.post("/api-keys", json={"name": name, "role": "integration"}, headers=people["admin"].headers)
    return f"key:{name}", {"X-API-Key": r.json()["key"]}


def events(cat: Catalog) -> list[dict[str, Any]]:
    return [
        {"dossier_id": cat.did(1), "type": "received", "at": t(2025, 1, 24), "channel": "online_l3",
         "procedure": cat.post_proc, "unit": cat.unit, "ward": cat.ward},
        {"dossier_id": cat.did(1), "type": "resolved", "at": t(2025, 2, 3, 16)},
        {"dossier_id": cat.did(2), "type": "received", "at": t(2025, 1, 24), "channel": "counter",
         "procedure": cat.plain_proc, "unit": cat.unit},
        {"dossier_id": cat.did(3), "type": "received", "at": t(2025, 1, 24), "channel": "telepathy",
         "procedure": cat.plain_proc, "unit": cat.unit},
    ]


def test_batch_endpoint_with_an_integration_key(client: TestClient, db: Conn, key) -> None:  # type: ignore[no-untyped-def]
    actor, headers = key
    cat = make_catalog(db)
    r = client.post("/dossiers/events", json=events(cat), headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["duplicates"]) == (3, 0)
    assert body["rejected"] == [{"index": 3, "reason": "bad_value",
                                 "detail": "channel: 'telepathy' is not one of online_partial, online_full, counter, postal"}]
    again = client.post("/dossiers/events", json={"events": events(cat)[:3]}, headers=headers).json()
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 3, [])
    rows = db.execute("SELECT action, target, status, detail FROM audit_log WHERE actor = %s ORDER BY id",
                      (actor,)).fetchall()
    assert [(a, tg, s) for a, tg, s, _ in rows] == [("POST /dossiers/events", "dossiers:events", 200)] * 2
    assert rows[0][3] == {"accepted": 3, "duplicates": 0, "rejected": 1}
    dl = db.execute("SELECT reason, field, value FROM dead_letters WHERE topic = 'http:/dossiers/events' "
                    "AND value = %s", ("'telepathy'",)).fetchall()
    assert ("bad_value", "[3].channel", "'telepathy'") in dl  # one letter per request; the field names the event


def test_who_may_post_events(client: TestClient, people, db: Conn) -> None:  # type: ignore[no-untyped-def]
    cat = make_catalog(db)
    for role, status in (("integration", 200), ("admin", 200), ("operator", 403), ("leader", 403)):
        r = client.post("/dossiers/events", json=events(cat)[:1], headers=people[role].headers)
        assert r.status_code == status, role
    assert client.post("/dossiers/events", json=[]).status_code == 401


def test_bad_bodies_are_refused_and_kept(client: TestClient, people, db: Conn) -> None:  # type: ignore[no-untyped-def]
    h = {**people["integration"].headers, "content-type": "application/json"}
    marker = secrets.token_hex(4)
    r = client.post("/dossiers/events", content=f"[{{\"dossier_id\": \"{marker}\",".encode(), headers=h)
    assert r.status_code == 400 and r.headers["content-type"].startswith(PROBLEM)
    assert "body: not valid JSON" in r.json()["detail"]
    kept = db.execute("SELECT reason, payload FROM dead_letters WHERE topic = 'http:/dossiers/events' "
                      "AND position(%s::bytea in payload) > 0", (marker.encode(),)).fetchall()
    assert kept and kept[0][0] == "parse_error"
    r = client.post("/dossiers/events", json={"dossier_id": "x", "type": "received"}, headers=h)
    assert r.status_code == 422 and "expected a JSON array" in r.json()["detail"]
    deep = b"[" * 5000 + b"]" * 5000
    assert client.post("/dossiers/events", content=deep, headers=h).status_code == 400
    nested = client.post("/dossiers/events", json=[[[[[{"a": 1}]]]]], headers=h)
    assert nested.status_code == 200 and nested.json()["rejected"][0]["reason"] == "bad_shape"
    too_many = client.post("/dossiers/events", json=[{}] * 10_001, headers=h)
    assert too_many.status_code == 413 and "at most 10000" in too_many.json()["detail"]
    huge = client.post("/dossiers/events", content=b" " * (8 * 1024 * 1024 + 1), headers=h)
    assert huge.status_code == 413


def test_procedures_catalogue(client: TestClient, people, db: Conn) -> None:  # type: ignore[no-untyped-def]
    code = f"1.{secrets.token_hex(3)}"
    admin = people["admin"]
    r = client.put(f"/procedures/{code}", json={"name": "Đăng ký khai sinh", "processing_days": 3,
                                               "online_level": 4, "offered_by_post": True}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["name"] == "Đăng ký khai sinh"
    bulk = client.post("/procedures", json={"procedures": [
        {"code": f"{code}a", "name": "Cấp phiếu lý lịch tư pháp", "processing_days": 10},
        {"code": f"{code}b", "name": "Chứng thực chữ ký", "processing_days": 0, "agency": "UBND xã"}]},
        headers=admin.headers)
    assert bulk.status_code == 200 and bulk.json() == {"upserted": 2}
    assert client.put(f"/procedures/{code}", json={"name": "x", "processing_days": 3},
                      headers=people["operator"].headers).status_code == 403
    for bad in ({"name": "x", "processing_days": -1}, {"name": "", "processing_days": 1},
                {"name": "x", "processing_days": 1, "online_level": 7}, {"name": "x", "processing_days": "ba"},
                {"name": "x" * 1001, "processing_days": 1}, {"name": "x", "processing_days": 1, "extra": True}):
        r = client.put(f"/procedures/{code}", json=bad, headers=admin.headers)
        assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM), bad
    assert client.put("/procedures/'; DROP TABLE procedures; --", json={"name": "x", "processing_days": 1},
                      headers=admin.headers).status_code in (404, 422)
    dup = client.post("/procedures", json={"procedures": [{"code": "X1", "name": "a", "processing_days": 1}] * 2},
                      headers=admin.headers)
    assert dup.status_code == 422
    listed = client.get("/procedures", params={"limit": 500}, headers=people["integration"].headers).json()
    assert code in [p["code"] for p in listed["items"]]
    audit = db.execute("SELECT action, target, status FROM audit_log WHERE actor = %s ORDER BY id",
                       (admin.username,)).fetchall()
    assert ("PUT /procedures/{code}", f"procedure:{code}", 200) in audit
    assert ("POST /procedures", "procedures", 200) in audit


def test_dossiers_by_state_and_one_dossier(client: TestClient, people, db: Conn) -> None:  # type: ignore[no-untyped-def]
    cat = make_catalog(db)
    client.post("/dossiers/events", json=events(cat)[:3], headers=people["integration"].headers)
    one = client.get(f"/dossiers/{cat.did(1)}", headers=people["leader"].headers).json()
    assert one["due_date"] == "2025-02-04"  # 2 business days after Friday 24/01/2025: Mon 3, Tue 4 Feb (Tết)
    assert one["status"] == "resolved_on_time" and one["procedure_name"] == "Cấp bản sao trích lục hộ tịch"
    overdue = client.get("/dossiers", params={"state": "overdue", "unit": cat.unit},
                         headers=people["operator"].headers).json()["items"]
    assert [d["id"] for d in overdue] == [cat.did(2)] and overdue[0]["overdue"] is True
    assert client.get("/dossiers/NO-SUCH", headers=people["operator"].headers).status_code == 404
    assert client.get("/dossiers", params={"state": "lost"}, headers=people["operator"].headers).status_code == 422


def test_calendar_endpoints(client: TestClient, people) -> None:  # type: ignore[no-untyped-def]
    h = people["integration"].headers
    cal = client.get("/dossiers/calendar", params={"year": 2026}, headers=h).json()
    assert cal["lunar_new_year"] == "2026-02-17" and cal["status"] == "official"
    assert {"date": "2026-08-22", "name": "Làm bù cho ngày nghỉ 31/08/2026"} in cal["working_days"]
    assert "2026-02-19" in [d["date"] for d in cal["days_off"]]
    due = client.get("/dossiers/calendar/due", params={"received_at": "2026-02-13T09:00:00+07:00", "days": 2},
                     headers=h).json()
    assert due == {"received_date": "2026-02-13", "days": 2, "due_date": "2026-02-24"}
    naive = client.get("/dossiers/calendar/due", params={"received_at": "2026-02-13T09:00:00", "days": 2},
                       headers=h)
    assert naive.status_code == 422 and "received_at" in naive.json()["detail"]


def test_kpis_endpoint(client: TestClient, people, db: Conn) -> None:  # type: ignore[no-untyped-def]
    cat = make_catalog(db)
    client.post("/dossiers/events", json=events(cat)[:3], headers=people["integration"].headers)
    r = client.get("/kpis/dossiers", params={"level": "unit", "period": "month", "from": "2025-01-01",
                                             "to": "2025-02-28", "code": cat.unit}, headers=people["leader"].headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["level"], body["period"], body["from"], body["to"]) == ("unit", "month", "2025-01-01", "2025-02-28")
    jan, feb = body["items"]
    assert (jan["code"], jan["name"], jan["period_start"]) == (cat.unit, f"UBND xã Tân Thành {cat.tag}", "2025-01-01")
    assert jan["received"] == {"online_l3": 1, "online_l4": 0, "counter": 1, "postal": 0, "total": 2}
    assert jan["online_share"] == 0.5 and jan["postal_receive_share"] == 0.0 and jan["on_time_rate"] is None
    assert (feb["resolved"], feb["resolved_on_time"], feb["on_time_rate"]) == (1, 1, 1.0)
    assert feb["open_overdue"] == 1  # dossier 2: 5 business days from 24/01 → due 07/02, still open
    for bad in ({"level": "county"}, {"period": "week"}, {"from": "2025-13-01"}, {"from": "2025-03-01",
                                                                                  "to": "2025-01-01"},
                {"from": "2015-01-01", "to": "2025-01-01"}):
        r = client.get("/kpis/dossiers", params=bad, headers=people["leader"].headers)
        assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM), bad
    district = client.get("/kpis/dossiers", params={"level": "district", "period": "year", "from": "2025-01-01",
                                                    "to": "2025-12-31"}, headers=people["leader"].headers).json()
    assert isinstance(district["notes"], list)
    assert client.get("/kpis/dossiers", headers=people["integration"].headers).status_code == 403
