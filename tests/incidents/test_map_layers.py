"""Our two map layers in geo's map summary through the real API: open incidents per ward and the dossier on-time
rate per ward, in the set the summary uses."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from geo.service import assign_ward
from ops_center.db import Conn
from ops_center.dossiers import service as dossiers
from ops_center.dossiers.calendar import load_calendar
from ops_center.incidents import service
from ops_center.incidents.models import NewReport
from tests.incidents.conftest import Ward


def test_map_summary_shows_incidents_and_on_time_rate(client: TestClient, admin, db: Conn, ward25: Ward) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    before = service.open_by_ward(db, "camau-2025").get(ward25.code, 0)
    for i in range(2):
        # the ward's own point, 4 h apart: two incidents, not one linked report
        service.file_report(db, NewReport(f"Ngập {i}", "flooding", "operator", ward25.lon, ward25.lat,
                                          reported_at=now - timedelta(hours=1 + 4 * i)),
                            actor="t", ward_resolver=assign_ward)
    tag = secrets.token_hex(3)
    db.execute("INSERT INTO units (code, name, level, ward_code) VALUES (%s, 'UBND', 'commune', %s)",
               (f"U-{tag}", ward25.code))
    db.execute("INSERT INTO procedures (code, name, processing_days) VALUES (%s, 'Thủ tục', 1)", (f"P-{tag}",))
    received = (now - timedelta(days=20)).isoformat()
    events = []
    for n, late in ((1, False), (2, True)):
        did = f"MAP-{tag}-{n}"
        events.append({"dossier_id": did, "type": "received", "at": received, "channel": "counter",
                       "procedure": f"P-{tag}", "unit": f"U-{tag}"})
        events.append({"dossier_id": did, "type": "resolved",
                       "at": (now - timedelta(days=20 - (15 if late else 0), hours=-1 if not late else 0)).isoformat()})
    r = dossiers.ingest_events(db, events, "http:/dossiers/events", calendar=load_calendar())
    assert r.accepted == 4, r.rejected
    rate = dossiers.get_dossier(db, f"MAP-{tag}-1", load_calendar())
    assert rate is not None and rate["ward_set"] == "camau-2025"
    resp = client.get("/map/summary", params={"set": "camau-2025", "level": "ward", "layers": "incidents,dossiers",
                                              "from": (now - timedelta(days=30)).isoformat(),
                                              "to": (now + timedelta(hours=1)).isoformat()},
                      headers=admin.headers)
    assert resp.status_code == 200, resp.text
    feats = {f["properties"]["code"]: f["properties"] for f in resp.json()["features"]}
    props = feats[ward25.code]
    assert props["incidents_open"] == before + 2
    assert props["dossier_on_time_rate"] is not None and 0 < props["dossier_on_time_rate"] < 1
