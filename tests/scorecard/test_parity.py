"""The rollup path equals the pure reference path on the same data, for every level and period kind over windows
starting and ending mid-month; the rollups equal a rebuild from the state tables."""

from __future__ import annotations

from datetime import date

import pytest

from ops_center import counters
from ops_center.db import Conn
from ops_center.dossiers import index_rollup
from ops_center.petitions import service as petitions
from ops_center.scorecard import direct, gather
from ops_center.scorecard.periods import partition
from tests.scorecard.conftest import universe
from tests.scorecard.data import CAL

WINDOWS = [(date(2025, 5, 1), date(2025, 7, 16)), (date(2025, 5, 19), date(2025, 7, 3)),
           (date(2025, 6, 10), date(2025, 6, 28)),
           (date(2025, 1, 1), date(2026, 1, 1)), (date(2024, 3, 1), date(2026, 2, 10))]  # whole years: yearly rows


@pytest.mark.parametrize("level", ["unit", "ward", "district", "province"])
@pytest.mark.parametrize("period", ["day", "month", "quarter", "year", "range"])
def test_rollup_path_equals_the_pure_path(sdb: Conn, level: str, period: str) -> None:
    u = universe(sdb, level)
    for first, stop in WINDOWS:
        periods = partition(first, stop, period)
        assert gather.counts(sdb, periods, level, CAL) == direct.counts(u, periods, level), (first, stop)


def test_codes_narrow_without_changing_figures(sdb: Conn) -> None:
    periods = partition(date(2025, 6, 1), date(2025, 7, 16), "month")
    full = gather.counts(sdb, periods, "unit", CAL)
    only = gather.counts(sdb, periods, "unit", CAL, codes=["U2"])
    assert only == {k: v for k, v in full.items() if k[2] == "U2"} and only


def _table(conn: Conn, tables: counters.CounterTables) -> list[tuple[object, ...]]:
    keys = ", ".join(k for k, _ in tables.keys)
    rows: list[tuple[object, ...]] = []
    for table, bucket in tables.tables():
        rows += [(table, *r) for r in conn.execute(f"SELECT {bucket}, {keys}, {', '.join(tables.counters)} "
                                                   f"FROM {table}").fetchall()]
    n = len(tables.keys) + 2
    return sorted(r for r in rows if any(r[n:]))


def _days(conn: Conn) -> list[tuple[object, ...]]:
    return sorted(conn.execute("SELECT year, unit_code, ward_set, ward_code, procedure_code, fee_days::text, "
                               "paid_days::text, pop_days::text FROM dossier_procedure_days").fetchall())


def test_the_rollups_equal_a_rebuild(sdb: Conn) -> None:
    before = {t.daily: _table(sdb, t) for t in (index_rollup.INDEX, index_rollup.PROCEDURES, petitions.TABLES)}
    days = _days(sdb)
    with sdb.transaction():
        index_rollup.rebuild(sdb)
        petitions.rebuild(sdb)
    after = {t.daily: _table(sdb, t) for t in (index_rollup.INDEX, index_rollup.PROCEDURES, petitions.TABLES)}
    assert before == after and all(before.values())
    assert _days(sdb) == days and days
