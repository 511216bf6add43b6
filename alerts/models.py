"""The alert as everyone sees it (API items, live-feed events, notification payloads), with its state derived from
timestamps: resolved once ``ends_at`` has passed; otherwise acknowledged, muted or firing, in that order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from psycopg.rows import class_row

from ops_center.db import Conn

State = Literal["firing", "acknowledged", "resolved", "muted"]
STATES: tuple[str, ...] = ("firing", "acknowledged", "resolved", "muted")

ALERT_COLUMNS = (
    "a.id, a.fingerprint, a.rule_id, a.rule_name, a.subject, a.severity, a.labels, a.summary, a.value, "
    "a.starts_at, a.ends_at, a.last_fired_at, a.reopen_count, a.resolved_by, a.resolve_note, a.acknowledged_by, "
    "a.acknowledged_at, a.ack_note, a.assigned_unit, a.muted, a.muted_reason, a.muted_by, a.escalation_policy_id, "
    "a.escalation_level, a.escalation_started_at, a.next_escalation_at, a.reminders_sent"
)


@dataclass(frozen=True, slots=True)
class Alert:
    """A row of ``alerts`` as every module of the engine passes it around (the columns of ``ALERT_COLUMNS``)."""

    id: int
    fingerprint: str
    rule_id: int | None
    rule_name: str
    subject: str
    severity: str
    labels: dict[str, Any]
    summary: str
    value: float | None
    starts_at: datetime
    ends_at: datetime | None
    last_fired_at: datetime
    reopen_count: int
    resolved_by: str | None
    resolve_note: str | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    ack_note: str | None
    assigned_unit: str | None
    muted: bool
    muted_reason: str | None
    muted_by: str | None
    escalation_policy_id: int | None
    escalation_level: int
    escalation_started_at: datetime | None
    next_escalation_at: datetime | None
    reminders_sent: int


def fetch_alerts(conn: Conn, sql: str, params: Any = None) -> list[Alert]:
    """The alerts a statement selecting (or returning) ``ALERT_COLUMNS`` gives."""
    with conn.cursor(row_factory=class_row(Alert)) as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def fetch_alert(conn: Conn, sql: str, params: Any = None) -> Alert | None:
    """The first alert a statement selecting (or returning) ``ALERT_COLUMNS`` gives; None if none."""
    with conn.cursor(row_factory=class_row(Alert)) as cur:
        cur.execute(sql, params)
        return cur.fetchone()


def utcnow() -> datetime:
    return datetime.now(UTC)


def derive_state(row: Alert, now: datetime) -> State:
    ends_at = row.ends_at
    if ends_at is not None and ends_at <= now:
        return "resolved"
    if row.acknowledged_at is not None:
        return "acknowledged"
    if row.muted:
        return "muted"
    return "firing"


def state_sql(now_param: str = "%(now)s") -> str:
    """The same derivation in SQL (for filters)."""
    return (f"CASE WHEN a.ends_at IS NOT NULL AND a.ends_at <= {now_param} THEN 'resolved' "
            "WHEN a.acknowledged_at IS NOT NULL THEN 'acknowledged' WHEN a.muted THEN 'muted' ELSE 'firing' END")


def state_filter(state: str, now_param: str = "%(now)s") -> str:
    open_ = f"(a.ends_at IS NULL OR a.ends_at > {now_param})"
    return {
        "resolved": f"a.ends_at IS NOT NULL AND a.ends_at <= {now_param}",
        "acknowledged": f"{open_} AND a.acknowledged_at IS NOT NULL",
        "muted": f"{open_} AND a.acknowledged_at IS NULL AND a.muted",
        "firing": f"{open_} AND a.acknowledged_at IS NULL AND NOT a.muted",
    }[state]


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else None


def alert_json(row: Alert, now: datetime | None = None) -> dict[str, Any]:
    """The contract's alert item (JSON-safe: times as ISO 8601 strings in UTC)."""
    now = now or utcnow()
    return {
        "id": row.id,
        "fingerprint": row.fingerprint,
        "rule_id": row.rule_id,
        "rule_name": row.rule_name,
        "severity": row.severity,
        "state": derive_state(row, now),
        "muted": bool(row.muted),
        "muted_reason": row.muted_reason,
        "labels": dict(row.labels or {}),
        "summary": row.summary,
        "value": row.value,
        "starts_at": _iso(row.starts_at),
        "ends_at": _iso(row.ends_at),
        "acknowledged_by": row.acknowledged_by,
        "acknowledged_at": _iso(row.acknowledged_at),
        "ack_note": row.ack_note,
        "assigned_unit": row.assigned_unit,
        "reopen_count": row.reopen_count,
    }
