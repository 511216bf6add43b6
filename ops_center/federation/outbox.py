"""The provincial outbox: change marks → versioned snapshots, and the delivery bookkeeping.

Marks are written by a trigger on ``events`` inside the transaction of each change (migration 0090), so a change
that commits is marked and one that rolls back is not. ``publish`` consumes marks and writes the snapshots they
call for in one transaction: a snapshot version exists if and only if the marks it answers are gone. Versions
count per (kind, period) under an advisory lock; unchanged content (same hash as the newest version) makes none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from psycopg.types.json import Jsonb

from ops_center.db import Conn, fetch_all, fetch_one
from ops_center.federation import periods
from ops_center.federation.registry import Producer, producers
from ops_center.federation.wire import content_hash, envelope
from ops_center.settings import LOCAL_TIMEZONE

_BUILD_LOCK = 7_336_090
_COLUMNS = ("id, kind, period, version, content_hash, envelope, status, attempts, next_attempt_at, last_error, "
            "outcome, created_at, delivered_at")


@dataclass
class PublishReport:
    built: list[int] = field(default_factory=list)
    unchanged: int = 0
    topics: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"built": len(self.built), "unchanged": self.unchanged, "topics": self.topics, "errors": self.errors}


def set_publishing(conn: Conn, on: bool) -> None:
    """Switch the change trigger on or off (a no-op when it already is)."""
    conn.execute("UPDATE federation_state SET publishing = %s, updated_at = now() WHERE publishing <> %s", (on, on))


def consume_changes(conn: Conn) -> list[str]:
    """Delete the committed marks and return their topics (only committed rows are visible, so a change still in
    flight keeps its mark for the next round)."""
    rows = conn.execute("DELETE FROM federation_changes RETURNING topic").fetchall()
    return sorted({str(r[0]) for r in rows})


def periods_for(p: Producer, now: datetime, history_months: int, tz: str, *, changed_only: bool) -> list[str]:
    """On a change: the current month (and the previous one during the first two local days, for late data).
    On the schedule: ``history_months`` months for history kinds, the current month for state kinds."""
    if changed_only or not p.history:
        back = 2 if p.history and now.astimezone(ZoneInfo(tz)).day <= 2 else 1
        return periods.months_back(now, back, tz)
    return periods.months_back(now, history_months, tz)


def _latest(conn: Conn, kind: str, period: str) -> tuple[int, str | None]:
    row = conn.execute("SELECT version, content_hash FROM federation_outbox WHERE kind = %s AND period = %s "
                       "ORDER BY version DESC LIMIT 1", (kind, period)).fetchone()
    return (int(row[0]), str(row[1])) if row else (0, None)


def _write(conn: Conn, province: str, p: Producer, months: Sequence[str], now: datetime,
           report: PublishReport) -> None:
    built = p.build(conn, months, now)
    for month in months:
        model = built.get(month)
        if model is None:
            continue
        data = model.model_dump(mode="json", by_alias=True)
        digest = content_hash(data)
        version, last_hash = _latest(conn, p.kind, month)
        if digest == last_hash:
            report.unchanged += 1
            continue
        env = envelope(province, p.kind, month, version + 1, now, data)
        row = conn.execute(
            "INSERT INTO federation_outbox (kind, period, version, content_hash, envelope) "
            "VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (p.kind, month, version + 1, digest, Jsonb(env))).fetchone()
        assert row is not None
        report.built.append(int(row[0]))


def publish(conn: Conn, province: str, now: datetime, *, history_months: int = 12, tz: str = LOCAL_TIMEZONE,
            changed_only: bool = False, kinds: Iterable[str] | None = None) -> PublishReport:
    """One round in one transaction (a savepoint inside the caller's): consume the marks, then build either the
    kinds they touch (``changed_only``) or every kind (the schedule). A producer that fails is reported and its
    marks are consumed all the same (the schedule retries it); the others go on."""
    report = PublishReport()
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_BUILD_LOCK,))
        report.topics = consume_changes(conn)
        wanted = set(kinds) if kinds is not None else None
        for p in producers().values():
            if wanted is not None and p.kind not in wanted:
                continue
            if changed_only and not (p.topics & set(report.topics)):
                continue
            months = periods_for(p, now, history_months, tz, changed_only=changed_only)
            try:
                with conn.transaction():
                    _write(conn, province, p, months, now, report)
            except Exception as exc:
                report.errors[p.kind] = f"{type(exc).__name__}: {exc}"[:500]
    return report


def due(conn: Conn, lease_s: float, limit: int = 500) -> list[int]:
    """Rows ready for an attempt that no worker holds, marked enqueued (once per lease period)."""
    rows = conn.execute(
        "WITH d AS (SELECT id FROM federation_outbox WHERE status IN ('pending', 'sending') "
        "AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now()) "
        "AND (enqueued_at IS NULL OR enqueued_at < now() - make_interval(secs => %s) "
        "     OR enqueued_at < next_attempt_at) "
        "ORDER BY next_attempt_at, id LIMIT %s FOR UPDATE SKIP LOCKED) "
        "UPDATE federation_outbox o SET enqueued_at = now() FROM d WHERE o.id = d.id RETURNING o.id",
        (lease_s, limit)).fetchall()
    return sorted(int(r[0]) for r in rows)


def claim(conn: Conn, outbox_id: int, lease_s: float) -> dict[str, Any] | None:
    """Take a row for one attempt (the caller commits before sending), or None when it is not takeable."""
    return fetch_one(
        conn,
        "UPDATE federation_outbox SET status = 'sending', attempts = attempts + 1, "
        "lease_until = now() + make_interval(secs => %s) WHERE id = %s AND status IN ('pending', 'sending') "
        "AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now()) "
        "RETURNING id, kind, period, version, envelope, attempts",
        (lease_s, outbox_id))


def supersede_if_newer(conn: Conn, row: dict[str, Any], started: datetime, worker: str) -> bool:
    """A newer version of the same (kind, period) will be sent: this one need not be (a snapshot is a whole
    state, not a delta). Marks the row superseded and returns True."""
    newer = conn.execute("SELECT 1 FROM federation_outbox WHERE kind = %s AND period = %s AND version > %s "
                         "AND status <> 'failed' LIMIT 1", (row["kind"], row["period"], row["version"])).fetchone()
    if newer is None:
        return False
    conn.execute("UPDATE federation_outbox SET status = 'superseded', lease_until = NULL WHERE id = %s",
                 (row["id"],))
    conn.execute("INSERT INTO federation_deliveries (outbox_id, attempt, started_at, outcome, worker) "
                 "VALUES (%s, %s, %s, 'superseded', %s)", (row["id"], row["attempts"], started, worker))
    return True


def record(conn: Conn, row: dict[str, Any], *, outcome: str, status_code: int | None, error: str | None,
           answer: str | None, retry_in_s: float | None, started: datetime, worker: str) -> None:
    """The attempt's outcome: ``delivered`` (``answer``: stored, duplicate or stale), ``retry`` or ``failed``."""
    status = {"delivered": "delivered", "retry": "pending", "failed": "failed"}[outcome]
    conn.execute("INSERT INTO federation_deliveries (outbox_id, attempt, started_at, outcome, status_code, error, "
                 "worker) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                 (row["id"], row["attempts"], started, outcome, status_code, error, worker))
    conn.execute(
        "UPDATE federation_outbox SET status = %s, lease_until = NULL, last_error = %s, outcome = %s, "
        "delivered_at = CASE WHEN %s = 'delivered' THEN now() ELSE delivered_at END, "
        "next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s AND attempts = %s AND status = 'sending'",
        (status, error, answer, status, retry_in_s or 0.0, row["id"], row["attempts"]))


def prune(conn: Conn, keep_days: int = 30) -> int:
    """Delete delivered and superseded rows older than ``keep_days``, always keeping the newest version of each
    (kind, period): the version counter continues from it."""
    cur = conn.execute(
        "DELETE FROM federation_outbox o WHERE o.status IN ('delivered', 'superseded') "
        "AND o.created_at < now() - make_interval(days => %s) AND EXISTS (SELECT 1 FROM federation_outbox n "
        "WHERE n.kind = o.kind AND n.period = o.period AND n.version > o.version)", (keep_days,))
    return cur.rowcount


def pending_count(conn: Conn) -> int:
    row = conn.execute("SELECT count(*) FROM federation_outbox WHERE status IN ('pending', 'sending')").fetchone()
    return int(row[0]) if row else 0


def replay_failed(conn: Conn, ids: Sequence[int] | None = None) -> int:
    """Put failed rows back in the queue (after the cause was fixed: a credential, a national upgrade)."""
    cur = conn.execute("UPDATE federation_outbox SET status = 'pending', next_attempt_at = now(), enqueued_at = NULL, "
                       "lease_until = NULL WHERE status = 'failed' AND (%s::bigint[] IS NULL OR id = ANY(%s))",
                       (list(ids) if ids else None, list(ids) if ids else None))
    return cur.rowcount


def status(conn: Conn) -> list[dict[str, Any]]:
    """Per status: how many rows, the oldest and newest creation time."""
    rows = conn.execute("SELECT status, count(*), min(created_at), max(created_at) FROM federation_outbox "
                        "GROUP BY 1 ORDER BY 1").fetchall()
    return [{"status": r[0], "count": int(r[1]), "oldest": r[2], "newest": r[3]} for r in rows]


def list_rows(conn: Conn, *, status_filter: str | None = None, before_id: int | None = None,
              limit: int = 100) -> list[dict[str, Any]]:
    return fetch_all(conn, f"SELECT {_COLUMNS} FROM federation_outbox WHERE (%s::text IS NULL OR status = %s) "
                           f"AND (%s::bigint IS NULL OR id < %s) ORDER BY id DESC LIMIT %s",
                     (status_filter, status_filter, before_id, before_id, limit))
