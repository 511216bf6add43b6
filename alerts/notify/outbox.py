"""The outbox: one row per (transition, channel), written in the transaction of the transition itself, so a
notification exists if and only if its transition committed. Workers deliver rows; the idempotency key
``ops-<alert>-<timeline entry>-<channel>`` is the same on every attempt."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from psycopg.types.json import Jsonb

from alerts.config import get_config
from alerts.models import Alert, alert_json
from ops_center.db import Conn, fetch_all

Event = Literal["firing", "escalated", "reminder", "resolved", "test"]


def idempotency_key(alert_id: int | None, cause_id: int, channel_id: int) -> str:
    return f"ops-{alert_id or 0}-{cause_id}-{channel_id}"


def enqueue(conn: Conn, alert: Alert, channel_names: Iterable[str], event: Event, cause_id: int,
            now: datetime, *, transition: str, detail: dict[str, Any] | None = None) -> list[int]:
    """Outbox rows for ``alert`` to the named (enabled) channels; returns their ids. ``cause_id`` is the timeline
    entry of the transition; writing the same (alert, cause, channel) twice adds nothing."""
    names = sorted(set(channel_names))
    if not names:
        return []
    channels = fetch_all(conn, "SELECT id, name FROM notify_channels WHERE name = ANY(%s) AND enabled ORDER BY id",
                         (names,))
    payload_alert = alert_json(alert, now)
    ids: list[int] = []
    max_attempts = get_config().max_attempts
    for ch in channels:
        key = idempotency_key(alert.id, cause_id, ch["id"])
        payload = {"event": event, "transition": transition, "channel": ch["name"], "idempotency_key": key,
                   "at": payload_alert["ends_at"] if event == "resolved" else now.isoformat(),
                   "alert": payload_alert, "detail": detail or {}}
        row = conn.execute(
            "INSERT INTO notification_outbox (alert_id, channel_id, event, idempotency_key, payload, max_attempts, "
            "next_attempt_at) VALUES (%s, %s, %s, %s, %s, %s, now()) ON CONFLICT (idempotency_key) DO NOTHING "
            "RETURNING id",
            (alert.id, ch["id"], event, key, Jsonb(payload), max_attempts),
        ).fetchone()
        if row:
            ids.append(int(row[0]))
    return ids


def notified_channels(conn: Conn, alert_id: int) -> list[str]:
    """Channels this alert was (or is being) notified on: the audience of its "resolved" message."""
    rows = conn.execute(
        "SELECT DISTINCT c.name FROM notification_outbox o JOIN notify_channels c ON c.id = o.channel_id "
        "WHERE o.alert_id = %s AND o.event IN ('firing', 'escalated', 'reminder') ORDER BY 1",
        (alert_id,),
    ).fetchall()
    return [r[0] for r in rows]


def cap_idempotency_key(message_id: int, channel_id: int) -> str:
    return f"cap-{message_id}-{channel_id}"


def enqueue_cap(conn: Conn, message_id: int, channel_ids: Iterable[int], payload: dict[str, Any]) -> list[int]:
    """Outbox rows carrying a published CAP message (``payload["xml"]``) to each (enabled) channel, written in
    the transaction that publishes it; one row per (message, channel): writing them again adds nothing."""
    ids: list[int] = []
    max_attempts = get_config().max_attempts
    channels = fetch_all(conn, "SELECT id, name FROM notify_channels WHERE id = ANY(%s) AND enabled ORDER BY id",
                         (sorted(set(channel_ids)),))
    for ch in channels:
        key = cap_idempotency_key(message_id, ch["id"])
        body = {**payload, "event": "cap", "channel": ch["name"], "idempotency_key": key}
        row = conn.execute(
            "INSERT INTO notification_outbox (alert_id, warning_message_id, channel_id, event, idempotency_key, "
            "payload, max_attempts, next_attempt_at) VALUES (NULL, %s, %s, 'cap', %s, %s, %s, now()) "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            (message_id, ch["id"], key, Jsonb(body), max_attempts),
        ).fetchone()
        if row:
            ids.append(int(row[0]))
    return ids


def cap_deliveries(conn: Conn, message_ids: list[int]) -> list[dict[str, Any]]:
    """The outbox rows of published warnings' messages, with their channel: what was sent to whom, and how it went."""
    return fetch_all(
        conn,
        "SELECT o.id, o.warning_message_id AS message_id, c.name AS channel, o.idempotency_key, o.status, "
        "o.attempts, o.last_error, o.created_at, o.delivered_at FROM notification_outbox o "
        "JOIN notify_channels c ON c.id = o.channel_id WHERE o.warning_message_id = ANY(%s) ORDER BY o.id",
        (message_ids,),
    )
