"""The drill-down routes through the real app and database: device overview, charts from the rollups, status
history, a device's alerts and incidents, map markers in either boundary set, ward detail for the 2019 and 2025
sets, leaders' trends with the same month a year earlier."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from alerts.rule_changes import create_rule
from alerts.rules.models import parse_rule
from ops_center.devices.service import record_status
from ops_center.incidents.service import from_device_event
from ops_center.readings import ORIGIN, ReadingsStore
from tests.dossiers.conftest import make_catalog, t
from tests.live.conftest import add_device, fire_alert, some_ward, tag


@pytest.fixture
def device(db, camau):  # type: ignore[no-untyped-def]
    """A salinity sensor in a ward of the set in force, with 3 days of one-minute readings ending now."""
    dev = f"sal-{tag()}"
    ward19 = some_ward(db, "camau-2019", 20)  # a place in old Cà Mau, so it lies in a ward of both sets
    add_device(db, dev, ward19)
    code = db.execute("SELECT ward_code FROM devices WHERE id = %s", (dev,)).fetchone()[0]
    name = db.execute("SELECT name FROM boundary_units WHERE set_name = %s AND level = 'ward' AND code = %s",
                      (camau, code)).fetchone()[0]
    ward = {"code": code, "name": name}
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    rows = [((now - timedelta(minutes=i)).timestamp(), dev, "salinity_ppt", 2.0 + (i % 60) / 10) for i in
            range(3 * 1440)]
    store = ReadingsStore.for_connection(db)
    with db.transaction():
        store.write_batch(db, rows)
    return {"id": dev, "ward": ward, "ward19": ward19, "rows": rows, "now": now}


def expected_band(rows, interval: timedelta, start: datetime, end: datetime):  # type: ignore[no-untyped-def]
    groups: dict[datetime, list[float]] = defaultdict(list)
    for ts, _d, _m, v in rows:
        at = datetime.fromtimestamp(ts, UTC)
        if start <= at < end:
            groups[ORIGIN + math.floor((at - ORIGIN) / interval) * interval].append(v)
    return groups


def test_device_series_from_rollups_and_raw(client, admin, device) -> None:  # type: ignore[no-untyped-def]
    h = admin.headers
    start = device["now"] - timedelta(hours=30)
    end = device["now"] + timedelta(minutes=1)
    r = client.get(f"/devices/{device['id']}/series", headers=h,
                   params={"from": start.isoformat(), "to": end.isoformat(), "metric": "salinity_ppt"})
    assert r.status_code == 200, r.text
    chart = r.json()
    assert chart["source"] == "raw" and chart["interval_s"] == 300 and chart["devices"] == 1
    s = chart["series"][0]
    want = expected_band(device["rows"], timedelta(minutes=5), start, end)
    assert [datetime.fromtimestamp(x, UTC) for x in s["t"]] == sorted(want)
    for i, b in enumerate(sorted(want)):
        assert s["count"][i] == len(want[b]) and s["min"][i] == min(want[b]) and s["max"][i] == max(want[b])
        assert s["mean"][i] == pytest.approx(sum(want[b]) / len(want[b]))
    assert s["unit"] == "ppt"
    for rng, interval, source in (("7d", 3600, "hourly"), ("30d", 3600, "hourly"), ("365d", 43200, "hourly")):
        r = client.get(f"/devices/{device['id']}/series", headers=h, params={"range": rng})
        assert r.status_code == 200, r.text
        chart = r.json()
        assert (chart["interval_s"], chart["source"]) == (interval, source)
        got = {m["metric"]: m for m in chart["series"]}
        assert sum(got["salinity_ppt"]["count"]) == 3 * 1440  # every reading, from the rollup
        assert "water_temperature_c" in got and got["water_temperature_c"]["t"] == []  # the kind's other metric


def test_series_refuses_bad_windows(client, admin, device) -> None:  # type: ignore[no-untyped-def]
    url = f"/devices/{device['id']}/series"
    cases = [({"range": "24h", "from": "2025-01-01T00:00:00+07:00"}, "range"),
             ({"from": "2025-01-02T00:00:00", "to": "2025-01-03T00:00:00+07:00"}, "from"),
             ({"from": "2025-01-02T00:00:00+07:00", "to": "2025-01-01T00:00:00+07:00"}, "to"),
             ({"from": "2020-01-01T00:00:00+07:00", "to": "2025-01-01T00:00:00+07:00"}, "to"),
             ({"range": "30d", "interval_s": "60"}, "interval_s"),
             ({"range": "1y"}, "query.range"),
             ({"metric": "Salinity; DROP"}, "query.metric.0")]
    for params, field in cases:
        r = client.get(url, headers=admin.headers, params=params)
        assert r.status_code == 422, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body.get("field") == field or any(e["field"] == field for e in body.get("errors", [])), body
    r = client.get("/devices/no-such-device/series", headers=admin.headers)
    assert r.status_code == 404 and r.json()["field"] == "device_id"


def test_overview_thresholds_latest_and_counts(client, admin, db, device) -> None:  # type: ignore[no-untyped-def]
    other = f"other-{tag()}"
    with db.transaction():
        mine = create_rule(db, parse_rule({"kind": "threshold", "name": f"Mặn > 4‰ {device['id']}",
                                           "severity": "major", "metric": "salinity_ppt", "operator": ">",
                                           "value": 4.0, "clear": 3.5, "scope": {"device": device["id"]}}), "t")
        create_rule(db, parse_rule({"kind": "threshold", "name": f"Mặn > 1‰ {other}", "metric": "salinity_ppt",
                                    "operator": ">", "value": 1.0, "scope": {"device": other}}), "t")
    fire_alert(db, device["ward"]["code"], "Độ mặn vượt ngưỡng", "major", device=device["id"])
    with db.transaction():
        from_device_event(db, device["id"], "flood.detected", "critical", "Ngập 35 cm", datetime.now(UTC),
                          None, None)
    r = client.get(f"/devices/{device['id']}/overview", headers=admin.headers)
    assert r.status_code == 200, r.text
    o = r.json()
    assert o["device"]["id"] == device["id"] and o["kind_label_vi"] == "Trạm đo độ mặn"
    assert o["metrics"][:2] == ["salinity_ppt", "water_temperature_c"]
    latest = {v["metric"]: v for v in o["latest"]}
    assert latest["salinity_ppt"]["value"] == device["rows"][0][3] and latest["salinity_ppt"]["unit"] == "ppt"
    names = [x["name"] for x in o["thresholds"]]
    assert mine["name"] in names and not any(other in n for n in names)
    mine_out = next(x for x in o["thresholds"] if x["name"] == mine["name"])
    assert (mine_out["value"], mine_out["clear"], mine_out["operator"]) == (4.0, 3.5, ">")
    assert o["open_alerts"] == 1 and o["open_incidents"] == 1
    alerts = client.get(f"/devices/{device['id']}/alerts", headers=admin.headers, params={"open": "true"}).json()
    assert [a["labels"]["device"] for a in alerts["items"]] == [device["id"]]
    incidents = client.get(f"/devices/{device['id']}/incidents", headers=admin.headers).json()
    assert len(incidents["items"]) == 1 and incidents["items"][0]["source"] == "device_event"
    assert "reporter" not in incidents["items"][0]


def test_status_history_newest_first_and_paginated(client, admin, db, device) -> None:  # type: ignore[no-untyped-def]
    base = datetime.now(UTC) - timedelta(hours=1)
    for i, state in enumerate(["online", "offline", "online"]):
        with db.transaction():
            record_status(db, device["id"], state, base + timedelta(minutes=i))
    page = client.get(f"/devices/{device['id']}/status-history", headers=admin.headers, params={"limit": 2}).json()
    assert [x["state"] for x in page["items"]] == ["online", "offline"] and page["next_cursor"]
    assert page["items"][0]["previous"] == "offline"
    rest = client.get(f"/devices/{device['id']}/status-history", headers=admin.headers,
                      params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [x["state"] for x in rest["items"]] == ["online"] and rest["next_cursor"] is None
    bad = client.get(f"/devices/{device['id']}/status-history", headers=admin.headers, params={"cursor": "xyz"})
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")


def test_markers_in_either_set(client, admin, db, device, camau) -> None:  # type: ignore[no-untyped-def]
    got = {m["id"]: m for m in client.get("/map/devices", headers=admin.headers,
                                         params={"kind": "salinity", "limit": 500}).json()["items"]}
    m = got[device["id"]]
    assert m["ward_code"] == device["ward"]["code"] and m["state"] == "online" and m["kind"] == "salinity"
    old = client.get("/map/devices", headers=admin.headers, params={"set": "camau-2019", "limit": 500}).json()
    assert old["set"] == "camau-2019"
    code_2019 = next(x["ward_code"] for x in old["items"] if x["id"] == device["id"])
    assert code_2019 == device["ward19"]["code"]
    in_ward = client.get("/map/devices", headers=admin.headers,
                         params={"set": "camau-2019", "ward": code_2019}).json()["items"]
    assert device["id"] in [x["id"] for x in in_ward] and {x["ward_code"] for x in in_ward} == {code_2019}
    stale = client.get("/map/devices", headers=admin.headers, params={"state": "stale", "limit": 500}).json()
    assert device["id"] not in [x["id"] for x in stale["items"]]
    assert {x["state"] for x in stale["items"]} <= {"stale"}
    r = client.get("/map/devices", headers=admin.headers, params={"set": "no-such-set"})
    assert r.status_code == 404 and r.json()["field"] == "set"


def test_ward_detail_2025_and_2019(client, admin, db, device, camau) -> None:  # type: ignore[no-untyped-def]
    ward = device["ward"]
    alert = fire_alert(db, ward["code"], f"Triều cường {tag()}", "critical")
    cat = make_catalog(db)
    db.execute("UPDATE units SET ward_code = %s WHERE code = %s", (ward["code"], cat.unit))
    today = datetime.now(UTC).astimezone().date()
    events = [{"dossier_id": cat.did(i), "type": "received", "at": datetime.now(UTC).isoformat(),
               "channel": ch, "procedure": cat.plain_proc, "unit": cat.unit}
              for i, ch in enumerate(["online_l4", "counter", "postal", "online_l3"])]
    r = client.post("/dossiers/events", headers=admin.headers, json=events)
    assert r.status_code == 200 and r.json()["accepted"] == 4, r.text
    o = client.get(f"/wards/{camau}/{ward['code']}", headers=admin.headers).json()
    assert o["ward"]["name"] == ward["name"] and o["ward"]["set_valid_to"] is None
    assert o["devices"]["total"] >= 1 and o["alerts_open"] >= 1 and "salinity_ppt" in o["metrics"]
    assert o["dossiers"]["received"] >= 4 and o["dossiers"]["to"] <= today.isoformat()
    devs = client.get(f"/wards/{camau}/{ward['code']}/devices", headers=admin.headers).json()["items"]
    assert device["id"] in [d["id"] for d in devs]
    alerts = client.get(f"/wards/{camau}/{ward['code']}/alerts", headers=admin.headers).json()["items"]
    assert alert["id"] in [a["id"] for a in alerts]
    chart = client.get(f"/wards/{camau}/{ward['code']}/series", headers=admin.headers).json()
    assert chart["interval_s"] == 3600 and chart["series"][0]["metric"] == "salinity_ppt"
    assert sum(chart["series"][0]["count"]) >= 3 * 1440

    # the same device, seen in the 2019 set: another ward, the 2019 dossiers
    old = next(x for x in client.get("/map/devices", headers=admin.headers,
                                     params={"set": "camau-2019", "limit": 500}).json()["items"]
               if x["id"] == device["id"])
    old_unit = f"UBND-2019-{tag()}"
    db.execute("INSERT INTO units (code, name, level, ward_code) VALUES (%s, 'UBND xã (2019)', 'commune', %s)",
               (old_unit, old["ward_code"]))
    r = client.post("/dossiers/events", headers=admin.headers, json=[
        {"dossier_id": f"{cat.did('old')}", "type": "received", "at": t(2025, 6, 20), "channel": "online_l4",
         "procedure": cat.plain_proc, "unit": old_unit},
        {"dossier_id": f"{cat.did('old')}", "type": "resolved", "at": t(2025, 6, 23)}])
    assert r.json()["accepted"] == 2, r.text
    o19 = client.get(f"/wards/camau-2019/{old['ward_code']}", headers=admin.headers).json()
    assert o19["ward"]["set_valid_to"] == "2025-06-30" and o19["ward"]["district_name"]
    assert o19["dossiers"]["to"] == "2025-06-30" and o19["dossiers"]["received"] >= 1
    assert o19["dossiers"]["months"][-1]["month"] == "2025-06-01"
    devs19 = client.get(f"/wards/camau-2019/{old['ward_code']}/devices", headers=admin.headers).json()["items"]
    assert device["id"] in [d["id"] for d in devs19]
    about_device = fire_alert(db, ward["code"], f"Độ mặn tại trạm {tag()}", "major", device=device["id"])
    alerts19 = client.get(f"/wards/camau-2019/{old['ward_code']}/alerts", headers=admin.headers).json()["items"]
    ids19 = [a["id"] for a in alerts19]
    assert about_device["id"] in ids19 and alert["id"] not in ids19  # its device's, not the 2025 ward's own
    r = client.get(f"/wards/camau-2019/{ward['code']}x", headers=admin.headers)
    assert r.status_code == 404 and r.json()["field"] == "code"


def test_trend_shows_the_same_month_a_year_earlier(client, admin, db) -> None:  # type: ignore[no-untyped-def]
    cat = make_catalog(db)
    events = []
    for year, n_online in ((2018, 3), (2019, 5)):  # online dossiers in March: 3 in 2018, 5 in 2019
        for i in range(n_online + 2):
            did = cat.did(f"{year}-{i}")
            ch = "online_l4" if i < n_online else "counter"
            events.append({"dossier_id": did, "type": "received", "at": t(year, 3, 4 + i), "channel": ch,
                           "procedure": cat.plain_proc, "unit": cat.unit})
            events.append({"dossier_id": did, "type": "resolved", "at": t(year, 3, 6 + i + (i % 3) * 4)})
    assert client.post("/dossiers/events", headers=admin.headers, json=events).json()["accepted"] == len(events)
    r = client.get("/kpis/dossiers/trend", headers=admin.headers,
                   params={"level": "unit", "to": "2019-12", "months": 12, "code": cat.unit})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["months"][0] == "2019-01" and body["previous_months"][2] == "2018-03"
    (item,) = body["items"]
    online = item["kpis"]["online"]
    assert online["current"][2] == 5 and online["previous"][2] == 3
    assert item["kpis"]["received"]["current"][2] == 7 and item["kpis"]["received"]["previous"][2] == 5
    assert item["kpis"]["online_share"]["current"][2] == pytest.approx(5 / 7)
    assert item["kpis"]["online_share"]["current"][0] is None  # no dossier in January: no share, not 0 %
    assert item["kpis"]["received"]["current"][0] == 0
    future = client.get("/kpis/dossiers/trend", headers=admin.headers,
                        params={"level": "province", "to": f"{datetime.now().year + 1}-12"}).json()
    assert future["items"][0]["kpis"]["received"]["current"][-1] is None  # a month not begun
    assert client.get("/kpis/dossiers/trend", headers=admin.headers, params={"to": "2019-13"}).status_code == 422


def test_openapi_documents_the_routes(client) -> None:  # type: ignore[no-untyped-def]
    """Every drill-down route has a real answer schema and its problems as application/problem+json."""
    doc = client.get("/openapi.json").json()
    device = [f"/devices/{{device_id}}/{x}" for x in ("overview", "series", "status-history", "alerts", "incidents")]
    paths = [p for p in doc["paths"] if p.startswith(("/wards/", "/map/devices", "/kpis/dossiers/trend"))] + device
    assert len(paths) == 12, paths
    for path in paths:
        op = doc["paths"][path]["get"]
        ok = op["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in ok, (path, ok)
        for status in ("401", "403"):
            problem = op["responses"][status]["content"]
            assert list(problem) == ["application/problem+json"], (path, status)
            schema = problem["application/problem+json"]["schema"]
            if "$ref" in schema:  # the shared Problem component (api.openapi)
                schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
            assert "detail" in schema["properties"]
