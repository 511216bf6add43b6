"""The scorecard layer of geo's map summary (registered through ``register_layer`` by ``api/map_layers.py``): per
ward and district of the real 2019 boundary set, the total and every indicator's ratio; a PNG coloured by one."""

from __future__ import annotations

import random
import secrets
from datetime import date, datetime, timedelta, timezone

from fastapi.testclient import TestClient

from ops_center.db import Conn
from ops_center.dossiers import service as dossiers
from ops_center.dossiers.calendar import load_calendar
from tests.incidents.conftest import camau

__all__ = ["camau"]
ICT = timezone(timedelta(hours=7))


def test_wards_coloured_by_any_indicator(client: TestClient, admin, db: Conn, camau: None) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random()
    ward, district = db.execute("SELECT code, parent_code FROM boundary_units WHERE set_name = 'camau-2019' AND "
                                "level = 'ward' ORDER BY code OFFSET %s LIMIT 1", (rng.randrange(100),)).fetchone()
    tag = secrets.token_hex(3)
    unit, proc = f"MAP-{tag}", f"PMAP-{tag}"
    db.execute("INSERT INTO units (code, name, level, ward_code) VALUES (%s, 'UBND xã', 'commune', %s)", (unit, ward))
    db.execute("INSERT INTO procedures (code, name, processing_days) VALUES (%s, 'Thủ tục', 0)", (proc,))
    monday = date(2020, 1, 6) + timedelta(weeks=rng.randrange(52 * 4))  # a random Monday 2020–2023
    at = datetime.combine(monday, datetime.min.time(), ICT)
    evs = []
    for n, resolved in ((1, at + timedelta(hours=15)), (2, at + timedelta(days=1, hours=10))):
        evs += [{"dossier_id": f"{unit}-{n}", "type": "received", "at": (at + timedelta(hours=8)).isoformat(),
                 "channel": "counter", "procedure": proc, "unit": unit, "digitised": n == 1},
                {"dossier_id": f"{unit}-{n}", "type": "resolved", "at": resolved.isoformat()}]
    assert dossiers.ingest_events(db, evs, "http:/dossiers/events", calendar=load_calendar()).rejected == []
    params = {"set": "camau-2019", "level": "ward", "layers": "scorecard", "from": at.isoformat(),
              "to": (at + timedelta(days=2)).isoformat()}
    r = client.get("/map/summary", params=params, headers=admin.headers)
    assert r.status_code == 200, r.text
    props = {f["properties"]["code"]: f["properties"] for f in r.json()["features"]}
    mine = props[ward]["scorecard"]
    assert (mine["2_1"], mine["4_2"], mine["1_4"]) == (0.5, 0.5, 0.0)
    assert mine["total"] is not None and 0 < mine["total"] < 100
    others = [p["scorecard"]["total"] for c, p in props.items() if c != ward]
    assert others.count(None) >= len(others) - 3  # wards without data have no total (not 0)
    r = client.get("/map/summary", params={**params, "level": "district"}, headers=admin.headers)
    districts = {f["properties"]["code"]: f["properties"] for f in r.json()["features"]}
    assert districts[district]["scorecard"]["2_1"] == 0.5
    r = client.get("/map/summary.png", params={**params, "layer": "scorecard_2_1"}, headers=admin.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content[:4] == b"\x89PNG"
    r = client.get("/map/summary.csv", params=params, headers=admin.headers)
    assert r.status_code == 200 and "scorecard_2_1" in r.content.decode("utf-8-sig").splitlines()[0]
