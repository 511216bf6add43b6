"""Queries for the API and the map: the alert list (filters, cursor pagination), one alert, counts by ward."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alerts.models import ALERT_COLUMNS, STATES, alert_json, fetch_alert, fetch_alerts, state_filter, utcnow
from ops_center import wards
from ops_center.db import Conn, fetch_all

SEVERITY_KEYS = ("critical", "major", "minor", "info")


def list_alerts(conn: Conn, *, state: str | None = None, severity: str | None = None, ward: str | None = None,
                rule: str | None = None, before_id: int | None = None, limit: int = 50,
                now: datetime | None = None, device: str | None = None, ward_set: str | None = None,
                open_only: bool = False, ward_devices: list[str] | None = None) -> tuple[list[dict[str, Any]], bool]:
    """Alerts newest first; returns (items as alert JSON, more). ``rule`` is a rule id or a rule name; ``device``
    the ``device`` label; ``ward_set`` keeps the ward filter to alerts labelled with that set or with none (as the
    map's alert layer counts them); ``ward_devices`` widens the ward filter to the alerts about these devices (the
    devices lying in the ward, whatever ward their labels name); ``open_only``: not resolved."""
    now = now or utcnow()
    where = ["true"]
    params: dict[str, Any] = {"now": now, "limit": limit + 1}
    if state is not None:
        if state not in STATES:
            raise ValueError(f"state: must be one of {', '.join(STATES)}, got {state!r}")
        where.append(state_filter(state))
    if open_only:
        where.append("(a.ends_at IS NULL OR a.ends_at > %(now)s)")
    if severity is not None:
        where.append("a.severity = %(severity)s")
        params["severity"] = severity
    if ward is not None:
        in_ward = "a.labels ->> 'ward' = %(ward)s"
        params["ward"] = ward
        if ward_set is not None:
            in_ward += " AND (a.labels ->> 'ward_set' IS NULL OR a.labels ->> 'ward_set' = %(ward_set)s)"
            params["ward_set"] = ward_set
        if ward_devices:
            in_ward = f"({in_ward}) OR (a.labels ? 'device' AND a.labels ->> 'device' = ANY(%(ward_devices)s))"
            params["ward_devices"] = ward_devices
        where.append(f"({in_ward})")
    if device is not None:
        where.append("a.labels ? 'device' AND a.labels ->> 'device' = %(device)s")
        params["device"] = device
    if rule is not None:
        if rule.isdigit() and len(rule) < 19:
            where.append("a.rule_id = %(rule_id)s")
            params["rule_id"] = int(rule)
        else:
            where.append("a.rule_name = %(rule_name)s")
            params["rule_name"] = rule
    if before_id is not None:
        where.append("a.id < %(before)s")
        params["before"] = before_id
    rows = fetch_alerts(conn, f"SELECT {ALERT_COLUMNS} FROM alerts a WHERE {' AND '.join(where)} "
                              f"ORDER BY a.id DESC LIMIT %(limit)s", params)
    more = len(rows) > limit
    return [alert_json(r, now) for r in rows[:limit]], more


def get_alert(conn: Conn, alert_id: int, now: datetime | None = None) -> dict[str, Any] | None:
    row = fetch_alert(conn, f"SELECT {ALERT_COLUMNS} FROM alerts a WHERE a.id = %s", (alert_id,))
    return alert_json(row, now) if row else None


def _empty() -> dict[str, int]:
    return {k: 0 for k in (*SEVERITY_KEYS, "total")}


def active_by_ward(conn: Conn, set_name: str, level: str = "ward",
                   now: datetime | None = None) -> dict[str, dict[str, int]]:
    """Open, unmuted alerts per ward (or district) code of ``set_name``: ``{code: {critical, major, minor, info,
    total}}``. An alert counts in a set when its ``ward_set`` label names that set (alerts without one count in
    any set whose ward codes include theirs). Districts come from the set's ward → district mapping."""
    now = now or utcnow()
    rows = conn.execute(
        "SELECT a.labels ->> 'ward', a.labels ->> 'ward_set', a.severity, count(*) FROM alerts a "
        "WHERE (a.ends_at IS NULL OR a.ends_at > %s) AND NOT a.muted AND a.labels ->> 'ward' IS NOT NULL "
        "AND (a.labels ->> 'ward_set' IS NULL OR a.labels ->> 'ward_set' = %s) GROUP BY 1, 2, 3",
        (now, set_name),
    ).fetchall()
    parent: dict[str, str | None] | None = None
    if (level == "district" or any(r[1] is None for r in rows)) and wards.has_geo(conn):
        parent = wards.ward_districts(conn, set_name)
    out: dict[str, dict[str, int]] = {}
    for ward, ward_set, severity, n in rows:
        if ward_set is None and parent is not None and ward not in parent:
            continue
        code = ward
        if level == "district":
            code = parent.get(ward) if parent else None
            if code is None:
                continue
        counts = out.setdefault(code, _empty())
        if severity in counts:
            counts[severity] += int(n)
        counts["total"] += int(n)
    return out


def deliveries(conn: Conn, *, alert_id: int | None = None, status: str | None = None, before_id: int | None = None,
               limit: int = 50) -> tuple[list[dict[str, Any]], bool]:
    rows = fetch_all(
        conn,
        "SELECT o.id, o.alert_id, c.name AS channel, c.type AS channel_type, o.event, o.idempotency_key, o.status, "
        "o.attempts, o.max_attempts, o.next_attempt_at, o.last_error, o.created_at, o.delivered_at, "
        "COALESCE((SELECT json_agg(json_build_object('attempt', d.attempt, 'outcome', d.outcome, "
        "'status_code', d.status_code, 'error', d.error, 'started_at', d.started_at, 'finished_at', d.finished_at, "
        "'worker', d.worker) ORDER BY d.id) FROM notification_deliveries d WHERE d.outbox_id = o.id), '[]') AS log "
        "FROM notification_outbox o JOIN notify_channels c ON c.id = o.channel_id "
        "WHERE (%(alert)s::bigint IS NULL OR o.alert_id = %(alert)s) AND (%(status)s::text IS NULL OR o.status = "
        "%(status)s) AND (%(before)s::bigint IS NULL OR o.id < %(before)s) ORDER BY o.id DESC LIMIT %(limit)s",
        {"alert": alert_id, "status": status, "before": before_id, "limit": limit + 1},
    )
    return rows[:limit], len(rows) > limit


def open_by_device(conn: Conn, device_ids: list[str], now: datetime | None = None) -> dict[str, tuple[int, str]]:
    """Open, unmuted alerts per device (``device`` label) of ``device_ids``: ``{device: (count, worst severity)}``
    — what a device's map marker shows."""
    now = now or utcnow()
    rows = conn.execute(
        "SELECT a.labels ->> 'device', a.severity, count(*) FROM alerts a WHERE a.labels ? 'device' "
        "AND a.labels ->> 'device' = ANY(%s) AND (a.ends_at IS NULL OR a.ends_at > %s) AND NOT a.muted "
        "GROUP BY 1, 2", (device_ids, now)).fetchall()
    out: dict[str, tuple[int, str]] = {}
    rank = {s: i for i, s in enumerate(SEVERITY_KEYS)}
    for device, severity, n in rows:
        count, worst = out.get(device, (0, "info"))
        out[device] = (count + int(n), severity if rank.get(severity, 9) < rank.get(worst, 9) else worst)
    return out


def day_statistics(conn: Conn, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per severity, of the alerts alive in ``[start, end)``: ``new`` (started in it), ``active_at_end``,
    ``acknowledged`` and ``resolved`` (in it); for the daily brief."""
    return fetch_all(conn, """
        SELECT severity,
               count(*) FILTER (WHERE starts_at >= %(start)s) AS new,
               count(*) FILTER (WHERE ends_at IS NULL OR ends_at >= %(end)s) AS active_at_end,
               count(*) FILTER (WHERE acknowledged_at >= %(start)s AND acknowledged_at < %(end)s) AS acknowledged,
               count(*) FILTER (WHERE ends_at >= %(start)s AND ends_at < %(end)s) AS resolved
        FROM alerts
        WHERE starts_at < %(end)s AND (ends_at IS NULL OR ends_at >= %(start)s)
        GROUP BY severity""", {"start": start, "end": end})


def median_ack_s(conn: Conn, start: datetime, end: datetime) -> float | None:
    """The median time to acknowledge (seconds) of the alerts acknowledged in ``[start, end)``; None without any."""
    row = conn.execute(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM acknowledged_at - starts_at)) "
        "FROM alerts WHERE acknowledged_at >= %s AND acknowledged_at < %s", (start, end)).fetchone()
    return None if row is None or row[0] is None else float(row[0])
