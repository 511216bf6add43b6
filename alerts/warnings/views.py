"""Reads for the staff API and the screens: the warning list (state derived from its published messages and the
clock, filters, cursor pagination) and one warning with its messages, its audit trail and its deliveries."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from alerts.notify import outbox
from alerts.warnings import store
from alerts.warnings.models import WarningState
from ops_center import wards
from ops_center.db import Conn, fetch_all

# a warning with a message published in [%(issued_from)s, %(issued_to)s): "issued in the period" (an end not
# given is open)
ISSUED_IN_SQL = ("EXISTS (SELECT 1 FROM warning_messages i WHERE i.warning_id = w.id AND i.status = 'published' "
                 "AND i.sent >= coalesce(%(issued_from)s::timestamptz, '-infinity') "
                 "AND i.sent < coalesce(%(issued_to)s::timestamptz, 'infinity'))")
STATES: tuple[WarningState, ...] = ("pending", "active", "updated", "cancelled", "expired")

STATE_SQL = ("CASE WHEN p.id IS NULL THEN 'pending' WHEN p.msg_type = 'Cancel' THEN 'cancelled' "
              "WHEN p.expires_at <= %(now)s THEN 'expired' WHEN p.msg_type = 'Update' THEN 'updated' "
              "ELSE 'active' END")
_LIST_SQL = f"""
SELECT w.id, w.hazard, w.created_by, w.created_at, w.updated_at, {STATE_SQL} AS state,
       p.id AS published_id, p.msg_type AS published_type, p.identifier, p.sent, p.expires_at,
       p.content -> 'content' -> 'texts' -> 'vi' ->> 'headline' AS published_headline,
       p.content -> 'content' -> 'texts' -> 'en' ->> 'headline' AS published_headline_en,
       p.content -> 'content' ->> 'severity' AS severity, p.content -> 'content' -> 'wards' AS wards,
       p.content -> 'content' -> 'ward_names' AS ward_names,
       (SELECT min(f.sent) FROM warning_messages f WHERE f.warning_id = w.id AND f.status = 'published')
           AS first_sent,
       o.id AS open_id, o.msg_type AS open_type, o.status AS open_status, o.version AS open_version,
       o.drafted_by AS open_drafted_by, o.approved_by AS open_approved_by, o.authors AS open_authors,
       o.content -> 'content' -> 'texts' -> 'vi' ->> 'headline' AS open_headline,
       o.content -> 'content' -> 'texts' -> 'en' ->> 'headline' AS open_headline_en,
       o.content -> 'content' ->> 'severity' AS open_severity, o.content -> 'content' -> 'wards' AS open_wards,
       o.content -> 'content' -> 'ward_names' AS open_ward_names
FROM warnings w
LEFT JOIN LATERAL (SELECT * FROM warning_messages m WHERE m.warning_id = w.id AND m.status = 'published'
                   ORDER BY m.id DESC LIMIT 1) p ON true
LEFT JOIN LATERAL (SELECT * FROM warning_messages m WHERE m.warning_id = w.id
                   AND m.status IN ('draft', 'approved')) o ON true
"""


def list_warnings(conn: Conn, *, now: datetime, state: str | None = None, hazard: str | None = None,
                  awaiting: str | None = None, before_id: int | None = None, limit: int = 50,
                  issued: tuple[datetime | None, datetime | None] | None = None
                  ) -> tuple[list[dict[str, Any]], bool]:
    """Warnings newest first; ``awaiting``: 'approval' (a draft) or 'publishing' (approved, not yet sent);
    ``issued``: only those with a message published in [start, end) (an end None: open; an empty period gives
    none; ``alerts.warnings.issued``)."""
    where = ["true"]
    params: dict[str, Any] = {"now": now, "limit": limit + 1}
    if state is not None:
        where.append(f"{STATE_SQL} = %(state)s")
        params["state"] = state
    if issued is not None:
        where.append(ISSUED_IN_SQL)
        params["issued_from"], params["issued_to"] = issued
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


SEVERITY_ORDER = ("Unknown", "Minor", "Moderate", "Severe", "Extreme")


def active_by_ward(conn: Conn, set_name: str, level: str = "ward",
                   now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Warnings in force per ward (or district) of ``set_name``, for the map: ``{code: {"count", "severity"
    (the highest), "warning_ids"}}``. A warning counts where its last published message is not a Cancel and has
    not expired; its wards are those of that message (named in its boundary set)."""
    rows = conn.execute(
        "SELECT warning_id, content -> 'content' ->> 'severity', jsonb_array_elements_text(content -> 'content' "
        "-> 'wards') FROM (SELECT DISTINCT ON (warning_id) * FROM warning_messages WHERE status = 'published' "
        "ORDER BY warning_id, id DESC) last WHERE msg_type <> 'Cancel' AND expires_at > %s "
        "AND content -> 'content' ->> 'ward_set' = %s", (now or datetime.now(UTC), set_name)).fetchall()
    parent: dict[str, str | None] = {}
    if level != "ward":
        parent = wards.ward_districts(conn, set_name)
    out: dict[str, dict[str, Any]] = {}
    for warning_id, severity, ward in rows:
        code = ward if level == "ward" else parent.get(ward)
        if code is None:
            continue
        entry = out.setdefault(code, {"count": 0, "severity": None, "warning_ids": []})
        if warning_id not in entry["warning_ids"]:
            entry["warning_ids"].append(warning_id)
            entry["count"] += 1
        if entry["severity"] is None or SEVERITY_ORDER.index(severity) > SEVERITY_ORDER.index(entry["severity"]):
            entry["severity"] = severity
    return out
