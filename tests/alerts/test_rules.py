"""The pure parts: durations, matchers, rule documents, each rule kind's function, summaries, the YAML loader —
and the CLI that loads rule files, run as a real process."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.durations import parse_duration
from alerts.errors import RuleError
from alerts.matchers import Matcher, match_all
from alerts.rule_files import parse_text
from alerts.rules import absence, geocount, kpi, rate, threshold
from alerts.rules.absence import DeviceRow
from alerts.rules.models import parse_rule
from alerts.rules.state import EvalState
from alerts.summary import render
from tests.alerts.conftest import uid

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("text", "seconds"), [(300, 300), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("2d", 172800),
                                               (" 10 m ", 600), ("1.5h", 5400), ("250ms", 0.25), ("45", 45)])
def test_durations(text, seconds) -> None:  # type: ignore[no-untyped-def]
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["5x", "-5m", "m5", "", "1h 3", True, None, [], "9" * 50, "400d", float("nan")])
def test_bad_durations(bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_matchers_are_anchored_and_missing_labels_are_empty() -> None:
    labels = {"ward": "32014", "metric": "water_level_cm"}
    assert Matcher(name="ward", value="32014").matches(labels)
    assert not Matcher(name="ward", op="=~", value="320").matches(labels)  # anchored
    assert Matcher(name="metric", op="=~", value="water_level.*").matches(labels)
    assert Matcher(name="device", op="=", value="").matches(labels)
    assert Matcher(name="device", op="!~", value=".+").matches(labels)
    assert match_all([Matcher(name="ward", value="32014"), Matcher(name="kind", op="!=", value="rain")], labels)
    with pytest.raises(ValueError, match="not a valid regular expression"):
        Matcher(name="ward", op="=~", value="(")


def test_threshold_for_and_hysteresis_pure() -> None:
    rule = parse_rule({"name": "x", "kind": "threshold", "metric": "ph", "operator": ">", "value": 10,
                       "for": 60, "clear": 8})
    st = EvalState()
    seq = [(0, 11), (30, 12), (45, 9), (50, 11), (100, 11), (110, 12), (120, 9), (130, 11), (140, 7.9)]
    out = [(t, tr.action) for t, v in seq if (tr := threshold.step(rule, st, t, v)) is not None]  # type: ignore[arg-type]
    assert out == [(110, "fire"), (140, "resolve")]
    assert threshold.step(rule, st, 140, 50) is None  # not newer: ignored  # type: ignore[arg-type]
    ne = parse_rule({"name": "x", "kind": "threshold", "metric": "ph", "operator": "!=", "value": 7})
    st = EvalState()
    assert threshold.step(ne, st, 1, 7.5).action == "fire"  # type: ignore[arg-type,union-attr]
    assert threshold.step(ne, st, 2, 7.0).action == "resolve"  # type: ignore[arg-type,union-attr]


def test_rate_pure_with_slots() -> None:
    rule = parse_rule({"name": "x", "kind": "rate", "metric": "water_level_cm", "operator": "<", "value": -20,
                       "window": "10m"})
    st = EvalState()
    for i in range(600):  # one reading a second, flat: the window keeps one sample per 20 s slot
        assert rate.step(rule, st, float(i), 100.0) is None  # type: ignore[arg-type]
    assert len(st.samples) <= rate.SLOTS + 1
    tr = rate.step(rule, st, 600.0, 75.0)  # type: ignore[arg-type]
    assert tr is not None and tr.action == "fire" and tr.detail["change"] == -25.0
    tr = rate.step(rule, st, 1300.0, 75.0)  # type: ignore[arg-type]
    assert tr is not None and tr.action == "resolve"


def test_absence_geo_count_and_kpi_pure() -> None:
    now = datetime(2025, 7, 1, tzinfo=UTC)
    devs = [DeviceRow("a", "rain", "1", "s", None, 60, now - timedelta(minutes=2)),
            DeviceRow("b", "rain", "1", "s", None, 60, now - timedelta(minutes=4)),
            DeviceRow("c", "tide", "2", "s", None, 60, None, now - timedelta(hours=1)),
            DeviceRow("d", "tide", "2", "s", None, 60, None, None)]
    rule = parse_rule({"name": "x", "kind": "absence", "factor": 3})
    assert [s.device.id for s in absence.silent_devices(rule, devs, now)] == ["b", "c"]  # type: ignore[arg-type]
    per_metric = absence.silent_devices(rule, devs, now, {"a": now - timedelta(minutes=10)})  # type: ignore[arg-type]
    assert [s.device.id for s in per_metric] == ["a", "c"]
    geo = parse_rule({"name": "g", "kind": "geo_count", "count": 3, "window": "1h", "wards": ["1", "2"]})
    assert geocount.crowded_wards(geo, {"1": 3, "2": 2, "3": 9}) == {"1": 3}  # type: ignore[arg-type]
    k = parse_rule({"name": "k", "kind": "kpi", "kpi": "on_time_rate", "level": "unit", "target": 0.8,
                    "min_count": 5})
    rows = [{"code": "U1", "name": "UBND Tân Thành", "on_time_rate": 0.5, "resolved": 10},
            {"code": "U2", "name": "B", "on_time_rate": 0.5, "resolved": 2},      # too few
            {"code": "U3", "name": "C", "on_time_rate": None, "resolved": 0},     # no data is not 0 %
            {"code": "U4", "name": "D", "on_time_rate": 0.9, "resolved": 20}]
    assert [(b.code, b.value) for b in kpi.below_target(k, rows)] == [("U1", 0.5)]  # type: ignore[arg-type]
    start, _ = kpi.period_window("month", datetime(2025, 3, 20, 20, 0, tzinfo=UTC))
    assert start.isoformat() == "2025-03-01T00:00:00+07:00"
    start, _ = kpi.period_window("day", datetime(2025, 3, 20, 20, 0, tzinfo=UTC))
    assert start.isoformat() == "2025-03-21T00:00:00+07:00"


def test_summaries_substitute_names_only() -> None:
    rule = parse_rule({"name": "Mặn", "kind": "threshold", "metric": "salinity_ppt", "operator": ">", "value": 4,
                       "summary": "{rule}: {value}‰ tại {device} {value.__class__} {unknown} {{x}}"})
    text = render(rule, {"device": "cống Xẻo Rô"}, 5.25)
    assert text == "Mặn: 5.25‰ tại cống Xẻo Rô {value.__class__} {unknown} {{x}}"


def test_rule_file_errors_name_every_field() -> None:
    text = """
channels:
  - {name: hook, type: webhook, config: {url: "ftp://x"}}
escalation_policies:
  - {name: p, steps: []}
inhibit_rules:
  - {name: i, source: alert, source_matchers: [{name: "Bad Name", value: x}], target_matchers: [{name: a}]}
rules:
  - {name: a, kind: threshold, metric: ph, operator: ">", value: 1}
  - {name: a, kind: absence}
  - {name: b, kind: absence, factor: "3"}
"""
    with pytest.raises(RuleError) as exc:
        parse_text(text)
    fields = {e["field"] for e in exc.value.errors}
    assert {"channels[0].config.url", "escalation_policies[0].steps", "inhibit_rules[0].source_matchers[0].name",
            "rules[1].name", "rules[2].factor"} <= fields, fields
    with pytest.raises(RuleError, match="unknown section"):
        parse_text("rulez: []")
    assert [r.name for r in parse_text("- {name: bare, kind: absence}").rules] == ["bare"]


def test_cli_load_rules_and_evaluate(stack, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ops = str(REPO / ".venv/bin/ops-center")
    good = tmp_path / "rules.yaml"
    tag = uid("cli")
    good.write_text(f"""
rules:
  - name: "Ngập sâu {tag}"
    kind: threshold
    metric: flood_depth_cm
    operator: ">="
    value: 30
    for: 5m
    clear: 20
    scope: {{kind: flood_camera}}
    severity: critical
""", encoding="utf-8")
    r = subprocess.run([ops, "alerts", "load-rules", str(good)], env=stack.env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"Ngập sâu {tag}" in r.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - {name: x, kind: threshold, metric: ph, operator: '=>', value: 1}\n", encoding="utf-8")
    r = subprocess.run([ops, "alerts", "load-rules", str(bad)], env=stack.env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and "rules[0].operator" in r.stderr
    r = subprocess.run([ops, "alerts", "load-rules", "--check", str(good)], env=stack.env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and "valid" in r.stdout
    r = subprocess.run([ops, "alerts", "evaluate"], env=stack.env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert '"scheduled"' in r.stdout
