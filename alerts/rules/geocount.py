"""Geo-count rules, pure: wards with at least N matching incidents in the window."""

from __future__ import annotations

from collections.abc import Mapping

from alerts.rules.models import GeoCountRule


def crowded_wards(rule: GeoCountRule, counts: Mapping[str, int]) -> dict[str, int]:
    """``{ward_code: count}`` for the wards over the rule's count (``counts`` already filtered by category and
    window by the caller's query)."""
    wards = set(rule.wards)
    return {w: n for w, n in counts.items() if n >= rule.count and (not wards or w in wards)}
