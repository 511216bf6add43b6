"""The hand-made KPI data set (see ``test_kpis``'s docstring for the table and the known answers)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ops_center.db import Conn
from ops_center.dossiers import service as svc
from ops_center.dossiers.calendar import load_calendar
from tests.dossiers.conftest import t

NOW = datetime(2025, 7, 15, 5, 0, tzinfo=UTC)  # 12:00 in Cà Mau


def _ev(n: int, kind: str, at: str, **kw: Any) -> dict[str, Any]:
    return {"dossier_id": f"d{n}", "type": kind, "at": at, **kw}


EVENTS = [
    _ev(1, "received", t(2025, 6, 2), channel="online_l4", procedure="PA", unit="U1"),
    _ev(1, "received", t(2025, 6, 2), channel="online_l4", procedure="PA", unit="U1"),  # duplicate
    _ev(1, "resolved", t(2025, 6, 4, 15)),
    _ev(1, "returned", t(2025, 6, 5), channel="postal"),
    _ev(2, "received", t(2025, 6, 2, 10), channel="postal", procedure="PA", unit="U1"),
    _ev(2, "resolved", t(2025, 6, 5)),
    _ev(2, "returned", t(2025, 6, 6), channel="counter"),
    _ev(3, "received", t(2025, 6, 3), channel="counter", procedure="PB", unit="U1", ward="W2"),
    _ev(4, "received", t(2025, 6, 6), channel="online_l3", procedure="PA", unit="U2"),
    _ev(4, "resolved", t(2025, 6, 10, 16)),
    _ev(4, "returned", t(2025, 6, 11), channel="postal"),
    _ev(5, "received", t(2025, 6, 30), channel="counter", procedure="PC", unit="U2"),
    _ev(5, "resolved", t(2025, 7, 1)),
    # d6 out of order: returned, resolved, then received
    _ev(6, "returned", t(2025, 7, 4), channel="postal"),
    _ev(6, "resolved", t(2025, 7, 3)),
    _ev(6, "received", t(2025, 7, 2), channel="online_l4", procedure="PA", unit="U3"),
    _ev(7, "received", t(2025, 7, 3), channel="postal", procedure="PB", unit="U3"),
    _ev(8, "received", t(2025, 7, 14), channel="counter", procedure="PB", unit="U3"),
]


def load_dataset(conn: Conn) -> None:
    """The hand-made data set of this module's docstring, into a freshly migrated database."""
    conn.execute("INSERT INTO boundary_sets (name, valid_from, valid_to) VALUES "
                 "('kpi-2019', '2019-01-01', '2025-06-30'), ('kpi-2025', '2025-07-01', NULL)")
    for set_name, level, code, name, parent in [
        ("kpi-2019", "district", "D1", "Huyện Thới Bình", None),
        ("kpi-2019", "district", "D2", "Huyện Đầm Dơi", None),
        ("kpi-2019", "ward", "W1", "Xã Tân Lộc", "D1"),
        ("kpi-2019", "ward", "W2", "Xã Trí Phải", "D1"),
        ("kpi-2019", "ward", "W3", "Xã Tạ An Khương", "D2"),
        ("kpi-2025", "ward", "X1", "Phường An Xuyên", None),
    ]:
        conn.execute("INSERT INTO boundary_units (set_name, level, code, name, parent_code, area_km2, rep_lon, "
                     "rep_lat, geom) VALUES (%s, %s, %s, %s, %s, 1, 105, 9, '\\x00')",
                     (set_name, level, code, name, parent))
    conn.execute("INSERT INTO units (code, name, level, ward_code) VALUES ('P', 'UBND tỉnh Cà Mau', 'province', "
                 "NULL), ('U1', 'UBND xã Tân Lộc', 'commune', 'W1'), ('U2', 'UBND xã Tạ An Khương', 'commune', "
                 "'W3'), ('U3', 'UBND phường An Xuyên', 'commune', 'X1')")
    conn.execute("INSERT INTO procedures (code, name, processing_days, online_level, offered_by_post) VALUES "
                 "('PA', 'Trích lục hộ tịch', 2, 4, true), ('PB', 'Cấp giấy phép xây dựng', 5, 3, false), "
                 "('PC', 'Chứng thực bản sao', 0, 2, false)")
    cal = load_calendar()
    r = svc.ingest_events(conn, EVENTS[:8], "http:/dossiers/events", calendar=cal, now=NOW)
    r2 = svc.ingest_events(conn, EVENTS[8:], "http:/dossiers/events", calendar=cal, now=NOW)
    assert (r.accepted + r2.accepted, r.duplicates + r2.duplicates, r.rejected + r2.rejected) == (17, 1, [])
