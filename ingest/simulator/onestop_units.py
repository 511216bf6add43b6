"""The province's units as its e-government systems know them, and their dated facts (ISO 9001, online meeting
room, document exchange axis, national portal, public administration center, electronic certified copies,
existence). Pure: the units follow from the configuration and the boundary sets, the facts from (seed, today).

Units: the province's people's committee; the departments (the one-stop-shop's seven and ``other_departments``,
some ended or started by the 2025 merger); the 2019 district committees and communes (until 2025-07-01, when the
reform abolished districts and merged communes); the 2025 communes (from that day). Figures: ``data/egov.yaml``."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

import yaml

from ingest.simulator.onestop import REFORM, Config, Province

EGOV_DATA: Final = Path(__file__).resolve().parent / "data" / "egov.yaml"
GROUPS: Final = ("province", "departments", "districts", "communes_2019", "communes_2025")
FIRST_WINDOW: Final = timedelta(days=365)
"""Units reaching a group's first milestone get the fact within the year before it."""


@dataclass(frozen=True, slots=True)
class SimUnit:
    code: str
    name: str
    level: str
    """province | department | district | commune (the registry's levels)."""
    group: str
    """One of ``GROUPS``: which facts' milestones it follows."""
    parent: str | None = None
    ward: str | None = None
    since: date | None = None
    """The first day it exists (None: always did)."""
    until: date | None = None
    """The first day it no longer exists (None: still does)."""
    district: str = ""
    """A 2019 commune's district name (the report's per-district facts)."""

    def exists_on(self, day: date) -> bool:
        return (self.since is None or day >= self.since) and (self.until is None or day < self.until)


def load_egov(path: Path | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((path or EGOV_DATA).read_text(encoding="utf-8"))
    for fact, groups in doc["facts"].items():
        for group in groups:
            if group not in GROUPS:
                raise ValueError(f"facts.{fact}.{group}: not one of {', '.join(GROUPS)}")
    return doc


def province_units(config: Config, egov: dict[str, Any], province: Province) -> tuple[SimUnit, ...]:
    """Every unit, parents before their children."""
    top = egov["province_unit"]
    out = [SimUnit(top["code"], top["name"], "province", "province")]
    out += [SimUnit(code, name, "department", "departments", top["code"]) for code, name in config.departments.items()]
    out += [SimUnit(code, d["name"], "department", "departments", top["code"], since=d.get("since"),
                    until=d.get("until")) for code, d in egov["other_departments"].items()]
    districts = {c.district: c.district_name for c in province.communes_2019}
    for code, name in sorted(districts.items()):
        out.append(SimUnit(district_unit(province.prefix, code), egov["district_unit"].format(name=name), "district",
                           "districts", top["code"], until=REFORM))
    out += [SimUnit(c.unit, egov["commune_unit_2019"].format(name=c.name, district=c.district_name), "commune",
                    "communes_2019", district_unit(province.prefix, c.district), c.ward, until=REFORM,
                    district=c.district_name) for c in province.communes_2019]
    out += [SimUnit(c.unit, config.commune_unit.format(name=c.name or c.ward), "commune", "communes_2025",
                    top["code"], c.ward, since=REFORM if province.communes_2019 else None)
            for c in province.communes]
    return tuple(out)


def district_unit(prefix: str, district_code: str) -> str:
    return f"{prefix}-ubnd-h{district_code}"


def fact_items(units: tuple[SimUnit, ...], egov: dict[str, Any], seed: int, today: date) -> list[dict[str, Any]]:
    """The fact changes of every unit dated up to ``today``, in the shape of ``POST /readiness/facts``: existence
    (units that start or end), then each fact's milestones."""
    out: list[dict[str, Any]] = []
    for u in units:
        if u.since is not None:
            out.append({"unit": u.code, "fact": "exists", "since": u.since.isoformat()})
        if u.until is not None:
            out.append({"unit": u.code, "fact": "exists", "since": u.until.isoformat(), "value": False})
    for fact, groups in egov["facts"].items():
        for group, spec in groups.items():
            members = [u for u in units if u.group == group]
            if isinstance(spec, dict) and "by_district" in spec:
                by = spec["by_district"]
                for district in sorted({u.district for u in members}):
                    part = [u for u in members if u.district == district]
                    out += _milestones(part, by.get(district, by["default"]), fact, f"{seed}|{fact}|{district}")
            else:
                out += _milestones(members, spec, fact, f"{seed}|{fact}|{group}")
    return sorted((f for f in out if f["since"] <= today.isoformat()), key=lambda f: (f["since"], f["unit"]))


def _milestones(members: list[SimUnit], spec: dict[date, Any], fact: str, key: str) -> list[dict[str, Any]]:
    """``spec`` {date: count or "all"}: cumulative counts; the units reaching each count (a seeded order of the
    group) get the fact on a day within the window since the previous milestone, while they exist."""
    rng = random.Random(key)
    order = sorted(members, key=lambda u: u.code)
    rng.shuffle(order)
    out, done, previous = [], 0, None
    for when in sorted(spec):
        want = len(order) if spec[when] == "all" else min(int(spec[when]), len(order))
        start = previous + timedelta(days=1) if previous is not None else when - FIRST_WINDOW
        for u in order[done:want]:
            first = max(start, u.since or start)
            last = min(when, (u.until or when + timedelta(days=1)) - timedelta(days=1))
            if last < first:
                continue
            day = first + timedelta(days=rng.randint(0, (last - first).days))
            out.append({"unit": u.code, "fact": fact, "since": day.isoformat()})
        done, previous = max(done, want), when
    return out
