"""The alert lifecycle: fire (or reopen within the flap window), resolve, acknowledge, assign, and the timeline.

One open alert per fingerprint (rule + subject), however many evaluators run: the partial unique index
(``fingerprint WHERE ends_at IS NULL``) makes a second open alert impossible — a racing insert waits for the first
and then does nothing — and reopening locks the resolved row it reopens (``FOR UPDATE``), so two evaluators
serialise on it and the second sees it open. Row locks, not advisory locks: a cycle that fires thousands of alerts
in one transaction must not exhaust the server's shared lock table (measured: it does). Every
transition writes a timeline entry, emits an ``alert`` event (the alert JSON plus ``transition``) and — when the
alert is neither muted nor acknowledged — the notifications of its escalation policy, all in the caller's
transaction. Times: ``at`` is when the data says it happened (a reading's time, clamped to ``now``); ``now`` is the
wall clock, injectable for tests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb

from alerts import escalation, muting
from alerts.config import get_config
from alerts.errors import AlertConflict, AlertNotFound, UnitNotFound
from alerts.models import ALERT_COLUMNS, Alert, alert_json, fetch_alert, fetch_alerts, utcnow
from alerts.rules.ref import RuleRef
from ops_center import events
from ops_center.db import Conn, fetch_all
from ops_center.devices import lookups as device_lookups


@dataclass(frozen=True)
class Firing:
    rule: RuleRef
    subject: str
    labels: dict[str, Any]
    summary: str
    value: float | None
    at: datetime


@dataclass(frozen=True)
class Change:
    transition: str          # fired | reopened | resolved | acknowledged | assigned
    alert: Alert


def fingerprint(rule_id: int | None, subject: str) -> str:
    return hashlib.sha256(f"{rule_id}\x1f{subject}".encode()).hexdigest()[:32]


def add_timeline(conn: Conn, alert_id: int, kind: str, at: datetime, actor: str | None,
                 detail: dict[str, Any] | None = None) -> int:
    row = conn.execute("INSERT INTO alert_timeline (alert_id, at, kind, actor, detail) VALUES (%s, %s, %s, %s, %s) "
                       "RETURNING id", (alert_id, at, kind, actor, Jsonb(detail or {}))).fetchone()
    assert row is not None
    return int(row[0])


def emit(conn: Conn, row: Alert, transition: str, now: datetime) -> None:
    payload = {**alert_json(row, now), "transition": transition}
    events.emit(conn, "alert", payload, subject=f"alert:{row.id}", ward_code=(row.labels or {}).get("ward"))


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def fire(conn: Conn, f: Firing, *, now: datetime | None = None,
         mutes: muting.MuteSnapshot | None = None) -> Change | None:
    """Open an alert for ``f`` — or reopen the one resolved within the rule's flap window — unless one is open
    already (then nothing happens and None is returned)."""
    now = now or utcnow()
    at = min(f.at, now)
    fp = fingerprint(f.rule.id, f.subject)
    if conn.execute("SELECT 1 FROM alerts WHERE fingerprint = %s AND ends_at IS NULL", (fp,)).fetchone():
        return None
    flap = f.rule.flap_window_s if f.rule.flap_window_s is not None else get_config().default_flap_window_s
    recent = conn.execute("SELECT id FROM alerts WHERE fingerprint = %s AND ends_at >= %s "
                          "ORDER BY ends_at DESC, id DESC LIMIT 1 FOR UPDATE", (fp, at - timedelta(seconds=flap))).fetchone()
    rows: list[Alert] = []
    if recent is not None:
        try:
            with conn.transaction():  # a savepoint: another evaluator may have opened a new alert meanwhile
                rows = fetch_alerts(
                    conn,
                    f"UPDATE alerts a SET ends_at = NULL, resolved_by = NULL, resolve_note = NULL, "
                    f"reopen_count = a.reopen_count + 1, last_fired_at = %s, value = %s, summary = %s, labels = %s, "
                    f"severity = %s, escalation_policy_id = %s, updated_at = %s WHERE id = %s "
                    f"AND ends_at IS NOT NULL RETURNING {ALERT_COLUMNS}",
                    (at, f.value, f.summary, Jsonb(f.labels), f.rule.severity, f.rule.escalation_policy_id, now,
                     recent[0]),
                )
        except pg_errors.UniqueViolation:
            return None
        transition = "reopened"
    else:
        rows = fetch_alerts(
            conn,
            f"INSERT INTO alerts AS a (fingerprint, rule_id, rule_name, subject, severity, labels, summary, value, "
            f"starts_at, last_fired_at, escalation_policy_id, created_at, updated_at) "
            f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            f"ON CONFLICT (fingerprint) WHERE ends_at IS NULL DO NOTHING RETURNING {ALERT_COLUMNS}",
            (fp, f.rule.id, f.rule.name, f.subject, f.rule.severity, Jsonb(f.labels), f.summary, f.value, at, at,
             f.rule.escalation_policy_id, now, now),
        )
        transition = "fired"
    if not rows:
        return None
    row = rows[0]
    cause = add_timeline(conn, row.id, transition, now, "rule",
                         {"value": f.value, "subject": f.subject, "data_time": _iso(at), "rule_id": f.rule.id})
    decision = (mutes or muting.MuteSnapshot.load(conn, now)).decide(row)
    if decision.muted or row.muted:
        row, _, _ = muting.apply(conn, row, decision, now)
    if mutes is not None:
        mutes.add_source(row)
    if not row.muted and row.acknowledged_at is None:
        row = escalation.start(conn, row, now, cause, transition)
    emit(conn, row, transition, now)
    return Change(transition, row)


def resolve(conn: Conn, *, fingerprint_: str | None = None, alert_id: int | None = None, at: datetime | None = None,
            actor: str | None = None, note: str | None = None, now: datetime | None = None,
            detail: dict[str, Any] | None = None) -> Change | None:
    """End the open alert of a fingerprint (or the alert ``alert_id`` if it is open); None if none is open."""
    now = now or utcnow()
    if fingerprint_ is None:
        found = conn.execute("SELECT fingerprint FROM alerts WHERE id = %s", (alert_id,)).fetchone()
        if found is None:
            return None
        fingerprint_ = str(found[0])
    at = min(at or now, now)
    where, params = ("fingerprint = %s", fingerprint_) if alert_id is None else ("id = %s", alert_id)
    rows = fetch_alerts(
        conn,
        f"UPDATE alerts a SET ends_at = GREATEST(a.starts_at, %s), resolved_by = %s, resolve_note = %s, "
        f"next_escalation_at = NULL, updated_at = %s WHERE {where} AND ends_at IS NULL RETURNING {ALERT_COLUMNS}",
        (at, actor, note, now, params),
    )
    if not rows:
        return None
    row = rows[0]
    cause = add_timeline(conn, row.id, "resolved", now, actor or "rule",
                         {"note": note, "data_time": _iso(at), **(detail or {})})
    if not row.muted:
        escalation.on_resolved(conn, row, now, cause)
    emit(conn, row, "resolved", now)
    return Change("resolved", row)


def _flap_s(rule: RuleRef) -> float:
    return rule.flap_window_s if rule.flap_window_s is not None else get_config().default_flap_window_s


@dataclass(frozen=True)
class _NewAlert:
    """One alert of a ``fire_many`` insert, as it travels in the statement's JSON document."""

    n: int                   # its place in the document (rows are inserted in fingerprint order)
    fingerprint: str
    rule_id: int | None
    rule_name: str
    subject: str
    severity: str
    labels: dict[str, Any]
    summary: str
    value: float | None
    at: str                  # ISO 8601: starts_at and last_fired_at
    escalation_policy_id: int | None


def _json_rows(rows: Sequence[object]) -> str:
    """Many rows for one statement as a single JSON array (``jsonb_to_recordset``): far cheaper to send than
    arrays of jsonb, whose text form psycopg escapes element by element."""
    return orjson.dumps(rows, option=orjson.OPT_NON_STR_KEYS).decode()


def _record(conn: Conn, entries: Sequence[tuple[Alert, str, str, dict[str, Any]]], at: datetime,
            emits: Sequence[Alert], transition: str, now: datetime) -> dict[tuple[int, str], int]:
    """Timeline entries ``(alert row, kind, actor, detail)`` in one statement and the ``alert`` events of ``emits``
    in another (``events.emit_many``); returns {(alert id, kind): timeline id}."""
    timeline = [{"n": i, "alert_id": r.id, "kind": kind, "actor": actor, "detail": d}
                for i, (r, kind, actor, d) in enumerate(entries)]
    got = conn.execute(
        "INSERT INTO alert_timeline (alert_id, at, kind, actor, detail) "
        "SELECT x.alert_id, %s, x.kind, x.actor, x.detail FROM jsonb_to_recordset(%s::jsonb) "
        "AS x(n int, alert_id bigint, kind text, actor text, detail jsonb) ORDER BY x.n RETURNING alert_id, kind, id",
        (at, _json_rows(timeline)),
    ).fetchall()
    events.emit_many(conn, "alert", [
        events.NewEvent({**alert_json(r, now), "transition": transition}, subject=f"alert:{r.id}",
                        ward_code=(r.labels or {}).get("ward")) for r in emits])
    return {(int(a), str(k)): int(i) for a, k, i in got}


def fire_many(conn: Conn, firings: Sequence[Firing], *, now: datetime | None = None,
              mutes: muting.MuteSnapshot | None = None) -> list[Change]:
    """``fire`` for many subjects with a handful of statements (a storm: a network outage silences hundreds of
    devices at once). Subjects with an open alert are skipped; those whose last alert ended within the flap
    window take the one-by-one path (they reopen); the rest are inserted together in fingerprint order."""
    now = now or utcnow()
    by_fp: dict[str, Firing] = {}
    for f in firings:
        by_fp.setdefault(fingerprint(f.rule.id, f.subject), f)
    if not by_fp:
        return []
    fps = sorted(by_fp)
    latest = dict(conn.execute(
        "SELECT DISTINCT ON (fingerprint) fingerprint, ends_at FROM alerts WHERE fingerprint = ANY(%s) "
        "ORDER BY fingerprint, ends_at DESC NULLS FIRST", (fps,)).fetchall())
    changes: list[Change] = []
    new: list[tuple[str, Firing]] = []
    for fp in fps:
        f = by_fp[fp]
        if fp in latest:
            ends = latest[fp]
            if ends is None:
                continue
            if ends >= min(f.at, now) - timedelta(seconds=_flap_s(f.rule)):
                change = fire(conn, f, now=now, mutes=mutes)
                if change is not None:
                    changes.append(change)
                continue
        new.append((fp, f))
    if not new:
        return changes
    ats = [min(f.at, now) for _, f in new]
    doc = [_NewAlert(i, fp, f.rule.id, f.rule.name, f.subject, f.rule.severity, f.labels, f.summary, f.value,
                     at.isoformat(), f.rule.escalation_policy_id)
           for i, ((fp, f), at) in enumerate(zip(new, ats, strict=True))]
    rows = fetch_alerts(
        conn,
        f"INSERT INTO alerts AS a (fingerprint, rule_id, rule_name, subject, severity, labels, summary, value, "
        f"starts_at, last_fired_at, escalation_policy_id, created_at, updated_at) "
        f"SELECT x.fingerprint, x.rule_id, x.rule_name, x.subject, x.severity, COALESCE(x.labels, '{{}}'), "
        f"x.summary, x.value, x.at, x.at, x.escalation_policy_id, %s, %s "
        f"FROM jsonb_to_recordset(%s::jsonb) AS x(n int, fingerprint text, rule_id bigint, rule_name text, "
        f"subject text, severity text, labels jsonb, summary text, value float8, at timestamptz, "
        f"escalation_policy_id bigint) ORDER BY x.n "
        f"ON CONFLICT (fingerprint) WHERE ends_at IS NULL DO NOTHING RETURNING {ALERT_COLUMNS}",
        (now, now, _json_rows(doc)),
    )
    if not rows:
        return changes
    rows.sort(key=lambda r: r.fingerprint)
    sent = {fp: f for fp, f in new}
    snap = mutes or muting.MuteSnapshot.load(conn, now)
    decisions = {r.id: snap.decide(r) for r in rows}
    muted = [r for r in rows if decisions[r.id].muted]
    if muted:
        updated = fetch_alerts(
            conn,
            f"UPDATE alerts a SET muted = true, muted_reason = u.reason, muted_by = u.by, updated_at = %s "
            f"FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS u(id, reason, by) WHERE a.id = u.id "
            f"RETURNING {ALERT_COLUMNS}",
            (now, [r.id for r in muted], [decisions[r.id].reason for r in muted],
             [decisions[r.id].by for r in muted]),
        )
        by_id = {r.id: r for r in updated}
        rows = [by_id.get(r.id, r) for r in rows]
    entries = [(r, "fired", "rule", {"value": sent[r.fingerprint].value, "subject": r.subject,
                                     "data_time": _iso(r.starts_at), "rule_id": r.rule_id}) for r in rows]
    entries += [(r, "muted", "muting", {"reason": decisions[r.id].reason, "by": decisions[r.id].by})
                for r in rows if r.muted]
    causes = _record(conn, entries, now, rows, "fired", now)
    policies: dict[int, escalation.Policy | None] = {}
    out: list[Alert] = []
    for r in rows:
        snap.add_source(r)
        if not r.muted and r.escalation_policy_id is not None:
            r = escalation.start(conn, r, now, causes[(r.id, "fired")], "fired", policies)
        out.append(r)
    return changes + [Change("fired", r) for r in out]


def resolve_many(conn: Conn, items: Sequence[tuple[str, datetime, dict[str, Any]]], *,
                 now: datetime | None = None) -> list[Change]:
    """``resolve`` for many fingerprints ``(fingerprint, at, detail)`` at once; rows are locked in fingerprint
    order so two evaluators resolving the same set never deadlock."""
    now = now or utcnow()
    wanted: dict[str, tuple[datetime, dict[str, Any]]] = {}
    for fp, at, detail in items:
        wanted.setdefault(fp, (min(at, now), detail))
    if not wanted:
        return []
    fps = sorted(wanted)
    rows = fetch_alerts(
        conn,
        f"WITH l AS (SELECT id, fingerprint FROM alerts WHERE fingerprint = ANY(%s) AND ends_at IS NULL "
        f"ORDER BY fingerprint FOR UPDATE) "
        f"UPDATE alerts a SET ends_at = GREATEST(a.starts_at, u.at), next_escalation_at = NULL, updated_at = %s "
        f"FROM l JOIN unnest(%s::text[], %s::timestamptz[]) AS u(fp, at) ON u.fp = l.fingerprint "
        f"WHERE a.id = l.id AND a.ends_at IS NULL RETURNING {ALERT_COLUMNS}",
        (fps, now, fps, [wanted[fp][0] for fp in fps]),
    )
    if not rows:
        return []
    rows.sort(key=lambda r: r.fingerprint)
    causes = _record(conn, [(r, "resolved", "rule", {"note": None, "data_time": _iso(r.ends_at),
                                                    **wanted[r.fingerprint][1]}) for r in rows],
                     now, rows, "resolved", now)
    policies: dict[int, escalation.Policy | None] = {}
    for r in rows:
        if not r.muted and r.escalation_policy_id is not None:
            escalation.on_resolved(conn, r, now, causes[(r.id, "resolved")], policies)
    return [Change("resolved", r) for r in rows]


def get(conn: Conn, alert_id: int) -> Alert | None:
    return fetch_alert(conn, f"SELECT {ALERT_COLUMNS} FROM alerts a WHERE a.id = %s", (alert_id,))


def _open_row(conn: Conn, alert_id: int, now: datetime, verb: str) -> Alert:
    row = fetch_alert(conn, f"SELECT {ALERT_COLUMNS} FROM alerts a WHERE a.id = %s FOR UPDATE", (alert_id,))
    if row is None:
        raise AlertNotFound(f"alert_id: no alert {alert_id}")
    if row.ends_at is not None and row.ends_at <= now:
        raise AlertConflict(f"alert {alert_id} is resolved (at {row.ends_at.isoformat()}); cannot {verb} it")
    return row


def acknowledge(conn: Conn, alert_id: int, actor: str, note: str | None = None,
                now: datetime | None = None) -> Alert:
    """Acknowledge an open alert: stops its escalation and reminders."""
    now = now or utcnow()
    row = _open_row(conn, alert_id, now, "acknowledge")
    if row.acknowledged_at is not None:
        raise AlertConflict(f"alert {alert_id} was already acknowledged by {row.acknowledged_by} at "
                            f"{row.acknowledged_at.isoformat()}")
    row = fetch_alerts(
        conn,
        f"UPDATE alerts a SET acknowledged_by = %s, acknowledged_at = %s, ack_note = %s, next_escalation_at = NULL, "
        f"updated_at = %s WHERE id = %s RETURNING {ALERT_COLUMNS}",
        (actor, now, note, now, alert_id),
    )[0]
    add_timeline(conn, alert_id, "acknowledged", now, actor, {"note": note})
    emit(conn, row, "acknowledged", now)
    return row


def resolve_by(conn: Conn, alert_id: int, actor: str, note: str | None = None,
               now: datetime | None = None) -> Alert:
    """An operator resolves an alert. The rule's stream state for the subject is reset first (same lock order as
    the stream evaluator: state row, then fingerprint), so if the condition still holds the rule fires again."""
    now = now or utcnow()
    row = _open_row(conn, alert_id, now, "resolve")
    if row.rule_id is not None:
        conn.execute("DELETE FROM alert_rule_state WHERE rule_id = %s AND subject = %s",
                      (row.rule_id, row.subject))
    change = resolve(conn, alert_id=alert_id, at=now, actor=actor, note=note, now=now)
    if change is None:
        raise AlertConflict(f"alert {alert_id} is not open")
    return change.alert


def assign(conn: Conn, alert_id: int, unit: str, actor: str, now: datetime | None = None) -> Alert:
    """Assign the alert to a unit (``units.code``); allowed on resolved alerts too, for follow-up."""
    now = now or utcnow()
    if not device_lookups.unit_exists(conn, unit):
        raise UnitNotFound(f"unit: no unit with code {unit[:80]!r}")
    before = fetch_alert(conn, f"SELECT {ALERT_COLUMNS} FROM alerts a WHERE a.id = %s FOR UPDATE", (alert_id,))
    if before is None:
        raise AlertNotFound(f"alert_id: no alert {alert_id}")
    row = fetch_alerts(conn, f"UPDATE alerts a SET assigned_unit = %s, updated_at = %s WHERE id = %s "
                          f"RETURNING {ALERT_COLUMNS}", (unit, now, alert_id))[0]
    add_timeline(conn, alert_id, "assigned", now, actor, {"unit": unit, "previous": before.assigned_unit})
    emit(conn, row, "assigned", now)
    return row


def after_mute_change(conn: Conn, row: Alert, transition: str, now: datetime, cause: int) -> None:
    """Called by ``muting.refresh``: an unmuted, open, unacknowledged alert starts its escalation ladder now."""
    if transition == "unmuted" and row.ends_at is None and row.acknowledged_at is None:
        row = escalation.start(conn, row, now, cause, "unmuted")
    emit(conn, row, transition, now)


def timeline(conn: Conn, alert_id: int) -> list[dict[str, Any]]:
    return fetch_all(conn, "SELECT id, at, kind, actor, detail FROM alert_timeline WHERE alert_id = %s ORDER BY id",
                     (alert_id,))
