"""Reads of the national tables for the screen, the ranking, the brief and the alerting engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ops_center.db import Conn, fetch_all

LATE_FACTOR = 1.5
SILENT_FACTOR = 3.0


@dataclass(frozen=True)
class ProvinceStatus:
    code: str
    name: str
    enabled: bool
    connected: bool
    schedule_s: int
    last_contact_at: datetime | None
    last_snapshot_at: datetime | None
    clock_skew_s: float | None
    outbox_pending: int | None
    since: datetime
    """When silence is counted from: the last contact, else when the credential was issued."""

    def age_s(self, now: datetime) -> float | None:
        return None if self.last_contact_at is None else max(0.0, (now - self.last_contact_at).total_seconds())

    def state(self, now: datetime) -> str:
        """``not_connected`` (no credential), ``never`` (never heard from), ``fresh``, ``late`` or ``silent``."""
        if not self.connected:
            return "not_connected"
        age = self.age_s(now)
        if age is None:
            return "never"
        if age <= LATE_FACTOR * self.schedule_s:
            return "fresh"
        return "late" if age <= SILENT_FACTOR * self.schedule_s else "silent"


def statuses(conn: Conn) -> list[ProvinceStatus]:
    rows = conn.execute(
        "SELECT code, name, enabled, token_hash IS NOT NULL, schedule_s, last_contact_at, last_snapshot_at, "
        "clock_skew_s, outbox_pending, coalesce(last_contact_at, token_issued_at, created_at) "
        "FROM federation_provinces ORDER BY code").fetchall()
    return [ProvinceStatus(str(r[0]), str(r[1]), bool(r[2]), bool(r[3]), int(r[4]), r[5], r[6],
                           None if r[7] is None else float(r[7]), None if r[8] is None else int(r[8]), r[9])
            for r in rows]


@dataclass(frozen=True)
class MetricValue:
    province: str
    value: float | None
    version: int
    received_at: datetime
    generated_at: datetime


def latest_period(conn: Conn, kind: str) -> str | None:
    row = conn.execute("SELECT max(period) FROM federation_snapshots WHERE kind = %s", (kind,)).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def metric_values(conn: Conn, kind: str, path: Sequence[str], period: str) -> dict[str, MetricValue]:
    """The figure at ``path`` in each province's newest snapshot of ``kind`` for ``period``."""
    rows = conn.execute(
        "SELECT province, (data #>> %s::text[])::double precision, version, received_at, generated_at "
        "FROM federation_snapshots WHERE kind = %s AND period = %s",
        (list(path), kind, period)).fetchall()
    return {str(r[0]): MetricValue(str(r[0]), r[1], int(r[2]), r[3], r[4]) for r in rows}


def kinds_received(conn: Conn) -> dict[str, dict[str, Any]]:
    """Per province: per kind, the newest period, its version and when it arrived."""
    rows = conn.execute(
        "SELECT DISTINCT ON (province, kind) province, kind, period, version, received_at FROM federation_snapshots "
        "ORDER BY province, kind, period DESC").fetchall()
    out: dict[str, dict[str, Any]] = {}
    for province, kind, period, version, received in rows:
        out.setdefault(str(province), {})[str(kind)] = {"period": period, "version": int(version),
                                                         "received_at": received}
    return out


def snapshots(conn: Conn, province: str, kind: str | None = None, *, after: tuple[str, str] | None = None,
              limit: int = 100) -> list[dict[str, Any]]:
    """One province's newest snapshots, newest period first, then by kind (``after``: the (period, kind) of the
    previous page's last item)."""
    period, last_kind = after or (None, None)
    return fetch_all(
        conn,
        "SELECT province, kind, period, version, schema_version, generated_at, received_at, data "
        "FROM federation_snapshots WHERE province = %s AND (%s::text IS NULL OR kind = %s) "
        "AND (%s::text IS NULL OR (period, kind) < (%s, %s)) ORDER BY period DESC, kind DESC LIMIT %s",
        (province, kind, kind, period, period, last_kind, limit))


def dead_letters(conn: Conn, *, province: str | None = None, before_id: int | None = None,
                 limit: int = 100) -> list[dict[str, Any]]:
    rows = fetch_all(
        conn,
        "SELECT id, received_at, province, claimed_province, status, reason, detail, field, value, payload_size, "
        "substring(payload from 1 for 2000) AS payload_head "
        "FROM federation_dead_letters WHERE (%s::text IS NULL OR province = %s) "
        "AND (%s::bigint IS NULL OR id < %s) ORDER BY id DESC LIMIT %s",
        (province, province, before_id, before_id, limit))
    for r in rows:
        text = bytes(r["payload_head"]).decode("utf-8", "replace")
        r["payload_head"] = text.replace("\x00", "\\x00")
    return rows
