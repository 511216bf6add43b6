"""The hand-built data set of the scorecard tests (the tables and every expected figure are in ``test_hand.py``'s
docstring). Loaded through the real write paths: procedures.upsert, dossier and petition ingest, unit facts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from ops_center.db import Conn
from ops_center.dossiers import procedures
from ops_center.dossiers import service as dossiers
from ops_center.dossiers.calendar import load_calendar
from ops_center.petitions import service as petitions
from ops_center.readiness import facts

ICT = timezone(timedelta(hours=7))
NOW = datetime(2025, 7, 15, 5, 0, tzinfo=UTC)  # 12:00 in Cà Mau
CAL = load_calendar()
SOURCE = "http:/dossiers/events"


def t(m: int, d: int, hh: int = 9, mm: int = 0) -> str:
    return datetime(2025, m, d, hh, mm, tzinfo=ICT).isoformat()


def _p(code: str, days: int, **kw: Any) -> procedures.Procedure:
    return procedures.validate({"code": code, "name": f"Thủ tục {code}", "processing_days": days, **kw})


ALL_PARTS = list(procedures.PARTS)
PROCEDURES = [
    _p("PA", 2, online_service="full", full_online_eligible=True, has_fees=True, citizen_facing=True,
       decision_date="2025-06-02", legal_effective_date="2025-06-16", public_date="2025-06-05", parts=ALL_PARTS),
    _p("PB", 5, online_service="full", full_online_eligible=True, paper_result=True, citizen_facing=True,
       decision_date="2025-06-10", legal_effective_date="2025-06-13", public_date="2025-06-20",
       parts=ALL_PARTS[:-1]),
    _p("PC", 0, paper_result=True, has_fees=True, decision_date="2025-05-20", public_date="2025-05-22",
       parts=ALL_PARTS),
    _p("PD", 3, online_service="partial", has_fees=True, citizen_facing=True, offered_by_post=True),
    _p("PE", 1, has_fees=True, decision_date="2025-07-01", legal_effective_date="2025-07-15",
       public_date="2025-07-10", parts=ALL_PARTS),
]


def _d(n: int, kind: str, at: str, **kw: Any) -> dict[str, Any]:
    return {"dossier_id": f"d{n}", "type": kind, "at": at, **kw}


def _r(n: int, at: str, proc: str, unit: str, channel: str, **flags: bool) -> dict[str, Any]:
    return _d(n, "received", at, procedure=proc, unit=unit, channel=channel, **flags)


DOSSIERS = [
    # U1
    _r(1, t(6, 2), "PA", "U1", "online_full", digitised=True, fee_due=True, population_data=True),
    _d(1, "synced", t(6, 2, 9, 5)), _d(1, "paid", t(6, 2, 10)),
    _d(1, "resolved", t(6, 3, 15)), _d(1, "rated", t(6, 5), rating="satisfied"),
    _r(2, t(6, 3), "PB", "U1", "online_l4", digitised=True),  # the legacy name of online_full
    _d(2, "supplement_requested", t(6, 5, 10)), _d(2, "supplement_received", t(6, 9, 10)),
    _d(2, "resolved", t(6, 12, 10), electronic_result=True), _d(2, "result_synced", t(6, 13)),
    _d(2, "rated", t(7, 2), rating="unsatisfied"),
    _r(3, t(6, 25), "PB", "U1", "online_full", digitised=True),
    _d(3, "resolved", t(7, 3), electronic_result=True),
    _r(4, t(6, 5, 14), "PC", "U1", "counter", fee_due=True, reused_data=True, from_personal_store=True),
    _d(4, "resolved", t(6, 6), outcome="refused"),
    _r(5, t(6, 27), "PD", "U1", "postal", population_data=True, fee_due=True),
    _d(5, "paid", t(7, 1)),
    # U2
    _r(6, t(6, 9), "PA", "U2", "online_l3", fee_due=True),  # the legacy name of online_partial
    _d(6, "supplement_requested", t(6, 10)), _d(6, "supplement_received", t(6, 10, 15)),
    _d(6, "supplement_requested", t(6, 12)), _d(6, "supplement_received", t(6, 13)),
    _d(6, "resolved", t(6, 16)), _d(6, "rated", t(6, 17), rating="complaint"),
    _r(7, t(6, 30, 16), "PA", "U2", "online_full"),
    _d(7, "supplement_requested", t(7, 1)),
    # U3
    _r(8, t(6, 17), "PD", "U3", "counter"),
    _d(8, "resolved", t(6, 18), outcome="withdrawn"),
    _r(9, t(5, 20), "PD", "U3", "counter", fee_due=True),
    _d(9, "resolved", t(7, 8)),
    _r(10, t(6, 20), "PB", "U3", "online_full", digitised=True),
    _d(10, "resolved", t(6, 26)), _d(10, "rated", t(6, 27), rating="satisfied"),
]

PETITIONS = [
    {"petition_id": "p1", "type": "received", "at": t(6, 2), "unit": "U2", "category": "procedure"},
    {"petition_id": "p1", "type": "handled", "at": t(6, 20)},
    {"petition_id": "p1", "type": "rated", "at": t(6, 21), "rating": "satisfied"},
    {"petition_id": "p2", "type": "received", "at": t(6, 9), "unit": "U2"},
    {"petition_id": "p2", "type": "handled", "at": t(7, 3)},
    {"petition_id": "p2", "type": "rated", "at": t(7, 4), "rating": "unsatisfied"},
    {"petition_id": "p3", "type": "received", "at": t(5, 5), "unit": "U2", "category": "staff"},
    {"petition_id": "p3", "type": "handled", "at": t(6, 2)},
    {"petition_id": "p3", "type": "rated", "at": t(6, 3), "rating": "unsatisfied"},
]

FACTS = [
    {"unit": "U1", "fact": "e_certified_copy", "since": "2025-01-01"},
    {"unit": "U2", "fact": "e_certified_copy", "since": "2025-06-15"},
    {"unit": "U2", "fact": "e_certified_copy", "since": "2025-07-05", "value": False},
]


def load(conn: Conn, wards: tuple[str, str, str] | None = None) -> None:
    """The data set into a freshly migrated database; ``wards``: the real wards (of the boundary sets already
    imported) of U1, U2 and U3 instead of the data set's own sets without geometry."""
    if wards is None:
        _own_sets(conn)
    w1, w2, w3 = wards or ("W1", "W2", "W3")
    conn.execute("INSERT INTO units (code, name, level, ward_code) VALUES ('P', 'UBND tỉnh Cà Mau', 'province', "
                 "NULL), ('U1', 'UBND xã Tân Lộc', 'commune', %s), ('U2', 'UBND xã Trí Phải', 'commune', %s), "
                 "('U3', 'Sở Tư pháp', 'department', %s)", (w1, w2, w3))
    procedures.upsert(conn, PROCEDURES)
    r = dossiers.ingest_events(conn, DOSSIERS, SOURCE, calendar=CAL, now=NOW)
    assert (r.accepted, r.rejected) == (len(DOSSIERS), []), r.rejected
    p = petitions.ingest_events(conn, PETITIONS, "http:/petitions/events", calendar=CAL, now=NOW)
    assert (p.accepted, p.rejected) == (len(PETITIONS), []), p.rejected
    f = facts.ingest_facts(conn, FACTS)
    assert (f.accepted, f.rejected) == (len(FACTS), []), f.rejected


def _own_sets(conn: Conn) -> None:
    conn.execute("INSERT INTO boundary_sets (name, valid_from, valid_to) VALUES "
                 "('sc-2019', '2019-01-01', '2025-06-30'), ('sc-2025', '2025-07-01', NULL)")
    for set_name, level, code, name, parent in [
        ("sc-2019", "district", "D1", "Huyện Thới Bình", None), ("sc-2019", "district", "D2", "Huyện Đầm Dơi", None),
        ("sc-2019", "ward", "W1", "Xã Tân Lộc", "D1"), ("sc-2019", "ward", "W2", "Xã Trí Phải", "D1"),
        ("sc-2019", "ward", "W3", "Xã Tạ An Khương", "D2"), ("sc-2025", "ward", "X1", "Phường An Xuyên", None),
    ]:
        conn.execute("INSERT INTO boundary_units (set_name, level, code, name, parent_code, area_km2, rep_lon, "
                     "rep_lat, geom) VALUES (%s, %s, %s, %s, %s, 1, 105, 9, '\\x00')",
                     (set_name, level, code, name, parent))


JUNE = (date(2025, 6, 1), date(2025, 6, 30))
JULY = (date(2025, 7, 1), date(2025, 7, 31))
