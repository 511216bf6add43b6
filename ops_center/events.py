"""Events for the live feed: every producer calls ``emit`` inside its own transaction; the row is the durable log
(screens catch up from their last id) and ``pg_notify('ops_events', id)`` fires at commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from psycopg.types.json import Jsonb

from ops_center.db import Conn

CHANNEL = "ops_events"
TOPICS = ("alert", "incident", "device_status", "telemetry", "dossier", "system", "warning")


def emit(conn: Conn, topic: str, payload: dict[str, Any], *, subject: str | None = None,
         ward_code: str | None = None) -> int:
    """Write one event; returns its id. ``topic`` is one of ``TOPICS``."""
    if topic not in TOPICS:
        raise ValueError(f"topic: must be one of {TOPICS}, got {topic!r}")
    row = conn.execute("SELECT ops_emit(%s, %s, %s, %s)", (topic, subject, ward_code, Jsonb(payload))).fetchone()
    assert row is not None
    return int(row[0])


@dataclass(frozen=True)
class NewEvent:
    """One event of an ``emit_many`` call."""

    payload: dict[str, Any]
    subject: str | None = None
    ward_code: str | None = None


def emit_many(conn: Conn, topic: str, items: Sequence[NewEvent]) -> list[int]:
    """``emit`` for many events of one topic in ONE statement (an alert storm), in the order given; returns their
    ids. The events travel as a single JSON document (``jsonb_to_recordset``): far cheaper to send than arrays of
    jsonb, whose text form psycopg escapes element by element."""
    if topic not in TOPICS:
        raise ValueError(f"topic: must be one of {TOPICS}, got {topic!r}")
    if not items:
        return []
    doc = orjson.dumps([{"n": i, "subject": e.subject, "ward_code": e.ward_code, "payload": e.payload}
                        for i, e in enumerate(items)], option=orjson.OPT_NON_STR_KEYS).decode()
    rows = conn.execute(
        "SELECT ops_emit(%s, x.subject, x.ward_code, x.payload) FROM jsonb_to_recordset(%s::jsonb) "
        "AS x(n int, subject text, ward_code text, payload jsonb) ORDER BY x.n", (topic, doc)).fetchall()
    return [int(r[0]) for r in rows]


@dataclass(frozen=True)
class StoredEvent:
    id: int
    at: datetime
    topic: str
    subject: str | None
    ward_code: str | None
    payload: dict[str, Any]


def history(conn: Conn, topic: str, subject: str, *, before_id: int | None = None,
            limit: int = 50) -> tuple[list[StoredEvent], bool]:
    """The events of ``topic`` about ``subject``, newest first, before the id ``before_id``; returns (events,
    more). A device's status history is ``history(conn, "device_status", device_id)`` (indexed, migration 0060)."""
    if topic not in TOPICS:
        raise ValueError(f"topic: must be one of {TOPICS}, got {topic!r}")
    rows = conn.execute(
        "SELECT id, at, topic, subject, ward_code, payload FROM events WHERE topic = %s AND subject = %s "
        "AND (%s::bigint IS NULL OR id < %s) ORDER BY id DESC LIMIT %s",
        (topic, subject, before_id, before_id, limit + 1)).fetchall()
    return [StoredEvent(*r) for r in rows[:limit]], len(rows) > limit


# ------------------------------------------------------------------------------------ the live hub's reads
# The live hub (api/live/feed.py) runs these on its own asynchronous connection (one LISTEN per API process).

LIVE_COLUMNS = "SELECT id, at, topic, subject, ward_code, payload::text FROM events"
"""An event as the hub sends it: ``(id, at, topic, subject, ward_code, payload as JSON text)``."""
NEWEST_ID = "SELECT coalesce(max(id), 0) FROM events"
OLDEST_ID = "SELECT min(id) FROM events"
FIRST_AT_AFTER = "SELECT at FROM events WHERE id > %s ORDER BY id LIMIT 1"
"""The time of the first event after an id."""
LIVE_AFTER = LIVE_COLUMNS + " WHERE id > %s ORDER BY id LIMIT %s"
"""The next events after an id, at most a number of them."""
LIVE_BY_IDS = LIVE_COLUMNS + " WHERE id = ANY(%s) ORDER BY id"
LIVE_CATCH_UP = LIVE_COLUMNS + " WHERE id > %s AND id <= %s AND topic = ANY(%s) ORDER BY id LIMIT %s"
"""Events of some topics in ``(after, upto]``, at most a number of them."""
