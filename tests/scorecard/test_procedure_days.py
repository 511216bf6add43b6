"""The procedure days (bits per year of the days with a fee due, a payment, population data) follow the daily
procedure rollup through increments and decrements — a bit flips only when a day's count crosses zero, a row with
no bit left is removed — and equal what the rebuild statement gives; windows become masks over the years they
touch."""

from __future__ import annotations

import secrets
from datetime import date

from ops_center import counters
from ops_center.db import Conn
from ops_center.dossiers import procedure_days
from ops_center.dossiers.index_rollup import PROCEDURES


def _apply(conn: Conn, changes: dict[tuple[date, str, str, str, str], tuple[int, int, int]]) -> int:
    deltas = counters.Deltas(len(PROCEDURES.counters))
    for key, values in changes.items():
        for i, v in enumerate(values):
            deltas.bump(key, i, v)
    changed = deltas.nonzero()
    return procedure_days.refresh(conn, changed, counters.apply_returning(conn, PROCEDURES, deltas))


def _row(conn: Conn, unit: str) -> list[tuple[object, ...]]:
    return conn.execute("SELECT year, fee_days::text, paid_days::text, pop_days::text FROM dossier_procedure_days "
                        "WHERE unit_code = %s ORDER BY year", (unit,)).fetchall()


def _expected(conn: Conn, unit: str) -> list[tuple[object, ...]]:
    """The bits computed here from the daily rollup's rows (a day's bit: its count is positive)."""
    years: dict[date, list[set[int]]] = {}
    for day, *values in conn.execute("SELECT day, fee_due, paid_online, population FROM dossier_procedure_daily "
                                     "WHERE unit_code = %s", (unit,)).fetchall():
        first = date(day.year, 1, 1)
        for i, v in enumerate(values):
            if v > 0:
                years.setdefault(first, [set(), set(), set()])[i].add((day - first).days)
    return [(y, *(bits(*d) for d in years[y])) for y in sorted(years)]


def bits(*days: int) -> str:
    return "".join("1" if i in days else "0" for i in range(366))


def test_bits_follow_the_counts_and_equal_a_rebuild(db: Conn) -> None:
    unit = f"PD-{secrets.token_hex(3)}"
    jan2, mar1, dec31 = date(2024, 1, 2), date(2024, 3, 1), date(2024, 12, 31)  # 2024 is a leap year: day 365
    key = (unit, "", "", "P1")
    with db.transaction():
        assert _apply(db, {(jan2, *key): (1, 0, 0), (mar1, *key): (0, 2, 0), (dec31, *key): (0, 0, 1)}) == 1
        assert _row(db, unit) == [(date(2024, 1, 1), bits(1), bits(60), bits(365))]
        assert _apply(db, {(jan2, *key): (2, 0, 0), (mar1, *key): (0, 1, 0)}) == 0  # no count crossed zero
        assert _apply(db, {(jan2, *key): (-3, 0, 0), (date(2025, 1, 1), *key): (1, 0, 0)}) == 2
        assert _row(db, unit) == [(date(2024, 1, 1), bits(), bits(60), bits(365)),
                                  (date(2025, 1, 1), bits(0), bits(), bits())]
        assert _row(db, unit) == _expected(db, unit)
        _apply(db, {(mar1, *key): (0, -3, 0), (dec31, *key): (0, 0, -1)})
        assert _row(db, unit) == [(date(2025, 1, 1), bits(0), bits(), bits())]  # nothing left in 2024: removed
        assert _row(db, unit) == _expected(db, unit)


def test_windows_are_masks_over_the_years_they_touch() -> None:
    assert procedure_days.year_masks(date(2025, 1, 1), date(2026, 1, 1)) == [(date(2025, 1, 1), bits(*range(365)))]
    assert procedure_days.year_masks(date(2024, 12, 30), date(2025, 1, 3)) == [
        (date(2024, 1, 1), bits(364, 365)), (date(2025, 1, 1), bits(0, 1))]
    assert procedure_days.mask(date(2025, 2, 14), date(2025, 2, 15)) == bits(44)
