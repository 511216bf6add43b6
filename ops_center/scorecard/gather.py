"""The national service index from the rollups: the fast path, equal to ``direct`` on the same data (tested).

Per request, a handful of statements whatever the window:

1. flows: the index rollup's counters summed per (period, group, unit) — whole months from the monthly table, the
   days at the edges from the daily one (``counters.window_sums``);
2. stocks at each period's end (open, and open and late): running sums of ``open_in − open_out`` and
   ``late_in − late_out`` from the beginning, read as segments between consecutive period ends;
3. the procedures counted by 3.2, 3.3 and 4.7: distinct procedure codes of the procedure rollup per period and
   group, joined to the catalogue (numerators are always within the denominators);
4. the corrections "by the period's end": dossiers received (3.1, 4.2) or granted (5.3) in a period whose
   electronic result or bad rating came after it, found by stabbing GiST-indexed ranges at the period's end;
5. the same flows and stocks for petitions (5.1, 5.2);
6. the catalogue (1.1–1.3 and the denominators of 3.2, 3.3, 4.7) and the unit facts (4.3), small.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from ops_center import counters
from ops_center.counters import Segment, stock_segments
from ops_center.db import Conn
from ops_center.dossiers.calendar import BusinessCalendar
from ops_center.dossiers.index_rollup import INDEX, PROCEDURES
from ops_center.dossiers.procedures import all_procedures
from ops_center.dossiers.timeliness import close_of, start_of
from ops_center.levels import GroupSql, group_for, merged_key
from ops_center.petitions import service as petitions
from ops_center.readiness.facts import units_with
from ops_center.scorecard.direct import Tally, catalogue_counts, finish, in_catalogue
from ops_center.scorecard.periods import Period
from ops_center.scorecard.scoring import Count

Key = tuple[int, str, str]
STOCKS = ("open_in", "open_out", "late_in", "late_out")
_FLOW = ("received", "received_synced", "received_eligible", "received_full_plain", "received_full_paper_eres",
         "received_digitised_plain", "received_digitised_paper_eres", "received_reused", "received_store",
         "received_population", "received_fee_due", "received_fee_paid", "ended", "ended_on_time", "resolved",
         "resolved_late", "resolved_bad", "resolved_paper", "resolved_paper_eres")


def _filter(g: GroupSql, codes: Sequence[str] | None) -> tuple[str, list[Any]]:
    if not codes:
        return "", []
    return f" AND {g.filter_col} = ANY(%s)", [list(codes)]


def _stocks(conn: Conn, tables: counters.CounterTables, periods: list[Period], g: GroupSql, where: str,
            params: list[Any]) -> dict[tuple[int, str, str, str], tuple[int, int]]:
    """``(open, open and late)`` at each period's end, per (period index, gset, gcode, unit)."""
    segs = stock_segments([p.stop for p in periods])
    rows = counters.window_sums(conn, tables, STOCKS, segs, g, by_unit=True, where=where, params=params)
    by_seg: dict[int, dict[tuple[str, str, str], tuple[int, int]]] = defaultdict(dict)
    for tag, gset, gcode, unit, oin, oout, lin, lout in rows:
        by_seg[tag][(gset, gcode, unit)] = (oin - oout, lin - lout)
    running: dict[tuple[str, str, str], tuple[int, int]] = {}
    at_stop: dict[date, dict[tuple[str, str, str], tuple[int, int]]] = {}
    for seg in segs:
        for key, (o, late) in by_seg.get(seg.tag, {}).items():
            have = running.get(key, (0, 0))
            running[key] = (have[0] + o, have[1] + late)
        at_stop[seg.hi] = dict(running)
    out = {}
    for tag, p in enumerate(periods):
        for (gset, gcode, unit), v in at_stop[p.stop].items():
            if v != (0, 0):
                out[(tag, gset, gcode, unit)] = v
    return out


def _late_results(conn: Conn, periods: list[Period], g: GroupSql, where: str, params: list[Any]
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


def _procedures(conn: Conn, periods: list[Period], g: GroupSql, where: str, params: list[Any]
                ) -> dict[Key, tuple[set[str], set[str], set[str]]]:
    """Per (period, group): the procedures (in the catalogue at the period's end) with a dossier with a fee due
    received, paid online, using population data received, in the period."""
    monthly, daily = counters.split([Segment(t, p.first, p.stop) for t, p in enumerate(periods)])
    parts, args = [], []
    for table, bucket, segs in ((PROCEDURES.monthly, "month", monthly), (PROCEDURES.daily, "day", daily)):
        if segs:
            parts.append(f"SELECT s.tag, {g.select}, d.procedure_code, d.fee_due, d.paid_online, d.population "
                         f"FROM unnest(%s::int[], %s::date[], %s::date[]) AS s(tag, lo, hi) JOIN {table} d "
                         f"ON d.{bucket} >= s.lo AND d.{bucket} < s.hi {g.join} WHERE (d.fee_due > 0 "
                         f"OR d.paid_online > 0 OR d.population > 0){where}")
            args += [[s.tag for s in segs], [s.lo for s in segs], [s.hi for s in segs], *params]
    if not parts:
        return {}
    rows = conn.execute(
        f"SELECT x.tag, x.gset, x.gcode, x.procedure_code, sum(x.fee_due) > 0, sum(x.paid_online) > 0, "
        f"sum(x.population) > 0 FROM ({' UNION ALL '.join(parts)}) x GROUP BY 1, 2, 3, 4", args).fetchall()
    out: dict[Key, tuple[set[str], set[str], set[str]]] = defaultdict(lambda: (set(), set(), set()))
    for tag, gset, gcode, proc, fee, paid, pop in rows:
        sets = out[(tag, gset, gcode)]
        for present, target in ((fee, sets[0]), (paid, sets[1]), (pop, sets[2])):
            if present:
                target.add(str(proc))
    return out


def _dossier_flows(acc: Tally, v: dict[str, int]) -> None:
    received = v["received"]
    for ind, num, den in (
        ("1.4", v["received_synced"], received),
        ("2.1", v["ended_on_time"], v["ended"]),
        ("3.1", v["received_full_plain"] + v["received_full_paper_eres"], v["received_eligible"]),
        ("3.4", v["received_fee_paid"], v["received_fee_due"]),
        ("4.1", v["resolved_paper_eres"], v["resolved_paper"]),
        ("4.2", v["received_digitised_plain"] + v["received_digitised_paper_eres"], received),
        ("4.4", v["received_reused"], received),
        ("4.5", v["received_store"], received),
        ("4.6", v["received_population"], received),
        ("5.3:late", v["resolved_late"], v["resolved"]),
        ("5.3:bad", v["resolved_bad"], 0),
    ):
        acc.n[ind] += num
        acc.d[ind] += den


def counts(conn: Conn, periods: list[Period], level: str, calendar: BusinessCalendar, *,
           codes: Sequence[str] | None = None, publication_days: int = 5
           ) -> dict[Key, dict[str, Count]]:
    """``{(period index, gset, gcode): {indicator: Count}}`` for the groups active in each period."""
    return _finish(conn, periods, level, calendar, publication_days, collect(conn, periods, level, codes))


def collect(conn: Conn, periods: list[Period], level: str, codes: Sequence[str] | None = None
            ) -> dict[Key, Tally]:
    """What the rollups say per (period, group), before the catalogue and the facts are added."""
    if not periods:
        return {}
    g = group_for(conn, level)
    where, params = _filter(g, codes)
    segs = [Segment(t, p.first, p.stop) for t, p in enumerate(periods)]
    accs: dict[Key, Tally] = defaultdict(Tally)

    def acc_of(tag: int, gset: str, gcode: str) -> Tally:
        return accs[(tag, *merged_key(level, (gset, gcode)))]

    for tag, gset, gcode, unit, *values in counters.window_sums(conn, INDEX, _FLOW, segs, g, by_unit=True,
                                                                where=where, params=params):
        v = dict(zip(_FLOW, values, strict=True))
        acc = acc_of(tag, gset, gcode)
        _dossier_flows(acc, v)
        if v["received"] or v["ended"]:
            acc.units.add(unit)
    for (tag, gset, gcode, unit), (open_n, late_n) in _stocks(conn, INDEX, periods, g, where, params).items():
        acc = acc_of(tag, gset, gcode)
        acc.n["2.1"] += open_n - late_n
        acc.d["2.1"] += open_n
        if open_n:
            acc.units.add(unit)
    for (tag, gset, gcode), (full, digitised, bad) in _late_results(conn, periods, g, where, params).items():
        acc = acc_of(tag, gset, gcode)
        acc.n["3.1"] -= full
        acc.n["4.2"] -= digitised
        acc.n["5.3:bad"] -= bad
    paid_units = counters.window_sums(conn, PROCEDURES, ("paid_online",), segs, g, by_unit=True, where=where,
                                      params=params)
    for tag, gset, gcode, unit, paid in paid_units:
        if paid:
            acc_of(tag, gset, gcode).units.add(unit)
    for (tag, gset, gcode), (fee, paid_set, pop) in _procedures(conn, periods, g, where, params).items():
        acc = acc_of(tag, gset, gcode)
        acc.fee |= fee
        acc.paid |= paid_set
        acc.population |= pop
    _petitions(conn, periods, g, where, params, acc_of)
    return accs


def _petitions(conn: Conn, periods: list[Period], g: GroupSql, where: str, params: list[Any], acc_of: Any) -> None:
    segs = [Segment(t, p.first, p.stop) for t, p in enumerate(periods)]
    cols = ("received", "ended", "ended_on_time", "rated", "rated_satisfied")
    for tag, gset, gcode, unit, received, ended, on_time, rated, satisfied in counters.window_sums(
            conn, petitions.TABLES, cols, segs, g, by_unit=True, where=where, params=params):
        acc = acc_of(tag, gset, gcode)
        acc.n["5.1"] += on_time
        acc.d["5.1"] += ended
        acc.n["5.2"] += satisfied
        acc.d["5.2"] += rated
        if received or ended or rated:
            acc.units.add(unit)
    for (tag, gset, gcode, unit), (open_n, late_n) in _stocks(conn, petitions.TABLES, periods, g, where,
                                                              params).items():
        acc = acc_of(tag, gset, gcode)
        acc.n["5.1"] += open_n - late_n
        acc.d["5.1"] += open_n
        if open_n:
            acc.units.add(unit)


def _finish(conn: Conn, periods: list[Period], level: str, calendar: BusinessCalendar, publication_days: int,
            accs: dict[Key, Tally]) -> dict[Key, dict[str, Count]]:
    procs = all_procedures(conn)
    out: dict[Key, dict[str, Count]] = {}
    for tag, w in enumerate(periods):
        keys = [k for k in accs if k[0] == tag and accs[k].units]
        if not keys:
            continue
        catalogue = catalogue_counts(procs, w, calendar, publication_days)
        fees = {p.code for p in procs if p.has_fees and in_catalogue(p, w.last)}
        citizen = {p.code for p in procs if p.citizen_facing and in_catalogue(p, w.last)}
        offering = units_with(conn, "e_certified_copy", w.last)
        for key in keys:
            acc = accs[key]
            out[key] = finish(acc, catalogue, fees, citizen, level, key[2], acc.units & offering)
    return out
