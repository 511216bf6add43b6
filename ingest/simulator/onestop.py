"""The simulated one-stop-shop (một cửa điện tử): which dossiers the province receives on a day, through which
channel, and when each is resolved and returned. Pure: a day's dossiers depend only on (seed, scale, day), so a
re-run sends the same events again (duplicates, harmless) and a restart resumes where it was.

Figures come from ``data/onestop.yaml``: the volume per business day at scale 1, and per year the online count
(report years: exactly, spread over the business days) or share, the postal receive and return shares of
procedures offered by post, and the share resolved late; per year the national service index's inputs (synced,
digitised, reused data, personal store, population data, paid online, electronic result, result synced, rated) and
the lifecycle shares (refused, withdrawn, supplements, ratings). ``event`` is the one place that builds an event
(the shape ``ops_center.dossiers.models`` validates): a new field is added there."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, Final, TypeVar

import yaml

from ops_center.settings import LOCAL_TZ

V = TypeVar("V")
DATA: Final = Path(__file__).resolve().parent / "data" / "onestop.yaml"
REFORM: Final = date(2025, 7, 1)
"""The day Cà Mau's 2025 ward set came into force (the 2019 set is in force before it)."""
SET_2019: Final = "camau-2019"
SET_2025: Final = "camau-2025"
RETURN_SHARE: Final = 0.9
"""Granted dossiers whose result is handed back (a ``returned`` event); the rest are collected without one."""
Event = dict[str, Any]
INDEX_FIELDS: Final = ("synced", "digitised", "reused_data", "from_personal_store", "population_data", "paid",
                       "e_result", "result_synced", "rated")
RECEPTION: Final = ("digitised", "reused_data", "from_personal_store", "population_data")
"""The reception facts drawn per dossier (``fee_due`` follows the procedure's fees)."""


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
    has_fees: bool = False
    paper_result: bool = False
    citizen_facing: bool = False


@dataclass(frozen=True, slots=True)
class YearProfile:
    online: int | None
    """Online dossiers of the year at scale 1, exactly (report years), else None."""
    online_share: float | None
    postal_receive_share: float
    postal_return_share: float
    late_share: float


@dataclass(frozen=True, slots=True)
class Lifecycle:
    refused: float
    withdrawn: float
    supplement: float
    second_supplement: float
    supplement_days: tuple[float, float]
    ratings: dict[str, float]


@dataclass(frozen=True)
class Config:
    per_business_day: float
    years: dict[int, YearProfile]
    full_online_share: float
    commune_share: float
    departments: dict[str, str]
    commune_unit: str
    procedures: tuple[ProcSpec, ...]
    index_years: dict[int, dict[str, float]] = field(default_factory=dict)
    lifecycle: Lifecycle = Lifecycle(0.0, 0.0, 0.0, 0.0, (1.0, 1.0), {"satisfied": 1.0})
    catalogue: dict[str, Any] = field(default_factory=dict)
    """The rest of the catalogue and the publication shares (``onestop_catalogue``)."""

    def year(self, y: int) -> YearProfile:
        """The profile of year ``y`` (the nearest listed year outside the table)."""
        return _nearest(self.years, y)

    def index_year(self, y: int) -> dict[str, float]:
        """The national service index's shares of year ``y`` (the nearest listed year; none listed: all 0)."""
        return _nearest(self.index_years, y) if self.index_years else dict.fromkeys(INDEX_FIELDS, 0.0)


def _nearest(table: dict[int, V], y: int) -> V:
    known = sorted(table)
    return table[min(max(y, known[0]), known[-1])]


def load_config(path: Path | None = None) -> Config:
    doc = yaml.safe_load((path or DATA).read_text(encoding="utf-8"))
    years = {int(y): YearProfile(v.get("online"), v.get("online_share"), float(v["postal_receive_share"]),
                                 float(v["postal_return_share"]), float(v["late_share"]))
             for y, v in doc["years"].items()}
    procs = tuple(ProcSpec(str(p["code"]), p["name"], int(p["days"]), int(p["online_level"]), bool(p["post"]),
                           str(p["unit"]), float(p["weight"]), bool(p.get("has_fees", False)),
                           bool(p.get("paper_result", False)), bool(p.get("citizen_facing", False)))
                  for p in doc["procedures"])
    for p in procs:
        if p.unit != "commune" and p.unit not in doc["departments"]:
            raise ValueError(f"procedures[{p.code}].unit: {p.unit!r} is not 'commune' or a department")
    index_years = {int(y): {k: float(v[k]) for k in INDEX_FIELDS} for y, v in (doc.get("index_years") or {}).items()}
    lc = doc.get("lifecycle") or {}
    lo, hi = lc.get("supplement_days", (1, 1))
    lifecycle = Lifecycle(float(lc.get("refused", 0)), float(lc.get("withdrawn", 0)), float(lc.get("supplement", 0)),
                          float(lc.get("second_supplement", 0)), (float(lo), float(hi)),
                          {str(k): float(v) for k, v in (lc.get("ratings") or {"satisfied": 1}).items()})
    return Config(float(doc["dossiers_per_business_day"]), years, float(doc["full_online_share"]),
                  float(doc["commune_share"]), dict(doc["departments"]), str(doc["commune_unit"]), procs,
                  index_years, lifecycle, dict(doc.get("catalogue") or {}))


@dataclass(frozen=True, slots=True)
class Commune:
    unit: str
    ward: str
    """Its ward in the 2025 set."""
    wards_2019: tuple[tuple[str, float], ...]
    """The 2019 wards its territory covers, with area weights (empty outside old Cà Mau: Bạc Liêu until 2025)."""
    weight: float = 1.0
    name: str = ""


@dataclass(frozen=True, slots=True)
class Commune2019:
    """A commune of the 2019 set: its people's committee receives the dossiers of its ward before the reform."""

    unit: str
    ward: str
    name: str
    district: str
    district_name: str


@dataclass(frozen=True)
class Province:
    communes: tuple[Commune, ...]
    wards_2019: tuple[str, ...]
    wards_2025: tuple[str, ...]
    communes_2019: tuple[Commune2019, ...] = ()
    prefix: str = ""

    @cached_property
    def _units_2019(self) -> dict[str, str]:
        return {c.ward: c.unit for c in self.communes_2019}

    def unit_2019(self, ward: str, fallback: str) -> str:
        """The unit receiving a 2019 ward's dossiers: its own committee when the 2019 communes are known."""
        return self._units_2019.get(ward, fallback)


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
    flags: tuple[str, ...] = ()
    """The reception facts that hold (``fee_due`` and those of ``RECEPTION``)."""
    synced_at: datetime | None = None
    paid_at: datetime | None = None
    supplements: tuple[tuple[datetime, datetime], ...] = ()
    """(requested, received) of each supplement the citizen was asked for."""
    outcome: str = "granted"
    electronic_result: bool = False
    result_synced_at: datetime | None = None
    rated_at: datetime | None = None
    rating: str | None = None


def event(d: Dossier, kind: str, n: int = 0) -> Event:
    """The one-stop-shop's event ``kind`` of dossier ``d`` (``n``: which supplement, for the supplement events)."""
    head = {"dossier_id": d.id, "type": kind}
    if kind == "received":
        return {**head, "at": d.received_at.isoformat(), "unit": d.unit, "channel": d.channel,
                "procedure": d.procedure.code, "ward": d.ward, "ward_set": d.ward_set, **dict.fromkeys(d.flags, True)}
    if kind == "resolved" and d.resolved_at is not None:
        return {**head, "at": d.resolved_at.isoformat(), "unit": d.unit, "outcome": d.outcome,
                "electronic_result": d.electronic_result}
    if kind == "returned" and d.returned_at is not None:
        return {**head, "at": d.returned_at.isoformat(), "unit": d.unit, "channel": d.return_channel}
    if kind == "rated" and d.rated_at is not None:
        return {**head, "at": d.rated_at.isoformat(), "unit": d.unit, "rating": d.rating}
    at = {"synced": d.synced_at, "paid": d.paid_at, "result_synced": d.result_synced_at}.get(kind)
    if at is not None:
        return {**head, "at": at.isoformat(), "unit": d.unit}
    side = {"supplement_requested": 0, "supplement_received": 1}.get(kind)
    if side is not None and 0 <= n < len(d.supplements):
        return {**head, "at": d.supplements[n][side].isoformat(), "unit": d.unit}
    raise ValueError(f"kind: dossier {d.id} has no {kind!r} event")


def events_of(d: Dossier) -> list[tuple[datetime, Event]]:
    """The dossier's events with their times, in order."""
    times: list[tuple[datetime | None, str, int]] = [
        (d.received_at, "received", 0), (d.synced_at, "synced", 0), (d.paid_at, "paid", 0),
        *((req, "supplement_requested", k) for k, (req, _) in enumerate(d.supplements)),
        *((rec, "supplement_received", k) for k, (_, rec) in enumerate(d.supplements)),
        (d.resolved_at, "resolved", 0), (d.returned_at, "returned", 0), (d.result_synced_at, "result_synced", 0),
        (d.rated_at, "rated", 0)]
    present = [(t, kind, k) for t, kind, k in times if t is not None]
    return [(t, event(d, kind, k)) for t, kind, k in sorted(present, key=lambda x: x[0])]


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
        """The dossier ids' prefix; ``MD``: dossiers carrying the national service index's facts (``MC`` before)."""
        return f"MD{self.seed}x{round(self.scale * 1000)}"

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
        index_rng = random.Random(f"{self.seed}|{self.scale}|{d.isoformat()}|index")
        picks = [self._pick(rng, d) for _ in range(n)]
        eligible = [i for i, (_, p) in enumerate(picks) if p.online_level >= 3]
        online = set(rng.sample(eligible, min(self._share_of_day(d, online_total), len(eligible))))
        offered = [i for i, (_, p) in enumerate(picks) if p.post]
        offline = [i for i in offered if i not in online]
        postal = set(rng.sample(offline, min(rounded_at_random(profile.postal_receive_share * len(offered), rng),
                                             len(offline))))
        out = []
        for i, ((unit, ward, ward_set), proc) in enumerate(picks):
            if i in online:
                full = proc.online_level >= 4 and rng.random() < self.config.full_online_share
                channel = "online_full" if full else "online_partial"
            else:
                channel = "postal" if i in postal else "counter"
            base = self._lifecycle(rng, d, i, unit, ward, ward_set, proc, channel, profile)
            out.append(_index_facts(index_rng, base, self.config))
        return out

    def _pick(self, rng: random.Random, d: date) -> tuple[tuple[str, str, str], ProcSpec]:
        communes = [c for c in self.province.communes if d >= REFORM or c.wards_2019]
        if communes and rng.random() < self.config.commune_share:
            c = rng.choices(communes, [x.weight for x in communes])[0]
            proc = _weighted(rng, [p for p in self.config.procedures if p.unit == "commune"])
            if d >= REFORM:
                return (c.unit, c.ward, SET_2025), proc
            ward = rng.choices([w for w, _ in c.wards_2019], [a for _, a in c.wards_2019])[0]
            return (self.province.unit_2019(ward, c.unit), ward, SET_2019), proc
        proc = _weighted(rng, [p for p in self.config.procedures if p.unit != "commune"])
        wards, ward_set = (self.province.wards_2025, SET_2025) if d >= REFORM else (self.province.wards_2019,
                                                                                   SET_2019)
        return (proc.unit, rng.choice(wards), ward_set), proc

    def _lifecycle(self, rng: random.Random, d: date, i: int, unit: str, ward: str, ward_set: str,
                   proc: ProcSpec, channel: str, profile: YearProfile) -> Dossier:
        online = channel.startswith("online")
        start_h = rng.uniform(6.0, 23.0) if online else rng.choice([rng.uniform(7.5, 11.5), rng.uniform(13.5, 17.0)])
        received = datetime.combine(d, time(0), LOCAL_TZ) + timedelta(hours=start_h)
        due = self.add_business_days(d, proc.days)
        if rng.random() < profile.late_share:  # resolved 1 to 8 business days after the due date
            day = self.add_business_days(due, rng.randint(1, 8))
            resolved = datetime.combine(day, time(0), LOCAL_TZ) + timedelta(hours=rng.uniform(8.0, 16.5))
        elif proc.days == 0:  # the same day
            resolved = min(received + timedelta(minutes=rng.uniform(20, 180)),
                           datetime.combine(d, time(23, 40), LOCAL_TZ))
        else:
            day = self.add_business_days(d, rng.randint(0, proc.days))
            resolved = datetime.combine(day, time(0), LOCAL_TZ) + timedelta(hours=rng.uniform(8.0, 16.5))
        resolved = max(resolved, received + timedelta(minutes=30))
        returned, ret_channel = None, None
        if rng.random() < RETURN_SHARE:
            returned = resolved + timedelta(hours=rng.uniform(0.5, 60.0))
            by_post = proc.post and rng.random() < profile.postal_return_share
            ret_channel = "postal" if by_post else "counter"
        return Dossier(f"{self.tag}-{d:%Y%m%d}-{i:05d}", unit, proc, ward, ward_set, channel, received, resolved,
                       returned, ret_channel)


def _index_facts(rng: random.Random, d: Dossier, config: Config) -> Dossier:
    """``d`` with what the national service index reads: reception facts, sync, online payment, supplements (the
    end moves by the citizen's time), the outcome (only granted results are returned), the electronic result and
    its sync to the citizen's store, the rating. Drawn from their own ``rng`` so the report's figures stay put."""
    share, lc = config.index_year(d.received_at.year), config.lifecycle
    assert d.resolved_at is not None
    online = d.channel.startswith("online")
    flags = (("fee_due",) if d.procedure.has_fees else ()) + tuple(f for f in RECEPTION if rng.random() < share[f])
    synced = d.received_at + timedelta(minutes=rng.uniform(5, 360)) if rng.random() < share["synced"] else None
    paid = None
    if d.procedure.has_fees and rng.random() < min(1.0, share["paid"] * (1.6 if online else 0.4)):
        paid = min(d.received_at + timedelta(minutes=rng.uniform(2, 600)), d.resolved_at)
    supplements, shift = _supplements(rng, d, lc) if d.procedure.days > 0 else ((), timedelta(0))
    resolved = d.resolved_at + shift
    returned = d.returned_at + shift if d.returned_at is not None else None
    draw = rng.random()
    outcome = "refused" if draw < lc.refused else "withdrawn" if draw < lc.refused + lc.withdrawn else "granted"
    if outcome != "granted":
        returned = None
    e_result = outcome == "granted" and rng.random() < share["e_result"]
    result_synced = (resolved + timedelta(hours=rng.uniform(0.2, 30)) if e_result
                     and rng.random() < share["result_synced"] else None)
    rated_at, rating = None, None
    if rng.random() < share["rated"]:
        rated_at = (returned or resolved) + timedelta(hours=rng.uniform(1, 72))
        rating = rng.choices(list(lc.ratings), list(lc.ratings.values()))[0]
    return replace(d, flags=flags, synced_at=synced, paid_at=paid, supplements=supplements, resolved_at=resolved,
                   returned_at=returned, return_channel=d.return_channel if returned else None, outcome=outcome,
                   electronic_result=e_result, result_synced_at=result_synced, rated_at=rated_at, rating=rating)


def _supplements(rng: random.Random, d: Dossier, lc: Lifecycle
                 ) -> tuple[tuple[tuple[datetime, datetime], ...], timedelta]:
    """Supplement requests during processing (none, one or — rarely — two, which is late for the index) and the
    citizen's time they took, by which the end moves."""
    assert d.resolved_at is not None
    if rng.random() >= lc.supplement:
        return (), timedelta(0)
    count = 2 if rng.random() < lc.second_supplement else 1
    span = d.resolved_at - d.received_at
    out, start, shift = [], d.received_at, timedelta(0)
    for k in range(count):
        requested = start + span * (rng.uniform(0.15, 0.45) if k == 0 else rng.uniform(0.05, 0.2))
        received = requested + timedelta(days=rng.uniform(*lc.supplement_days))
        out.append((requested, received))
        shift += received - requested
        start = received
    return tuple(out), shift


def _weighted(rng: random.Random, procs: list[ProcSpec]) -> ProcSpec:
    return rng.choices(procs, [p.weight for p in procs])[0]


def rounded_at_random(x: float, rng: random.Random) -> int:
    """``x`` rounded down or up at random, unbiased (``E[result] = x``)."""
    base = math.floor(x)
    return base + (rng.random() < x - base)
