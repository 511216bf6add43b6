"""Rule files (YAML): ``rules`` plus, optionally, the ``channels``, ``escalation_policies`` and ``inhibit_rules``
they use. Everything is validated before anything is written; errors name the field (``rules[3].operator``).

Example::

    channels:
      - {name: ops-webhook, type: webhook, config: {url: "https://hooks.example.vn/ops", format: alertmanager}}
    escalation_policies:
      - name: trực ban
        steps: [{after: 0, channels: [ops-webhook]}, {after: 15m, channels: [lanh-dao-email]}]
        repeat: 30m
    rules:
      - name: Độ mặn vượt 4‰
        kind: threshold
        metric: salinity_ppt
        operator: ">"
        value: 4
        for: 10m
        clear: 3.5
        scope: {kind: salinity}
        severity: major
        escalation: trực ban
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from alerts import escalation, inhibition, rule_changes
from alerts.errors import RuleError
from alerts.notify import channels as channels_mod
from alerts.rules.models import AnyRule, parse_rule
from ops_center.db import Conn
from ops_center.storable import json_problem

MAX_FILE_BYTES = 2_000_000
SECTIONS = ("channels", "escalation_policies", "inhibit_rules", "rules")


@dataclass
class RuleFile:
    rules: list[AnyRule] = field(default_factory=list)
    channels: list[channels_mod.ChannelIn] = field(default_factory=list)
    policies: list[escalation.PolicyIn] = field(default_factory=list)
    inhibit_rules: list[inhibition.InhibitRuleIn] = field(default_factory=list)


def parse_document(doc: Any) -> RuleFile:
    """Validate a parsed document (a mapping with the sections above, or a bare list of rules)."""
    if isinstance(doc, list):
        doc = {"rules": doc}
    if not isinstance(doc, dict):
        raise RuleError([{"field": "file", "message": "must be a mapping with a 'rules' list (or a list of rules)",
                          "value": type(doc).__name__}])
    unknown = sorted(set(doc) - set(SECTIONS))
    if unknown:
        raise RuleError([{"field": str(unknown[0]), "message": f"unknown section; expected {', '.join(SECTIONS)}",
                          "value": None}])
    out, errors = RuleFile(), []
    for section in SECTIONS:
        items = doc.get(section)
        if items is None:  # an empty section; 0, "" or false are not lists (found by schemathesis)
            items = []
        if not isinstance(items, list):
            errors.append({"field": section, "message": "must be a list", "value": type(items).__name__})
            continue
        names: set[str] = set()
        for i, item in enumerate(items):
            prefix = f"{section}[{i}]"
            try:
                if section == "rules":
                    parsed: Any = parse_rule(item, prefix)
                    out.rules.append(parsed)
                elif section == "channels":
                    parsed = channels_mod.validate_channel(item, prefix)
                    out.channels.append(parsed)
                elif section == "escalation_policies":
                    parsed = escalation.validate_policy(item, prefix)
                    out.policies.append(parsed)
                else:
                    parsed = inhibition.validate_inhibit_rule(item, prefix)
                    out.inhibit_rules.append(parsed)
            except RuleError as exc:
                errors += exc.errors
                continue
            if parsed.name in names:
                errors.append({"field": f"{prefix}.name", "message": "duplicate name in this file",
                               "value": parsed.name})
            names.add(parsed.name)
    if errors:
        raise RuleError(errors)
    return out


def parse_text(text: str) -> RuleFile:
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise RuleError([{"field": "file", "message": f"larger than {MAX_FILE_BYTES} bytes", "value": None}])
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise RuleError([{"field": "file", "message": f"not valid YAML at {where}: "
                                                      f"{getattr(exc, 'problem', exc)}", "value": None}]) from exc
    problem = json_problem(doc, other_scalars=True)
    if problem is not None:  # NUL, lone surrogates, NaN: refused naming where, before anything is parsed or stored
        raise RuleError([{"field": problem.field or "file", "message": f"value {problem.value} {problem.message}",
                          "value": problem.value}])
    return parse_document(doc)


def parse_file(path: Path) -> RuleFile:
    return parse_text(path.read_text(encoding="utf-8"))


def apply(conn: Conn, rf: RuleFile, actor: str) -> dict[str, Any]:
    """Write a validated file: channels, then policies, then inhibition rules, then rules (by name)."""
    report: dict[str, Any] = {}
    report["channels"] = [channels_mod.upsert_channel(conn, c, actor)[0]["name"] for c in rf.channels]
    report["escalation_policies"] = [escalation.upsert_policy(conn, p, actor)[0]["name"] for p in rf.policies]
    report["inhibit_rules"] = [inhibition.upsert(conn, r, actor)[0]["name"] for r in rf.inhibit_rules]
    report["rules"] = rule_changes.upsert_rules(conn, rf.rules, actor)
    return report
