"""Rate-of-change rules as a pure step function over a compact window kept in the state.

change = latest value − the oldest sample still inside ``[t − window, t]``; fires when ``change operator value``
holds, resolves when it stops holding. The window keeps at most one sample per ``window / 30`` (the first reading
of each slot), so the state stays small and changes — and is written — at most once per slot, not per reading;
the reference time is therefore exact to within a thirtieth of the window."""

from __future__ import annotations

from alerts.rules.models import RateRule
from alerts.rules.state import EvalState, Transition
from alerts.rules.threshold import OPS

SLOTS = 30


def slot_s(rule: RateRule) -> float:
    return max(1.0, rule.window / SLOTS)


def change(state: EvalState, v: float, t: float) -> float | None:
    """The change from the window's oldest sample to ``v`` (None until a sample older than ``t`` exists)."""
    if not state.samples or state.samples[0][0] >= t:
        return None
    return v - state.samples[0][1]


def step(rule: RateRule, state: EvalState, t: float, v: float) -> Transition | None:
    if state.last_time is not None and t <= state.last_time:
        return None
    state.last_time, state.last_value = t, v
    # never mutate the list in place: callers compare a state with its copy to see whether anything changed
    samples = state.samples
    cutoff = t - rule.window
    if samples and samples[0][0] < cutoff:
        i = 1
        while i < len(samples) and samples[i][0] < cutoff:
            i += 1
        samples = samples[i:]
    if not samples or t - samples[-1][0] >= slot_s(rule):
        samples = [*samples, [t, v]]
    state.samples = samples
    delta = change(state, v, t)
    hit = delta is not None and OPS[rule.operator](delta, rule.value)
    if state.status == "firing" and not hit:
        state.status, state.since = "ok", None
        return Transition("resolve", t, v, {"change": delta if delta is not None else 0.0})
    if state.status != "firing" and hit:
        assert delta is not None
        state.status, state.since = "firing", t
        return Transition("fire", t, v, {"change": delta, "from": state.samples[0][1]})
    return None
