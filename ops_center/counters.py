"""Counter rollups kept by deltas: a daily table, a monthly one and optionally a yearly one with the same key
columns and counters, written in the transaction of the batch that changed the source rows, and read over any date
window.

A domain describes its tables with ``CounterTables``, computes the contribution of each changed row before and
after (pure functions of the row), accumulates the differences in ``Deltas`` and calls ``apply``: one
``INSERT … ON CONFLICT DO UPDATE`` per table, keys sorted so concurrent batches never deadlock. ``window_sums``
reads the sums over date segments: whole years from the yearly table (when there is one), whole months from the
monthly table, the days at the edges from the daily one — a window costs at most two partial months of days and
two partial years of months, whatever its length.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ops_center.db import Conn
from ops_center.levels import GroupSql

EPOCH = date(2000, 1, 1)


@dataclass(frozen=True)
class CounterTables:
    """``daily`` has a ``day date`` column and ``monthly`` a ``month date`` one (the first of the month), then the
    key columns (name, PostgreSQL type) and the integer counters."""

    daily: str
    monthly: str
    keys: tuple[tuple[str, str], ...]
    counters: tuple[str, ...]
    yearly: str | None = None  # a ``year date`` column (1 January)

    def index(self, counter: str) -> int:
        return self.counters.index(counter)

    def tables(self) -> list[tuple[str, str]]:
        """(table, bucket column), finest first."""
        out = [(self.daily, "day"), (self.monthly, "month")]
        return out + ([(self.yearly, "year")] if self.yearly else [])

    def upsert_sql(self, table: str, bucket: str) -> str:
        keys = ", ".join(k for k, _ in self.keys)
        cols = ", ".join(self.counters)
        arrays = ", ".join(["%s::date[]"] + [f"%s::{t}[]" for _, t in self.keys] + ["%s::integer[]"] * len(
            self.counters))
        updates = ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in self.counters)
        return (f"INSERT INTO {table} ({bucket}, {keys}, {cols}) SELECT * FROM unnest({arrays}) "
                f"ON CONFLICT ({bucket}, {keys}) DO UPDATE SET {updates}")


Key = tuple[Any, ...]  # (day, *key columns)


class Deltas:
    """Accumulated counter changes per ``(day, *keys)``."""

    def __init__(self, n_counters: int) -> None:
        self.n = n_counters
        self.rows: dict[Key, list[int]] = defaultdict(lambda: [0] * n_counters)

    def bump(self, key: Key, counter: int, by: int) -> None:
        self.rows[key][counter] += by

    def nonzero(self) -> list[tuple[Key, list[int]]]:
        return sorted((k, v) for k, v in self.rows.items() if any(v))


def _columns(rows: list[tuple[Key, list[int]]], n_keys: int, n_counters: int) -> list[list[Any]]:
    columns: list[list[Any]] = [[k[i] for k, _ in rows] for i in range(n_keys + 1)]
    return columns + [[v[i] for _, v in rows] for i in range(n_counters)]


def _coarser(rows: list[tuple[Key, list[int]]], bucket: str) -> list[tuple[Key, list[int]]]:
    out: dict[Key, list[int]] = {}
    for key, v in rows:
        day: date = key[0]
        ckey = (day.replace(day=1) if bucket == "month" else day.replace(month=1, day=1), *key[1:])
        acc = out.get(ckey)
        if acc is None:
            out[ckey] = list(v)
        else:
            for i, x in enumerate(v):
                acc[i] += x
    return sorted((k, v) for k, v in out.items() if any(v))


def apply(conn: Conn, tables: CounterTables, deltas: Deltas) -> int:
    """Add the changes to every table; returns the number of daily rows touched."""
    return len(apply_returning(conn, tables, deltas, returning=False))


def apply_returning(conn: Conn, tables: CounterTables, deltas: Deltas, *, returning: bool = True
                    ) -> dict[Key, list[int]]:
    """``apply``, and the daily rows' counters after it for every changed ``(day, *keys)`` (with ``returning``;
    else the keys with empty lists)."""
    rows = deltas.nonzero()
    if not rows:
        return {}
    n_keys, n = len(tables.keys), len(tables.counters)
    after: dict[Key, list[int]] = {k: [] for k, _ in rows}
    for table, bucket in tables.tables():
        coarse = rows if bucket == "day" else _coarser(rows, bucket)
        if not coarse:
            continue
        sql = tables.upsert_sql(table, bucket)
        if bucket == "day" and returning:
            cols = ", ".join(["day", *(k for k, _ in tables.keys), *tables.counters])
            for r in conn.execute(f"{sql} RETURNING {cols}", _columns(coarse, n_keys, n)).fetchall():
                after[tuple(r[:n_keys + 1])] = list(r[n_keys + 1:])
        else:
            conn.execute(sql, _columns(coarse, n_keys, n))
    return after


def clear(conn: Conn, tables: CounterTables) -> None:
    """Empty the tables (for a rebuild, inside the caller's transaction)."""
    names = [t for t, _ in tables.tables()]
    conn.execute(f"LOCK TABLE {', '.join(names)} IN EXCLUSIVE MODE")
    for name in names:
        conn.execute(f"DELETE FROM {name}")


# ------------------------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class Segment:
    """Local dates ``[lo, hi)`` whose sums are reported under ``tag``."""

    tag: int
    lo: date
    hi: date


def next_month(d: date) -> date:
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def split(segments: Sequence[Segment]) -> tuple[list[Segment], list[Segment]]:
    """(monthly parts, daily parts): the whole months inside each segment and the days around them."""
    monthly: list[Segment] = []
    daily: list[Segment] = []
    for s in segments:
        if s.hi <= s.lo:
            continue
        m_first = s.lo if s.lo.day == 1 else next_month(s.lo)
        m_stop = s.hi.replace(day=1)
        if m_stop <= m_first:
            daily.append(s)
            continue
        monthly.append(Segment(s.tag, m_first, m_stop))
        daily += [Segment(s.tag, lo, hi) for lo, hi in ((s.lo, m_first), (m_stop, s.hi)) if hi > lo]
    return monthly, daily


def split_years(segments: Sequence[Segment]) -> tuple[list[Segment], list[Segment]]:
    """(yearly parts, the rest): the whole years inside each segment, and the segments around them."""
    yearly: list[Segment] = []
    rest: list[Segment] = []
    for s in segments:
        y_first = s.lo if (s.lo.month, s.lo.day) == (1, 1) else date(s.lo.year + 1, 1, 1)
        y_stop = date(s.hi.year, 1, 1)
        if y_stop <= y_first:
            rest.append(s)
            continue
        yearly.append(Segment(s.tag, y_first, y_stop))
        rest += [Segment(s.tag, lo, hi) for lo, hi in ((s.lo, y_first), (y_stop, s.hi)) if hi > lo]
    return yearly, rest


def parts(tables: CounterTables, segments: Sequence[Segment]) -> list[tuple[str, str, list[Segment]]]:
    """``(table, bucket column, segments)`` to read for ``segments``: coarsest tables for what they cover whole."""
    yearly, rest = split_years(segments) if tables.yearly else ([], list(segments))
    monthly, daily = split(rest)
    out = [(tables.daily, "day", daily), (tables.monthly, "month", monthly)]
    if tables.yearly:
        out.append((tables.yearly, "year", yearly))
    return [(t, b, segs) for t, b, segs in out if segs]


INLINE_SEGMENTS = 16
"""Up to this many segments of one table are read by one statement arm each, with the bounds as parameters: the
planner then sees them and reads a short window by an index range scan (with the bounds only known at run time,
through ``unnest``, it estimates a third of the table and scans all of it). More segments: one ``unnest`` join."""


def arms(table: str, bucket: str, segments: Sequence[Segment], select: str, *, join: str = "", where: str = "",
         group_by: str = "", params: Sequence[Any] = ()) -> tuple[list[str], list[Any]]:
    """Statements ``SELECT <tag>, <select> FROM <table> d <join> WHERE <in the segment><where> <group_by>`` for the
    rows of ``table`` (alias ``d``) in the segments; ``where`` starts with `` AND`` and takes ``params``."""
    if len(segments) <= INLINE_SEGMENTS:
        sql = f"SELECT %s::int AS tag, {select} FROM {table} d {join} WHERE d.{bucket} >= %s AND d.{bucket} < %s" \
              f"{where} {group_by}"
        args: list[Any] = []
        for s in segments:
            args += [s.tag, s.lo, s.hi, *params]
        return [sql] * len(segments), args
    sql = (f"SELECT s.tag, {select} FROM unnest(%s::int[], %s::date[], %s::date[]) AS s(tag, lo, hi) "
           f"JOIN {table} d ON d.{bucket} >= s.lo AND d.{bucket} < s.hi {join} WHERE true{where} {group_by}")
    return [sql], [[s.tag for s in segments], [s.lo for s in segments], [s.hi for s in segments], *params]


def window_sums(conn: Conn, tables: CounterTables, counters: Sequence[str], segments: Sequence[Segment],
                group: GroupSql, *, by_unit: bool = False, where: str = "", params: Sequence[Any] = ()
                ) -> list[tuple[Any, ...]]:
    """Rows ``(tag, gset, gcode[, unit_code], sum of each counter…)`` over the segments, one statement. ``where``
    (SQL on the alias ``d``, with ``params``) narrows the rows."""
    chosen = parts(tables, segments)
    if not chosen:
        return []
    unit = ", d.unit_code" if by_unit else ""
    sums = ", ".join(f"sum(d.{c})::bigint AS {c}" for c in counters)
    queries: list[str] = []
    args: list[Any] = []
    for table, bucket, segs in chosen:
        found, found_args = arms(table, bucket, segs, f"{group.select}{unit}, {sums}", join=group.join,
                                 where=f" {where}" if where else "",
                                 group_by=f"GROUP BY 1, 2, 3{', 4' if by_unit else ''}", params=params)
        queries += found
        args += found_args
    n_keys = 4 if by_unit else 3
    outer = ", ".join(f"sum(x.{c})::bigint" for c in counters)
    keys = ", ".join(f"x.{k}" for k in ("tag", "gset", "gcode", "unit_code")[:n_keys])
    sql = f"SELECT {keys}, {outer} FROM ({' UNION ALL '.join(queries)}) x GROUP BY {keys}"
    with conn.cursor(binary=True) as cur:
        return list(cur.execute(sql, args).fetchall())


def stock_segments(stops: Sequence[date]) -> list[Segment]:
    """Segments tiling ``[EPOCH, max(stops))`` at each stop: the running sum of segment ``i`` and those before it
    is the total of everything before ``stops`` (sorted, distinct) ``[i]``."""
    out: list[Segment] = []
    prev = EPOCH
    for i, stop in enumerate(sorted(set(stops))):
        out.append(Segment(i, prev, stop))
        prev = stop
    return out


def day_before(d: date) -> date:
    return d - timedelta(days=1)
