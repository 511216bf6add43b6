"""Rate-of-change rules as a pure step function over a window of samples kept in the state.

change = latest value − the oldest value still inside ``[t − window, t]``; fires when ``change operator value``
holds, resolves when it stops holding."""

from __future__ import annotations

from alerts.rules.models import RateRule
from alerts.rules.state import EvalState, Transition
from alerts.rules.threshold import OPS

MAX_SAMPLES = 512


def _trim(samples: list[tuple[float, float]], t: float, window: float) -> list[tuple[float, float]]:
    kept = [s for s in samples if s[0] >= t - window]
    if len(kept) > MAX_SAMPLES:  # thin the middle, keep the oldest (the reference) and the newest
        step = len(kept) / (MAX_SAMPLES - 1)
        kept = [kept[int(i * step)] for i in range(MAX_SAMPLES - 1)] + [kept[-1]]
    return kept


def change(state: EvalState) -> float | None:
    if len(state.samples) < 2:
        return None
    return state.samples[-1][1] - state.samples[0][1]


def step(rule: RateRule, state: EvalState, t: float, v: float) -> Transition | None:
    if state.last_time is not None and t <= state.last_time:
        return None
    state.last_time, state.last_value = t, v
    state.samples = _trim([*state.samples, (t, v)], t, rule.window)
    delta = change(state)
    hit = delta is not None and OPS[rule.operator](delta, rule.value)
    if state.status == "firing" and not hit:
        state.status, state.since = "ok", None
        return Transition("resolve", t, v, {"change": delta if delta is not None else 0.0})
    if state.status != "firing" and hit:
        assert delta is not None
        state.status, state.since = "firing", t
        return Transition("fire", t, v, {"change": delta, "from": state.samples[0][1]})
    return None
