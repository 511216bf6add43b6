"""Incidents, dossiers and KPIs on the timescale flavour (the TimescaleDB build served by PGlite): migrations 0040,
0050 and 0051 apply, and the same calls give the same answers as on PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest

from ops_center.db import Conn
from ops_center.dossiers import kpis, rollup
from ops_center.dossiers import service as svc
from ops_center.dossiers.calendar import load_calendar
from ops_center.incidents import service as incidents
from ops_center.incidents.models import Contact, NewReport
from ops_center.migrate import migrate
from tests.dossiers.kpi_data import NOW, load_dataset
from tests.support.pglite import connect_timescale, start_pglite


@pytest.mark.timescale
def test_dossiers_and_incidents_on_timescale(kdb: Conn) -> None:
    with start_pglite() as server, connect_timescale(server.dsn) as conn:
        assert migrate(conn)[0] == "timescale"
        load_dataset(conn)
        for level in kpis.LEVELS:
            for period in kpis.PERIODS:
                ts = kpis.compute(conn, level, period, date(2025, 6, 1), date(2026, 1, 1), now=NOW)
                pg = kpis.compute(kdb, level, period, date(2025, 6, 1), date(2026, 1, 1), now=NOW)
                assert ts == pg, (level, period)
        assert kpis.on_time_rate_by_ward(conn, "kpi-2019", "ward", date(2025, 6, 1), date(2026, 1, 1)) == {
            "W1": 0.5, "W2": None, "W3": 0.5}
        cal = load_calendar()
        again = svc.ingest_events(conn, [{"dossier_id": "d3", "type": "resolved", "at": "2025-07-14T10:00:00+07:00"},
                                         {"dossier_id": "d3", "type": "resolved", "at": "2025-07-14T10:00:00+07:00"}],
                                  "http:/dossiers/events", calendar=cal, now=NOW)
        assert (again.accepted, again.duplicates) == (1, 1)
        with conn.transaction():
            rollup.rebuild(conn)
        assert svc.get_dossier(conn, "d3", cal, NOW)["status"] == "resolved_late"  # type: ignore[index]

        conn.execute("INSERT INTO units (code, name, level) VALUES ('DV-TS', 'Đội phản ứng nhanh', 'department')")
        row, linked = incidents.file_report(conn, NewReport(
            "Sạt lở bờ kè", "riverbank_erosion", "operator", 105.15, 9.18,
            reporter=Contact("Trần Văn Bình", "0900000000")), actor="op")
        assert not linked and row["status"] == "new"
        dup, linked = incidents.file_report(conn, NewReport(
            "Sạt lở tiếp", "riverbank_erosion", "citizen_app", 105.1505, 9.1801), actor="app")
        assert linked and dup["id"] == row["id"] and dup["report_count"] == 2
        incidents.transition(conn, row["id"], "assigned", actor="op", unit="DV-TS")
        assert incidents.get_incident(conn, row["id"], with_contact=False)["status"] == "assigned"
        assert incidents.get_incident(conn, row["id"], with_contact=True)["reporter"]["name"] == "Trần Văn Bình"
