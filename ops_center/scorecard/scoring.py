"""Scores from counts, pure: ratio = numerator / denominator (None when the denominator is 0: no data is not 0);
score = points × ratio, or points × min(1, ratio / threshold) when the indicator has a threshold. A group's and
the total's points earned are sums of unrounded scores, rounded at the end; points available are the points of the
indicators with data; the total scaled to 100 = earned / available × 100. Ratios are reported with 4 decimals and
scores with 2."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ops_center.scorecard.definition import Definition, Indicator


@dataclass(frozen=True)
class Count:
    """One indicator's figures for one group and period; ``parts`` names what a composite numerator is made of
    (5.3: the late share and the unsatisfied share of the dossiers resolved)."""

    numerator: int
    denominator: int
    parts: tuple[tuple[str, int], ...] = field(default=())


def ratio_of(c: Count) -> float | None:
    return c.numerator / c.denominator if c.denominator else None


def score_of(ind: Indicator, ratio: float | None) -> float | None:
    if ratio is None:
        return None
    if ind.threshold is None:
        return ind.points * ratio
    return ind.points * min(1.0, ratio / ind.threshold)


def satisfaction(resolved: int, late: int, unsatisfied: int) -> Count:
    """5.3: 1 − (late share + unsatisfied share), both over the dossiers resolved (a dossier both late and rated
    badly counts in both shares); below 0 it is 0."""
    return Count(max(0, resolved - late - unsatisfied), resolved, (("late", late), ("unsatisfied", unsatisfied)))


@dataclass(frozen=True)
class Card:
    """A scorecard: per indicator, per group and in total."""

    indicators: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    total: dict[str, Any]
    earned: float | None  # unrounded, for ranking and alerts
    scaled: float | None

    def as_json(self) -> dict[str, Any]:
        return {"indicators": self.indicators, "groups": self.groups, "total": self.total}


def _round(x: float | None, n: int) -> float | None:
    return None if x is None else round(x, n)


def card(definition: Definition, counts: Mapping[str, Count]) -> Card:
    """The scorecard of one group and period; an indicator without a count has no data."""
    rows: list[dict[str, Any]] = []
    earned: dict[str, float] = {g.id: 0.0 for g in definition.groups}
    available: dict[str, float] = {g.id: 0.0 for g in definition.groups}
    for ind in definition.indicators:
        c = counts.get(ind.id, Count(0, 0))
        ratio = ratio_of(c)
        score = score_of(ind, ratio)
        if score is not None:
            earned[ind.group] += score
            available[ind.group] += ind.points
        row: dict[str, Any] = {"id": ind.id, "group": ind.group, "name": {"vi": ind.vi, "en": ind.en},
                               "points": ind.points, "threshold": ind.threshold, "numerator": c.numerator,
                               "denominator": c.denominator, "ratio": _round(ratio, 4), "score": _round(score, 2)}
        if c.parts:
            row["parts"] = dict(c.parts)
        rows.append(row)
    groups = [{"id": g.id, "name": {"vi": g.vi, "en": g.en}, "points": g.points,
               "earned": round(earned[g.id], 2) if available[g.id] else None, "available": available[g.id]}
              for g in definition.groups]
    total_available = sum(available.values())
    total_earned = sum(earned.values()) if total_available else None
    scaled = total_earned / total_available * 100 if total_earned is not None else None
    total = {"points": sum(g.points for g in definition.groups), "earned": _round(total_earned, 2),
             "available": total_available, "scaled": _round(scaled, 2)}
    return Card(rows, groups, total, total_earned, scaled)
