"""The owner of ``alert_rules``: rules read, listed, inserted, updated and deleted, and loaded for the evaluators.

What a change does to a rule's open alerts (and the name and escalation-policy checks) is ``alerts.rule_changes``,
which callers use to create, replace or delete a rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from alerts.rules.models import AnyRule, parse_rule, rule_document
from alerts.rules.ref import RuleRef
from ops_center.db import Conn, fetch_all, fetch_one

_COLS = ("id, name, kind, severity, enabled, spec, escalation_policy_id, version, created_by, created_at, "
         "updated_at, last_evaluated_at, last_error")


@dataclass(frozen=True)
class StoredRule:
    id: int
    version: int
    rule: AnyRule
    escalation_policy_id: int | None

    @property
    def ref(self) -> RuleRef:
        return RuleRef(self.id, self.rule.name, self.rule.severity, self.rule.flap_window,
                                 self.escalation_policy_id)


def _stored(row: dict[str, Any]) -> StoredRule:
    return StoredRule(int(row["id"]), int(row["version"]), parse_rule(row["spec"]), row["escalation_policy_id"])


def rule_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "kind": row["kind"], "severity": row["severity"],
            "enabled": row["enabled"], "version": row["version"], "spec": row["spec"],
            "escalation_policy_id": row["escalation_policy_id"], "created_by": row["created_by"],
            "created_at": row["created_at"], "updated_at": row["updated_at"],
            "last_evaluated_at": row["last_evaluated_at"], "last_error": row["last_error"]}


def get_rule(conn: Conn, rule_id: int) -> dict[str, Any] | None:
    return fetch_one(conn, f"SELECT {_COLS} FROM alert_rules WHERE id = %s", (rule_id,))


def lock_rule(conn: Conn, rule_id: int) -> dict[str, Any] | None:
    """The rule's row, locked (``FOR UPDATE``) until the transaction ends; None if there is no such rule."""
    return fetch_one(conn, f"SELECT {_COLS} FROM alert_rules WHERE id = %s FOR UPDATE", (rule_id,))


def get_rule_by_name(conn: Conn, name: str) -> dict[str, Any] | None:
    return fetch_one(conn, f"SELECT {_COLS} FROM alert_rules WHERE name = %s", (name,))


def list_rules(conn: Conn, *, kind: str | None = None, enabled: bool | None = None, after_id: int = 0,
               limit: int = 100) -> list[dict[str, Any]]:
    return fetch_all(
        conn,
        f"SELECT {_COLS} FROM alert_rules WHERE id > %s AND (%s::text IS NULL OR kind = %s) "
        f"AND (%s::boolean IS NULL OR enabled = %s) ORDER BY id LIMIT %s",
        (after_id, kind, kind, enabled, enabled, limit),
    )


def insert_rule(conn: Conn, rule: AnyRule, escalation_policy_id: int | None, actor: str) -> dict[str, Any]:
    row = fetch_one(
        conn,
        f"INSERT INTO alert_rules (name, kind, severity, enabled, spec, escalation_policy_id, created_by) "
        f"VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {_COLS}",
        (rule.name, rule.kind, rule.severity, rule.enabled, Jsonb(rule_document(rule)), escalation_policy_id,
         actor),
    )
    assert row is not None
    return row


def update_rule(conn: Conn, rule_id: int, rule: AnyRule, escalation_policy_id: int | None,
                now: datetime) -> dict[str, Any]:
    """Store a new document for an existing rule: ``version`` goes up (stream state restarts), ``last_error``
    is cleared."""
    row = fetch_one(
        conn,
        f"UPDATE alert_rules SET name = %s, kind = %s, severity = %s, enabled = %s, spec = %s, "
        f"escalation_policy_id = %s, version = version + 1, updated_at = %s, last_error = NULL WHERE id = %s "
        f"RETURNING {_COLS}",
        (rule.name, rule.kind, rule.severity, rule.enabled, Jsonb(rule_document(rule)), escalation_policy_id, now,
         rule_id),
    )
    assert row is not None
    return row


def delete_rule_row(conn: Conn, rule_id: int) -> None:
    conn.execute("DELETE FROM alert_rules WHERE id = %s", (rule_id,))


def load_enabled(conn: Conn, kinds: frozenset[str] | set[str]) -> list[StoredRule]:
    rows = fetch_all(conn, f"SELECT {_COLS} FROM alert_rules WHERE enabled AND kind = ANY(%s) ORDER BY id",
                     (sorted(kinds),))
    return [_stored(r) for r in rows]


def stored(row: dict[str, Any]) -> StoredRule:
    return _stored(row)
