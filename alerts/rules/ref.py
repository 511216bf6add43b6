"""What the alert lifecycle needs to know of a rule when it fires or resolves one of its alerts."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleRef:
    """A rule as the lifecycle sees it: ``id`` None for alerts of no stored rule (tests, one-off firings);
    ``flap_window_s`` None takes the engine's default flap window."""

    id: int | None
    name: str
    severity: str
    flap_window_s: float | None = None
    escalation_policy_id: int | None = None
