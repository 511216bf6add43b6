"""Reads for the staff API and the screens: the warning list (state derived from its published messages and the
clock, filters, cursor pagination) and one warning with its messages, its audit trail and its deliveries."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from alerts.notify import outbox
from alerts.warnings import store
from alerts.warnings.models import WarningState
from ops_center.db import Conn, fetch_all

STATES: tuple[WarningState, ...] = ("pending", "active", "updated", "cancelled", "expired")

_STATE_SQL = ("CASE WHEN p.id IS NULL THEN 'pending' WHEN p.msg_type = 'Cancel' THEN 'cancelled' "
              "WHEN p.expires_at <= %(now)s THEN 'expired' WHEN p.msg_type = 'Update' THEN 'updated' "
              "ELSE 'active' END")
_LIST_SQL = f"""
SELECT w.id, w.hazard, w.created_by, w.created_at, w.updated_at, {_STATE_SQL} AS state,
       p.id AS published_id, p.msg_type AS published_type, p.identifier, p.sent, p.expires_at,
       p.content -> 'content' -> 'texts' -> 'vi' ->> 'headline' AS published_headline,
       p.content -> 'content' ->> 'severity' AS severity, p.content -> 'content' -> 'wards' AS wards,
       o.id AS open_id, o.msg_type AS open_type, o.status AS open_status, o.version AS open_version,
       o.drafted_by AS open_drafted_by, o.approved_by AS open_approved_by,
       o.content -> 'content' -> 'texts' -> 'vi' ->> 'headline' AS open_headline
FROM warnings w
LEFT JOIN LATERAL (SELECT * FROM warning_messages m WHERE m.warning_id = w.id AND m.status = 'published'
                   ORDER BY m.id DESC LIMIT 1) p ON true
LEFT JOIN LATERAL (SELECT * FROM warning_messages m WHERE m.warning_id = w.id
                   AND m.status IN ('draft', 'approved')) o ON true
"""


def list_warnings(conn: Conn, *, now: datetime, state: str | None = None, hazard: str | None = None,
                  awaiting: str | None = None, before_id: int | None = None,
                  limit: int = 50) -> tuple[list[dict[str, Any]], bool]:
    """Warnings newest first; ``awaiting``: 'approval' (a draft) or 'publishing' (approved, not yet sent)."""
    where = ["true"]
    params: dict[str, Any] = {"now": now, "limit": limit + 1}
    if state is not None:
        where.append(f"{_STATE_SQL} = %(state)s")
        params["state"] = state
    if hazard is not None:
        where.append("w.hazard = %(hazard)s")
        params["hazard"] = hazard
    if awaiting is not None:
        where.append("o.status = %(open_status)s")
        params["open_status"] = "draft" if awaiting == "approval" else "approved"
    if before_id is not None:
        where.append("w.id < %(before)s")
        params["before"] = before_id
    rows = fetch_all(conn, _LIST_SQL + f"WHERE {' AND '.join(where)} ORDER BY w.id DESC LIMIT %(limit)s", params)
    return rows[:limit], len(rows) > limit


def _message_json(m: store.MessageRow) -> dict[str, Any]:
    out = m.as_json()
    out["inputs"] = m.content.get("inputs", {})
    out["content"] = m.content.get("content", {})
    return out


def warning_detail(conn: Conn, warning_id: int, now: datetime) -> dict[str, Any]:
    """One warning: its derived state, its messages (content, approval, publication), audit trail, deliveries."""
    items, _ = list_warnings(conn, now=now, before_id=warning_id + 1, limit=1)
    if not items or items[0]["id"] != warning_id:
        store.get_warning(conn, warning_id)  # NotFound
    head = items[0]
    messages = store.messages(conn, warning_id)
    published_ids = [m.id for m in messages if m.status == "published"]
    return {**head,
            "messages": [_message_json(m) for m in messages],
            "events": [dataclasses.asdict(e) for e in store.events(conn, warning_id)],
            "deliveries": outbox.cap_deliveries(conn, published_ids) if published_ids else []}
