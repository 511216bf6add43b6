"""Dossier events in, dossier state out.

``ingest_events`` is the one write path, used by the HTTP batch endpoint (``POST /dossiers/events``) and by the MQTT
ingest of ``ops/v1/egov/{unit}/dossiers``. Per batch, in one transaction:

1. each event is validated (``models.parse_event``); a bad one is refused with a reason naming field and value;
2. references are checked (procedure in the catalogue, unit in ``units``);
3. the batch's dossiers are locked (new ones inserted first, ids sorted, so concurrent batches never deadlock) and
   the events applied in order: a second event of the same type for a dossier is a duplicate when it says the same
   thing and a conflict when it does not (the first one stands); times that contradict each other (resolved before
   received, returned before resolved) are refused; events may arrive in any order;
4. the daily rollup gets the difference each changed dossier makes (``rollup``);
5. the refused events are written to ``dead_letters`` as ONE letter for the batch (topic = the source), listing each
   with its reason, field and value (``refused``);
6. one ``dossier`` event for the live feed sums up the batch.

Steps 2–4 run in a savepoint; when the database refuses them for a reason that is not the connection's (a value it
cannot store that validation missed), the events are split in halves and applied again until the refused ones stand
alone: those are refused with the database's error, the rest is stored.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from ops_center import events as live
from ops_center.db import Conn, fetch_all
from ops_center.db_errors import describe, is_retryable
from ops_center.devices import lookups as device_lookups
from ops_center.dossiers import index_rollup, refused, rollup
from ops_center.dossiers.apply import Batch, derive
from ops_center.dossiers.calendar import BusinessCalendar, calendar_for, local_date
from ops_center.dossiers.models import (
    UNKNOWN_PROCEDURE,
    UNKNOWN_UNIT,
    DossierEvent,
    Rejected,
    dead_letter_topic,
    parse_event,
    shown,
    topic_unit,
)
from ops_center.dossiers.refused import Refusal
from ops_center.dossiers.rollup import DossierState
from ops_center.feeds import check_size, parse_items
from ops_center.wards import set_windows

log = logging.getLogger("ops_center.dossiers")

DEAD_LETTER_PAYLOAD_CAP = refused.PAYLOAD_CAP
_STATE_COLS = DossierState.__slots__


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (index in the batch, reason, detail)

    def as_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [{"index": i, "reason": r, "detail": d} for i, r, d in self.rejected],
        }


def ingest_events(conn: Conn, events: list[Any], source: str, *, calendar: BusinessCalendar | None = None,
                  now: datetime | None = None, record_rejects: bool = True) -> IngestResult:
    """Apply a batch of dossier events (see the module docstring); returns what was accepted and refused.
    ``record_rejects=False`` (replays) keeps refused events out of ``dead_letters``."""
    check_size(events)
    if calendar is None:
        from ops_center.settings import get_settings

        calendar = calendar_for(get_settings())
    now = now or datetime.now(UTC)
    result = IngestResult()
    unit_from_topic = topic_unit(source)
    parsed, dead = parse_items(events, lambda raw: parse_event(raw, unit_from_topic=unit_from_topic, now=now))

    with conn.transaction():
        applied = _apply_isolating(conn, events, parsed, source, calendar)
        result.accepted, result.duplicates = applied.accepted, applied.duplicates
        dead += applied.dead
        dead.sort(key=lambda d: d[0])
        result.rejected = [(i, r.reason, r.detail) for i, _, r in dead]
        if record_rejects:
            refused.record(conn, dead_letter_topic(source), dead)
        if result.accepted or dead:
            touched_units = sorted(applied.units)
            live.emit(conn, "dossier", {
                "source": source, "accepted": result.accepted, "duplicates": result.duplicates,
                "rejected": len(dead), "by_type": dict(applied.counts), "units": touched_units[:100],
                "units_total": len(touched_units),
            }, subject=source)
    return result


@dataclass
class _Applied:
    accepted: int = 0
    duplicates: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    units: set[str] = field(default_factory=set)
    dead: list[Refusal] = field(default_factory=list)

    def add(self, other: _Applied) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.counts += other.counts
        self.units |= other.units
        self.dead += other.dead


def _apply_isolating(conn: Conn, events: list[Any], parsed: list[tuple[int, DossierEvent]], source: str,
                     calendar: BusinessCalendar) -> _Applied:
    """Apply the parsed events in a savepoint; when the database refuses the write for a reason other than the
    connection's, split the events in halves and apply each alone, until the refused events stand alone: those are
    refused with the database's error as the reason, the rest is stored."""
    out = _Applied()
    parts: deque[list[tuple[int, DossierEvent]]] = deque([parsed])
    while parts:
        part = parts.popleft()
        try:
            with conn.transaction():
                out.add(_apply(conn, events, part, source, calendar))
        except Exception as exc:
            if is_retryable(exc) or not part:
                raise
            if len(part) > 1:
                mid = len(part) // 2
                parts.extendleft([part[mid:], part[:mid]])
                continue
            i = part[0][0]
            fault = describe(exc)
            log.warning("dossier event %d from %s refused by the database: %s", i, source, fault.detail)
            out.dead.append((i, events[i], Rejected(fault.reason, fault.detail, fault.field, fault.value)))
    return out


def _apply(conn: Conn, events: list[Any], parsed: list[tuple[int, DossierEvent]], source: str,
           calendar: BusinessCalendar) -> _Applied:
    out = _Applied()
    procs, units = _references(conn, parsed)
    ok: list[tuple[int, DossierEvent]] = []
    for i, ev in parsed:
        if ev.type == "received":
            assert ev.procedure is not None and ev.unit is not None
            if ev.procedure not in procs:
                out.dead.append((i, events[i], Rejected(
                    UNKNOWN_PROCEDURE, f"procedure: {shown(ev.procedure)} is not in the procedures catalogue",
                    "procedure", ev.procedure)))
                continue
            if ev.unit not in units:
                out.dead.append((i, events[i], Rejected(
                    UNKNOWN_UNIT, f"unit: {shown(ev.unit)} is not a known unit", "unit", ev.unit)))
                continue
        ok.append((i, ev))
    batch = Batch(calendar, procs, units, set_windows(conn) if ok else [])
    _lock_and_load(conn, batch, sorted({ev.dossier_id for _, ev in ok}), source)
    for i, ev in ok:
        try:
            if batch.apply(ev):
                out.accepted += 1
                out.counts[ev.type] += 1
            else:
                out.duplicates += 1
        except Rejected as r:
            out.dead.append((i, events[i], r))
    _store(conn, batch, source)
    out.units = {s.unit_code for s in batch.states.values() if s.unit_code}
    return out


def _store(conn: Conn, batch: Batch, source: str) -> None:
    deltas, index_deltas = rollup.Deltas(), index_rollup.Deltas()
    for did in sorted(batch.changed):
        derive(batch.states[did])
        deltas.add(batch.before[did], batch.states[did])
        index_deltas.add(batch.before[did], batch.states[did])
    _write_states(conn, [batch.states[d] for d in sorted(batch.changed)], source)
    empty = [d for d, s in batch.states.items() if d not in batch.changed and batch.before[d].received_at is None
             and batch.before[d].resolved_at is None and batch.before[d].returned_at is None]
    if empty:
        conn.execute("DELETE FROM dossiers WHERE id = ANY(%s) AND received_at IS NULL AND resolved_at IS NULL "
                     "AND returned_at IS NULL", (empty,))
    rollup.apply_deltas(conn, deltas)
    index_rollup.apply_deltas(conn, index_deltas)


def _references(conn: Conn, parsed: list[tuple[int, DossierEvent]]) -> tuple[dict[str, dict[str, Any]],
                                                                             dict[str, str | None]]:
    proc_codes = sorted({ev.procedure for _, ev in parsed if ev.type == "received" and ev.procedure})
    unit_codes = sorted({ev.unit for _, ev in parsed if ev.type == "received" and ev.unit})
    procs = {r["code"]: r for r in fetch_all(
        conn, "SELECT code, processing_days, offered_by_post, paper_result, full_online_eligible FROM procedures "
        "WHERE code = ANY(%s)", (proc_codes,))}
    units = device_lookups.unit_wards(conn, unit_codes)
    return procs, units


def _lock_and_load(conn: Conn, batch: Batch, ids: list[str], source: str) -> None:
    if not ids:
        return
    conn.execute("INSERT INTO dossiers (id, source) SELECT x, %s FROM unnest(%s::text[]) AS x ORDER BY x "
                 "ON CONFLICT (id) DO NOTHING", (source, ids))
    rows = fetch_all(conn, f"SELECT {', '.join(_STATE_COLS)} FROM dossiers WHERE id = ANY(%s) ORDER BY id "
                           "FOR UPDATE", (ids,))
    for row in rows:
        s = DossierState.from_row(row)
        batch.states[s.id] = s
        batch.before[s.id] = s.copy()


_COLUMN_TYPES = {
    "procedure_code": "text", "unit_code": "text", "ward_set": "text", "ward_code": "text", "channel": "text",
    "received_at": "timestamptz", "processing_days": "integer", "due_date": "date", "offered_by_post": "boolean",
    "resolved_at": "timestamptz", "returned_at": "timestamptz", "return_channel": "text",
    "synced_at": "timestamptz", "digitised": "boolean", "reused_data": "boolean", "from_personal_store": "boolean",
    "population_data": "boolean", "fee_due": "boolean", "paid_online_at": "timestamptz",
    "supplement_requests": "text", "supplement_receipts": "text", "outcome": "text",
    "electronic_result": "boolean", "result_synced_at": "timestamptz", "rating": "text", "rated_at": "timestamptz",
    "paper_result": "boolean", "full_online_eligible": "boolean", "late_day": "date", "end_on_time": "boolean",
}
"""The columns ``_write_states`` sets, with their array element types (the supplement lists travel as the text
of a ``timestamptz[]``, since arrays of arrays cannot be unnested)."""
_ARRAY_COLUMNS = ("supplement_requests", "supplement_receipts")
_UPDATE = (
    "UPDATE dossiers AS d SET "
    + ", ".join(f"{c} = v.{c}::timestamptz[]" if c in _ARRAY_COLUMNS else f"{c} = v.{c}" for c in _COLUMN_TYPES)
    + ", source = %s, updated_at = now() FROM unnest(%s::text[], "
    + ", ".join(f"%s::{t}[]" for t in _COLUMN_TYPES.values())
    + f") AS v(id, {', '.join(_COLUMN_TYPES)}) WHERE d.id = v.id"
)


def _array_text(times: list[datetime]) -> str:
    return "{" + ",".join(f'"{t.isoformat()}"' for t in times) + "}"


def _write_states(conn: Conn, states: list[DossierState], source: str) -> None:
    """One UPDATE joining the batch's arrays to ``dossiers`` by id. Knowing the arrays' sizes, the planner would hash
    the whole table (a sequential scan: 0.5 s per batch at 400,000 dossiers); the batch's rows are few and their
    primary-key lookups cheap, so hash and merge joins are switched off for this statement only."""
    if not states:
        return
    columns: list[list[Any]] = [[s.id for s in states]]
    for c in _COLUMN_TYPES:
        values = [getattr(s, c) for s in states]
        columns.append([_array_text(v) for v in values] if c in _ARRAY_COLUMNS else values)
    saved = conn.execute("SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin'), "
                         "set_config('enable_hashjoin', 'off', true), "
                         "set_config('enable_mergejoin', 'off', true)").fetchone()
    assert saved is not None
    try:
        conn.execute(_UPDATE, [source, *columns])
    finally:
        conn.execute("SELECT set_config('enable_hashjoin', %s, true), set_config('enable_mergejoin', %s, true)",
                     (saved[0], saved[1]))


# --------------------------------------------------------------------------------------------- reading


def status_of(row: dict[str, Any], calendar: BusinessCalendar, today: date) -> str:
    """pending (no received event yet) | resolved_on_time | resolved_late | overdue | at_risk | open."""
    if row.get("received_at") is None or row.get("due_date") is None:
        return "pending"
    due: date = row["due_date"]
    if row.get("resolved_at") is not None:
        return "resolved_on_time" if local_date(row["resolved_at"]) <= due else "resolved_late"
    if today > due:
        return "overdue"
    return "at_risk" if calendar.at_risk(due, today) else "open"


_SELECT = ("SELECT d.id, d.procedure_code, p.name AS procedure_name, d.unit_code, NULL::text AS unit_name, "
           "d.ward_set, "
           "d.ward_code, d.channel, d.received_at, d.processing_days, d.due_date, d.offered_by_post, d.resolved_at, "
           "d.returned_at, d.return_channel, d.outcome, d.electronic_result, d.synced_at, d.digitised, "
           "d.reused_data, d.from_personal_store, d.population_data, d.fee_due, d.paid_online_at, "
           "d.supplement_requests, d.supplement_receipts, d.result_synced_at, d.rating, d.rated_at, "
           "d.paper_result, d.full_online_eligible, d.late_day, d.end_on_time, d.updated_at FROM dossiers d "
           "LEFT JOIN procedures p ON p.code = d.procedure_code")
"""Every column of a dossier; ``unit_name`` is filled from the units' directory by ``_named``."""


def _named(conn: Conn, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = device_lookups.unit_names(conn, sorted({r["unit_code"] for r in rows if r["unit_code"]}))
    for r in rows:
        r["unit_name"] = names.get(r["unit_code"]) if r["unit_code"] else None
    return rows


def _out(row: dict[str, Any], calendar: BusinessCalendar, today: date) -> dict[str, Any]:
    row = dict(row)
    row["status"] = status_of(row, calendar, today)
    row["overdue"] = row["status"] == "overdue"
    row["at_risk"] = row["status"] == "at_risk"
    return row


def get_dossier(conn: Conn, dossier_id: str, calendar: BusinessCalendar, now: datetime | None = None
                ) -> dict[str, Any] | None:
    rows = _named(conn, fetch_all(conn, _SELECT + " WHERE d.id = %s", (dossier_id,)))
    return _out(rows[0], calendar, local_date(now or datetime.now(UTC))) if rows else None


def list_dossiers(conn: Conn, calendar: BusinessCalendar, *, state: str | None = None, unit: str | None = None,
                  after: str | None = None, limit: int = 50, now: datetime | None = None) -> list[dict[str, Any]]:
    """Dossiers by id; ``state``: open (not resolved), overdue (open past due), at_risk (open, due within one
    business day), resolved. Time decides: today's date against the stored due date."""
    today = local_date(now or datetime.now(UTC))
    where, params = ["d.id > %s"], [after or ""]
    if state == "open":
        where.append("d.received_at IS NOT NULL AND d.resolved_at IS NULL")
    elif state == "overdue":
        where.append("d.received_at IS NOT NULL AND d.resolved_at IS NULL AND d.due_date < %s")
        params.append(today)  # type: ignore[arg-type]
    elif state == "at_risk":
        where.append("d.received_at IS NOT NULL AND d.resolved_at IS NULL AND d.due_date BETWEEN %s AND %s")
        params += [today, calendar.add_business_days(today, 1)]  # type: ignore[list-item]
    elif state == "resolved":
        where.append("d.resolved_at IS NOT NULL")
    elif state is not None:
        raise ValueError(f"state: {state!r} is not one of open, overdue, at_risk, resolved")
    if unit:
        where.append("d.unit_code = %s")
        params.append(unit)
    rows = fetch_all(conn, _SELECT + " WHERE " + " AND ".join(where) + " ORDER BY d.id LIMIT %s", [*params, limit])
    return [_out(r, calendar, today) for r in _named(conn, rows)]


def last_received_by_unit(conn: Conn) -> dict[str, datetime]:
    """The newest received dossier per unit (one index probe per unit; the feed-silence alert rule reads it)."""
    rows = conn.execute("SELECT u.code, (SELECT max(d.received_at) FROM dossiers d WHERE d.unit_code = u.code) "
                        "FROM unnest(%s::text[]) AS u(code)", (device_lookups.unit_codes(conn),)).fetchall()
    return {str(code): at for code, at in rows if at is not None}


def recompute_due_dates(conn: Conn, calendar: BusinessCalendar, *, only_open: bool = True) -> int:
    """After a calendar change: recompute due dates (open dossiers by default) and fix the rollup to match.
    Returns the number of dossiers whose due date moved."""
    cond = "received_at IS NOT NULL" + (" AND resolved_at IS NULL" if only_open else "")
    with conn.transaction():
        rows = fetch_all(conn, f"SELECT {', '.join(_STATE_COLS)} FROM dossiers WHERE {cond} ORDER BY id FOR UPDATE")
        deltas, index_deltas = rollup.Deltas(), index_rollup.Deltas()
        moved: list[DossierState] = []
        for row in rows:
            before = DossierState.from_row(row)
            assert before.received_at is not None and before.processing_days is not None
            due = calendar.due_date(before.received_at, before.processing_days)
            if due != before.due_date:
                after = before.copy()
                after.due_date = due
                derive(after)
                deltas.add(before, after)
                index_deltas.add(before, after)
                moved.append(after)
        for s in moved:
            conn.execute("UPDATE dossiers SET due_date = %s, late_day = %s, end_on_time = %s, updated_at = now() "
                         "WHERE id = %s", (s.due_date, s.late_day, s.end_on_time, s.id))
        rollup.apply_deltas(conn, deltas)
        index_rollup.apply_deltas(conn, index_deltas)
    return len(moved)


# --------------------------------------------------------------------------------------------- replay

REPLAY_MAX = refused.REPLAY_MAX
ReplayResult = refused.ReplayResult


def replay_dead_letters(conn: Conn, *, ids: list[int] | None = None, limit: int = 1000,
                        calendar: BusinessCalendar | None = None, now: datetime | None = None) -> ReplayResult:
    """Re-apply refused dossier events after their cause was fixed (a procedure or unit added, a clock corrected):
    see ``refused.replay``. No new dead letter is written."""

    def apply(c: Conn, events: list[Any], topic: str) -> tuple[dict[int, tuple[str, str]], int]:
        result = ingest_events(c, events, topic, calendar=calendar, now=now, record_rejects=False)
        return {i: (reason, detail) for i, reason, detail in result.rejected}, result.accepted

    with conn.transaction():
        return refused.replay(conn, apply, ids=ids, limit=limit)
