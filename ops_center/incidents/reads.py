"""The reads of ``incidents`` that other domains need, so that the incidents package alone names its tables in SQL:
open incidents as label sets (alert inhibition), incidents per ward in a window (the geo-count alert rule), and the
day's top incidents (the daily brief)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

from ops_center.db import Conn, fetch_all

LABEL_COLUMNS: Final = {"category": "category", "severity": "severity", "status": "status", "ward": "ward_code",
                        "ward_set": "ward_set"}
"""The labels an incident has, and their columns."""
CLOSED: Final = ("resolved", "closed")


def present(conn: Conn) -> bool:
    """The incidents table exists (its migration was applied)."""
    row = conn.execute("SELECT to_regclass('incidents') IS NOT NULL").fetchone()
    return bool(row and row[0])


def labelled(conn: Conn, excluded_statuses: Sequence[str], equal: Iterable[tuple[str, str]] = (),
             non_empty: Iterable[str] = ()) -> list[tuple[int, str, str, str, str | None, str | None]]:
    """``(id, category, severity, status, ward_code, ward_set)`` of the incidents whose status is not one of
    ``excluded_statuses``, whose label equals the value for each ``(label, value)`` of ``equal`` and whose labels
    ``non_empty`` are set (labels of ``LABEL_COLUMNS``; others are ignored)."""
    where, params = ["status <> ALL(%s)"], [list(excluded_statuses)]
    for name, value in equal:
        if name in LABEL_COLUMNS:
            where.append(f"COALESCE({LABEL_COLUMNS[name]}, '') = %s")
            params.append(value)  # type: ignore[arg-type]
    for name in non_empty:
        if name in LABEL_COLUMNS:
            where.append(f"COALESCE({LABEL_COLUMNS[name]}, '') <> ''")
    rows = conn.execute(
        f"SELECT id, category, severity, status, ward_code, ward_set FROM incidents WHERE {' AND '.join(where)}",
        params,
    ).fetchall()
    return [(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]


def counts_by_ward(conn: Conn, after: datetime, upto: datetime, categories: Sequence[str] = (),
                   open_only: bool = False) -> dict[tuple[str | None, str], int]:
    """``{(ward_set, ward_code): n}`` of the incidents with a ward reported in ``(after, upto]``, of ``categories``
    (all when empty), only those not resolved or closed with ``open_only``."""
    sql = ("SELECT ward_set, ward_code, count(*) FROM incidents WHERE ward_code IS NOT NULL "
           "AND reported_at > %s AND reported_at <= %s")
    params: list[Any] = [after, upto]
    if categories:
        sql += " AND category = ANY(%s)"
        params.append(list(categories))
    if open_only:
        sql += " AND status NOT IN ('resolved', 'closed')"
    rows = conn.execute(sql + " GROUP BY 1, 2", params).fetchall()
    return {(r[0], r[1]): int(r[2]) for r in rows}


def top_of_day(conn: Conn, start: datetime, end: datetime, limit: int = 10) -> list[dict[str, Any]]:
    """The day's own incidents first, then older ones still open, by severity and newest first: ``id, title,
    category, severity, status, ward_name, reported_at, due_at, overdue`` (overdue at the day's end or now)."""
    return fetch_all(conn, """
        SELECT id, title, category, severity, status, ward_name, reported_at, due_at,
               (due_at < least(now(), %(end)s) AND status NOT IN ('resolved', 'closed')) AS overdue
        FROM incidents
        WHERE reported_at < %(end)s AND (reported_at >= %(start)s OR status NOT IN ('resolved', 'closed'))
        ORDER BY (reported_at >= %(start)s) DESC,  -- the day's own incidents first, then older open ones
                 CASE severity WHEN 'critical' THEN 0 WHEN 'major' THEN 1 WHEN 'minor' THEN 2 ELSE 3 END,
                 reported_at DESC,
                 (due_at < least(now(), %(end)s) AND status NOT IN ('resolved', 'closed')) DESC
        LIMIT %(limit)s""", {"start": start, "end": end, "limit": limit})
