"""The national service index computed straight from the states of dossiers, petitions, procedures and unit facts,
exactly as docs/scorecard.md reads issue #14's table. Pure and slow: the reference the rollup path
(``ops_center.scorecard.gather``) is tested equal to, and the place to read a definition in code.

Window ``W = [first, stop)`` (local dates), ``L`` its last day, ``E`` the last instant of ``L``. A dossier is
received in W when its received local date is; it *ends* in W when it was resolved, refused or withdrawn on a date
in W; it is open at E when received by then and not ended by then. "Resolved" alone means granted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

from ops_center.dossiers.calendar import BusinessCalendar, local_date
from ops_center.dossiers.index_rollup import BAD_RATINGS
from ops_center.dossiers.procedures import PARTS, Procedure
from ops_center.dossiers.rollup import DossierState
from ops_center.dossiers.timeliness import close_of, on_time_at
from ops_center.petitions.service import PetitionState
from ops_center.scorecard.periods import Period
from ops_center.scorecard.scoring import Count, satisfaction

GroupKey = tuple[str, str]
GroupOf = Callable[[str, str, str], GroupKey]  # (unit, ward_set, ward_code) -> (gset, gcode)
FactOn = Callable[[str, str, date], bool]  # (unit, fact, day) -> has it


@dataclass
class Tally:
    """Numerators and denominators of one group in one period, being counted."""

    n: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    d: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fee: set[str] = field(default_factory=set)
    paid: set[str] = field(default_factory=set)
    population: set[str] = field(default_factory=set)
    units: set[str] = field(default_factory=set)
    procedures: tuple[int, int, int] | None = None  # the three procedure counts, when the database counted them

    def mark(self, ind: str, den: bool, num: bool) -> None:
        if den:
            self.d[ind] += 1
            self.n[ind] += num


def _dossier(acc: Tally, s: DossierState, w: Period) -> bool:
    """Count one dossier; True when it is active in the window (its unit is then scored there)."""
    if s.received_at is None or s.due_date is None:
        return False
    rd = local_date(s.received_at)
    if rd > w.last:
        return False
    end = close_of(w.last)
    ended_day = local_date(s.resolved_at) if s.resolved_at is not None else None
    received_in = w.first <= rd
    ended_in = ended_day is not None and w.first <= ended_day <= w.last
    open_at_end = ended_day is None or ended_day > w.last
    granted = s.outcome == "granted"
    eres = granted and s.electronic_result and s.resolved_at is not None and s.resolved_at <= end
    reqs, recs = s.supplement_requests, s.supplement_receipts
    on_time_end = s.resolved_at is not None and on_time_at(s.due_date, reqs, recs, s.resolved_at)
    acc.mark("1.4", received_in, s.synced_at is not None)
    acc.mark("2.1", ended_in or open_at_end, (ended_in and on_time_end)
             or (open_at_end and on_time_at(s.due_date, reqs, recs, end)))
    acc.mark("3.1", received_in and s.full_online_eligible,
             s.channel == "online_full" and (not s.paper_result or eres))
    acc.mark("3.4", received_in and s.fee_due, s.paid_online_at is not None)
    acc.mark("4.1", granted and ended_in and s.paper_result, s.electronic_result)
    acc.mark("4.2", received_in, s.digitised and (not s.paper_result or eres))
    acc.mark("4.4", received_in, s.reused_data)
    acc.mark("4.5", received_in, s.from_personal_store or s.result_synced_at is not None)
    acc.mark("4.6", received_in, s.population_data)
    resolved_in = granted and ended_in
    acc.mark("5.3:late", resolved_in, not on_time_end)
    acc.mark("5.3:bad", resolved_in, s.rating in BAD_RATINGS and s.rated_at is not None and s.rated_at <= end)
    paid_in = s.paid_online_at is not None and w.first <= local_date(s.paid_online_at) <= w.last
    assert s.procedure_code is not None
    if received_in and s.fee_due:
        acc.fee.add(s.procedure_code)
    if received_in and s.population_data:
        acc.population.add(s.procedure_code)
    if paid_in:
        acc.paid.add(s.procedure_code)
    return received_in or ended_in or open_at_end or paid_in


def _petition(acc: Tally, p: PetitionState, w: Period, calendar: BusinessCalendar, days: int) -> bool:
    if p.received_at is None:
        return False
    rd = local_date(p.received_at)
    due = calendar.add_business_days(rd, days)
    ended_day = local_date(p.handled_at) if p.handled_at is not None else None
    rated_in = p.rated_at is not None and w.first <= local_date(p.rated_at) <= w.last
    acc.mark("5.2", rated_in, p.rating == "satisfied")
    if rd > w.last:
        return rated_in
    ended_in = ended_day is not None and w.first <= ended_day <= w.last
    open_at_end = ended_day is None or ended_day > w.last
    acc.mark("5.1", ended_in or open_at_end, (ended_in and ended_day is not None and ended_day <= due)
             or (open_at_end and w.last <= due))
    return w.first <= rd or ended_in or open_at_end or rated_in


def catalogue_counts(procedures: Iterable[Procedure], w: Period, calendar: BusinessCalendar,
                     days: int) -> dict[str, Count]:
    """1.1–1.3 (the whole catalogue: every group shows the province's value)."""
    published = [p for p in procedures if p.decision_date is not None and w.first <= p.decision_date <= w.last]
    on_time = [p for p in published if p.decision_date is not None and p.legal_effective_date is not None
               and calendar.add_business_days(p.decision_date, days) <= p.legal_effective_date]
    public_on_time = [p for p in published if p.decision_date is not None and p.public_date is not None
                      and p.public_date <= calendar.add_business_days(p.decision_date, days)]
    public = [p for p in procedures if p.public_date is not None and p.public_date <= w.last]
    complete = [p for p in public if len(p.parts) == len(PARTS)]
    return {"1.1": Count(len(on_time), len(published)), "1.2": Count(len(public_on_time), len(published)),
            "1.3": Count(len(complete), len(public))}


def in_catalogue(p: Procedure, day: date) -> bool:
    """In the catalogue on ``day``: made public by then, or with no publication data."""
    return p.public_date is None or p.public_date <= day


@dataclass(frozen=True)
class Universe:
    dossiers: list[DossierState]
    petitions: list[PetitionState]
    procedures: list[Procedure]
    fact_on: FactOn
    group_of: GroupOf
    calendar: BusinessCalendar
    publication_days: int = 5
    petition_days: int = 15


def finish(acc: Tally, catalogue: dict[str, Count], fees: set[str], citizen: set[str], level: str,
           gcode: str, fact_units: set[str]) -> dict[str, Count]:
    """The counts of one group from what was accumulated (shared with the rollup path)."""
    out = dict(catalogue)
    for ind in ("1.4", "2.1", "3.1", "3.4", "4.1", "4.2", "4.4", "4.5", "4.6", "5.1", "5.2"):
        out[ind] = Count(acc.n[ind], acc.d[ind])
    fee_n, paid_n, pop_n = acc.procedures or (len(acc.fee & fees), len(acc.paid & fees),
                                               len(acc.population & citizen))
    out["3.2"] = Count(fee_n, len(fees))
    out["3.3"] = Count(paid_n, len(fees))
    out["4.7"] = Count(pop_n, len(citizen))
    units = {gcode} if level == "unit" else acc.units
    out["4.3"] = Count(len(units & fact_units), len(units))
    out["5.3"] = satisfaction(acc.d["5.3:late"], acc.n["5.3:late"], acc.n["5.3:bad"])
    return out


def counts(u: Universe, periods: list[Period], level: str) -> dict[tuple[int, str, str], dict[str, Count]]:
    """``{(period index, gset, gcode): {indicator: Count}}`` for the groups active in each period."""
    out: dict[tuple[int, str, str], dict[str, Count]] = {}
    for tag, w in enumerate(periods):
        accs: dict[GroupKey, Tally] = defaultdict(Tally)
        for s in u.dossiers:
            if s.unit_code is None:
                continue
            key = u.group_of(s.unit_code, s.ward_set, s.ward_code)
            if _dossier(accs[key], s, w):
                accs[key].units.add(s.unit_code)
        for p in u.petitions:
            if p.unit_code is None:
                continue
            key = u.group_of(p.unit_code, p.ward_set, p.ward_code)
            if _petition(accs[key], p, w, u.calendar, u.petition_days):
                accs[key].units.add(p.unit_code)
        catalogue = catalogue_counts(u.procedures, w, u.calendar, u.publication_days)
        fees = {p.code for p in u.procedures if p.has_fees and in_catalogue(p, w.last)}
        citizen = {p.code for p in u.procedures if p.citizen_facing and in_catalogue(p, w.last)}
        for (gset, gcode), acc in accs.items():
            if not acc.units:
                continue
            fact_units = {x for x in acc.units if u.fact_on(x, "e_certified_copy", w.last)}
            out[(tag, gset, gcode)] = finish(acc, catalogue, fees, citizen, level, gcode, fact_units)
    return out
