"""The simulated one-stop-shop (một cửa điện tử): which dossiers the province receives on a day, through which
channel, and when each is resolved and returned. Pure: a day's dossiers depend only on (seed, scale, day), so a
re-run sends the same events again (duplicates, harmless) and a restart resumes where it was.

Figures come from ``data/onestop.yaml``: the volume per business day at scale 1, and per year the online count
(report years: exactly, spread over the business days) or share, the postal receive and return shares of
procedures offered by post, and the share resolved late. ``event`` is the one place that builds an event (the shape
``ops_center.dossiers.models`` validates): a new field is added there."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Final

import yaml

ICT: Final = timezone(timedelta(hours=7))
DATA: Final = Path(__file__).resolve().parent / "data" / "onestop.yaml"
REFORM: Final = date(2025, 7, 1)
"""The day Cà Mau's 2025 ward set came into force (the 2019 set is in force before it)."""
SET_2019: Final = "camau-2019"
SET_2025: Final = "camau-2025"
RETURN_SHARE: Final = 0.9
"""Resolved dossiers whose result is handed back (a ``returned`` event); the rest are collected without one."""
Event = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ProcSpec:
    code: str
    name: str
    days: int
    online_level: int
    post: bool
    unit: str
    """``commune`` (every commune's people's committee) or the code of the department that receives it."""
    weight: float


@dataclass(frozen=True, slots=True)
class YearProfile:
    online: int | None
    """Online dossiers of the year at scale 1, exactly (report years), else None."""
    online_share: float | None
    postal_receive_share: float
    postal_return_share: float
    late_share: float


@dataclass(frozen=True)
class Config:
    per_business_day: float
    years: dict[int, YearProfile]
    full_online_share: float
    commune_share: float
    departments: dict[str, str]
    commune_unit: str
    procedures: tuple[ProcSpec, ...]

    def year(self, y: int) -> YearProfile:
        """The profile of year ``y`` (the nearest listed year outside the table)."""
        known = sorted(self.years)
        return self.years[min(max(y, known[0]), known[-1])]


def load_config(path: Path | None = None) -> Config:
    doc = yaml.safe_load((path or DATA).read_text(encoding="utf-8"))
    years = {int(y): YearProfile(v.get("online"), v.get("online_share"), float(v["postal_receive_share"]),
                                 float(v["postal_return_share"]), float(v["late_share"]))
             for y, v in doc["years"].items()}
    procs = tuple(ProcSpec(str(p["code"]), p["name"], int(p["days"]), int(p["online_level"]), bool(p["post"]),
                           str(p["unit"]), float(p["weight"])) for p in doc["procedures"])
    for p in procs:
        if p.unit != "commune" and p.unit not in doc["departments"]:
            raise ValueError(f"procedures[{p.code}].unit: {p.unit!r} is not 'commune' or a department")
    return Config(float(doc["dossiers_per_business_day"]), years, float(doc["full_online_share"]),
                  float(doc["commune_share"]), dict(doc["departments"]), str(doc["commune_unit"]), procs)


@dataclass(frozen=True, slots=True)
class Commune:
    unit: str
    ward: str
    """Its ward in the 2025 set."""
    wards_2019: tuple[tuple[str, float], ...]
    """The 2019 wards its territory covers, with area weights (empty outside old Cà Mau: Bạc Liêu until 2025)."""
    weight: float = 1.0


@dataclass(frozen=True)
class Province:
    communes: tuple[Commune, ...]
    wards_2019: tuple[str, ...]
    wards_2025: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Dossier:
    id: str
    unit: str
    procedure: ProcSpec
    ward: str
    ward_set: str
    channel: str
    received_at: datetime
    resolved_at: datetime | None
    returned_at: datetime | None
    return_channel: str | None


def event(d: Dossier, kind: str) -> Event:
    """The one-stop-shop's event ``kind`` (received, resolved, returned) of dossier ``d``."""
    if kind == "received":
        return {"dossier_id": d.id, "type": "received", "at": d.received_at.isoformat(), "unit": d.unit,
                "channel": d.channel, "procedure": d.procedure.code, "ward": d.ward, "ward_set": d.ward_set}
    if kind == "resolved" and d.resolved_at is not None:
        return {"dossier_id": d.id, "type": "resolved", "at": d.resolved_at.isoformat(), "unit": d.unit}
    if kind == "returned" and d.returned_at is not None:
        return {"dossier_id": d.id, "type": "returned", "at": d.returned_at.isoformat(), "unit": d.unit,
                "channel": d.return_channel}
    raise ValueError(f"kind: dossier {d.id} has no {kind!r} event")


def events_of(d: Dossier) -> list[tuple[datetime, Event]]:
    """The dossier's events with their times, in order."""
    out = [(d.received_at, event(d, "received"))]
    if d.resolved_at is not None:
        out.append((d.resolved_at, event(d, "resolved")))
    if d.returned_at is not None:
        out.append((d.returned_at, event(d, "returned")))
    return out


BusinessDay = Callable[[date], bool]


@dataclass
class Planner:
    """The dossiers of a day. ``is_business_day`` and ``add_business_days`` come from the business calendar."""

    config: Config
    province: Province
    is_business_day: BusinessDay
    add_business_days: Callable[[date, int], date]
    scale: float = 0.1
    seed: int = 2025
    _year_days: dict[int, list[date]] = field(default_factory=dict, repr=False)

    @property
    def tag(self) -> str:
        return f"MC{self.seed}x{round(self.scale * 1000)}"

    def _business_days(self, year: int) -> list[date]:
        days = self._year_days.get(year)
        if days is None:
            first = date(year, 1, 1)
            days = [x for x in (first + timedelta(n) for n in range(366)) if x.year == year
                    and self.is_business_day(x)]
            self._year_days[year] = days
        return days

    def _share_of_day(self, d: date, total: float) -> int:
        """Of ``total`` spread evenly over the business days of ``d``'s year, how many fall on ``d`` (the sum
        over the year is exactly ``floor(total)``)."""
        days = self._business_days(d.year)
        i = days.index(d) + 1
        return math.floor(total * i / len(days) + 1e-9) - math.floor(total * (i - 1) / len(days) + 1e-9)

    def day(self, d: date) -> list[Dossier]:
        if not self.is_business_day(d):
            return []
        profile = self.config.year(d.year)
        n_year = self.config.per_business_day * self.scale * len(self._business_days(d.year))
        n = self._share_of_day(d, n_year)
        online_total = (profile.online * self.scale if profile.online is not None
                        else (profile.online_share or 0.0) * n_year)
        rng = random.Random(f"{self.seed}|{self.scale}|{d.isoformat()}")
        picks = [self._pick(rng, d) for _ in range(n)]
        eligible = [i for i, (_, p) in enumerate(picks) if p.online_level >= 3]
        online = set(rng.sample(eligible, min(self._share_of_day(d, online_total), len(eligible))))
        offered = [i for i, (_, p) in enumerate(picks) if p.post]
        offline = [i for i in offered if i not in online]
        postal = set(rng.sample(offline, min(_rounded(profile.postal_receive_share * len(offered), rng),
                                             len(offline))))
        out = []
        for i, ((unit, ward, ward_set), proc) in enumerate(picks):
            if i in online:
                full = proc.online_level >= 4 and rng.random() < self.config.full_online_share
                channel = "online_l4" if full else "online_l3"
            else:
                channel = "postal" if i in postal else "counter"
            out.append(self._lifecycle(rng, d, i, unit, ward, ward_set, proc, channel, profile))
        return out

    def _pick(self, rng: random.Random, d: date) -> tuple[tuple[str, str, str], ProcSpec]:
        communes = [c for c in self.province.communes if d >= REFORM or c.wards_2019]
        if communes and rng.random() < self.config.commune_share:
            c = rng.choices(communes, [x.weight for x in communes])[0]
            proc = _weighted(rng, [p for p in self.config.procedures if p.unit == "commune"])
            if d >= REFORM:
                return (c.unit, c.ward, SET_2025), proc
            ward = rng.choices([w for w, _ in c.wards_2019], [a for _, a in c.wards_2019])[0]
            return (c.unit, ward, SET_2019), proc
        proc = _weighted(rng, [p for p in self.config.procedures if p.unit != "commune"])
        wards, ward_set = (self.province.wards_2025, SET_2025) if d >= REFORM else (self.province.wards_2019,
                                                                                   SET_2019)
        return (proc.unit, rng.choice(wards), ward_set), proc

    def _lifecycle(self, rng: random.Random, d: date, i: int, unit: str, ward: str, ward_set: str,
                   proc: ProcSpec, channel: str, profile: YearProfile) -> Dossier:
        online = channel.startswith("online")
        start_h = rng.uniform(6.0, 23.0) if online else rng.choice([rng.uniform(7.5, 11.5), rng.uniform(13.5, 17.0)])
        received = datetime.combine(d, time(0), ICT) + timedelta(hours=start_h)
        due = self.add_business_days(d, proc.days)
        if rng.random() < profile.late_share:  # resolved 1 to 8 business days after the due date
            day = self.add_business_days(due, rng.randint(1, 8))
            resolved = datetime.combine(day, time(0), ICT) + timedelta(hours=rng.uniform(8.0, 16.5))
        elif proc.days == 0:  # the same day
            resolved = min(received + timedelta(minutes=rng.uniform(20, 180)),
                           datetime.combine(d, time(23, 40), ICT))
        else:
            day = self.add_business_days(d, rng.randint(0, proc.days))
            resolved = datetime.combine(day, time(0), ICT) + timedelta(hours=rng.uniform(8.0, 16.5))
        resolved = max(resolved, received + timedelta(minutes=30))
        returned, ret_channel = None, None
        if rng.random() < RETURN_SHARE:
            returned = resolved + timedelta(hours=rng.uniform(0.5, 60.0))
            by_post = proc.post and rng.random() < profile.postal_return_share
            ret_channel = "postal" if by_post else "counter"
        return Dossier(f"{self.tag}-{d:%Y%m%d}-{i:05d}", unit, proc, ward, ward_set, channel, received, resolved,
                       returned, ret_channel)


def _weighted(rng: random.Random, procs: list[ProcSpec]) -> ProcSpec:
    return rng.choices(procs, [p.weight for p in procs])[0]


def _rounded(x: float, rng: random.Random) -> int:
    """``x`` rounded down or up at random, unbiased (``E[result] = x``)."""
    base = math.floor(x)
    return base + (rng.random() < x - base)
