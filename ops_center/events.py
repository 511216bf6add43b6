"""Events for the live feed: every producer calls ``emit`` inside its own transaction; the row is the durable log
(screens catch up from their last id) and ``pg_notify('ops_events', id)`` fires at commit."""

from __future__ import annotations

from typing import Any

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
