"""Petition events in, petition state and its rollup out; the only writer of ``petitions``, ``petition_daily`` and
``petition_monthly`` (migration 0071).

``ingest_events`` is the one write path (``POST /petitions/events`` and ``ops/v1/egov/{unit}/petitions``), in one
transaction per batch like dossiers: validate, check the unit, lock the batch's petitions (ids sorted), apply the
events (the same event again is a duplicate, a different one a conflict, contradictory times are refused, any order
of arrival gives the same state), add the rollup's before/after difference, dead-letter what was refused.

A petition is due ``HANDLING_DAYS`` business days after its received (local) date; it ends when handled, on time
when handled on or before the due date; open past its due date it is late from the day after (``late_day``).
Rollup counters (per day, unit, ward): ``received``, ``ended``, ``ended_on_time``, the stocks ``open_in``/``open_out``
and ``late_in``/``late_out`` (read as running sums), ``rated`` and ``rated_satisfied`` on the day of the rating.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from psycopg.rows import dict_row

from ops_center import counters
from ops_center.counters import CounterTables
from ops_center.db import Conn, fetch_all
from ops_center.devices import lookups as device_lookups
from ops_center.dossiers.calendar import BusinessCalendar, calendar_for, local_date
from ops_center.dossiers.models import CONFLICT, INCONSISTENT, UNKNOWN_UNIT, Rejected, shown
from ops_center.feeds import FeedResult, check_size, parse_items, topic_unit, write_dead_letters
from ops_center.levels import set_on
from ops_center.petitions.models import HANDLING_DAYS, PetitionEvent, parse_event
from ops_center.wards import SetWindows, set_windows

TABLES = CounterTables("petition_daily", "petition_monthly",
                       (("unit_code", "text"), ("ward_set", "text"), ("ward_code", "text")),
                       ("received", "ended", "ended_on_time", "open_in", "open_out", "late_in", "late_out",
                        "rated", "rated_satisfied"), yearly="petition_yearly")
_I = {name: i for i, name in enumerate(TABLES.counters)}


@dataclass(slots=True)
class PetitionState:
    id: str
    unit_code: str | None = None
    ward_set: str = ""
    ward_code: str = ""
    category: str | None = None
    received_at: datetime | None = None
    due_date: date | None = None
    handled_at: datetime | None = None
    rating: str | None = None
    rated_at: datetime | None = None

    def copy(self) -> PetitionState:
        return PetitionState(**{k: getattr(self, k) for k in self.__slots__})


COLUMNS: tuple[str, ...] = PetitionState.__slots__


def end_on_time(s: PetitionState) -> bool | None:
    if s.handled_at is None or s.due_date is None:
        return None
    return local_date(s.handled_at) <= s.due_date


def contributions(s: PetitionState) -> list[tuple[tuple[date, str, str, str], int]]:
    """``(key, counter index)`` pairs, one per +1 this petition adds to the rollup (none before it is received)."""
    if s.received_at is None or s.unit_code is None or s.due_date is None:
        return []
    where = (s.unit_code, s.ward_set, s.ward_code)
    out = [((local_date(s.received_at), *where), _I[n]) for n in ("received", "open_in")]
    end = local_date(s.handled_at) if s.handled_at is not None else None
    if end is not None:
        out += [((end, *where), _I[n]) for n in ("ended", "open_out")]
        if end <= s.due_date:
            out.append(((end, *where), _I["ended_on_time"]))
    late = s.due_date + timedelta(days=1)
    if end is None or late < end:
        out.append(((late, *where), _I["late_in"]))
        if end is not None:
            out.append(((end, *where), _I["late_out"]))
    if s.rated_at is not None:
        out.append(((local_date(s.rated_at), *where), _I["rated"]))
        if s.rating == "satisfied":
            out.append(((local_date(s.rated_at), *where), _I["rated_satisfied"]))
    return out


class Deltas(counters.Deltas):
    def __init__(self) -> None:
        super().__init__(len(TABLES.counters))

    def add(self, before: PetitionState | None, after: PetitionState) -> None:
        for state, sign in ((before, -1), (after, 1)):
            if state is not None:
                for key, i in contributions(state):
                    self.bump(key, i, sign)


def _apply(s: PetitionState, ev: PetitionEvent, calendar: BusinessCalendar, units: dict[str, str | None],
           windows: SetWindows) -> bool:
    """Apply one event; True when it changed something, False for a duplicate; ``Rejected`` otherwise."""
    if ev.type == "received":
        if s.received_at is not None:
            if s.received_at == ev.at and s.unit_code == ev.unit and s.category == ev.category \
                    and (ev.ward is None or ev.ward == s.ward_code):
                return False
            raise Rejected(CONFLICT, f"petition {shown(ev.petition_id)} already has a received event "
                                     f"({s.received_at.isoformat()}, unit {s.unit_code}); the first one stands",
                           "petition_id", ev.petition_id)
        for what, t in (("handled", s.handled_at), ("rated", s.rated_at)):
            if t is not None and t < ev.at:
                raise Rejected(INCONSISTENT, f"at: received {ev.at.isoformat()} is after the petition was {what} "
                                             f"({t.isoformat()})", "at", ev.at.isoformat())
        assert ev.unit is not None
        s.unit_code, s.received_at, s.category = ev.unit, ev.at, ev.category
        s.ward_code = ev.ward or units.get(ev.unit) or ""
        s.ward_set = ev.ward_set or (set_on(windows, local_date(ev.at)) if s.ward_code else "")
        s.due_date = calendar.add_business_days(local_date(ev.at), HANDLING_DAYS)
        return True
    attr = "handled_at" if ev.type == "handled" else "rated_at"
    have: datetime | None = getattr(s, attr)
    if have is not None:
        if have == ev.at and (ev.type == "handled" or s.rating == ev.rating):
            return False
        raise Rejected(CONFLICT, f"petition {shown(ev.petition_id)} already has a {ev.type} event "
                                 f"({have.isoformat()}); the first one stands", "at", ev.at.isoformat())
    if s.received_at is not None and ev.at < s.received_at:
        raise Rejected(INCONSISTENT, f"at: {ev.type} {ev.at.isoformat()} is before the petition was received "
                                     f"({s.received_at.isoformat()})", "at", ev.at.isoformat())
    setattr(s, attr, ev.at)
    if ev.type == "rated":
        s.rating = ev.rating
    return True


def ingest_events(conn: Conn, events: list[Any], source: str, *, calendar: BusinessCalendar | None = None,
                  now: datetime | None = None, record_rejects: bool = True) -> FeedResult:
    """Apply a batch of petition events (see the module docstring)."""
    check_size(events)
    if calendar is None:
        from ops_center.settings import get_settings

        calendar = calendar_for(get_settings())
    now = now or datetime.now(UTC)
    result = FeedResult()
    from_topic = topic_unit(source, "petitions")
    parsed, dead = parse_items(events, lambda raw: parse_event(raw, unit_from_topic=from_topic, now=now))
    with conn.transaction():
        codes = sorted({ev.unit for _, ev in parsed if ev.type == "received" and ev.unit})
        units = device_lookups.unit_wards(conn, codes)
        ok = []
        for i, ev in parsed:
            if ev.type == "received" and ev.unit not in units:
                dead.append((i, events[i], Rejected(UNKNOWN_UNIT, f"unit: {shown(ev.unit)} is not a known unit",
                                                    "unit", ev.unit)))
            else:
                ok.append((i, ev))
        states, before = _lock_and_load(conn, sorted({ev.petition_id for _, ev in ok}), source)
        windows = set_windows(conn) if ok else []
        changed: set[str] = set()
        for i, ev in ok:
            try:
                if _apply(states[ev.petition_id], ev, calendar, units, windows):
                    result.accepted += 1
                    changed.add(ev.petition_id)
                else:
                    result.duplicates += 1
            except Rejected as r:
                dead.append((i, events[i], r))
        deltas = Deltas()
        for pid in sorted(changed):
            deltas.add(before[pid], states[pid])
        _write(conn, [states[p] for p in sorted(changed)], source)
        conn.execute("DELETE FROM petitions WHERE id = ANY(%s) AND received_at IS NULL AND handled_at IS NULL "
                     "AND rated_at IS NULL", (sorted(set(states) - changed),))
        counters.apply(conn, TABLES, deltas)
        result.rejected = [(i, r.reason, r.detail) for i, _, r in sorted(dead, key=lambda d: d[0])]
        if record_rejects:
            write_dead_letters(conn, source, dead)
    return result


def _lock_and_load(conn: Conn, ids: list[str], source: str
                   ) -> tuple[dict[str, PetitionState], dict[str, PetitionState]]:
    if not ids:
        return {}, {}
    conn.execute("INSERT INTO petitions (id, source) SELECT x, %s FROM unnest(%s::text[]) AS x ORDER BY x "
                 "ON CONFLICT (id) DO NOTHING", (source, ids))
    rows = fetch_all(conn, f"SELECT {', '.join(COLUMNS)} FROM petitions WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                     (ids,))
    states = {r["id"]: PetitionState(**r) for r in rows}
    return states, {k: v.copy() for k, v in states.items()}


_TYPES = {"unit_code": "text", "ward_set": "text", "ward_code": "text", "category": "text",
          "received_at": "timestamptz", "due_date": "date", "handled_at": "timestamptz", "rating": "text",
          "rated_at": "timestamptz"}


def _write(conn: Conn, states: list[PetitionState], source: str) -> None:
    if not states:
        return
    sets = ", ".join(f"{c} = v.{c}" for c in _TYPES)
    arrays = ", ".join(f"%s::{t}[]" for t in _TYPES.values())
    conn.execute(f"UPDATE petitions AS p SET {sets}, source = %s, updated_at = now() FROM unnest(%s::text[], "
                 f"{arrays}) AS v(id, {', '.join(_TYPES)}) WHERE p.id = v.id",
                 [source, [s.id for s in states], *[[getattr(s, c) for s in states] for c in _TYPES]])


def load_states(conn: Conn) -> list[PetitionState]:
    """Every petition (the pure reference computation of the index and rebuilds read them)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return [PetitionState(**r) for r in cur.execute(f"SELECT {', '.join(COLUMNS)} FROM petitions").fetchall()]


def rebuild(conn: Conn) -> int:
    """Recompute the rollup from ``petitions`` (inside the caller's transaction)."""
    counters.clear(conn, TABLES)
    deltas = Deltas()
    for s in load_states(conn):
        deltas.add(None, s)
    return counters.apply(conn, TABLES, deltas)


def last_activity(conn: Conn) -> dict[str, datetime]:
    """The newest received petition per unit (the feed-silence alert rule reads it)."""
    rows = conn.execute("SELECT unit_code, max(received_at) FROM petitions WHERE unit_code IS NOT NULL "
                        "GROUP BY 1").fetchall()
    return {str(u): t for u, t in rows if t is not None}


def list_petitions(conn: Conn, where: str, params: dict[str, Any], join: str, after: str, limit: int
                   ) -> list[dict[str, Any]]:
    """Petitions (aliased ``d``) matching ``where`` (named parameters; ``join`` may add tables it needs), by id
    after ``after`` (drill-down of the index)."""
    return fetch_all(conn, "SELECT d.id, d.unit_code, d.ward_set, d.ward_code, d.category, d.received_at, "
                           f"d.due_date, d.handled_at, d.rating, d.rated_at FROM petitions d {join} "
                           f"WHERE d.id > %(after)s AND ({where}) ORDER BY d.id LIMIT %(limit)s",
                     {**params, "after": after, "limit": limit})
