"""The starting rules that `make up` and docker-compose load are valid (parsed, not applied: applying them here
would fire on other tests' readings)."""

from __future__ import annotations

from pathlib import Path

from alerts.rule_files import parse_file

RULES = Path(__file__).resolve().parents[2] / "alerts" / "data" / "camau-demo-rules.yaml"


def test_demo_rules_are_valid() -> None:
    rf = parse_file(RULES)
    kinds = {r.kind for r in rf.rules}
    assert kinds == {"threshold", "rate", "absence", "geo_count", "kpi"}
    assert any("Độ mặn" in r.name for r in rf.rules)  # Vietnamese names intact
