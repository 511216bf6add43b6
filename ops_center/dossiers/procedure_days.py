"""``dossier_procedure_days`` (migration 0054): per year, unit, ward and procedure, the days on which a dossier with a
fee due was received, an online payment was made, a dossier using population data was received — three bit strings
of 366 days (bit ``i`` is the year's day ``i``, 1 January = 0, the leftmost bit).

The indicators that count procedures (3.2, 3.3, 4.7) ask whether a procedure had such a day anywhere in a window.
From the procedure rollup that costs one row per (unit, ward, procedure) and month of the window, plus one per day of
its partial months; from these bits it costs one row per (unit, ward, procedure) and calendar year the window
touches, whatever its length (``(bits & mask) <> 0``). ``index_reads`` picks the cheaper source per period.

Kept in each dossier batch from the daily procedure rollup (``refresh``: a day's bit is set while its count is
positive; a batch flips, with one XOR upsert, only the bits of days whose count crossed zero — most batches add to
days already counted and write nothing here), so the bits always equal a rebuild (``rebuild``) from that rollup;
rows whose bits are all clear are removed. Only this module writes the table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any, Final

from ops_center.db import Conn

TABLE: Final = "dossier_procedure_days"
DAYS: Final = 366
KIND_COLUMNS: Final = ("fee_days", "paid_days", "pop_days")
"""The bit columns, in the order of the daily rollup's counters ``fee_due``, ``paid_online``, ``population``."""
_KEYS: Final = "unit_code, ward_set, ward_code, procedure_code"
ZERO: Final = f"0::bit({DAYS})"

DayKey = tuple[date, str, str, str, str]  # (day, unit, ward set, ward code, procedure)
YearKey = tuple[date, str, str, str, str]  # (1 January, unit, ward set, ward code, procedure)


def year_of(d: date) -> date:
    return date(d.year, 1, 1)


def mask(lo: date, hi: date) -> str:
    """The bits of local dates ``[lo, hi)`` within ``lo``'s year (``hi`` at most the next 1 January)."""
    start = year_of(lo)
    a = (lo - start).days
    b = min((hi - start).days, DAYS)
    return "0" * a + "1" * max(0, b - a) + "0" * (DAYS - max(a, b))


def year_masks(first: date, stop: date) -> list[tuple[date, str]]:
    """``(year, mask)`` for each calendar year that ``[first, stop)`` touches."""
    out = []
    lo = first
    while lo < stop:
        nxt = date(lo.year + 1, 1, 1)
        out.append((year_of(lo), mask(lo, min(stop, nxt))))
        lo = nxt
    return out


def toggles(changes: Iterable[tuple[DayKey, Sequence[int]]], after: Mapping[DayKey, Sequence[int]]
            ) -> tuple[dict[YearKey, list[int]], set[YearKey]]:
    """The bits a batch flips, per year row (as integers, bit ``i`` = day ``i``, in the column order), from each
    changed day's counters after the batch and its change (before = after − change: a bit flips when the count
    crosses zero); and the year rows where a bit was cleared."""
    out: dict[YearKey, list[int]] = {}
    cleared: set[YearKey] = set()
    for key, change in changes:
        now = after[key]
        day = key[0]
        year = year_of(day)
        ykey = (year, *key[1:])
        bit = 1 << (DAYS - 1 - (day - year).days)
        for i in range(len(KIND_COLUMNS)):
            was, is_ = now[i] - change[i] > 0, now[i] > 0
            if was != is_:
                out.setdefault(ykey, [0] * len(KIND_COLUMNS))[i] ^= bit
                if was:
                    cleared.add(ykey)
    return out, cleared


def _text(bits: int) -> str:
    return format(bits, f"0{DAYS}b")


def refresh(conn: Conn, changes: Iterable[tuple[DayKey, Sequence[int]]], after: Mapping[DayKey, Sequence[int]]
            ) -> int:
    """Flip the bits of the days whose count crossed zero in this batch (in its transaction, after the daily
    procedure rollup's upsert, whose new values are ``after``): one upsert with ``#`` (XOR), rows in key order so
    concurrent batches never deadlock, then rows left with no bit removed. Returns the year rows changed."""
    flips, cleared = toggles(changes, after)
    if not flips:
        return 0
    years = sorted(flips)
    cols: list[list[Any]] = [list(c) for c in zip(*years, strict=True)]
    bits = [[_text(flips[y][i]) for y in years] for i in range(len(KIND_COLUMNS))]
    arrays = "%s::date[], %s::text[], %s::text[], %s::text[], %s::text[]"
    kinds = ", ".join(KIND_COLUMNS)
    conn.execute(f"INSERT INTO {TABLE} AS t (year, {_KEYS}, {kinds}) SELECT * FROM unnest({arrays}, "
                 f"%s::bit({DAYS})[], %s::bit({DAYS})[], %s::bit({DAYS})[]) ORDER BY 1, 2, 3, 4, 5 "
                 f"ON CONFLICT (year, {_KEYS}) DO UPDATE SET "
                 + ", ".join(f"{c} = t.{c} # EXCLUDED.{c}" for c in KIND_COLUMNS), [*cols, *bits])
    if cleared:
        gone = sorted(cleared)
        conn.execute(f"DELETE FROM {TABLE} t USING unnest({arrays}) AS k(y, u, ws, wc, p) WHERE t.year = k.y "
                     f"AND t.unit_code = k.u AND t.ward_set = k.ws AND t.ward_code = k.wc AND t.procedure_code = k.p "
                     f"AND t.fee_days = {ZERO} AND t.paid_days = {ZERO} AND t.pop_days = {ZERO}",
                     [list(c) for c in zip(*gone, strict=True)])
    return len(years)


REBUILD_SQL: Final = (
    f"INSERT INTO {TABLE} (year, {_KEYS}, fee_days, paid_days, pop_days) "
    f"SELECT date_trunc('year', day)::date, {_KEYS}, "
    + ", ".join(f"bit_or(CASE WHEN {c} > 0 THEN set_bit({ZERO}, day - date_trunc('year', day)::date, 1) "
                f"ELSE {ZERO} END)" for c in ("fee_due", "paid_online", "population"))
    + " FROM dossier_procedure_daily WHERE fee_due > 0 OR paid_online > 0 OR population > 0 "
      "GROUP BY 1, 2, 3, 4, 5"
)
"""The bits from the daily procedure rollup (migration 0054 runs the same statement)."""


def rebuild(conn: Conn) -> None:
    """Recompute the bits from the daily procedure rollup (inside the caller's transaction, after it)."""
    conn.execute(f"LOCK TABLE {TABLE} IN EXCLUSIVE MODE")
    conn.execute(f"DELETE FROM {TABLE}")
    conn.execute(REBUILD_SQL)


def rows_sql(tags: Sequence[int], windows: Sequence[tuple[date, date]], select: str, join: str, where: str
             ) -> tuple[str, list[Any]]:
    """SQL giving ``(tag, <select>, procedure_code, fee, paid, pop)`` rows (alias ``d``) for each tagged window
    ``[first, stop)``: one per (unit, ward, procedure) and year touched, the flags true when a day of the window
    has one; ``where`` narrows (SQL on ``d``; its parameters follow the returned ones)."""
    t, y, m = [], [], []
    for tag, (first, stop) in zip(tags, windows, strict=True):
        for year, bits in year_masks(first, stop):
            t.append(tag)
            y.append(year)
            m.append(bits)
    flags = ", ".join(f"(d.{c} & s.mask) <> {ZERO} AS {alias}"
                      for c, alias in zip(KIND_COLUMNS, ("fee", "paid", "pop"), strict=True))
    sql = (f"SELECT s.tag, {select}, d.procedure_code, {flags} FROM unnest(%s::int[], %s::date[], "
           f"%s::bit({DAYS})[]) AS s(tag, year, mask) JOIN {TABLE} d ON d.year = s.year {join} WHERE "
           f"((d.fee_days | d.paid_days | d.pop_days) & s.mask) <> {ZERO}{where}")
    return sql, [t, y, m]
