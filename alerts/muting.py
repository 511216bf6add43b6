"""The one question the rest of the engine asks: is this alert muted, and why?

``is_muted(conn_or_snapshot, alert) -> MuteDecision``. Behind it sit silences (``alerts.silences``) and inhibition
rules (``alerts.inhibition``). A ``MuteSnapshot`` loads everything once (active silences, enabled inhibition rules,
their open source alerts and open incidents) for evaluating many alerts; passing a connection loads one on the fly.
``apply`` stores a changed decision; re-deciding every open alert is ``alerts.remuting.refresh`` (it also moves the
alert through the lifecycle, which imports this module)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from alerts import inhibition, silences
from alerts.matchers import match_all
from alerts.models import ALERT_COLUMNS, Alert, fetch_alerts, utcnow
from ops_center.db import Conn, fetch_all

log = logging.getLogger("alerts.muting")


@dataclass(frozen=True)
class MuteDecision:
    muted: bool
    reason: str | None = None
    by: str | None = None  # "silence:<id>" or "inhibit_rule:<name>"


NOT_MUTED = MuteDecision(False)


def _match_labels(labels: dict[str, Any] | None, rule_name: str | None, severity: str | None,
                  rule_id: int | None) -> dict[str, Any]:
    out = dict(labels or {})
    out.setdefault("alertname", rule_name or "")
    out.setdefault("severity", severity or "")
    if rule_id is not None:
        out.setdefault("rule_id", str(rule_id))
    return out


def match_labels(alert: Alert) -> dict[str, Any]:
    """What matchers see: the alert's labels plus ``alertname`` (rule name), ``severity`` and ``rule_id``."""
    return _match_labels(alert.labels, alert.rule_name, alert.severity, alert.rule_id)


def _key(rule: inhibition.InhibitRule, labels: dict[str, Any]) -> tuple[str, ...] | None:
    """The values of the rule's ``equal`` labels, or None when one is empty (an empty label is never equal)."""
    values = tuple(str(labels.get(name) or "") for name in rule.equal)
    return None if any(v == "" for v in values) else values


_COLUMN_LABELS = {"alertname": "a.rule_name", "severity": "a.severity", "rule_id": "a.rule_id::text"}


def _alert_sources(conn: Conn, rule: inhibition.InhibitRule, now: datetime) -> list[inhibition.Source]:
    """Open alerts that may be this rule's sources. Its ``=`` matchers and ``equal`` labels go into the query (a
    storm of open alerts is not loaded for every decision); the rest are checked in Python."""
    where = ["(a.ends_at IS NULL OR a.ends_at > %s)"]
    params: list[Any] = [now]
    for m in rule.source_matchers:
        if m.op != "=":
            continue
        column = _COLUMN_LABELS.get(m.name)
        if column is not None:
            where.append(f"COALESCE({column}, '') = %s")
        else:
            where.append("COALESCE(a.labels ->> %s, '') = %s")
            params.append(m.name)
        params.append(m.value)
    for name in rule.equal:
        where.append("COALESCE(a.labels ->> %s, '') <> ''")
        params.append(name)
    rows = fetch_all(conn, f"SELECT a.id, a.rule_id, a.rule_name, a.severity, a.labels FROM alerts a "
                           f"WHERE {' AND '.join(where)}", params)
    return [inhibition.Source("alert", int(r["id"]), _match_labels(r["labels"], r["rule_name"], r["severity"],
                                                                   r["rule_id"])) for r in rows]


@dataclass
class MuteSnapshot:
    now: datetime
    silences: list[silences.Silence] = field(default_factory=list)
    rules: list[inhibition.InhibitRule] = field(default_factory=list)
    # per inhibition rule: its matching sources indexed by the values of its `equal` labels
    sources: dict[int, dict[tuple[str, ...], list[inhibition.Source]]] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: Conn, now: datetime | None = None) -> MuteSnapshot:
        now = now or utcnow()
        rules = inhibition.enabled_rules(conn)
        snap = cls(now, silences.active(conn, now), rules)
        for rule in rules:
            if rule.source == "alert":
                pool = _alert_sources(conn, rule, now)
            else:
                pool = inhibition.open_incident_sources(conn, rule)
            index: dict[tuple[str, ...], list[inhibition.Source]] = {}
            for src in pool:
                key = _key(rule, src.labels)
                if key is not None and match_all(rule.source_matchers, src.labels):
                    index.setdefault(key, []).append(src)
            snap.sources[rule.id] = index
        return snap

    def add_source(self, alert: Alert) -> None:
        """Count a just-fired alert as a possible inhibition source for the rest of this snapshot's use."""
        src = inhibition.Source("alert", int(alert.id), match_labels(alert))
        for rule in self.rules:
            if rule.source != "alert":
                continue
            key = _key(rule, src.labels)
            if key is not None and match_all(rule.source_matchers, src.labels):
                self.sources.setdefault(rule.id, {}).setdefault(key, []).append(src)

    def decide(self, alert: Alert) -> MuteDecision:
        labels = match_labels(alert)
        for s in self.silences:
            if s.matches(labels):
                return MuteDecision(True, s.reason(), f"silence:{s.id}")
        alert_id = alert.id
        for rule in self.rules:
            if not match_all(rule.target_matchers, labels):
                continue
            key = _key(rule, labels)
            if key is None:
                continue
            for src in self.sources.get(rule.id, {}).get(key, ()):
                if src.kind == "alert" and alert_id is not None and src.id == alert_id:
                    continue  # an alert never inhibits itself
                return MuteDecision(True, f"inhibited by rule {rule.name!r}: open {src.kind} #{src.id}",
                                    f"inhibit_rule:{rule.name}")
        return NOT_MUTED


def is_muted(conn_or_snapshot: Conn | MuteSnapshot, alert: Alert, now: datetime | None = None) -> MuteDecision:
    """Is ``alert`` muted, and why?"""
    snap = conn_or_snapshot if isinstance(conn_or_snapshot, MuteSnapshot) else MuteSnapshot.load(
        conn_or_snapshot, now)
    return snap.decide(alert)


def apply(conn: Conn, alert: Alert, decision: MuteDecision, now: datetime) -> tuple[Alert, str, int | None]:
    """Store a changed decision on the alert; returns (row, "muted" | "unmuted" | "", timeline id) and writes the
    timeline. Escalation pauses while muted (the caller restarts it on unmute)."""
    if decision.muted == bool(alert.muted) and (not decision.muted or decision.by == alert.muted_by):
        return alert, "", None
    rows = fetch_alerts(
        conn,
        f"UPDATE alerts a SET muted = %s, muted_reason = %s, muted_by = %s, updated_at = %s, "
        f"next_escalation_at = CASE WHEN %s THEN NULL ELSE a.next_escalation_at END "
        f"WHERE id = %s RETURNING {ALERT_COLUMNS}",
        (decision.muted, decision.reason, decision.by, now, decision.muted, alert.id),
    )
    row = rows[0]
    kind = "muted" if decision.muted else "unmuted"
    if decision.muted == bool(alert.muted):  # still muted, for another reason: note it, no transition
        kind = "muted"
    tl = conn.execute("INSERT INTO alert_timeline (alert_id, at, kind, actor, detail) VALUES (%s, %s, %s, %s, %s) "
                      "RETURNING id", (alert.id, now, kind, decision.by or "muting",
                                       Jsonb({"reason": decision.reason}))).fetchone()
    assert tl is not None
    return row, ("" if decision.muted == bool(alert.muted) else kind), int(tl[0])
