"""The per-device rate cap of dead letters (owner of ``dead_letter_quota``).

A device that sends nothing but garbage must not fill the disk: per key (the publishing device, or ``""`` for
messages that name none) and fixed window of ``window_s`` seconds, at most ``cap`` letters are stored; the rest are
counted here (how many, when the last one came, its reason) and not stored. Several ingest processes share the
counts: the rows of a batch's keys are locked in key order inside the batch's transaction, so the cap holds across
processes and they never deadlock on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from ops_center.db import Conn, fetch_all

NO_DEVICE: Final = ""
"""The key of letters about messages that name no device (a malformed topic)."""


@dataclass(frozen=True, slots=True)
class Cap:
    """At most ``per_window`` letters per key and window of ``window_s`` seconds."""

    per_window: int
    window_s: int

    def window_start(self, now: datetime) -> datetime:
        epoch = int(now.timestamp())
        return datetime.fromtimestamp(epoch - epoch % self.window_s, UTC)


@dataclass(frozen=True, slots=True)
class Wanted:
    """Letters a batch wants to store for one key, and the reason of its last one (recorded if it is dropped)."""

    count: int
    last_reason: str


@dataclass(frozen=True, slots=True)
class DropCount:
    """One key's letters over a period: stored, counted but not stored, in how many windows it hit the cap."""

    device_id: str | None
    stored: int
    dropped: int
    windows_capped: int
    last_dropped_at: datetime | None
    last_dropped_reason: str | None


def admit(conn: Conn, wanted: Mapping[str, Wanted], cap: Cap, now: datetime) -> dict[str, int]:
    """How many of the wanted letters each key may store now; the rest are counted as dropped. Runs in the
    caller's transaction (so a rolled-back batch counts nothing)."""
    if not wanted:
        return {}
    keys = sorted(wanted)
    window = cap.window_start(now)
    conn.execute("INSERT INTO dead_letter_quota (key, window_start) SELECT k, %s FROM unnest(%s::text[]) AS k "
                 "ORDER BY k ON CONFLICT (key, window_start) DO NOTHING", (window, keys))
    rows = conn.execute("SELECT key, stored FROM dead_letter_quota WHERE window_start = %s AND key = ANY(%s) "
                        "ORDER BY key FOR UPDATE", (window, keys)).fetchall()
    used = {str(r[0]): int(r[1]) for r in rows}
    allowed = {k: max(0, min(wanted[k].count, cap.per_window - used.get(k, 0))) for k in keys}
    conn.execute(
        "UPDATE dead_letter_quota q SET stored = q.stored + v.ok, dropped = q.dropped + v.over, "
        "last_dropped_at = CASE WHEN v.over > 0 THEN %s ELSE q.last_dropped_at END, "
        "last_dropped_reason = CASE WHEN v.over > 0 THEN v.reason ELSE q.last_dropped_reason END "
        "FROM unnest(%s::text[], %s::int[], %s::int[], %s::text[]) AS v(key, ok, over, reason) "
        "WHERE q.key = v.key AND q.window_start = %s",
        (now, keys, [allowed[k] for k in keys], [wanted[k].count - allowed[k] for k in keys],
         [wanted[k].last_reason for k in keys], window),
    )
    return allowed


def drop_counts(conn: Conn, since: datetime, until: datetime | None = None, *, device_id: str | None = None,
                only_dropped: bool = True, after: str | None = None, limit: int = 100) -> list[DropCount]:
    """Per key over the windows starting in ``[since, until)``, by key; ``after`` pages on (a key)."""
    where = ["window_start >= %(since)s"]
    params: dict[str, Any] = {"since": since, "n": limit}
    if until is not None:
        where.append("window_start < %(until)s")
        params["until"] = until
    if device_id is not None:
        where.append("key = %(key)s")
        params["key"] = device_id
    if after is not None:
        where.append("key > %(after)s")
        params["after"] = after
    having = "HAVING sum(dropped) > 0" if only_dropped else ""
    rows = fetch_all(conn, f"""
        SELECT key, sum(stored)::bigint AS stored, sum(dropped)::bigint AS dropped,
               count(*) FILTER (WHERE dropped > 0) AS windows_capped, max(last_dropped_at) AS last_dropped_at,
               (array_agg(last_dropped_reason ORDER BY last_dropped_at DESC NULLS LAST))[1] AS last_dropped_reason
        FROM dead_letter_quota WHERE {' AND '.join(where)} GROUP BY key {having} ORDER BY key LIMIT %(n)s""",
                     params)
    return [DropCount(r["key"] or None, int(r["stored"]), int(r["dropped"]), int(r["windows_capped"]),
                      r["last_dropped_at"], r["last_dropped_reason"]) for r in rows]


def prune(conn: Conn, older_than: datetime) -> int:
    """Forget the counts of windows that started before ``older_than``; returns how many rows went."""
    cur = conn.execute("DELETE FROM dead_letter_quota WHERE window_start < %s", (older_than,))
    return cur.rowcount
