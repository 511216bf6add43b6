"""Reads of the dossiers and their index rollups that the national service index needs beyond plain sums: the
corrections "by the period's end", the procedures behind the indicators that count procedures, the dossiers behind
an indicator (drill-down). The owner of those tables offers them here; the scorecard decides what to ask."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Protocol

from ops_center import counters
from ops_center.counters import Segment
from ops_center.db import Conn, fetch_all
from ops_center.dossiers import procedure_days
from ops_center.dossiers.index_rollup import PROCEDURES
from ops_center.dossiers.timeliness import close_of, start_of
from ops_center.levels import NA_DISTRICT, UNKNOWN, GroupSql

Key = tuple[int, str, str]


class Window(Protocol):
    """A period of local dates ``[first, stop)`` with its last day."""

    @property
    def first(self) -> Any: ...

    @property
    def stop(self) -> Any: ...

    @property
    def last(self) -> Any: ...


def late_results(conn: Conn, periods: Sequence[Window], g: GroupSql, where: str, params: list[Any]
                  ) -> dict[Key, tuple[int, int, int]]:
    """Per (period, group): dossiers received in the period whose electronic result came after it (3.1, 4.2), and
    dossiers granted in it rated badly after it (5.3)."""
    tags, los, ends = [t for t, _ in enumerate(periods)], [start_of(p.first) for p in periods], [
        close_of(p.last) for p in periods]
    out: dict[Key, list[int]] = defaultdict(lambda: [0, 0, 0])
    eres = conn.execute(
        f"SELECT s.tag, {g.select}, count(*) FILTER (WHERE d.full_online_eligible AND d.channel = 'online_full'), "
        f"count(*) FILTER (WHERE d.digitised) FROM unnest(%s::int[], %s::timestamptz[], %s::timestamptz[]) "
        f"AS s(tag, lo, e) JOIN dossiers d ON tstzrange(d.received_at, d.resolved_at) @> s.e "
        f"AND d.received_at >= s.lo {g.join} WHERE d.paper_result AND d.electronic_result "
        f"AND d.outcome = 'granted'{where} GROUP BY 1, 2, 3", [tags, los, ends, *params]).fetchall()
    for tag, gset, gcode, full, digitised in eres:
        acc = out[(tag, gset, gcode)]
        acc[0] += full
        acc[1] += digitised
    rated = conn.execute(
        f"SELECT s.tag, {g.select}, count(*) FROM unnest(%s::int[], %s::timestamptz[], %s::timestamptz[]) "
        f"AS s(tag, lo, e) JOIN dossiers d ON tstzrange(d.resolved_at, greatest(d.rated_at, d.resolved_at)) "
        f"@> s.e AND d.resolved_at >= s.lo {g.join} WHERE d.outcome = 'granted' "
        f"AND d.rating IN ('unsatisfied', 'complaint'){where} GROUP BY 1, 2, 3", [tags, los, ends, *params]
    ).fetchall()
    for tag, gset, gcode, n in rated:
        out[(tag, gset, gcode)][2] += n
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


# Relative cost of reading one bucket of the procedure rollup (its rows per day, month, year) against one year of
# procedure days (``procedure_days``): a period reads whichever source costs less.
_BUCKET_COST = {"day": 1, "month": 4, "year": 5}
_YEAR_OF_DAYS_COST = 5


def _use_days(p: Window) -> bool:
    """Whether the procedure days answer ``p`` more cheaply than the rollup's years, months and edge days."""
    parts = counters.parts(PROCEDURES, [Segment(0, p.first, p.stop)])
    rollup_cost = sum(_BUCKET_COST[bucket] * _units(bucket, segs) for _, bucket, segs in parts)
    return _YEAR_OF_DAYS_COST * len(procedure_days.year_masks(p.first, p.stop)) < rollup_cost


def _units(bucket: str, segs: Sequence[Segment]) -> int:
    if bucket == "day":
        return sum((s.hi - s.lo).days for s in segs)
    if bucket == "month":
        return sum((s.hi.year - s.lo.year) * 12 + s.hi.month - s.lo.month for s in segs)
    return sum(s.hi.year - s.lo.year for s in segs)


def _procedure_rows(periods: Sequence[Window], g: GroupSql, where: str, params: list[Any]
                    ) -> tuple[str, list[Any], bool]:
    """The rows of the periods with a fee due, an online payment or population data: ``(tag, gset, gcode,
    procedure_code, fee, paid, pop)`` from the procedure days or the procedure rollup, whichever is cheaper for
    each period; and whether they are few per (period, unit, ward, procedure): one per year."""
    parts, args = [], []
    by_days = [t for t, p in enumerate(periods) if _use_days(p)]
    if by_days:
        sql, found = procedure_days.rows_sql(by_days, [(periods[t].first, periods[t].stop) for t in by_days],
                                             g.select, g.join, where)
        parts.append(sql)
        args += [*found, *params]
    rest = [Segment(t, p.first, p.stop) for t, p in enumerate(periods) if t not in set(by_days)]
    chosen = counters.parts(PROCEDURES, rest)
    for table, bucket, segs in chosen:
        found, found_args = counters.arms(
            table, bucket, segs, f"{g.select}, d.procedure_code, d.fee_due > 0 AS fee, d.paid_online > 0 AS paid, "
                                 f"d.population > 0 AS pop", join=g.join,
            where=f" AND (d.fee_due > 0 OR d.paid_online > 0 OR d.population > 0){where}", params=params)
        parts += found
        args += found_args
    few = all(bucket == "year" for _, bucket, _ in chosen)
    return " UNION ALL ".join(parts), args, few


def procedure_sets(conn: Conn, periods: Sequence[Window], g: GroupSql, where: str, params: list[Any]
                   ) -> dict[Key, tuple[set[str], set[str], set[str]]]:
    """Per (period, group): the procedures with a dossier with a fee due received, paid online, using population
    data received, in the period (drill-down; the scorecard counts them with ``procedure_counts``)."""
    union, args, _ = _procedure_rows(periods, g, where, params)
    if not union:
        return {}
    rows = conn.execute(f"SELECT x.tag, x.gset, x.gcode, x.procedure_code, bool_or(x.fee), bool_or(x.paid), "
                        f"bool_or(x.pop) FROM ({union}) x GROUP BY 1, 2, 3, 4", args).fetchall()
    out: dict[Key, tuple[set[str], set[str], set[str]]] = defaultdict(lambda: (set(), set(), set()))
    for tag, gset, gcode, proc, fee, paid, pop in rows:
        sets = out[(tag, gset, gcode)]
        for present, target in ((fee, sets[0]), (paid, sets[1]), (pop, sets[2])):
            if present:
                target.add(str(proc))
    return out


def procedure_counts(conn: Conn, periods: Sequence[Window], g: GroupSql, where: str, params: list[Any], *,
                     merge_na: bool = False) -> dict[Key, tuple[int, int, int]]:
    """Per (period, group): how many procedures with fees (3.2: a dossier with a fee due received; 3.3: a payment
    online) and citizen-facing (4.7: a dossier using population data) in the catalogue at the period's end had
    one in the period — counted in the database, the numerators always within the catalogue's denominators.
    ``merge_na``: the groups without a district (whatever their set) are one (``levels.merged_key``)."""
    union, args, few = _procedure_rows(periods, g, where, params)
    if not union:
        return {}
    gset = (f"CASE WHEN x.gcode IN ('{NA_DISTRICT}', '{UNKNOWN}') THEN '' ELSE x.gset END" if merge_na
            else "x.gset")
    count = "count(DISTINCT x.procedure_code)"
    if few:
        # one row per (period, unit, ward, procedure) and year: count them as they come
        source = f"({union}) x"
    else:  # several parts: first one row per (period, group, procedure), then count (measured 2x faster)
        source = (f"(SELECT x.tag, {gset} AS gset, x.gcode, x.procedure_code, bool_or(x.fee) AS fee, "
                  f"bool_or(x.paid) AS paid, bool_or(x.pop) AS pop FROM ({union}) x GROUP BY 1, 2, 3, 4) x")
        gset, count = "x.gset", "count(*)"
    rows = conn.execute(
        f"SELECT x.tag, {gset}, x.gcode, {count} FILTER (WHERE x.fee AND pr.has_fees), "
        f"{count} FILTER (WHERE x.paid AND pr.has_fees), {count} FILTER (WHERE x.pop AND pr.citizen_facing) "
        f"FROM {source} JOIN unnest(%s::int[], %s::date[]) AS l(tag, last) ON l.tag = x.tag "
        f"JOIN procedures pr ON pr.code = x.procedure_code AND (pr.public_date IS NULL OR pr.public_date <= l.last) "
        f"GROUP BY 1, 2, 3", [*args, list(range(len(periods))), [p.last for p in periods]]).fetchall()
    return {(t, gs, gc): (int(a), int(b), int(c)) for t, gs, gc, a, b, c in rows}


DRILL_COLUMNS = ("id", "procedure_code", "unit_code", "ward_set", "ward_code", "channel", "received_at", "due_date",
                 "resolved_at", "outcome", "electronic_result", "synced_at", "digitised", "reused_data",
                 "from_personal_store", "population_data", "fee_due", "paid_online_at", "supplement_requests",
                 "supplement_receipts", "result_synced_at", "rating", "rated_at", "paper_result",
                 "full_online_eligible", "late_day", "end_on_time")


def dossiers_where(conn: Conn, where: str, params: dict[str, Any], group: GroupSql, after: str, limit: int
                   ) -> list[dict[str, Any]]:
    """Dossiers (aliased ``d``) matching ``where`` (named parameters), by id after ``after``."""
    cols = ", ".join(f"d.{c}" for c in DRILL_COLUMNS)
    return fetch_all(conn, f"SELECT {cols} FROM dossiers d {group.join} WHERE d.id > %(after)s AND ({where}) "
                           f"ORDER BY d.id LIMIT %(limit)s", {**params, "after": after, "limit": limit})
