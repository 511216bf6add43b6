"""Drill-down: what is behind an indicator's numerator and denominator for one group and period, paged by id.

Subjects: dossiers (1.4, 2.1, 3.1, 3.4, 4.1, 4.2, 4.4–4.6, 5.3), petitions (5.1, 5.2), procedures (1.1–1.3, 3.2,
3.3, 4.7) and units (4.3). The predicates are the definitions of ``direct``, written in SQL; the tests check that
every list is exactly as long as its count. 5.3's numerator (resolved minus late minus unsatisfied, not below 0) is
not a set of dossiers: it drills into its parts ``late`` and ``unsatisfied`` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ops_center.db import Conn
from ops_center.devices import lookups as device_lookups
from ops_center.dossiers import index_reads
from ops_center.dossiers.calendar import BusinessCalendar
from ops_center.dossiers.procedures import all_procedures
from ops_center.dossiers.timeliness import start_of
from ops_center.levels import PROVINCE_CODE, GroupSql, group_for, merged_key
from ops_center.petitions.service import list_petitions
from ops_center.readiness.facts import units_with
from ops_center.scorecard import gather
from ops_center.scorecard.direct import Tally, catalogue_counts, in_catalogue
from ops_center.scorecard.periods import Period

RECEIVED = "d.received_at >= %(lo)s AND d.received_at < %(hi)s"
ENDED = "d.resolved_at >= %(lo)s AND d.resolved_at < %(hi)s"
OPEN = "d.received_at < %(hi)s AND d.due_date IS NOT NULL AND (d.resolved_at IS NULL OR d.resolved_at >= %(hi)s)"
GRANTED = "d.outcome = 'granted'"
ERESULT = "d.outcome = 'granted' AND d.electronic_result AND d.resolved_at < %(hi)s"

DOSSIERS: Final[dict[str, dict[str, str]]] = {
    "1.4": {"denominator": RECEIVED, "numerator": "d.synced_at IS NOT NULL"},
    "2.1": {"denominator": f"({ENDED}) OR ({OPEN})",
            "numerator": f"(({ENDED}) AND d.end_on_time) OR (({OPEN}) AND (d.late_day IS NULL "
                         f"OR d.late_day > %(last)s))"},
    "3.1": {"denominator": f"{RECEIVED} AND d.full_online_eligible",
            "numerator": f"d.channel = 'online_full' AND (NOT d.paper_result OR ({ERESULT}))"},
    "3.4": {"denominator": f"{RECEIVED} AND d.fee_due", "numerator": "d.paid_online_at IS NOT NULL"},
    "4.1": {"denominator": f"{GRANTED} AND {ENDED} AND d.paper_result", "numerator": "d.electronic_result"},
    "4.2": {"denominator": RECEIVED, "numerator": f"d.digitised AND (NOT d.paper_result OR ({ERESULT}))"},
    "4.4": {"denominator": RECEIVED, "numerator": "d.reused_data"},
    "4.5": {"denominator": RECEIVED, "numerator": "d.from_personal_store OR d.result_synced_at IS NOT NULL"},
    "4.6": {"denominator": RECEIVED, "numerator": "d.population_data"},
    "5.3": {"denominator": f"{GRANTED} AND {ENDED}", "late": "NOT d.end_on_time",
            "unsatisfied": "d.rating IN ('unsatisfied', 'complaint') AND d.rated_at < %(hi)s"},
}
PETITION_RECEIVED = "d.received_at IS NOT NULL"
PETITION_ENDED = "d.handled_at >= %(lo)s AND d.handled_at < %(hi)s"
PETITION_OPEN = "d.received_at < %(hi)s AND (d.handled_at IS NULL OR d.handled_at >= %(hi)s)"
PETITIONS: Final[dict[str, dict[str, str]]] = {
    "5.1": {"denominator": f"{PETITION_RECEIVED} AND (({PETITION_ENDED}) OR ({PETITION_OPEN}))",
            "numerator": f"(({PETITION_ENDED}) AND (d.handled_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date "
                         f"<= d.due_date) OR (({PETITION_OPEN}) AND d.due_date >= %(last)s)"},
    "5.2": {"denominator": f"{PETITION_RECEIVED} AND d.rated_at >= %(lo)s AND d.rated_at < %(hi)s",
            "numerator": "d.rating = 'satisfied'"},
}
PROCEDURES: Final = ("1.1", "1.2", "1.3", "3.2", "3.3", "4.7")
SUBJECTS: Final = {**{i: "dossier" for i in DOSSIERS}, **{i: "petition" for i in PETITIONS},
                   **{i: "procedure" for i in PROCEDURES}, "4.3": "unit"}


class DrillError(ValueError):
    pass


@dataclass(frozen=True)
class Page:
    subject: str
    items: list[dict[str, Any]]
    next_after: str | None


def sides(indicator: str) -> tuple[str, ...]:
    if indicator in DOSSIERS:
        return tuple(DOSSIERS[indicator]) if indicator == "5.3" else ("numerator", "denominator")
    return ("numerator", "denominator")


def _where(g: GroupSql, level: str, code: str | None) -> str:
    return "" if level == "province" else f" AND {g.filter_col} = %(code)s"


def _sql_page(conn: Conn, table: dict[str, dict[str, str]], indicator: str, side: str, level: str,
              code: str | None, w: Period, after: str, limit: int,
              fetch: Callable[[Conn, str, dict[str, Any], GroupSql, str, int], list[dict[str, Any]]]) -> Page:
    g = group_for(conn, level)
    preds = table[indicator]
    where = preds["denominator"] if side == "denominator" else f"({preds['denominator']}) AND ({preds[side]})"
    params = {"lo": start_of(w.first), "hi": start_of(w.stop), "last": w.last, "code": code}
    rows = fetch(conn, f"({where}){_where(g, level, code)}", params, g, after, limit + 1)
    return Page(SUBJECTS[indicator], rows[:limit], rows[limit - 1]["id"] if len(rows) > limit else None)


def _petitions(conn: Conn, where: str, params: dict[str, Any], g: GroupSql, after: str, limit: int
               ) -> list[dict[str, Any]]:
    return list_petitions(conn, where, params, g.join, after, limit)


def _listed(subject: str, keys: list[str], rows: dict[str, dict[str, Any]], after: str, limit: int) -> Page:
    keys = sorted(k for k in keys if k > after)
    more = len(keys) > limit
    keys = keys[:limit]
    return Page(subject, [rows[k] for k in keys], keys[-1] if more else None)


def _procedure_page(conn: Conn, indicator: str, side: str, level: str, code: str | None, w: Period,
                    calendar: BusinessCalendar, days: int, after: str, limit: int) -> Page:
    procs = all_procedures(conn)
    rows = {p.code: p.as_json() for p in procs}
    if indicator in ("1.1", "1.2", "1.3"):
        chosen = [p.code for p in procs if _catalogue_member(p, indicator, side, w, calendar, days)]
        return _listed("procedure", chosen, rows, after, limit)
    want = "has_fees" if indicator in ("3.2", "3.3") else "citizen_facing"
    den = {p.code for p in procs if getattr(p, want) and in_catalogue(p, w.last)}
    if side == "numerator":
        tally = _tally(conn, level, code, w)
        found = (tally.fee if indicator == "3.2" else tally.paid if indicator == "3.3" else tally.population)
        den &= found
    return _listed("procedure", list(den), rows, after, limit)


def _catalogue_member(p: Any, indicator: str, side: str, w: Period, calendar: BusinessCalendar, days: int) -> bool:
    counts = catalogue_counts([p], w, calendar, days)[indicator]
    return bool(counts.denominator if side == "denominator" else counts.numerator)


def _tally(conn: Conn, level: str, code: str | None, w: Period) -> Tally:
    tallies = gather.collect(conn, [w], level, None if level == "province" else [code or ""], sets=True)
    wanted = ("", PROVINCE_CODE) if level == "province" else None
    for (_, gset, gcode), tally in tallies.items():
        if (gset, gcode) == wanted or (wanted is None and merged_key(level, (gset, gcode))[1] == code):
            return tally
    return Tally()


def page(conn: Conn, indicator: str, side: str, level: str, code: str | None, w: Period,
         calendar: BusinessCalendar, *, publication_days: int = 5, after: str = "", limit: int = 50) -> Page:
    """One page of what is behind ``indicator``'s ``side`` for the group ``code`` of ``level`` in ``w``."""
    if indicator not in SUBJECTS:
        raise DrillError(f"indicator: {indicator!r} is not one of {', '.join(SUBJECTS)}")
    if side not in sides(indicator):
        raise DrillError(f"side: {side!r} is not one of {', '.join(sides(indicator))} for indicator {indicator}")
    if level != "province" and not code:
        raise DrillError(f"code: the {level} to drill into is required")
    if indicator in DOSSIERS:
        return _sql_page(conn, DOSSIERS, indicator, side, level, code, w, after, limit, index_reads.dossiers_where)
    if indicator in PETITIONS:
        return _sql_page(conn, PETITIONS, indicator, side, level, code, w, after, limit, _petitions)
    if indicator in PROCEDURES:
        return _procedure_page(conn, indicator, side, level, code, w, calendar, publication_days, after, limit)
    units = sorted({code} if level == "unit" and code else _tally(conn, level, code, w).units)
    if side == "numerator":
        units = sorted(set(units) & units_with(conn, "e_certified_copy", w.last))
    names: dict[str, str] = device_lookups.unit_names(conn, units)
    rows = {u: {"code": u, "name": names.get(u, u)} for u in units}
    return _listed("unit", units, rows, after, limit)
