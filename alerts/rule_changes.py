"""Creating, replacing and deleting rules, and what a change does to the rule's open alerts.

Changing what a rule watches (kind, metric, scope) or disabling/deleting it resolves its open alerts ("rule
changed"); other changes (threshold, ``for``, severity, …) keep them and bump ``version`` so stream state restarts.
The rows themselves are ``alerts.rules.store``'s; this module sits above it, the lifecycle and escalation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alerts import escalation, lifecycle
from alerts.errors import RuleError
from alerts.models import utcnow
from alerts.rules import store
from alerts.rules.models import AnyRule, rule_document
from ops_center.db import Conn


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


def create_rule(conn: Conn, rule: AnyRule, actor: str) -> dict[str, Any]:
    if store.get_rule_by_name(conn, rule.name) is not None:
        raise RuleError([{"field": "name", "message": "a rule with this name exists", "value": rule.name}])
    return store.insert_rule(conn, rule, _policy_id(conn, rule), actor)


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
    before = store.lock_rule(conn, rule_id)
    if before is None:
        return None
    other = store.get_rule_by_name(conn, rule.name)
    if other is not None and other["id"] != rule_id:
        raise RuleError([{"field": "name", "message": "another rule has this name", "value": rule.name}])
    pid = _policy_id(conn, rule)
    doc = rule_document(rule)
    if doc == before["spec"] and pid == before["escalation_policy_id"]:
        return before
    row = store.update_rule(conn, rule_id, rule, pid, now)
    if not rule.enabled and before["enabled"]:
        _end_open_alerts(conn, rule_id, "rule disabled", actor, now)
    elif _watch(doc) != _watch(before["spec"]):
        _end_open_alerts(conn, rule_id, "rule changed what it watches", actor, now)
    return row


def delete_rule(conn: Conn, rule_id: int, actor: str, now: datetime | None = None) -> bool:
    """Delete a rule; its open alerts are resolved first (history keeps the rule's name)."""
    now = now or utcnow()
    if store.lock_rule(conn, rule_id) is None:
        return False
    _end_open_alerts(conn, rule_id, "rule deleted", actor, now)
    store.delete_rule_row(conn, rule_id)
    return True


def upsert_rules(conn: Conn, rules: list[AnyRule], actor: str) -> dict[str, list[str]]:
    """Create or replace rules by name (the YAML loader); returns names by outcome."""
    out: dict[str, list[str]] = {"created": [], "updated": [], "unchanged": []}
    for rule in rules:
        existing = store.get_rule_by_name(conn, rule.name)
        if existing is None:
            create_rule(conn, rule, actor)
            out["created"].append(rule.name)
        else:
            row = replace_rule(conn, existing["id"], rule, actor)
            assert row is not None
            out["updated" if row["version"] != existing["version"] else "unchanged"].append(rule.name)
    return out
