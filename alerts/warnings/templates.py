"""Warning templates per hazard, from versioned YAML files in ``data/templates`` (validated when loaded: unknown
placeholders, bands or event codes are refused there, not at drafting time). ``render`` fills a band's texts in
both languages; numbers are written the local way (6,2 in Vietnamese, 6.2 in English)."""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from alerts.warnings.models import LANGS, Category, Certainty, Lang, ResponseType, Severity
from alerts.warnings.schemas import Texts
from alerts.warnings.vocab import decision18, event_terms

TEMPLATES_DIR = Path(__file__).parent / "data" / "templates"
COMMON_PLACEHOLDERS = frozenset({"value", "unit", "wards", "area", "ward_count", "stations", "observed_at",
                                 "expires_at", "risk_level", "risk_label"})


class Param(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["number", "text"]
    unit: str = ""
    decimals: int = Field(default=1, ge=0, le=6)
    required: bool = False


class Band(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_value: float | None = None
    risk_level: int | None = Field(default=None, ge=1, le=5)
    severity: Severity | None = None
    vi: Texts
    en: Texts


class HazardTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: dict[Lang, str]
    category: Category
    event_codes: list[str] = Field(min_length=1)
    local_code: str
    decision18: str | None = None
    metric: str | None = None
    incident_categories: list[str] = Field(default_factory=list)
    certainty: Certainty
    response_type: ResponseType
    expires_after_h: float = Field(gt=0, le=24 * 30)
    params: dict[str, Param] = Field(default_factory=dict)
    bands: list[Band] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> HazardTemplate:
        event_terms().check(self.event_codes, "event_codes")
        if self.decision18 is not None and self.decision18 not in decision18().hazards:
            raise ValueError(f"decision18: {self.decision18!r} is not a hazard of the Decision 18 file")
        mins = [b.min_value for b in self.bands]
        if len(self.bands) > 1 and (None in mins or mins != sorted(mins, reverse=True)):  # type: ignore[type-var]
            raise ValueError("bands: several bands need min_value, highest first")
        allowed = COMMON_PLACEHOLDERS | set(self.params)
        for i, band in enumerate(self.bands):
            if band.risk_level is None and band.severity is None and self.decision18 is None:
                raise ValueError(f"bands[{i}]: needs a risk_level or a severity")
            for lang in LANGS:
                for name, text in getattr(band, lang).model_dump().items():
                    _check_placeholders(text, allowed, f"bands[{i}].{lang}.{name}")
        return self

    def band_for(self, value: float | None) -> int:
        """Index of the band for ``value``: the highest ``min_value`` not above it (the last band without one)."""
        if value is None or self.bands[0].min_value is None:
            return len(self.bands) - 1
        for i, band in enumerate(self.bands):
            if band.min_value is not None and value >= band.min_value:
                return i
        return len(self.bands) - 1


class TemplateFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]{0,63}$")
    issued: date
    hazards: dict[str, HazardTemplate]


def _check_placeholders(text: str, allowed: frozenset[str] | set[str], where: str) -> None:
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if name not in allowed or spec or conversion:
            raise ValueError(f"{where}: placeholder {{{name}}} is not one of {', '.join(sorted(allowed))}")


@dataclass(frozen=True, slots=True)
class TemplateSet:
    version: str
    issued: date
    hazards: dict[str, HazardTemplate]

    def hazard_for_metric(self, metric: str) -> str | None:
        return next((k for k, h in self.hazards.items() if h.metric == metric), None)

    def hazard_for_category(self, category: str) -> str | None:
        return next((k for k, h in self.hazards.items() if category in h.incident_categories), None)


def load_file(path: Path) -> TemplateSet:
    try:
        doc = TemplateFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except ValidationError as exc:
        raise ValueError(f"{path.name}: {exc}") from exc
    return TemplateSet(doc.version, doc.issued, doc.hazards)


@lru_cache(maxsize=4)
def current(today: date | None = None, directory: Path = TEMPLATES_DIR) -> TemplateSet:
    """The template set in force: the newest issued on or before ``today`` (default: the newest file)."""
    sets = sorted((load_file(p) for p in directory.glob("*.yaml")), key=lambda s: s.issued)
    usable = [s for s in sets if today is None or s.issued <= today]
    if not usable:
        raise ValueError(f"no warning template set in {directory} issued by {today}")
    return usable[-1]


def format_number(value: float, decimals: int, lang: Lang) -> str:
    text = f"{value:.{decimals}f}"
    return text.replace(".", ",") if lang == "vi" else text


def render(band: Band, lang: Lang, values: dict[str, str]) -> Texts:
    """The band's texts in ``lang`` with every placeholder replaced (values already formatted for ``lang``)."""
    texts: dict[str, Any] = getattr(band, lang).model_dump()
    return Texts(**{k: " ".join(v.format_map(values).split()) if k in ("event", "headline")
                    else v.format_map(values) for k, v in texts.items()})
