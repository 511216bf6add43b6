"""The rollups behind the national service index (Decision 766; ``ops_center.scorecard`` reads them).

``dossier_index_daily``/``_monthly``/``_yearly`` (per day, unit, ward) hold, for each dossier, +1 on the day each thing
happened (a pure function of its state, ``contributions``; each batch adds the before/after difference, like
``rollup``). Local dates; the unit and ward are the received event's.

On the received day: ``received`` and, among those, ``received_synced`` (synced to the national portal, whenever),
``received_eligible`` (procedure eligible for full online), ``received_full_plain`` / ``received_full_paper_eres``
(received online in full for an eligible procedure; the second for paper-result procedures granted with an
electronic result), ``received_digitised_plain`` / ``received_digitised_paper_eres``, ``received_reused``,
``received_store`` (a component from the personal store, or the result synced to it), ``received_population``,
``received_fee_due`` and ``received_fee_paid`` (fee due and paid online).

On the end day (resolved, refused or withdrawn): ``ended``, ``ended_on_time`` (``timeliness``). On the day it was
granted: ``resolved``, ``resolved_late``, ``resolved_bad`` (rated unsatisfied or complaint, whenever),
``resolved_paper`` and ``resolved_paper_eres``.

On the day of an online payment: ``paid_online`` (a unit with a payment in a period is scored there).

Stocks, read as running sums (what is open, and open and late, at the close of a day): ``open_in`` on the received
day, ``open_out`` on the end day; ``late_in`` on the dossier's ``late_day`` when it comes before the end,
``late_out`` on the end day then.

The parts "by the period's end" (an electronic result for 3.1 and 4.2, a rating for 5.3) are counted here whenever
they happened; the reader subtracts the dossiers whose result or rating came after the period (few: those open or
unrated across its end), found with the GiST indexes of migration 0053.

``dossier_procedure_daily``/``_monthly`` (per day, unit, ward, procedure): ``fee_due`` (a dossier with a fee due
received), ``paid_online`` (a payment that day), ``population`` (a dossier using population data received) — for
the indicators that count procedures (3.2, 3.3, 4.7); the same days as bits per year in ``procedure_days``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from ops_center import counters
from ops_center.counters import CounterTables
from ops_center.db import Conn
from ops_center.dossiers import procedure_days
from ops_center.dossiers.calendar import local_date
from ops_center.dossiers.rollup import DossierState, load_states

KEYS = (("unit_code", "text"), ("ward_set", "text"), ("ward_code", "text"))
INDEX = CounterTables("dossier_index_daily", "dossier_index_monthly", KEYS, (
    "received", "received_synced", "received_eligible", "received_full_plain", "received_full_paper_eres",
    "received_digitised_plain", "received_digitised_paper_eres", "received_reused", "received_store",
    "received_population", "received_fee_due", "received_fee_paid",
    "ended", "ended_on_time",
    "resolved", "resolved_late", "resolved_bad", "resolved_paper", "resolved_paper_eres",
    "open_in", "open_out", "late_in", "late_out",
    "paid_online",
), yearly="dossier_index_yearly")
PROCEDURES = CounterTables("dossier_procedure_daily", "dossier_procedure_monthly",
                           (*KEYS, ("procedure_code", "text")), ("fee_due", "paid_online", "population"),
                           yearly="dossier_procedure_yearly")
BAD_RATINGS = ("unsatisfied", "complaint")
_I = {name: i for i, name in enumerate(INDEX.counters)}
_P = {name: i for i, name in enumerate(PROCEDURES.counters)}


def granted_with_eresult(s: DossierState) -> bool:
    return s.outcome == "granted" and s.electronic_result


def _received(s: DossierState) -> list[str]:
    names = ["received", "open_in"]
    eres = granted_with_eresult(s)
    flags = (
        ("received_synced", s.synced_at is not None),
        ("received_eligible", s.full_online_eligible),
        ("received_full_plain", s.full_online_eligible and s.channel == "online_full" and not s.paper_result),
        ("received_full_paper_eres", s.full_online_eligible and s.channel == "online_full" and s.paper_result
         and eres),
        ("received_digitised_plain", s.digitised and not s.paper_result),
        ("received_digitised_paper_eres", s.digitised and s.paper_result and eres),
        ("received_reused", s.reused_data),
        ("received_store", s.from_personal_store or s.result_synced_at is not None),
        ("received_population", s.population_data),
        ("received_fee_due", s.fee_due),
        ("received_fee_paid", s.fee_due and s.paid_online_at is not None),
    )
    return names + [name for name, yes in flags if yes]


def _ended(s: DossierState) -> list[str]:
    names = ["ended", "open_out"]
    if s.end_on_time:
        names.append("ended_on_time")
    if s.outcome == "granted":
        names.append("resolved")
        flags = (("resolved_late", not s.end_on_time), ("resolved_bad", s.rating in BAD_RATINGS),
                 ("resolved_paper", s.paper_result), ("resolved_paper_eres", s.paper_result and s.electronic_result))
        names += [name for name, yes in flags if yes]
    return names


def contributions(s: DossierState) -> list[tuple[tuple[date, str, str, str], int]]:
    """``(key, counter index)`` pairs, one per +1 this dossier adds to ``dossier_index_daily``."""
    if s.received_at is None or s.unit_code is None or s.due_date is None:
        return []
    where = (s.unit_code, s.ward_set, s.ward_code)
    out = [((local_date(s.received_at), *where), _I[n]) for n in _received(s)]
    end_day = local_date(s.resolved_at) if s.resolved_at is not None else None
    if end_day is not None:
        out += [((end_day, *where), _I[n]) for n in _ended(s)]
    if s.paid_online_at is not None:
        out.append(((local_date(s.paid_online_at), *where), _I["paid_online"]))
    if s.late_day is not None and (end_day is None or s.late_day < end_day):
        out.append(((s.late_day, *where), _I["late_in"]))
        if end_day is not None:
            out.append(((end_day, *where), _I["late_out"]))
    return out


def procedure_contributions(s: DossierState) -> list[tuple[tuple[date, str, str, str, str], int]]:
    if s.received_at is None or s.unit_code is None or s.procedure_code is None:
        return []
    where = (s.unit_code, s.ward_set, s.ward_code, s.procedure_code)
    day = local_date(s.received_at)
    out = []
    if s.fee_due:
        out.append(((day, *where), _P["fee_due"]))
    if s.population_data:
        out.append(((day, *where), _P["population"]))
    if s.paid_online_at is not None:
        out.append(((local_date(s.paid_online_at), *where), _P["paid_online"]))
    return out


class Deltas:
    """The changes a batch makes to both rollups."""

    def __init__(self) -> None:
        self.index = counters.Deltas(len(INDEX.counters))
        self.procedures = counters.Deltas(len(PROCEDURES.counters))

    def add(self, before: DossierState | None, after: DossierState) -> None:
        for state, sign in ((before, -1), (after, 1)):
            if state is None:
                continue
            for key, i in contributions(state):
                self.index.bump(key, i, sign)
            for pkey, j in procedure_contributions(state):
                self.procedures.bump(pkey, j, sign)


def apply_deltas(conn: Conn, deltas: Deltas) -> int:
    n = counters.apply(conn, INDEX, deltas.index)
    changed = deltas.procedures.nonzero()
    after = counters.apply_returning(conn, PROCEDURES, deltas.procedures)
    procedure_days.refresh(conn, changed, after)
    return n


def rebuild(conn: Conn, states: Iterable[DossierState] | None = None) -> int:
    """Recompute both rollups and the procedure days from ``dossiers`` (inside the caller's transaction)."""
    counters.clear(conn, INDEX)
    counters.clear(conn, PROCEDURES)
    deltas = Deltas()
    for s in (load_states(conn) if states is None else states):
        deltas.add(None, s)
    n = counters.apply(conn, INDEX, deltas.index)
    counters.apply(conn, PROCEDURES, deltas.procedures)
    procedure_days.rebuild(conn)
    return n
