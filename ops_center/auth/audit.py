"""The audit log: who did what, when, to which target."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from ops_center.db import Conn


def record(conn: Conn, actor: str, action: str, target: str, *, actor_role: str | None = None,
           status: int | None = None, request_id: str | None = None, detail: dict[str, Any] | None = None) -> None:
    conn.execute(
        "INSERT INTO audit_log (actor, actor_role, action, target, status, request_id, detail) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (actor, actor_role, action, target, status, request_id, Jsonb(detail or {})),
    )
