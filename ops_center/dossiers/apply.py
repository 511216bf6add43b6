"""Applying dossier events to dossier states in memory (one batch): idempotency, conflicts, contradictory times,
the fields derived from the others. Pure: the service loads and writes the states."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from ops_center.dossiers import timeliness
from ops_center.dossiers.calendar import BusinessCalendar, local_date
from ops_center.dossiers.models import (
    CONFLICT,
    FOREIGN_UNIT,
    INCONSISTENT,
    MAX_SUPPLEMENTS,
    ONCE_EVENTS,
    RECEPTION_FLAGS,
    SUPPLEMENT_EVENTS,
    TOO_MANY,
    DossierEvent,
    Rejected,
    shown,
)
from ops_center.dossiers.rollup import DossierState
from ops_center.levels import set_on


def _same_time(a: datetime | None, b: datetime) -> bool:
    return a is not None and a == b


def _later_times(s: DossierState) -> list[tuple[str, datetime]]:
    """Every known time of the dossier that may not come before its reception."""
    named = [("resolved", s.resolved_at), ("returned", s.returned_at), ("synced", s.synced_at),
             ("paid", s.paid_online_at), ("result_synced", s.result_synced_at), ("rated", s.rated_at)]
    named += [("supplement", t) for t in (*s.supplement_requests, *s.supplement_receipts)]
    return [(what, t) for what, t in named if t is not None]


def _not_before_received(s: DossierState, ev: DossierEvent) -> None:
    if s.received_at is not None and ev.at < s.received_at:
        raise Rejected(INCONSISTENT, f"at: {ev.type} {ev.at.isoformat()} is before the dossier was received "
                                     f"({s.received_at.isoformat()})", "at", ev.at.isoformat())


def derive(s: DossierState) -> None:
    """Refresh the fields derived from the others (``late_day``, ``end_on_time``: ``timeliness``)."""
    if s.received_at is None or s.due_date is None:
        s.late_day, s.end_on_time = None, None
        return
    s.late_day = timeliness.late_day(s.received_at, s.due_date, s.supplement_requests, s.supplement_receipts)
    s.end_on_time = timeliness.end_on_time(s.due_date, s.supplement_requests, s.supplement_receipts,
                                           s.resolved_at)


class Batch:
    """The in-memory side of one batch: dossier states before and after, and what happened to each event."""

    def __init__(self, calendar: BusinessCalendar, procs: dict[str, dict[str, Any]],
                 units: dict[str, str | None], windows: list[tuple[str, date, date | None]]) -> None:
        self.calendar, self.procs, self.units, self.windows = calendar, procs, units, windows
        self.states: dict[str, DossierState] = {}
        self.before: dict[str, DossierState] = {}
        self.changed: set[str] = set()

    def apply(self, ev: DossierEvent) -> bool:
        """Apply one event; True when it changed something, False for a duplicate; ``Rejected`` otherwise."""
        s = self.states[ev.dossier_id]
        if ev.unit is not None and s.unit_code is not None and ev.unit != s.unit_code and ev.type != "received":
            raise Rejected(FOREIGN_UNIT, f"unit: dossier {shown(ev.dossier_id)} belongs to unit "
                                         f"{shown(s.unit_code)}, not {shown(ev.unit)}", "unit", ev.unit)
        if ev.type in ONCE_EVENTS:
            changed = self._once(s, ev, ONCE_EVENTS[ev.type])
        elif ev.type in SUPPLEMENT_EVENTS:
            changed = self._supplement(s, ev, SUPPLEMENT_EVENTS[ev.type])
        else:
            changed = getattr(self, f"_{ev.type}")(s, ev)
        if changed:
            self.changed.add(ev.dossier_id)
        return bool(changed)

    def _received(self, s: DossierState, ev: DossierEvent) -> bool:
        assert ev.procedure is not None and ev.unit is not None and ev.channel is not None
        if s.received_at is not None:
            same = (_same_time(s.received_at, ev.at) and s.channel == ev.channel
                    and s.procedure_code == ev.procedure and s.unit_code == ev.unit
                    and (ev.ward is None or ev.ward == s.ward_code)
                    and all(getattr(s, f) == (f in ev.flags) for f in RECEPTION_FLAGS))
            if same:
                return False
            raise Rejected(CONFLICT, f"dossier {shown(ev.dossier_id)} already has a received event "
                                     f"({s.received_at.isoformat()}, {s.channel}, procedure {s.procedure_code}, "
                                     f"unit {s.unit_code}) that this one contradicts; the first one stands",
                           "dossier_id", ev.dossier_id)
        for what, t in _later_times(s):
            if t < ev.at:
                raise Rejected(INCONSISTENT, f"at: received {ev.at.isoformat()} is after the dossier's {what} "
                                             f"time {t.isoformat()}", "at", ev.at.isoformat())
        proc = self.procs[ev.procedure]
        ward = ev.ward or self.units.get(ev.unit) or ""
        s.procedure_code, s.unit_code, s.channel, s.received_at = ev.procedure, ev.unit, ev.channel, ev.at
        s.ward_code = ward
        s.ward_set = ev.ward_set or (set_on(self.windows, local_date(ev.at)) if ward else "")
        s.processing_days = int(proc["processing_days"])
        s.offered_by_post = bool(proc["offered_by_post"])
        s.paper_result = bool(proc["paper_result"])
        s.full_online_eligible = bool(proc["full_online_eligible"])
        for f in RECEPTION_FLAGS:
            setattr(s, f, f in ev.flags)
        s.due_date = self.calendar.due_date(ev.at, s.processing_days)
        return True

    def _resolved(self, s: DossierState, ev: DossierEvent) -> bool:
        if s.resolved_at is not None:
            if _same_time(s.resolved_at, ev.at) and s.outcome == ev.outcome \
                    and s.electronic_result == ev.electronic_result:
                return False
            raise Rejected(CONFLICT, f"dossier {shown(ev.dossier_id)} was already resolved at "
                                     f"{s.resolved_at.isoformat()}; the first one stands", "at", ev.at.isoformat())
        if s.received_at is not None and ev.at < s.received_at:
            raise Rejected(INCONSISTENT, f"at: resolved {ev.at.isoformat()} is before the dossier was received "
                                         f"({s.received_at.isoformat()})", "at", ev.at.isoformat())
        if s.returned_at is not None and s.returned_at < ev.at:
            raise Rejected(INCONSISTENT, f"at: resolved {ev.at.isoformat()} is after the result was returned "
                                         f"({s.returned_at.isoformat()})", "at", ev.at.isoformat())
        late = [t for t in (*s.supplement_requests, *s.supplement_receipts) if t > ev.at]
        if late:
            raise Rejected(INCONSISTENT, f"at: resolved {ev.at.isoformat()} is before a supplement event of the "
                                         f"dossier ({max(late).isoformat()})", "at", ev.at.isoformat())
        s.resolved_at, s.outcome, s.electronic_result = ev.at, ev.outcome, ev.electronic_result
        return True

    def _once(self, s: DossierState, ev: DossierEvent, attr: str) -> bool:
        """synced, paid, result_synced: one time per dossier, not before it was received."""
        have: datetime | None = getattr(s, attr)
        if have is not None:
            if _same_time(have, ev.at):
                return False
            raise Rejected(CONFLICT, f"dossier {shown(ev.dossier_id)} already has a {ev.type} event "
                                     f"({have.isoformat()}); the first one stands", "at", ev.at.isoformat())
        _not_before_received(s, ev)
        setattr(s, attr, ev.at)
        return True

    def _supplement(self, s: DossierState, ev: DossierEvent, attr: str) -> bool:
        """supplement_requested / supplement_received: any number of times; the same time again is a duplicate."""
        times: list[datetime] = getattr(s, attr)
        if any(_same_time(t, ev.at) for t in times):
            return False
        if len(times) >= MAX_SUPPLEMENTS:
            raise Rejected(TOO_MANY, f"type: dossier {shown(ev.dossier_id)} already has {MAX_SUPPLEMENTS} "
                                     f"{ev.type} events; at most {MAX_SUPPLEMENTS}", "type", ev.type)
        _not_before_received(s, ev)
        if s.resolved_at is not None and ev.at > s.resolved_at:
            raise Rejected(INCONSISTENT, f"at: {ev.type} {ev.at.isoformat()} is after the dossier ended "
                                         f"({s.resolved_at.isoformat()})", "at", ev.at.isoformat())
        setattr(s, attr, sorted([*times, ev.at]))
        return True

    def _rated(self, s: DossierState, ev: DossierEvent) -> bool:
        if s.rated_at is not None:
            if _same_time(s.rated_at, ev.at) and s.rating == ev.rating:
                return False
            raise Rejected(CONFLICT, f"dossier {shown(ev.dossier_id)} was already rated {shown(s.rating)} at "
                                     f"{s.rated_at.isoformat()}; the first one stands", "rating", ev.rating)
        _not_before_received(s, ev)
        s.rating, s.rated_at = ev.rating, ev.at
        return True

    def _returned(self, s: DossierState, ev: DossierEvent) -> bool:
        if s.returned_at is not None:
            if _same_time(s.returned_at, ev.at) and s.return_channel == ev.channel:
                return False
            raise Rejected(CONFLICT, f"dossier {shown(ev.dossier_id)} already has a returned event "
                                     f"({s.returned_at.isoformat()}, {s.return_channel}); the first one stands",
                           "at", ev.at.isoformat())
        for what, t in (("received", s.received_at), ("resolved", s.resolved_at)):
            if t is not None and ev.at < t:
                raise Rejected(INCONSISTENT, f"at: returned {ev.at.isoformat()} is before the dossier was {what} "
                                             f"({t.isoformat()})", "at", ev.at.isoformat())
        s.returned_at, s.return_channel = ev.at, ev.channel
        return True


