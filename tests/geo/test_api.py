"""The geo API through the real app: sets, wards, assignment, crosswalk, map summaries (devices and readings from the
rollups), ETag caching, exports re-opened with geopandas, the PNG choropleth, uploads, and refusals."""

from __future__ import annotations

import importlib
import io
import json
import secrets
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from PIL import Image

from api.map_layers import SOURCES
from geo import service
from ops_center.db import Conn
from ops_center.readings import ReadingsStore
from tests.geo.dbsupport import HANOI, add_device, camau, grid_set, uid, unit_row  # noqa: F401

pytestmark = pytest.mark.usefixtures("camau")
ICT = timezone(timedelta(hours=7))


@pytest.fixture(scope="module")
def staff(login) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return login("leader").headers  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def admin_h(admin) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return admin.headers  # type: ignore[no-any-return]


def _first_unit(db: Conn, set_name: str, level: str = "ward", offset: int = 0) -> dict[str, Any]:
    row = db.execute("SELECT code FROM boundary_units WHERE set_name = %s AND level = %s ORDER BY code "
                     "OFFSET %s LIMIT 1", (set_name, level, offset)).fetchone()
    assert row is not None
    return unit_row(db, set_name, level, row[0])


def _features(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["properties"]["code"]: f for f in body["features"]}


def _check_geojson(body: dict[str, Any], n: int) -> None:
    assert body["type"] == "FeatureCollection" and len(body["features"]) == n
    for f in body["features"]:
        assert f["type"] == "Feature" and f["geometry"]["type"] in ("Polygon", "MultiPolygon")
        g = shapely.geometry.shape(f["geometry"])
        assert g.is_valid and not g.is_empty and f["id"] == f["properties"]["code"]


# ---------------------------------------------------------------------- sets, wards, assign, crosswalk


def test_sets_say_which_is_in_force(client: TestClient, staff: dict[str, str]) -> None:
    r = client.get("/geo/sets", headers=staff)
    assert r.status_code == 200
    sets = {s["name"]: s for s in r.json()["items"]}
    assert sets["camau-2025"]["in_force"] and not sets["camau-2019"]["in_force"]
    assert sets["camau-2019"]["levels"] == {"ward": 101, "district": 9}
    assert sets["camau-2019"]["valid_to"] == "2025-06-30"
    one = client.get("/geo/sets/camau-2025", headers=staff).json()
    assert one["report"]["ward"]["features"] == 64
    assert client.get("/geo/sets/nope", headers=staff).status_code == 404
    assert client.get("/geo/sets/DROP TABLE", headers=staff).status_code == 422


def test_wards_geojson_keeps_vietnamese_names_and_districts(client: TestClient, staff: dict[str, str]) -> None:
    r = client.get("/geo/wards", params={"set": "camau-2019", "level": "district"}, headers=staff)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    body = json.loads(r.content.decode("utf-8"))
    _check_geojson(body, 9)
    names = {f["properties"]["name"] for f in body["features"]}
    assert "Thành phố Cà Mau" in names and all(unicodedata.is_normalized("NFC", n) for n in names)
    wards = client.get("/geo/wards", headers=staff).json()  # default: the set in force, wards
    assert wards["set"] == "camau-2025" and len(wards["features"]) == 64
    assert any(f["properties"]["name"].startswith("Phường ") for f in wards["features"])
    assert r.headers["etag"] and "max-age" in r.headers["cache-control"]


def test_simplify_preserves_topology_and_shrinks_the_answer(client: TestClient, staff: dict[str, str]) -> None:
    full = client.get("/geo/wards", params={"simplify": 0}, headers=staff)
    simple = client.get("/geo/wards", params={"simplify": 200}, headers=staff)
    assert len(simple.content) < 0.5 * len(full.content)
    geoms = [shapely.geometry.shape(f["geometry"]) for f in simple.json()["features"]]
    assert all(g.is_valid and not g.is_empty for g in geoms)
    # shared borders stay shared: no overlaps between neighbours beyond rounding
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection(np.array(geoms)[left[pairs]], np.array(geoms)[right[pairs]]))
    assert overlap.sum() < 1e-6 * sum(g.area for g in geoms)


def test_assign_endpoint(client: TestClient, staff: dict[str, str], db: Conn) -> None:
    w = _first_unit(db, "camau-2019")
    r = client.get("/geo/assign", params={"lon": w["rep_lon"], "lat": w["rep_lat"],
                                         "at": "2022-01-01T00:00:00+07:00"}, headers=staff)
    assert r.status_code == 200
    assert r.json()["set_name"] == "camau-2019" and r.json()["code"] == w["code"]
    assert r.json()["district_code"] == w["parent_code"]
    r = client.get("/geo/assign", params={"lon": HANOI[0], "lat": HANOI[1]}, headers=staff)
    assert r.json()["status"] == "outside" and r.json()["code"] is None and r.json()["distance_m"] is None
    bad = client.get("/geo/assign", params={"lon": 500, "lat": 9}, headers=staff)
    assert bad.status_code == 422 and "lon" in bad.json()["detail"]
    naive = client.get("/geo/assign", params={"lon": 105, "lat": 9, "at": "2022-01-01T00:00:00"}, headers=staff)
    assert naive.status_code == 422 and "at:" in naive.json()["detail"]


def test_crosswalk_endpoint(client: TestClient, staff: dict[str, str]) -> None:
    r = client.get("/geo/crosswalk", params={"from": "camau-2019", "to": "camau-2025"}, headers=staff)
    assert r.status_code == 200
    body = r.json()
    assert len(body["items"]) == 101 and body["stats"]["to_units"] == 64
    for item in body["items"]:
        if item["covered"] > 0:
            assert abs(sum(t["fraction"] for t in item["to"]) - 1.0) < 0.01
        assert item["from_name"]
    d = client.get("/geo/crosswalk", params={"from": "camau-2019", "from_level": "district", "to": "camau-2025"},
                   headers=staff).json()
    assert len(d["items"]) == 9
    assert client.get("/geo/crosswalk", params={"from": "x-none", "to": "camau-2025"},
                      headers=staff).status_code == 404
    bad = client.get("/geo/crosswalk", params={"from": "'; drop table x", "to": "camau-2025"}, headers=staff)
    assert bad.status_code == 422 and "set:" in bad.json()["detail"]


# ---------------------------------------------------------------------- summaries


WINDOW = {"from": "2025-08-03T00:00:00+07:00", "to": "2025-08-05T00:00:00+07:00"}


def _readings(db: Conn, device: str, start: datetime, values: dict[str, list[float]], step_s: int = 600) -> None:
    rows = [(start.timestamp() + i * step_s, device, metric, v)
            for metric, vals in values.items() for i, v in enumerate(vals)]
    ReadingsStore.for_connection(db).write_batch(db, rows)


def test_a_device_with_readings_shows_up_in_its_wards_summary(client: TestClient, staff: dict[str, str],
                                                              db: Conn) -> None:
    w19 = _first_unit(db, "camau-2019", offset=7)
    ref = service.assign_in_set(db, "camau-2025", w19["rep_lon"], w19["rep_lat"])
    assert ref.status == "inside" and ref.code
    w = {"code": ref.code, "name": ref.name}
    dev = add_device(db, w19["rep_lon"], w19["rep_lat"])
    start = datetime(2025, 8, 3, 22, 0, tzinfo=ICT)  # crosses local midnight: hourly + daily rollups
    _readings(db, dev, start, {"salinity_ppt": [3.5, 11.25, 7.0, 9.5],
                               "water_level_cm": [120.0, 180.5, 140.0],
                               "rain_mm": [0.5, 1.25, 2.0, 0.25, 4.0]}, step_s=3000)
    _readings(db, dev, datetime(2025, 8, 10, tzinfo=ICT), {"salinity_ppt": [40.0]})  # outside the window
    r = client.get("/map/summary", params={**WINDOW, "set": "camau-2025"}, headers=staff)
    assert r.status_code == 200, r.text
    body = json.loads(r.content.decode("utf-8"))
    _check_geojson(body, 64)
    assert body["set"]["name"] == "camau-2025" and body["set"]["level"] == "ward"
    assert body["window"] == {"from": "2025-08-03T00:00:00+07:00", "to": "2025-08-05T00:00:00+07:00"}
    assert "devices" in body["layers"] and "sensors" in body["layers"]
    p = _features(body)[w["code"]]["properties"]
    assert p["name"] == w["name"] and p["devices"]["total"] >= 1 and p["devices"]["online"] >= 1
    assert p["salinity_ppt_max"] == 11.25
    assert p["water_level_cm_max"] == 180.5
    assert p["rain_mm_total"] == pytest.approx(8.0)
    assert p["salinity_ppt_latest"] is not None and p["latest_reading_at"]
    # a narrower window (hourly rollups only)
    r = client.get("/map/summary", params={"set": "camau-2025", "layers": "sensors",
                                           "from": "2025-08-03T22:00:00+07:00", "to": "2025-08-03T23:00:00+07:00"},
                   headers=staff)
    p = _features(r.json())[w["code"]]["properties"]
    assert p["salinity_ppt_max"] == 11.25 and p["rain_mm_total"] == pytest.approx(1.75)
    assert "devices" not in p
    # the same device counted in the 2019 set, by district
    r = client.get("/map/summary", params={**WINDOW, "set": "camau-2019", "level": "district"}, headers=staff)
    body19 = r.json()
    _check_geojson(body19, 9)
    dist = _features(body19)[w19["parent_code"]]["properties"]
    assert dist["salinity_ppt_max"] == 11.25 and dist["devices"]["total"] >= 1
    assert dist["name"] == w19_district_name(db, w19["parent_code"]) and dist["district_code"] is None
    db.execute("UPDATE devices SET enabled = false WHERE id = %s", (dev,))


def w19_district_name(db: Conn, code: str) -> str:
    return str(unit_row(db, "camau-2019", "district", code)["name"])


def test_a_device_registered_through_the_api_gets_its_ward_and_shows_up(client: TestClient, login, db: Conn,  # type: ignore[no-untyped-def]
                                                                       staff: dict[str, str]) -> None:
    w = _first_unit(db, "camau-2025", offset=11)
    op = login("operator").headers
    dev = uid("geo-api")
    r = client.post("/devices", json={"id": dev, "kind": "water_level", "name": "Trạm mực nước Sông Đốc",
                                      "lon": w["rep_lon"], "lat": w["rep_lat"]}, headers=op)
    assert r.status_code == 201, r.text
    row = db.execute("SELECT ward_set, ward_code, ward_status FROM devices WHERE id = %s", (dev,)).fetchone()
    assert row == ("camau-2025", w["code"], "inside")
    db.execute("UPDATE devices SET last_seen = now() WHERE id = %s", (dev,))
    start = datetime(2025, 8, 4, 9, 0, tzinfo=ICT)
    _readings(db, dev, start, {"water_level_cm": [55.0, 77.25, 60.0]})
    r = client.get("/map/summary", params={**WINDOW, "layers": "devices,sensors"}, headers=staff)
    p = _features(r.json())[w["code"]]["properties"]
    assert p["devices"]["total"] >= 1 and p["devices"]["online"] >= 1
    assert p["water_level_cm_max"] == 77.25
    db.execute("UPDATE devices SET enabled = false WHERE id = %s", (dev,))


def test_stale_devices_are_counted_apart(client: TestClient, staff: dict[str, str], db: Conn) -> None:
    w = _first_unit(db, "camau-2025", offset=20)
    before = _features(client.get("/map/summary", params={"layers": "devices"}, headers=staff).json())
    b = before[w["code"]]["properties"]["devices"]
    fresh = add_device(db, w["rep_lon"], w["rep_lat"], expected_interval_s=60)
    old = add_device(db, w["rep_lon"], w["rep_lat"], last_seen="now() - interval '1 hour'")
    never = add_device(db, w["rep_lon"], w["rep_lat"], last_seen=None)
    after = _features(client.get("/map/summary", params={"layers": "devices"}, headers=staff).json())
    a = after[w["code"]]["properties"]["devices"]
    assert a["total"] - b["total"] == 3 and a["online"] - b["online"] == 1 and a["stale"] - b["stale"] == 2
    assert "salinity_ppt_max" not in after[w["code"]]["properties"]
    db.execute("DELETE FROM devices WHERE id = ANY(%s)", ([fresh, old, never],))


def test_summary_etag_gives_304(client: TestClient, staff: dict[str, str]) -> None:
    params = {**WINDOW, "set": "camau-2019", "layers": "sensors", "simplify": 100}
    r = client.get("/map/summary", params=params, headers=staff)
    etag = r.headers["etag"]
    assert r.status_code == 200 and etag.startswith('"') and "private" in r.headers["cache-control"]
    again = client.get("/map/summary", params=params, headers={**staff, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    weak = client.get("/map/summary", params=params, headers={**staff, "If-None-Match": f'"x", W/{etag}'})
    assert weak.status_code == 304
    other = client.get("/map/summary", params=params, headers={**staff, "If-None-Match": '"stale"'})
    assert other.status_code == 200 and other.content == r.content


def test_other_domains_layers_are_absent_or_present_never_broken(client: TestClient,
                                                                 staff: dict[str, str]) -> None:
    layers = ",".join(["devices", *(name for name, *_ in SOURCES)])
    body = client.get("/map/summary", params={"layers": layers}, headers=staff).json()
    assert body["layers"][0] == "devices"
    for name, module, attr, _, _ in SOURCES:
        assert (name in body["layers"]) != (name in body["layers_unavailable"])
        try:
            present = callable(getattr(importlib.import_module(module), attr, None))
        except ImportError:
            present = False
        assert (name in body["layers"]) == present, (name, body["layers_unavailable"])
    props = body["features"][0]["properties"]
    if "alerts" in body["layers"]:
        assert set(props["alerts"]) == {"critical", "major", "minor", "info", "total"}
    if "incidents" in body["layers"]:
        assert isinstance(props["incidents_open"], int)
    if "dossiers" in body["layers"]:
        assert "dossier_on_time_rate" in props
    if "scorecard" in body["layers"]:
        assert "total" in props["scorecard"]
    if "warnings" in body["layers"]:
        assert isinstance(props["warnings_active"], int) and isinstance(props["warning_ids"], list)


@pytest.mark.parametrize(("params", "status", "field"), [
    ({"set": "camau'; DROP TABLE boundary_units; --"}, 422, "set:"),
    ({"set": "x" * 300}, 422, "query.set"),
    ({"set": "no-such-set"}, 404, "set:"),
    ({"set": "camau-2025", "level": "district"}, 404, "level:"),
    ({"level": "province"}, 422, "query.level"),
    ({"from": "2025-08-05T00:00:00+07:00", "to": "2025-08-03T00:00:00+07:00"}, 422, "to:"),
    ({"from": "2025-08-03T00:00:00", "to": "2025-08-05T00:00:00+07:00"}, 422, "from:"),
    ({"from": "2020-01-01T00:00:00+07:00", "to": "2025-01-01T00:00:00+07:00"}, 422, "exceeds"),
    ({"from": "yesterday"}, 422, "query.from"),
    ({"simplify": 1e9}, 422, "query.simplify"),
    ({"simplify": -1}, 422, "query.simplify"),
    ({"simplify": "nan"}, 422, "simplify"),
    ({"layers": "devices,foo"}, 422, "layers: 'foo'"),
    ({"layers": ","}, 422, "layers:"),
    ({"layers": "x" * 600}, 422, "query.layers"),
])
def test_summary_refuses_bad_queries_naming_the_field(client: TestClient, staff: dict[str, str],
                                                      params: dict[str, Any], status: int, field: str) -> None:
    r = client.get("/map/summary", params=params, headers=staff)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in r.json()["detail"]


def test_summary_needs_a_staff_role(client: TestClient, login) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/map/summary").status_code == 401
    integ = login("integration").headers
    r = client.get("/map/summary", headers=integ)
    assert r.status_code == 403
    assert client.get("/geo/export/wards.csv", headers=integ).status_code == 403


# ---------------------------------------------------------------------- exports and PNG


@pytest.mark.parametrize("fmt", ["geojson", "csv", "gpkg"])
def test_ward_exports_reopen_with_geopandas(client: TestClient, staff: dict[str, str], tmp_path: Path,
                                            fmt: str) -> None:
    r = client.get(f"/geo/export/wards.{fmt}", params={"set": "camau-2019"}, headers=staff)
    assert r.status_code == 200 and r.headers["etag"]
    assert f'filename="wards_camau-2019_ward.{fmt}"' in r.headers["content-disposition"]
    path = tmp_path / f"wards.{fmt}"
    path.write_bytes(r.content)
    frame = gpd.read_file(path)
    assert len(frame) == 101
    assert frame.geometry.notna().all() and frame.geometry.is_valid.all()
    names = set(frame["name"])
    assert "Phường 5" in names and any("Cà Mau" in str(n) for n in frame["parent_name"])
    assert {"code", "name", "unit_type", "parent_code", "area_km2"} <= set(frame.columns)


@pytest.mark.parametrize("fmt", ["csv", "gpkg", "geojson"])
def test_summary_exports_reopen_with_geopandas(client: TestClient, staff: dict[str, str], tmp_path: Path,
                                               fmt: str) -> None:
    r = client.get(f"/map/summary.{fmt}", params={**WINDOW, "set": "camau-2025"}, headers=staff)
    assert r.status_code == 200, r.text
    path = tmp_path / f"summary.{fmt}"
    path.write_bytes(r.content)
    frame = gpd.read_file(path)
    assert len(frame) == 64 and frame.geometry.is_valid.all()
    assert any(str(n).startswith("Phường ") for n in frame["name"])
    if fmt != "geojson":
        assert {"devices_total", "devices_online", "salinity_ppt_max", "window_from", "set_name"} <= set(frame.columns)
        assert (frame["set_name"] == "camau-2025").all()


def test_summary_png_is_a_real_map_of_the_province(client: TestClient, staff: dict[str, str]) -> None:
    r = client.get("/map/summary.png", params={**WINDOW, "layer": "salinity_ppt_max", "set": "camau-2019"},
                   headers=staff)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content[:8] == b"\x89PNG\r\n\x1a\n"
    img = Image.open(io.BytesIO(r.content)).convert("RGB")
    assert img.size[0] >= 1000 and img.size[1] >= 1000
    px = np.asarray(img).reshape(-1, 3)
    non_white = (px < 245).any(axis=1).mean()
    colours = len(np.unique(px[:: 7], axis=0))
    assert non_white > 0.15 and colours > 50
    again = client.get("/map/summary.png", params={**WINDOW, "layer": "salinity_ppt_max", "set": "camau-2019"},
                       headers={**staff, "If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    d = client.get("/map/summary.png", params={"layer": "devices_total", "level": "district", "set": "camau-2019"},
                   headers=staff)
    assert d.status_code == 200 and Image.open(io.BytesIO(d.content)).size[0] >= 1000


def test_png_and_export_refusals(client: TestClient, staff: dict[str, str]) -> None:
    r = client.get("/map/summary.png", params={"layer": "'; select 1"}, headers=staff)
    assert r.status_code == 422 and "layer:" in r.json()["detail"]
    assert client.get("/map/summary.exe", headers=staff).status_code == 404
    assert client.get("/geo/export/wards.shp", headers=staff).status_code == 404
    r = client.get("/geo/export/wards.csv", params={"set": "Robert'); DROP TABLE"}, headers=staff)
    assert r.status_code == 422


# ---------------------------------------------------------------------- upload


def _upload(client: TestClient, headers: dict[str, str], content: bytes, filename: str, **form: str):  # type: ignore[no-untyped-def]
    data = {"set": uid("up"), "level": "ward", "valid_from": "2000-01-01", "family": uid("fam"), **form}
    return client.post("/geo/import", data=data, files={"file": (filename, content, "application/geo+json")},
                       headers=headers)


def test_upload_imports_a_boundary_file(client: TestClient, admin_h: dict[str, str], staff: dict[str, str],
                                        tmp_path: Path, db: Conn) -> None:
    content = grid_set(tmp_path / "g.geojson", 3).read_bytes()
    name = uid("up")
    r = _upload(client, admin_h, content, "phường thử.geojson", set=name, description="Bộ thử nghiệm")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["units"] == 9 and body["report"]["features"] == 9 and body["report"]["file"] == "phường thử.geojson"
    assert "phường thử.geojson: 9 features" in body["summary"]
    audit = db.execute("SELECT target FROM audit_log WHERE target = %s", (f"boundary_set:{name}",)).fetchone()
    assert audit is not None
    w = client.get("/geo/wards", params={"set": name}, headers=staff).json()
    assert {f["properties"]["name"] for f in w["features"]} >= {"Phường Thử 1-1"}
    assert _upload(client, staff, content, "g.geojson").status_code == 403


@pytest.mark.parametrize(("content", "filename", "form", "status", "needle"), [
    (b'{"type": "FeatureCollection", "features": [{"type": "Feat', "broken.geojson", {}, 422, "broken.geojson"),
    (b"\x00\x01garbage" * 100, "x.gpkg", {}, 422, "x.gpkg"),
    (b"", "empty.geojson", {}, 422, "empty"),
    (b"{}", "x.exe", {}, 422, "must end in"),
    (b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"ward_code":"1"},'
     b'"geometry":{"type":"Point","coordinates":[105,9]}}]}', "pts.geojson", {}, 422, "ward_name"),
    (b'{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"ward_code":"1","ward_name":"A"},'
     b'"geometry":{"type":"Point","coordinates":[105,9]}}]}', "pts.geojson", {"type_field": "-"}, 422, "Point"),
    (None, "dup.geojson", {}, 422, "duplicate code"),
    (None, "g.geojson", {"code_field": "ma_xa"}, 422, "code_field 'ma_xa'"),
    (None, "g.geojson", {"set": "Bad Name'--"}, 422, "set:"),
    (None, "g.geojson", {"level": "province"}, 422, "level"),
    (None, "g.geojson", {"valid_from": "2025-13-01"}, 422, "valid_from"),
    (None, "g.geojson", {"valid_from": "2025-01-01", "valid_to": "2024-01-01"}, 422, "valid_to"),
    (None, "g.geojson", {"family": "admin", "valid_from": "2030-01-01"}, 409, "overlaps set 'camau-2025'"),
    (None, "g.geojson", {"description": "x" * 5000}, 422, "description"),
])
def test_upload_refuses_bad_files_and_values(client: TestClient, admin_h: dict[str, str], tmp_path: Path,
                                             db: Conn, content: bytes | None, filename: str, form: dict[str, str],
                                             status: int, needle: str) -> None:
    if content is None:
        content = grid_set(tmp_path / "g.geojson", 2).read_bytes()
        if filename == "dup.geojson":
            content = content.replace(b'"G01"', b'"G00"')
    before = db.execute("SELECT generation FROM boundary_sets WHERE name = 'camau-2025'").fetchone()
    r = _upload(client, admin_h, content, filename, **form)
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]
    after = db.execute("SELECT generation FROM boundary_sets WHERE name = 'camau-2025'").fetchone()
    assert before == after


def test_upload_refuses_oversized_files(client: TestClient, admin_h: dict[str, str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from api.routers import geo as geo_router

    monkeypatch.setattr(geo_router, "MAX_UPLOAD_BYTES", 4096)
    r = _upload(client, admin_h, b" " * 10_000, "big.geojson")
    assert r.status_code == 413 and "larger than" in r.json()["detail"]


def test_reassign_endpoint(client: TestClient, admin_h: dict[str, str], staff: dict[str, str], db: Conn) -> None:
    w = _first_unit(db, "camau-2025", offset=30)
    dev = add_device(db, w["rep_lon"], w["rep_lat"])
    r = client.post("/geo/devices/reassign", headers=admin_h)
    assert r.status_code == 200 and r.json()["set"] == "camau-2025" and r.json()["changed"] >= 1
    assert db.execute("SELECT ward_code FROM devices WHERE id = %s", (dev,)).fetchone() == (w["code"],)
    assert client.post("/geo/devices/reassign", headers=staff).status_code == 403
    bad = client.post("/geo/devices/reassign", params={"set": "x'--"}, headers=admin_h)
    assert bad.status_code == 422
    db.execute("DELETE FROM devices WHERE id = %s", (dev,))


def test_timestamps_in_the_window_are_local_hours(client: TestClient, staff: dict[str, str]) -> None:
    r = client.get("/map/summary", params={"from": "2025-08-03T10:20:00+00:00", "to": "2025-08-03T12:05:00+00:00",
                                           "layers": "devices"}, headers=staff)
    assert r.json()["window"] == {"from": "2025-08-03T17:00:00+07:00", "to": "2025-08-03T20:00:00+07:00"}
    now = datetime.now(UTC)
    d = client.get("/map/summary", params={"layers": "devices"}, headers=staff).json()["window"]
    to = datetime.fromisoformat(d["to"])
    assert timedelta(0) <= to - now <= timedelta(hours=1)
    assert to - datetime.fromisoformat(d["from"]) == timedelta(hours=24)


def test_registered_layers_plug_in_and_a_failing_one_is_reported(client: TestClient, staff: dict[str, str]) -> None:
    from geo.summary import register_layer, unregister_layer

    def good(conn: Conn, set_name: str, level: str, start: datetime, end: datetime) -> dict[str, Any]:
        first = conn.execute("SELECT min(code) FROM boundary_units WHERE set_name = %s AND level = %s",
                             (set_name, level)).fetchone()
        return {first[0]: {"pumps_running": 3}} if first else {}

    def bad(conn: Conn, set_name: str, level: str, start: datetime, end: datetime) -> dict[str, Any]:
        conn.execute("SELECT * FROM no_such_table")
        return {}

    register_layer("pumps", good, defaults={"pumps_running": 0})
    register_layer("broken", bad)
    try:
        r = client.get("/map/summary", params={**WINDOW, "layers": "broken,pumps,sensors"}, headers=staff)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["layers"] == ["pumps", "sensors"] and body["layers_unavailable"] == ["broken"]
        values = sorted(f["properties"]["pumps_running"] for f in body["features"])
        assert values[-1] == 3 and values[0] == 0
    finally:
        unregister_layer("pumps")
        unregister_layer("broken")
    with pytest.raises(ValueError, match="built in"):
        register_layer("devices", good)


def test_upload_with_hostile_content(client: TestClient, admin_h: dict[str, str], staff: dict[str, str],
                                     tmp_path: Path) -> None:
    square = {"type": "Polygon", "coordinates": [[[100, 10], [100.01, 10], [100.01, 10.01], [100, 10.01], [100, 10]]]}
    sql_name = "Xã '); DROP TABLE boundary_units; --"
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"ward_code": "S1", "ward_name": sql_name, "unit_type": "Xã",
                                           "extra": {"a": [[[[[{"b": 1}]]]]]}}, "geometry": square}]}
    name = uid("up")
    r = _upload(client, admin_h, json.dumps(doc, ensure_ascii=False).encode(), "sql.geojson", set=name)
    assert r.status_code == 201, r.text
    w = client.get("/geo/wards", params={"set": name}, headers=staff).json()
    assert [f["properties"]["name"] for f in w["features"]] == [sql_name]
    # deeply nested JSON: refused with the file named, no crash
    deep = b'{"type": "FeatureCollection", "features": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    r = _upload(client, admin_h, deep, "deep.geojson")
    assert r.status_code == 422 and "deep.geojson" in r.json()["detail"]
    # wrong types: a code that is an object, a geometry that is a string, a date that is not one
    bad = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"ward_code": {"x": 1}, "ward_name": ["a"]}, "geometry": square}]}
    r = _upload(client, admin_h, json.dumps(bad).encode(), "types.geojson", type_field="-")
    assert r.status_code == 422 and "code: \"{'x': 1}\" of feature 0 in types.geojson" in r.json()["detail"]
    long_name = json.loads(json.dumps(doc))
    long_name["features"][0]["properties"]["ward_name"] = "Xã " + "a" * 10_000
    r = _upload(client, admin_h, json.dumps(long_name).encode(), "long.geojson")
    assert r.status_code == 422 and "name: " in r.json()["detail"] and "too long" in r.json()["detail"]
    r = _upload(client, admin_h, json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"ward_code": "1", "ward_name": "A"}, "geometry": "POLYGON"}]}).encode(),
        "geomstr.geojson")
    assert r.status_code == 422 and "geomstr.geojson" in r.json()["detail"]
    r = _upload(client, admin_h, json.dumps(doc).encode(), "sql.geojson", valid_from="yesterday")
    assert r.status_code == 422 and "valid_from" in r.json()["detail"]


def test_the_default_set_is_the_one_in_force_at_the_end_of_the_window(client: TestClient,
                                                                       staff: dict[str, str]) -> None:
    old = client.get("/map/summary", params={"from": "2021-03-01T00:00:00+07:00", "to": "2021-03-02T00:00:00+07:00",
                                             "layers": "devices"}, headers=staff).json()
    assert old["set"]["name"] == "camau-2019" and len(old["features"]) == 101
    assert old["set"]["valid_to"] == "2025-06-30"
    edge = client.get("/map/summary", params={"from": "2025-06-30T12:00:00+07:00", "to": "2025-07-01T00:00:00+07:00",
                                              "layers": "devices"}, headers=staff).json()
    assert edge["set"]["name"] == "camau-2019"
    after = client.get("/map/summary", params={"from": "2025-06-30T12:00:00+07:00",
                                               "to": "2025-07-01T01:00:00+07:00", "layers": "devices"},
                       headers=staff).json()
    assert after["set"]["name"] == "camau-2025" and len(after["features"]) == 64
    none = client.get("/map/summary", params={"from": "1990-01-01T00:00:00+07:00", "to": "1990-01-02T00:00:00+07:00"},
                      headers=staff)
    assert none.status_code == 404 and "no boundary set" in none.json()["detail"]


def test_devices_placed_by_the_simulator_show_up_in_their_wards_summary(client: TestClient, staff: dict[str, str],
                                                                        db: Conn, settings) -> None:  # type: ignore[no-untyped-def]
    from ingest.simulator.fleet import generate_fleet
    from ingest.simulator.geography import load_geography

    geography = load_geography(settings.data_dir / "camau" / "wards_2025.geojson")
    prefix = f"gs{secrets.token_hex(2)}"
    fleet = generate_fleet(geography, 24, seed=11, prefix=prefix)
    for d in fleet:
        db.execute("INSERT INTO devices (id, kind, name, lon, lat, last_seen, expected_interval_s) "
                   "VALUES (%s, %s, %s, %s, %s, now(), %s)", (d.id, d.kind, d.name, d.lon, d.lat,
                                                              d.expected_interval_s))
    salinity = next(d for d in fleet if "salinity_ppt" in d.metrics)
    _readings(db, salinity.id, datetime(2025, 8, 4, 3, 0, tzinfo=ICT), {"salinity_ppt": [1.5, 33.75, 2.0]})
    r = client.get("/map/summary", params={**WINDOW, "set": "camau-2025"}, headers=staff)
    feats = _features(r.json())
    expected: dict[str, int] = {}
    for d in fleet:
        expected[d.ward_code] = expected.get(d.ward_code, 0) + 1
    for code, n in expected.items():
        assert feats[code]["properties"]["devices"]["total"] >= n, code
    p = feats[salinity.ward_code]["properties"]
    assert p["name"] == salinity.ward_name and p["salinity_ppt_max"] >= 33.75
    db.execute("DELETE FROM devices WHERE id = ANY(%s)", ([d.id for d in fleet],))
