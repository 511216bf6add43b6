"""Threshold rules as a pure step function: ``step(rule, state, t, v) -> Transition | None`` (state mutated).

``for`` is measured in reading time: the condition must hold on every reading from the first breaching one until a
reading at least ``for`` later. Hysteresis: once firing, only a value beyond ``clear`` resolves the alert."""

from __future__ import annotations

import operator as op
from collections.abc import Callable

from alerts.rules.models import ThresholdRule
from alerts.rules.state import EvalState, Transition

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": op.gt, ">=": op.ge, "<": op.lt, "<=": op.le, "==": op.eq, "!=": op.ne,
}


def breached(rule: ThresholdRule, v: float) -> bool:
    return OPS[rule.operator](v, rule.value)


def cleared(rule: ThresholdRule, v: float) -> bool:
    """Whether a firing alert resolves on value ``v``."""
    if rule.clear is None:
        return not breached(rule, v)
    if rule.operator in (">", ">="):
        return v < rule.clear
    return v > rule.clear


def step(rule: ThresholdRule, state: EvalState, t: float, v: float) -> Transition | None:
    if state.last_time is not None and t <= state.last_time:
        return None  # a redelivered or out-of-order reading never moves the state backwards
    state.last_time, state.last_value = t, v
    if state.status == "firing":
        if cleared(rule, v):
            state.status, state.since = "ok", None
            return Transition("resolve", t, v)
        return None
    if not breached(rule, v):
        state.status, state.since = "ok", None
        return None
    if state.status == "ok":
        state.status, state.since = "pending", t
    assert state.since is not None
    if t - state.since >= rule.for_:
        state.status = "firing"
        return Transition("fire", t, v, {"pending_since": state.since})
    return None
