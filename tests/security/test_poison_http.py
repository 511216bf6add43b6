"""Issue 11, item 1 over HTTP: what PostgreSQL cannot store is refused before the write on every HTTP write path,
with a 422 problem+json naming the field and the value (Open311 answers in its standard's error shape); hostile and
oversized bodies never reach the database as a 500. The dossier batch endpoint refuses the bad events only (one dead
letter for the batch) and stores the rest.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ops_center.db import Conn

NUL = "a\x00b"
SURROGATE = "x\ud800y"


def body(doc: Any) -> bytes:
    """JSON as a client may send it: NaN literals, lone surrogates escaped (what ``json.dumps`` writes)."""
    return json.dumps(doc).encode()


def problem(r: Any, status: int, *fragments: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    doc: dict[str, Any] = r.json()
    text = json.dumps(doc)
    for f in fragments:
        assert f in text, (f, doc)
    return doc


def post(client: TestClient, who: Any, path: str, doc: Any, method: str = "POST") -> Any:
    return client.request(method, path, headers={**who.headers, "Content-Type": "application/json"}, content=body(doc))


@pytest.fixture(scope="module")
def category(client: TestClient, admin) -> str:  # type: ignore[no-untyped-def]
    code = f"poison_{secrets.token_hex(3)}"
    r = client.put(f"/incidents/categories/{code}", headers=admin.headers,
                   json={"label_vi": "Thử", "label_en": "Test", "default_severity": "minor", "sla_hours": 4})
    assert r.status_code == 200, r.text
    return code


INCIDENT_FIELDS = [("title", NUL, "NUL"), ("title", SURROGATE, "ud800"),
                   ("description", NUL, "NUL"), ("address", SURROGATE, "ud800"),
                   ("reporter", {"name": NUL}, "NUL"), ("reporter", {"email": "a\x00@b.vn"}, "NUL"),
                   ("lon", float("nan"), "lon"), ("lat", float("inf"), "lat"),
                   ("title", "x" * 5000, "200"), ("reported_at", "0001-01-01T00:00:00+14:00", "reported_at")]


@pytest.mark.parametrize(("field", "value", "fragment"), INCIDENT_FIELDS,
                         ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(INCIDENT_FIELDS)])
def test_incident_reports(client: TestClient, admin, category: str, field: str, value: Any,  # type: ignore[no-untyped-def]
                          fragment: str) -> None:
    doc = {"title": "Ngập đường", "category": category, "lon": 105.15, "lat": 9.18, field: value}
    problem(post(client, admin, "/incidents", doc), 422, field, fragment)


def test_incident_notes_comments_and_categories(client: TestClient, admin, category: str) -> None:  # type: ignore[no-untyped-def]
    r = post(client, admin, "/incidents", {"title": "Cây đổ", "category": category, "lon": 105.15, "lat": 9.18})
    assert r.status_code == 201, r.text
    incident = r.json()["id"]
    problem(post(client, admin, f"/incidents/{incident}/comments", {"text": NUL}), 422, "text", "NUL", r"a\u0000b")
    problem(post(client, admin, f"/incidents/{incident}/transition", {"to": "in_progress", "note": SURROGATE}), 422,
            "note", "ud800")
    problem(post(client, admin, f"/incidents/categories/{category}", {
        "label_vi": NUL, "label_en": "x", "default_severity": "minor", "sla_hours": 1}, "PUT"), 422, "label_vi", "NUL")
    assert post(client, admin, f"/incidents/{incident}/comments", {"text": "Đã cử đội xử lý"}).status_code == 201


def test_open311_requests(client: TestClient, admin, category: str) -> None:  # type: ignore[no-untyped-def]
    key = client.post("/api-keys", headers=admin.headers, json={"name": f"k{secrets.token_hex(3)}",
                                                                 "role": "integration"}).json()["key"]
    form = {"api_key": key, "service_code": category, "lat": "9.18", "long": "105.15"}
    for name, value in (("description", NUL), ("first_name", NUL), ("address_string", "\x00" * 10)):
        r = client.post("/open311/v2/requests.json", data={**form, name: value})
        assert r.status_code == 400, r.text
        [err] = r.json()
        assert err["code"] == 400 and name in err["description"] and "NUL" in err["description"]
        assert "\\x00" in err["description"]  # the value, escaped
    for name, value in (("lat", "nan"), ("long", "inf"), ("lat", "1e999")):
        r = client.post("/open311/v2/requests.json", data={**form, name: value})
        assert r.status_code == 400 and name in r.json()[0]["description"], r.text
    raw = b"api_key=" + key.encode() + b"&service_code=" + category.encode() + b"&lat=9.18&long=105.15" \
          b"&description=%ED%A0%80%00"  # an encoded surrogate and a NUL
    r = client.post("/open311/v2/requests.json", content=raw,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and "description" in r.json()[0]["description"], r.text
    ok = client.post("/open311/v2/requests.json", data={**form, "description": "Cống bị tắc, nước tràn lên đường"})
    assert ok.status_code == 200, ok.text


def test_dossier_batch_isolates_the_bad_events(client: TestClient, admin, db: Conn) -> None:  # type: ignore[no-untyped-def]
    unit, proc = f"U-{secrets.token_hex(3)}".upper(), f"P-{secrets.token_hex(3)}"
    db.execute("INSERT INTO units (code, name, level) VALUES (%s, 'UBND', 'commune')", (unit,))
    db.execute("INSERT INTO procedures (code, name, processing_days) VALUES (%s, 'Thủ tục', 3)", (proc,))
    good = {"type": "received", "at": "2025-07-01T08:00:00+07:00", "channel": "counter", "procedure": proc,
            "unit": unit}
    events = [dict(good, dossier_id=f"{unit}-1"), dict(good, dossier_id=f"{unit}-2", **{"x\x00": 1}),
              dict(good, dossier_id=f"{unit}-3", channel=SURROGATE), dict(good, dossier_id=NUL),
              dict(good, dossier_id=f"{unit}-5")]
    r = post(client, admin, "/dossiers/events", events)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["accepted"] == 2 and [(x["index"], x["reason"]) for x in out["rejected"]] == [
        (1, "unstorable"), (2, "unstorable"), (3, "unstorable")]
    assert "NUL" in out["rejected"][0]["detail"] and r"'x\x00'" in out["rejected"][0]["detail"]
    rows = db.execute("SELECT reason_count, reasons, payload FROM dead_letters WHERE topic = 'http:/dossiers/events' "
                      "AND reasons @> %s::jsonb ORDER BY id DESC LIMIT 1",
                      (json.dumps([{"field": "[1]['x\\x00']"}]),)).fetchall()
    assert len(rows) == 1 and rows[0][0] == 3
    assert len(json.loads(bytes(rows[0][2]).decode())) == 3  # the refused events, kept for a replay
    assert db.execute("SELECT count(*) FROM dossiers WHERE unit_code = %s", (unit,)).fetchone() == (2,)


def test_dossier_batch_hostile_bodies(client: TestClient, admin) -> None:  # type: ignore[no-untyped-def]
    h = {**admin.headers, "Content-Type": "application/json"}
    nan = client.post("/dossiers/events", headers=h, content=b'[{"type": "resolved", "dossier_id": "d", "at": NaN}]')
    assert nan.status_code == 200 and nan.json()["rejected"][0]["reason"] == "unstorable", nan.text
    problem(client.post("/dossiers/events", headers=h, content=b"[" * 100_000 + b"]" * 100_000), 400, "body")
    problem(client.post("/dossiers/events", headers=h, content=b"\x00" * 64), 400, "body")
    problem(client.post("/dossiers/events", headers=h, content=b" " * (8 * 1024 * 1024 + 1)), 413, "body")


def test_procedures_devices_units_and_alert_configuration(client: TestClient, admin) -> None:  # type: ignore[no-untyped-def]
    problem(post(client, admin, "/procedures/P-X", {"name": NUL, "processing_days": 1}, "PUT"), 422, "name", "NUL")
    problem(post(client, admin, "/procedures", {"procedures": [{"code": "P-Y", "name": "ok", "processing_days": 1,
                                                               "agency": SURROGATE}]}), 422, "agency", "ud800")
    dev = {"id": f"pd-{secrets.token_hex(3)}", "kind": "rain", "name": "Trạm mưa"}
    problem(post(client, admin, "/devices", dict(dev, metadata={"k\x00": 1})), 422, "metadata", "NUL")
    problem(post(client, admin, "/devices", dict(dev, metadata={"n": float("nan")})), 422, "metadata")
    problem(post(client, admin, "/devices", dict(dev, metadata={"n": 10**30})), 422, "metadata.n", "too large")
    problem(post(client, admin, "/devices", dict(dev, name=SURROGATE)), 422, "name", "ud800")
    problem(post(client, admin, "/units", {"code": f"U{secrets.token_hex(3)}", "name": NUL, "level": "commune"}),
            422, "name", r"a\\x00b")
    problem(post(client, admin, "/alert-rules", {"name": NUL, "kind": "threshold", "metric": "rain_mm",
                                                 "op": ">", "value": 50}), 422, "NUL")
    problem(post(client, admin, "/silences", {"matchers": [{"name": "ward", "value": SURROGATE}],
                                              "comment": "x", "ends_at": "2099-01-01T00:00:00Z"}), 422, "surrogate")
    yaml_nul = b'rules:\n  - name: "m\\0a"\n    kind: threshold\n    metric: rain_mm\n    op: ">"\n    value: 50\n'
    r = client.post("/alert-rules/import", headers={**admin.headers, "Content-Type": "application/yaml"},
                    content=yaml_nul)
    problem(r, 422, "rules[0].name", "NUL")


@pytest.mark.parametrize(("column", "value", "fragment"), [
    ("ward_name", "Phường\x001", "NUL"), ("ward_code", "32\ud80001", "surrogate"), ("unit_type", "Xã\x00", "NUL")])
def test_boundary_imports_refuse_unstorable_text_attributes(column: str, value: str, fragment: str) -> None:
    import geopandas as gpd
    from shapely.geometry import box

    from geo.boundaries import BoundaryError, boundaries_from_frame

    row = {"ward_code": "32001", "ward_name": "Phường 1", "unit_type": "Phường", column: value}
    frame = gpd.GeoDataFrame([row], geometry=[box(105.1, 9.1, 105.2, 9.2)], crs="EPSG:4326")
    with pytest.raises(BoundaryError) as err:
        boundaries_from_frame(frame, source="upload.geojson")
    assert column in str(err.value) and fragment in str(err.value) and "feature 0" in str(err.value)
