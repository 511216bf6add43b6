"""Alert summaries: a rule's ``summary`` template, or a default per kind. Templates substitute ``{name}``
placeholders only (no attribute or index access), so a hostile template can do no more than print text."""

from __future__ import annotations

import re
from typing import Any

from alerts.durations import format_duration
from alerts.rules.models import (
    AbsenceRule,
    AnyRule,
    GeoCountRule,
    KpiRule,
    ProvinceSilenceRule,
    RateRule,
    ThresholdRule,
)

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]{0,31})\}")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.6g}"
    return str(value)


def variables(rule: AnyRule, labels: dict[str, Any], value: float | None,
              detail: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"rule": rule.name, "severity": rule.severity, **labels, **(detail or {})}
    if value is not None:
        out["value"] = value
    if isinstance(rule, ThresholdRule | RateRule):
        out.update(operator=rule.operator, threshold=rule.value)
    if isinstance(rule, RateRule | GeoCountRule):
        out["window"] = format_duration(rule.window)
    if isinstance(rule, KpiRule):
        out.update(kpi=rule.kpi, target=rule.target)
    return out


def default_template(rule: AnyRule) -> str:
    if isinstance(rule, ThresholdRule):
        return "{rule}: {device} {metric} = {value} ({operator} {threshold})"
    if isinstance(rule, RateRule):
        return "{rule}: {device} {metric} changed by {change} in {window} ({operator} {threshold})"
    if isinstance(rule, AbsenceRule) and rule.feed is not None:
        return "{rule}: no {feed} from unit {unit} for {silent_business_days} business days"
    if isinstance(rule, AbsenceRule):
        return "{rule}: no data from {device} for {silent_for}"
    if isinstance(rule, GeoCountRule):
        return "{rule}: {count} incidents in ward {ward} within {window}"
    if isinstance(rule, ProvinceSilenceRule):
        return "{rule}: {name} ({province}) silent for {silent_for} (schedule {schedule})"
    return "{rule}: {kpi} of {code} is {value} (target {target})"


def render(rule: AnyRule, labels: dict[str, Any], value: float | None,
           detail: dict[str, Any] | None = None) -> str:
    env = variables(rule, labels, value, detail)
    text = _PLACEHOLDER.sub(lambda m: _fmt(env[m.group(1)]) if m.group(1) in env else m.group(0),
                            rule.summary or default_template(rule))
    return text[:1000]
