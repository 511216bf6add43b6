"""Reference data behind CAP fields, from versioned files in ``alerts/warnings/data``: the OASIS Event Terms List
(event codes) and the disaster risk levels of Decision 18/2021/QĐ-TTg (severity), plus the urgency rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

import yaml

from alerts.warnings.models import Severity, Urgency, WarningError

DATA = Path(__file__).parent / "data"
OET_FILE = DATA / "oet-v1.2.yaml"
DECISION_18_FILE = DATA / "decision-18-2021.yaml"


@dataclass(frozen=True, slots=True)
class EventTerms:
    value_name: str
    terms: dict[str, str]

    def check(self, codes: list[str], field: str) -> list[str]:
        for i, code in enumerate(codes):
            if code not in self.terms:
                raise WarningError(f"{field}[{i}]", f"{code!r} is not in the OASIS Event Terms List "
                                                    f"({self.value_name})")
        return codes


@dataclass(frozen=True, slots=True)
class RiskLevel:
    level: int
    label_vi: str
    label_en: str
    colour: str
    severity: Severity


@dataclass(frozen=True, slots=True)
class HazardLevels:
    key: str
    name_vi: str
    levels: tuple[int, ...]
    intrusion_km: dict[int, tuple[float, float | None]]


@dataclass(frozen=True, slots=True)
class Decision18:
    decision: str
    levels: dict[int, RiskLevel]
    hazards: dict[str, HazardLevels]

    def level(self, hazard: str, level: int, field: str = "risk_level") -> RiskLevel:
        allowed = self.hazards[hazard].levels
        if level not in allowed:
            raise WarningError(field, f"{level} is not a risk level of {self.hazards[hazard].name_vi!r} in "
                                      f"Decision {self.decision} (levels {', '.join(map(str, allowed))})")
        return self.levels[level]

    def level_from_intrusion(self, hazard: str, km: float) -> int | None:
        """The level whose band holds the 4‰ line's distance inland ``km``; None below the first band."""
        for level, (lo, hi) in sorted(self.hazards[hazard].intrusion_km.items()):
            if km >= lo and (hi is None or km < hi):
                return level
        return None


@lru_cache(maxsize=1)
def event_terms() -> EventTerms:
    doc: dict[str, Any] = yaml.safe_load(OET_FILE.read_text(encoding="utf-8"))
    return EventTerms(str(doc["value_name"]), {str(k): str(v) for k, v in doc["terms"].items()})


@lru_cache(maxsize=1)
def decision18() -> Decision18:
    doc: dict[str, Any] = yaml.safe_load(DECISION_18_FILE.read_text(encoding="utf-8"))
    levels = {int(k): RiskLevel(int(k), v["label_vi"], v["label_en"], v["colour"], cast(Severity, v["severity"]))
              for k, v in doc["levels"].items()}
    hazards = {}
    for key, h in doc["hazards"].items():
        bands = {int(lv): (float(b[0]), None if b[1] is None else float(b[1]))
                 for lv, b in (h.get("intrusion_km") or {}).items()}
        hazards[key] = HazardLevels(key, h["name_vi"], tuple(int(x) for x in h["levels"]), bands)
    return Decision18(str(doc["decision"]), levels, hazards)


def urgency_for(onset: datetime, now: datetime) -> Urgency:
    """CAP 1.2 urgency from when the event starts: already begun → Immediate; within the hour → Expected (CAP:
    "responsive action should be taken soon, within next hour"); later → Future."""
    if onset <= now:
        return "Immediate"
    if onset <= now + timedelta(hours=1):
        return "Expected"
    return "Future"
