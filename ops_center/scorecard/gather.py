"""The national service index from the rollups: the fast path, equal to ``direct`` on the same data (tested).

Per request, a handful of statements whatever the window:

1. flows: the index rollup's counters summed per (period, group, unit) — whole months from the monthly table, the
   days at the edges from the daily one (``counters.window_sums``);
2. stocks at each period's end (open, and open and late): running sums of ``open_in − open_out`` and
   ``late_in − late_out`` from the beginning, read as segments between consecutive period ends;
3. the procedures counted by 3.2, 3.3 and 4.7: distinct procedure codes per period and group, from the procedure
   days (one row per unit, ward, procedure and year, whatever the window) or the procedure rollup (whole months),
   whichever is cheaper, joined to the catalogue (numerators are always within the denominators);
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
from ops_center.dossiers import index_reads
from ops_center.dossiers.calendar import BusinessCalendar
from ops_center.dossiers.index_rollup import INDEX
from ops_center.dossiers.procedures import all_procedures
from ops_center.levels import GroupSql, group_for, merged_key
from ops_center.petitions import service as petitions
from ops_center.readiness.facts import units_with_on
from ops_center.scorecard.direct import Tally, catalogue_counts, finish, in_catalogue
from ops_center.scorecard.periods import Period
from ops_center.scorecard.scoring import Count

Key = tuple[int, str, str]
STOCKS = ("open_in", "open_out", "late_in", "late_out")
_FLOW = ("received", "received_synced", "received_eligible", "received_full_plain", "received_full_paper_eres",
         "received_digitised_plain", "received_digitised_paper_eres", "received_reused", "received_store",
         "received_population", "received_fee_due", "received_fee_paid", "ended", "ended_on_time", "resolved",
         "resolved_late", "resolved_bad", "resolved_paper", "resolved_paper_eres", "paid_online")


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


def collect(conn: Conn, periods: list[Period], level: str, codes: Sequence[str] | None = None, *,
            sets: bool = False) -> dict[Key, Tally]:
    """What the rollups say per (period, group), before the catalogue and the facts are added; ``sets``: the
    procedures behind 3.2, 3.3 and 4.7 themselves (drill-down), not only how many."""
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
        if v["received"] or v["ended"] or v["paid_online"]:
            acc.units.add(unit)
    for (tag, gset, gcode, unit), (open_n, late_n) in _stocks(conn, INDEX, periods, g, where, params).items():
        acc = acc_of(tag, gset, gcode)
        acc.n["2.1"] += open_n - late_n
        acc.d["2.1"] += open_n
        if open_n:
            acc.units.add(unit)
    for (tag, gset, gcode), (full, digitised, bad) in index_reads.late_results(conn, periods, g, where, params).items():
        acc = acc_of(tag, gset, gcode)
        acc.n["3.1"] -= full
        acc.n["4.2"] -= digitised
        acc.n["5.3:bad"] -= bad
    if sets:
        for (tag, gset, gcode), (fee, paid_set, pop) in index_reads.procedure_sets(conn, periods, g, where,
                                                                                 params).items():
            acc = acc_of(tag, gset, gcode)
            acc.fee |= fee
            acc.paid |= paid_set
            acc.population |= pop
    else:
        for (tag, gset, gcode), found in index_reads.procedure_counts(
                conn, periods, g, where, params, merge_na=level == "district").items():
            acc = acc_of(tag, gset, gcode)
            have = acc.procedures or (0, 0, 0)
            acc.procedures = (have[0] + found[0], have[1] + found[1], have[2] + found[2])
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
    offering_on = units_with_on(conn, "e_certified_copy", [w.last for w in periods])
    out: dict[Key, dict[str, Count]] = {}
    for tag, w in enumerate(periods):
        keys = [k for k in accs if k[0] == tag and accs[k].units]
        for key in keys:
            if accs[key].procedures is None:
                accs[key].procedures = (0, 0, 0)
        if not keys:
            continue
        catalogue = catalogue_counts(procs, w, calendar, publication_days)
        fees = {p.code for p in procs if p.has_fees and in_catalogue(p, w.last)}
        citizen = {p.code for p in procs if p.citizen_facing and in_catalogue(p, w.last)}
        offering = offering_on[w.last]
        for key in keys:
            acc = accs[key]
            out[key] = finish(acc, catalogue, fees, citizen, level, key[2], acc.units & offering)
    return out
