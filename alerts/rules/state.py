"""Evaluation state of a stream rule for one subject, and the transitions a step can produce.

Pure data: the stream evaluator loads it from ``alert_rule_state``, steps it with a rule's pure function, and
writes it back in the same transaction (so several ingest processes and restarts see one history)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["ok", "pending", "firing"]


@dataclass
class EvalState:
    status: Status = "ok"
    since: float | None = None          # epoch s: pending since (threshold with `for`) or firing since
    last_time: float | None = None      # epoch s of the newest reading applied (older ones are ignored)
    last_value: float | None = None
    samples: list[list[float]] = field(default_factory=list)  # rate rules: [t, v] slots inside the window


@dataclass(frozen=True)
class Transition:
    action: Literal["fire", "resolve"]
    time: float          # epoch s of the reading that caused it
    value: float
    detail: dict[str, float] = field(default_factory=dict)
