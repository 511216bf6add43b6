"""The only SQL on ``warnings``, ``warning_messages``, ``warning_sources`` and ``warning_events`` (migration 0080).
Rows come back as typed dataclasses; state that time decides (active, expired) is derived at read time."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from alerts.warnings.models import Actor, NotFound
from ops_center.db import Conn, fetch_all, fetch_one

MESSAGE_COLUMNS = ("id, warning_id, msg_type, status, cap_status, version, content, authors, drafted_by, "
                   "drafted_at, updated_at, approved_by, approved_at, approved_version, published_by, published_at, "
                   "identifier, sent, expires_at, xml_sha256")


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: int
    warning_id: int
    msg_type: str
    status: str
    cap_status: str
    version: int
    content: dict[str, Any]
    authors: list[str]
    drafted_by: str
    drafted_at: datetime
    updated_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    approved_version: int | None
    published_by: str | None
    published_at: datetime | None
    identifier: str | None
    sent: datetime | None
    expires_at: datetime | None
    xml_sha256: str | None

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class WarningRow:
    id: int
    hazard: str
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    warning_id: int
    message_id: int | None
    at: datetime
    kind: str
    actor: str
    actor_role: str | None
    detail: dict[str, Any]


def _message(row: dict[str, Any] | None) -> MessageRow | None:
    return MessageRow(**row) if row is not None else None


def create_warning(conn: Conn, hazard: str, actor: Actor) -> WarningRow:
    row = fetch_one(conn, "INSERT INTO warnings (hazard, created_by) VALUES (%s, %s) "
                          "RETURNING id, hazard, created_by, created_at, updated_at", (hazard, actor.name))
    assert row is not None
    return WarningRow(**row)


def get_warning(conn: Conn, warning_id: int, *, lock: bool = False) -> WarningRow:
    row = fetch_one(conn, "SELECT id, hazard, created_by, created_at, updated_at FROM warnings WHERE id = %s"
                    + (" FOR UPDATE" if lock else ""), (warning_id,))
    if row is None:
        raise NotFound("warning_id", f"no warning {warning_id}")
    return WarningRow(**row)


def insert_message(conn: Conn, warning_id: int, msg_type: str, cap_status: str, content: dict[str, Any],
                   actor: Actor) -> MessageRow:
    row = fetch_one(conn, f"INSERT INTO warning_messages (warning_id, msg_type, cap_status, content, authors, "
                          f"drafted_by) VALUES (%s, %s, %s, %s, %s, %s) RETURNING {MESSAGE_COLUMNS}",
                    (warning_id, msg_type, cap_status, Jsonb(content), [actor.name], actor.name))
    conn.execute("UPDATE warnings SET updated_at = now() WHERE id = %s", (warning_id,))
    assert row is not None
    return MessageRow(**row)


def open_message(conn: Conn, warning_id: int, *, lock: bool = False) -> MessageRow | None:
    """The message in preparation (draft or approved), if any."""
    return _message(fetch_one(conn, f"SELECT {MESSAGE_COLUMNS} FROM warning_messages WHERE warning_id = %s "
                                    "AND status IN ('draft', 'approved')" + (" FOR UPDATE" if lock else ""),
                              (warning_id,)))


def messages(conn: Conn, warning_id: int) -> list[MessageRow]:
    rows = fetch_all(conn, f"SELECT {MESSAGE_COLUMNS} FROM warning_messages WHERE warning_id = %s ORDER BY id",
                     (warning_id,))
    return [MessageRow(**r) for r in rows]


def published(conn: Conn, warning_id: int) -> list[MessageRow]:
    return [m for m in messages(conn, warning_id) if m.status == "published"]


def update_content(conn: Conn, message_id: int, content: dict[str, Any], cap_status: str,
                   actor: Actor) -> MessageRow:
    """New content: version bumped, any approval withdrawn, the editor added to the authors."""
    row = fetch_one(conn, f"UPDATE warning_messages SET content = %s, cap_status = %s, version = version + 1, "
                          "status = 'draft', approved_by = NULL, approved_at = NULL, approved_version = NULL, "
                          "authors = CASE WHEN %s = ANY(authors) THEN authors ELSE array_append(authors, %s::text) END, "
                          f"updated_at = now() WHERE id = %s RETURNING {MESSAGE_COLUMNS}",
                    (Jsonb(content), cap_status, actor.name, actor.name, message_id))
    assert row is not None
    return MessageRow(**row)


def set_approval(conn: Conn, message_id: int, actor: Actor | None, version: int) -> MessageRow:
    """Approve at ``version`` (actor given) or withdraw the approval (actor None: back to draft)."""
    row = fetch_one(conn, "UPDATE warning_messages SET status = %s, approved_by = %s, approved_version = %s, "
                          "approved_at = CASE WHEN %s::text IS NULL THEN NULL ELSE now() END, updated_at = now() "
                          f"WHERE id = %s AND version = %s RETURNING {MESSAGE_COLUMNS}",
                    ("approved" if actor else "draft", actor.name if actor else None, version if actor else None,
                     actor.name if actor else None, message_id, version))
    assert row is not None
    return MessageRow(**row)


def set_published(conn: Conn, message_id: int, actor: Actor, identifier: str, sent: datetime,
                  expires_at: datetime, xml: bytes, sha256: str) -> MessageRow:
    row = fetch_one(conn, "UPDATE warning_messages SET status = 'published', published_by = %s, "
                          "published_at = now(), identifier = %s, sent = %s, expires_at = %s, xml = %s, "
                          f"xml_sha256 = %s, updated_at = now() WHERE id = %s AND status = 'approved' "
                          f"RETURNING {MESSAGE_COLUMNS}",
                    (actor.name, identifier, sent, expires_at, xml, sha256, message_id))
    assert row is not None
    return MessageRow(**row)


def set_discarded(conn: Conn, message_id: int) -> None:
    conn.execute("UPDATE warning_messages SET status = 'discarded', updated_at = now() WHERE id = %s",
                 (message_id,))


def add_sources(conn: Conn, message_id: int, sources: list[dict[str, Any]]) -> None:
    for s in sources:
        conn.execute("INSERT INTO warning_sources (message_id, kind, source_id) VALUES (%s, %s, %s) "
                     "ON CONFLICT DO NOTHING", (message_id, s["kind"], s["id"]))


def add_event(conn: Conn, warning_id: int, message_id: int | None, kind: str, actor: Actor,
              detail: dict[str, Any] | None = None) -> None:
    conn.execute("INSERT INTO warning_events (warning_id, message_id, kind, actor, actor_role, detail) "
                 "VALUES (%s, %s, %s, %s, %s, %s)",
                 (warning_id, message_id, kind, actor.name, actor.role.value, Jsonb(detail or {})))


def events(conn: Conn, warning_id: int) -> list[EventRow]:
    rows = fetch_all(conn, "SELECT id, warning_id, message_id, at, kind, actor, actor_role, detail "
                           "FROM warning_events WHERE warning_id = %s ORDER BY id", (warning_id,))
    return [EventRow(**r) for r in rows]


def message_xml(conn: Conn, message_id: int) -> bytes | None:
    row = conn.execute("SELECT xml FROM warning_messages WHERE id = %s AND status = 'published'",
                       (message_id,)).fetchone()
    return bytes(row[0]) if row else None
