"""The shipped definition loads and adds up; a bad definition file is refused with the file and the field named."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from ops_center.scorecard.definition import (
    DATA_DIR,
    INDICATORS,
    DefinitionError,
    definition_for,
    load_definitions,
    parse_definition,
)


def shipped() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((DATA_DIR / "qd766-2022.yaml").read_text(encoding="utf-8"))
    return doc


def test_the_shipped_definition() -> None:
    d = definition_for(date(2025, 6, 1))
    assert (d.version, d.effective_from, d.decision) == ("2022.1", date(2022, 6, 23), "766/QĐ-TTg")
    assert [(g.id, g.points) for g in d.groups] == [("1", 18), ("2", 20), ("3", 22), ("4", 22), ("5", 18)]
    assert tuple(i.id for i in d.indicators) == INDICATORS
    assert {i.id: i.threshold for i in d.indicators if i.threshold} == {
        "3.1": 0.5, "3.2": 0.8, "3.3": 0.8, "4.2": 0.8, "4.4": 0.8, "5.3": 0.9}
    assert definition_for(date(2019, 1, 1)) is d  # the oldest one for earlier periods
    assert d.indicator("2.1").points == 20  # type: ignore[union-attr]


def _broken(path: str, value: Any) -> dict[str, Any]:
    doc = shipped()
    target: Any = doc
    keys = path.split(".")
    for k in keys[:-1]:
        target = target[int(k)] if k.isdigit() else target[k]
    last = keys[-1]
    if value is KeyError:
        del target[last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return doc


CASES = [
    ("indicators.4.points", 21, "groups[2].points: 20 but its indicators add up to 21"),
    ("indicators.5.threshold", 1.5, "indicators[5].threshold: 1.5 must be a ratio in (0, 1]"),
    ("indicators.5.id", "9.9", "indicators[5].id: '9.9' is not an indicator this version computes"),
    ("indicators.5.group", "7", "indicators[5].group: '7' is not one of the groups"),
    ("indicators.5.colour", "red", "indicators[5].colour: unknown key"),
    ("days.petitions", 10, "days.petitions: 10 differs from the 15 days"),
    ("effective_from", "soon", "effective_from: 'soon' is not a date"),
    ("groups.0.points", True, "groups[0].points: True must be a positive number"),
    ("version", KeyError, "version: required"),
]


@pytest.mark.parametrize(("path", "value", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_definitions_name_the_field(path: str, value: Any, message: str) -> None:
    with pytest.raises(DefinitionError) as exc:
        parse_definition(_broken(path, value), "test.yaml")
    assert str(exc.value).startswith("test.yaml") and message in str(exc.value)


def test_a_revision_takes_effect_from_its_date(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text((DATA_DIR / "qd766-2022.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    doc = shipped()
    doc["version"], doc["effective_from"] = "2026.1", date(2026, 1, 1)
    doc["indicators"][4]["points"], doc["indicators"][0]["points"] = 18, 8  # 2.1 down, 1.1 up
    doc["groups"][0]["points"], doc["groups"][1]["points"] = 20, 18
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert [d.version for d in load_definitions(tmp_path)] == ["2022.1", "2026.1"]
    assert definition_for(date(2025, 12, 31), tmp_path).version == "2022.1"
    assert definition_for(date(2026, 1, 1), tmp_path).version == "2026.1"
    (tmp_path / "c.yaml").write_text("name: [", encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"c\.yaml: not valid YAML"):
        load_definitions(tmp_path)
