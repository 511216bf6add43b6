"""Which threshold rules apply to a device: what its charts draw as alert thresholds."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.rules.models import ThresholdRule
from alerts.rules.store import load_enabled
from ops_center.db import Conn


@dataclass(frozen=True, slots=True)
class AppliedThreshold:
    rule_id: int
    name: str
    severity: str
    metric: str
    operator: str
    value: float
    clear: float | None
    for_s: float
    scope: str


def thresholds_for(conn: Conn, device_id: str, kind: str | None, ward_code: str | None,
                   metrics: set[str] | None = None) -> list[AppliedThreshold]:
    """The enabled threshold rules whose scope takes in the device (itself, its kind, its ward or all), optionally
    only for ``metrics``; by metric, then value."""
    out: list[AppliedThreshold] = []
    for stored in load_enabled(conn, {"threshold"}):
        rule = stored.rule
        if not isinstance(rule, ThresholdRule) or not rule.scope.matches(device_id, kind, ward_code):
            continue
        if metrics is not None and rule.metric not in metrics:
            continue
        out.append(AppliedThreshold(stored.id, rule.name, rule.severity, rule.metric, rule.operator, rule.value,
                                    rule.clear, rule.for_, rule.scope.type))
    return sorted(out, key=lambda t: (t.metric, t.value, t.rule_id))
