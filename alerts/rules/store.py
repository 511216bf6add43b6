"""Rules in the database: create, replace, delete, list, and loading for the evaluators.

Changing what a rule watches (kind, metric, scope) or disabling/deleting it resolves its open alerts ("rule
changed"); other changes (threshold, ``for``, severity, …) keep them and bump ``version`` so stream state restarts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from alerts import escalation, lifecycle
from alerts.errors import RuleError
from alerts.models import utcnow
from alerts.rules.models import AnyRule, parse_rule, rule_document
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
    def ref(self) -> lifecycle.RuleRef:
        return lifecycle.RuleRef(self.id, self.rule.name, self.rule.severity, self.rule.flap_window,
                                 self.escalation_policy_id)


def _stored(row: dict[str, Any]) -> StoredRule:
    return StoredRule(int(row["id"]), int(row["version"]), parse_rule(row["spec"]), row["escalation_policy_id"])


def rule_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "kind": row["kind"], "severity": row["severity"],
            "enabled": row["enabled"], "version": row["version"], "spec": row["spec"],
            "escalation_policy_id": row["escalation_policy_id"], "created_by": row["created_by"],
            "created_at": row["created_at"], "updated_at": row["updated_at"],
            "last_evaluated_at": row["last_evaluated_at"], "last_error": row["last_error"]}


def _policy_id(conn: Conn, rule: AnyRule) -> int | None:
    if rule.escalation is None:
        return None
    pid = escalation.policy_id_by_name(conn, rule.escalation)
    if pid is None:
        raise RuleError([{"field": "escalation", "message": "no escalation policy with this name",
                          "value": rule.escalation}])
    return pid


def _watch(spec: dict[str, Any]) -> tuple[Any, ...]:
    return (spec.get("kind"), spec.get("metric"), repr(spec.get("scope")), spec.get("categories"),
            spec.get("wards"), spec.get("level"), spec.get("codes"), spec.get("kpi"))


def get_rule(conn: Conn, rule_id: int) -> dict[str, Any] | None:
    return fetch_one(conn, f"SELECT {_COLS} FROM alert_rules WHERE id = %s", (rule_id,))


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


def create_rule(conn: Conn, rule: AnyRule, actor: str) -> dict[str, Any]:
    if get_rule_by_name(conn, rule.name) is not None:
        raise RuleError([{"field": "name", "message": "a rule with this name exists", "value": rule.name}])
    pid = _policy_id(conn, rule)
    row = fetch_one(
        conn,
        f"INSERT INTO alert_rules (name, kind, severity, enabled, spec, escalation_policy_id, created_by) "
        f"VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {_COLS}",
        (rule.name, rule.kind, rule.severity, rule.enabled, Jsonb(rule_document(rule)), pid, actor),
    )
    assert row is not None
    return row


def _end_open_alerts(conn: Conn, rule_id: int, why: str, actor: str, now: datetime) -> int:
    ids = [r[0] for r in conn.execute("SELECT id FROM alerts WHERE rule_id = %s AND ends_at IS NULL ORDER BY id",
                                      (rule_id,)).fetchall()]
    conn.execute("DELETE FROM alert_rule_state WHERE rule_id = %s", (rule_id,))
    n = 0
    for alert_id in ids:
        if lifecycle.resolve(conn, alert_id=alert_id, actor=actor, note=why, now=now) is not None:
            n += 1
    return n


def replace_rule(conn: Conn, rule_id: int, rule: AnyRule, actor: str,
                 now: datetime | None = None) -> dict[str, Any] | None:
    """Replace the rule's document; None if there is no such rule."""
    now = now or utcnow()
    before = fetch_one(conn, f"SELECT {_COLS} FROM alert_rules WHERE id = %s FOR UPDATE", (rule_id,))
    if before is None:
        return None
    other = get_rule_by_name(conn, rule.name)
    if other is not None and other["id"] != rule_id:
        raise RuleError([{"field": "name", "message": "another rule has this name", "value": rule.name}])
    pid = _policy_id(conn, rule)
    doc = rule_document(rule)
    if doc == before["spec"] and pid == before["escalation_policy_id"]:
        return before
    row = fetch_one(
        conn,
        f"UPDATE alert_rules SET name = %s, kind = %s, severity = %s, enabled = %s, spec = %s, "
        f"escalation_policy_id = %s, version = version + 1, updated_at = %s, last_error = NULL WHERE id = %s "
        f"RETURNING {_COLS}",
        (rule.name, rule.kind, rule.severity, rule.enabled, Jsonb(doc), pid, now, rule_id),
    )
    assert row is not None
    if not rule.enabled and before["enabled"]:
        _end_open_alerts(conn, rule_id, "rule disabled", actor, now)
    elif _watch(doc) != _watch(before["spec"]):
        _end_open_alerts(conn, rule_id, "rule changed what it watches", actor, now)
    return row


def delete_rule(conn: Conn, rule_id: int, actor: str, now: datetime | None = None) -> bool:
    """Delete a rule; its open alerts are resolved first (history keeps the rule's name)."""
    now = now or utcnow()
    if fetch_one(conn, "SELECT id FROM alert_rules WHERE id = %s FOR UPDATE", (rule_id,)) is None:
        return False
    _end_open_alerts(conn, rule_id, "rule deleted", actor, now)
    conn.execute("DELETE FROM alert_rules WHERE id = %s", (rule_id,))
    return True


def upsert_rules(conn: Conn, rules: list[AnyRule], actor: str) -> dict[str, list[str]]:
    """Create or replace rules by name (the YAML loader); returns names by outcome."""
    out: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": []}
    for rule in rules:
        existing = get_rule_by_name(conn, rule.name)
        if existing is None:
            create_rule(conn, rule, actor)
            out["created"].append(rule.name)
        else:
            row = replace_rule(conn, existing["id"], rule, actor)
            assert row is not None
            out["updated" if row["version"] != existing["version"] else "unchanged"].append(rule.name)
    return out


def load_enabled(conn: Conn, kinds: frozenset[str] | set[str]) -> list[StoredRule]:
    rows = fetch_all(conn, f"SELECT {_COLS} FROM alert_rules WHERE enabled AND kind = ANY(%s) ORDER BY id",
                     (sorted(kinds),))
    return [_stored(r) for r in rows]


def stored(row: dict[str, Any]) -> StoredRule:
    return _stored(row)
