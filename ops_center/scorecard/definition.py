"""The shipped, versioned definitions of the national service index: groups, indicators, points, thresholds.

Each file in ``data/`` (``qd766-2022.yaml`` today) is one version with an ``effective_from`` date; the definition of
a period is the newest whose date is on or before the period's first day (the oldest one for earlier periods).
Every file is validated when loaded and a mistake names the file and the field: unknown keys, an indicator this
code cannot compute, a group whose indicators' points do not add up to it, totals other than 100, a threshold
outside (0, 1], day counts that disagree with what the feeds store.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

import yaml

from ops_center.petitions.models import HANDLING_DAYS

DATA_DIR: Final = Path(__file__).parent / "data"
INDICATORS: Final = ("1.1", "1.2", "1.3", "1.4", "2.1", "3.1", "3.2", "3.3", "3.4", "4.1", "4.2", "4.3", "4.4",
                     "4.5", "4.6", "4.7", "5.1", "5.2", "5.3")
"""The indicators the computation knows (``ops_center.scorecard.direct`` and ``gather``)."""
TOTAL_POINTS: Final = 100.0


class DefinitionError(ValueError):
    """A definition file that does not validate; the message names the file and the field."""


@dataclass(frozen=True)
class Group:
    id: str
    points: float
    vi: str
    en: str


@dataclass(frozen=True)
class Indicator:
    id: str
    group: str
    points: float
    threshold: float | None
    vi: str
    en: str


@dataclass(frozen=True)
class Definition:
    name: str
    decision: str
    version: str
    effective_from: date
    publication_days: int
    petition_days: int
    groups: tuple[Group, ...]
    indicators: tuple[Indicator, ...]
    source: str

    def indicator(self, indicator_id: str) -> Indicator | None:
        return next((i for i in self.indicators if i.id == indicator_id), None)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "decision": self.decision, "version": self.version,
                "effective_from": self.effective_from.isoformat(), "source": self.source,
                "groups": [{"id": g.id, "points": g.points, "name": {"vi": g.vi, "en": g.en}} for g in self.groups],
                "indicators": [{"id": i.id, "group": i.group, "points": i.points, "threshold": i.threshold,
                                "name": {"vi": i.vi, "en": i.en}} for i in self.indicators]}


def _keys(raw: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise DefinitionError(f"{where}: expected a mapping, got {type(raw).__name__}")
    for key in raw:
        if key not in required and key not in optional:
            raise DefinitionError(f"{where}.{key}: unknown key (expected {', '.join((*required, *optional))})")
    for key in required:
        if raw.get(key) is None:
            raise DefinitionError(f"{where}.{key}: required")
    return raw


def _text(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= 300:
        raise DefinitionError(f"{where}.{key}: {value!r} must be a text of 1 to 300 characters")
    return value.strip()


def _points(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise DefinitionError(f"{where}: {value!r} must be a positive number of points")
    return float(value)


def _days(raw: dict[str, Any], key: str, where: str, hi: int) -> int:
    value = raw[key]
    if type(value) is not int or not 1 <= value <= hi:
        raise DefinitionError(f"{where}.{key}: {value!r} must be a whole number of business days from 1 to {hi}")
    return value


def _group(raw: Any, where: str) -> Group:
    g = _keys(raw, where, ("id", "points", "vi", "en"))
    return Group(_text(g, "id", where), _points(g["points"], f"{where}.points"), _text(g, "vi", where),
                 _text(g, "en", where))


def _indicator(raw: Any, where: str, groups: dict[str, Group]) -> Indicator:
    i = _keys(raw, where, ("id", "group", "points", "vi", "en"), ("threshold",))
    ident = _text(i, "id", where)
    if ident not in INDICATORS:
        raise DefinitionError(f"{where}.id: {ident!r} is not an indicator this version computes "
                              f"(known: {', '.join(INDICATORS)})")
    group = str(i["group"])
    if group not in groups:
        raise DefinitionError(f"{where}.group: {group!r} is not one of the groups {', '.join(groups)}")
    threshold = i.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int | float)
                                  or not 0 < threshold <= 1):
        raise DefinitionError(f"{where}.threshold: {threshold!r} must be a ratio in (0, 1]")
    return Indicator(ident, group, _points(i["points"], f"{where}.points"),
                     None if threshold is None else float(threshold), _text(i, "vi", where), _text(i, "en", where))


def parse_definition(doc: Any, source: str) -> Definition:
    d = _keys(doc, source, ("name", "decision", "version", "effective_from", "days", "groups", "indicators"))
    if not isinstance(d["effective_from"], date):
        raise DefinitionError(f"{source}.effective_from: {d['effective_from']!r} is not a date (YYYY-MM-DD)")
    days = _keys(d["days"], f"{source}.days", ("publication", "petitions"))
    petition_days = _days(days, "petitions", f"{source}.days", 90)
    if petition_days != HANDLING_DAYS:
        raise DefinitionError(f"{source}.days.petitions: {petition_days} differs from the {HANDLING_DAYS} days the "
                              f"petitions feed stores due dates with (ops_center.petitions.models.HANDLING_DAYS)")
    if not isinstance(d["groups"], list) or not isinstance(d["indicators"], list) or not d["indicators"]:
        raise DefinitionError(f"{source}: groups and indicators must be non-empty lists")
    groups = [_group(g, f"{source}.groups[{n}]") for n, g in enumerate(d["groups"])]
    by_id = {g.id: g for g in groups}
    if len(by_id) != len(groups):
        raise DefinitionError(f"{source}.groups: a group id appears twice")
    indicators = [_indicator(i, f"{source}.indicators[{n}]", by_id) for n, i in enumerate(d["indicators"])]
    if len({i.id for i in indicators}) != len(indicators):
        raise DefinitionError(f"{source}.indicators: an indicator id appears twice")
    for g in groups:
        total = sum(i.points for i in indicators if i.group == g.id)
        if not math.isclose(total, g.points):
            raise DefinitionError(f"{source}.groups[{g.id}].points: {g.points:g} but its indicators add up to "
                                  f"{total:g}")
    if not math.isclose(sum(g.points for g in groups), TOTAL_POINTS):
        raise DefinitionError(f"{source}.groups: the points add up to {sum(g.points for g in groups):g}, not 100")
    return Definition(_text(d, "name", source), _text(d, "decision", source), str(d["version"]),
                      d["effective_from"], _days(days, "publication", f"{source}.days", 60), petition_days,
                      tuple(groups), tuple(indicators), source)


_cache: dict[Path, tuple[float, tuple[Definition, ...]]] = {}
_lock = threading.Lock()


def load_definitions(directory: Path = DATA_DIR) -> tuple[Definition, ...]:
    """Every definition in ``directory``, oldest first (cached; reloaded when a file changes)."""
    files = sorted(directory.glob("*.yaml"))
    stamp = max((f.stat().st_mtime for f in files), default=0.0) + len(files)
    with _lock:
        hit = _cache.get(directory)
        if hit and hit[0] == stamp:
            return hit[1]
    out = []
    for f in files:
        try:
            doc = yaml.safe_load(f.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise DefinitionError(f"{f.name}: not valid YAML: {exc}") from exc
        out.append(parse_definition(doc, f.name))
    if not out:
        raise DefinitionError(f"{directory}: no definition file")
    if len({d.effective_from for d in out}) != len(out):
        raise DefinitionError(f"{directory}: two definitions take effect on the same day")
    result = tuple(sorted(out, key=lambda d: d.effective_from))
    with _lock:
        _cache[directory] = (stamp, result)
    return result


def definition_for(day: date, directory: Path = DATA_DIR) -> Definition:
    """The definition in force on ``day`` (the oldest one for days before every definition)."""
    defs = load_definitions(directory)
    chosen = defs[0]
    for d in defs:
        if d.effective_from <= day:
            chosen = d
    return chosen
