"""Generate the simulated Cà Mau fleet: which devices, where, and the site parameters their physics use.

Deterministic: a device's placement depends only on (seed, kind, index), so ``--seed`` reproduces a fleet and a
larger ``--devices`` keeps the devices it already had where they were. Every device lies inside a real ward polygon
(at least about 30 m from its border). Placement by kind:

- tide gauges on the sea coast (within a few km of it), water-level gauges anywhere (rivers and canals);
- salinity sensors mostly inland along the canals, where the dry-season intrusion is watched;
- rain gauges spread over the province;
- air-quality stations in the town wards (Phường), most of them in Cà Mau city, near the centre;
- street lights in the towns and around commune centres; flood cameras on town streets.

Provisioning (registry rows, credentials, ACLs) is ``ingest.simulator.provision``'s job.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import shapely

from ingest.simulator.geography import Geography, Ward, to_km
from ingest.simulator.physics import KIND_METRICS, MEAN_LEVEL_SEASON_CM, Site, tide_for

DEFAULT_DEVICES: Final = 300
DEFAULT_SEED: Final = 2025
DEFAULT_PREFIX: Final = "cm"
PER_GATEWAY: Final = 50


@dataclass(frozen=True, slots=True)
class KindSpec:
    code: str
    short: str
    """Part of the device id: ``{prefix}-{short}-{index:03d}``."""
    share: float
    """Share of the fleet."""
    expected_interval_s: int
    """The reporting interval the registry expects (a device is stale after twice that without data)."""
    unit_code: str
    label_vi: str


KINDS: Final = (
    KindSpec("tide_gauge", "tide", 0.08, 300, "cm-dai-kttv", "Trạm đo thủy triều"),
    KindSpec("water_level", "wl", 0.17, 300, "cm-so-nnmt", "Trạm đo mực nước"),
    KindSpec("salinity", "sal", 0.25, 600, "cm-so-nnmt", "Trạm đo độ mặn"),
    KindSpec("rain", "rain", 0.12, 600, "cm-dai-kttv", "Trạm đo mưa"),
    KindSpec("air_quality", "aq", 0.06, 600, "cm-so-nnmt", "Trạm quan trắc không khí"),
    KindSpec("street_light", "sl", 0.28, 900, "cm-so-xd", "Đèn chiếu sáng"),
    KindSpec("flood_camera", "cam", 0.04, 300, "cm-so-xd", "Camera giám sát ngập"),
)
KIND_BY_CODE: Final = {k.code: k for k in KINDS}

UNITS: Final = (
    ("cm-so-nnmt", "Sở Nông nghiệp và Môi trường tỉnh Cà Mau", "department"),
    ("cm-dai-kttv", "Đài Khí tượng Thủy văn tỉnh Cà Mau", "other"),
    ("cm-so-xd", "Sở Xây dựng tỉnh Cà Mau", "department"),
)
"""Owning units of the fleet (code, name, level; created when missing). The hydro-meteorological station is the
national service's, not a department of the province's committee: it does not count in the readiness figures."""


@dataclass(frozen=True, slots=True)
class SimDevice:
    id: str
    kind: str
    name: str
    lon: float
    lat: float
    ward_code: str
    ward_name: str
    expected_interval_s: int
    unit_code: str
    site: Site = field(repr=False)
    gateway_id: str | None = None

    @property
    def metrics(self) -> tuple[str, ...]:
        return KIND_METRICS[self.kind]

    def metadata(self) -> dict[str, Any]:
        """What the registry row keeps about the simulated device (visible to operators)."""
        return {"simulated": True, "coast_km": round(self.site.coast_km, 2),
                "ward_code_generated": self.ward_code, "metrics": list(self.metrics)}


@dataclass(frozen=True, slots=True)
class SimGateway:
    id: str
    name: str
    lon: float
    lat: float
    device_ids: tuple[str, ...]


def fleet_mix(n: int) -> dict[str, int]:
    """How many devices of each kind a fleet of ``n`` has (largest remainders; every kind once ``n`` >= 7)."""
    if n < 0:
        raise ValueError(f"devices: value {n!r} must be zero or more")
    raw = {k.code: k.share * n for k in KINDS}
    counts = {c: math.floor(v) for c, v in raw.items()}
    if n >= len(KINDS):
        for c in counts:
            if counts[c] == 0:
                counts[c] = 1
    rest = n - sum(counts.values())
    order = sorted(raw, key=lambda c: (raw[c] - math.floor(raw[c]), raw[c]), reverse=True)
    i = 0
    while rest != 0:
        c = order[i % len(order)]
        if rest > 0:
            counts[c] += 1
            rest -= 1
        elif counts[c] > 1:
            counts[c] -= 1
            rest += 1
        i += 1
    return counts


def device_key(seed: int, device_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(f"{seed}:{device_id}".encode(), digest_size=6).digest(), "big")


# ------------------------------------------------------------------------------------------------- placement

Accept = Callable[[float, float], float]
"""(lon, lat) -> probability of keeping a candidate point."""


def _sample_in(ward: Ward, rng: np.random.Generator, accept: Accept, tries: int = 64) -> tuple[float, float]:
    """A point uniformly inside ``ward`` (its inner polygon), kept with probability ``accept(lon, lat)``; after
    ``tries`` rounds of 64 candidates, the candidate ``accept`` liked best."""
    minx, miny, maxx, maxy = ward.inner.bounds
    best: tuple[float, float, float] | None = None
    for _ in range(tries):
        xs = rng.uniform(minx, maxx, 64)
        ys = rng.uniform(miny, maxy, 64)
        inside = shapely.contains_xy(ward.inner, xs, ys)
        for x, y in zip(xs[inside], ys[inside], strict=True):
            lon, lat = round(float(x), 6), round(float(y), 6)
            if not shapely.contains_xy(ward.inner, lon, lat):
                continue
            p = accept(lon, lat)
            if best is None or p > best[0]:
                best = (p, lon, lat)
            if rng.random() < p:
                return lon, lat
    if best is None:
        rep = ward.inner.representative_point()
        return round(rep.x, 6), round(rep.y, 6)
    return best[1], best[2]


def _pick(wards: Sequence[Ward], weights: Sequence[float], rng: np.random.Generator) -> Ward:
    w = np.asarray(weights, dtype=float)
    return wards[int(rng.choice(len(wards), p=w / w.sum()))]


class Placer:
    """Chooses a ward and a point for each kind (see the module docstring)."""

    def __init__(self, geo: Geography) -> None:
        self.geo = geo
        self.wards = list(geo.wards)
        coast = geo.coast_km_many(np.array([w.rep_lon for w in self.wards]), np.array([w.rep_lat for w in self.wards]))
        west, east = geo.west_coast, geo.east_coast
        km = [shapely.transform(w.geometry, lambda xy: np.column_stack(to_km(xy[:, 0], xy[:, 1])))
              for w in self.wards]
        self.coastal = [w for w, g in zip(self.wards, km, strict=True)
                        if min(g.distance(west), g.distance(east)) < 1.0]
        self.rep_coast_km = dict(zip([w.code for w in self.wards], coast.tolist(), strict=True))
        self.urban = [w for w in self.wards if w.urban]
        city = {w.code for w in geo.city_wards()}
        self.urban_weights = [3.0 if w.code in city else 1.0 for w in self.urban]
        if not self.urban:  # a boundary file without towns: use every ward
            self.urban, self.urban_weights = self.wards, [1.0] * len(self.wards)
        if not self.coastal:
            self.coastal = self.wards

    def place(self, kind: str, rng: np.random.Generator) -> tuple[Ward, float, float]:
        g = self.geo
        area = [w.area_km2 for w in self.wards]
        if kind == "tide_gauge":
            ward = _pick(self.coastal, [w.area_km2 for w in self.coastal], rng)
            lon, lat = _sample_in(ward, rng, lambda x, y: math.exp(-g.coast_km(x, y) / 0.4))
        elif kind == "water_level" or kind == "rain":
            ward = _pick(self.wards, area, rng)
            lon, lat = _sample_in(ward, rng, lambda x, y: 1.0)
        elif kind == "salinity":
            weights = [a * min(1.0, 0.15 + self.rep_coast_km[w.code] / 25.0) for a, w in zip(area, self.wards,
                                                                                              strict=True)]
            ward = _pick(self.wards, weights, rng)
            lon, lat = _sample_in(ward, rng, lambda x, y: min(1.0, 0.1 + g.coast_km(x, y) / 25.0))
        elif kind == "air_quality":
            ward = _pick(self.urban, self.urban_weights, rng)
            lon, lat = _sample_in(ward, rng, lambda x, y: math.exp(-g.urban_km(x, y) / 4.0))
        elif kind == "flood_camera":
            ward = _pick(self.urban, self.urban_weights, rng)
            lon, lat = _sample_in(ward, rng, lambda x, y: math.exp(-g.urban_km(x, y) / 3.0))
        elif kind == "street_light":
            weights = [8.0 if w.urban else 1.0 for w in self.wards]
            ward = _pick(self.wards, weights, rng)
            if ward.urban:
                lon, lat = _sample_in(ward, rng, lambda x, y: math.exp(-g.urban_km(x, y) / 6.0))
            else:
                rx, ry = to_km(ward.rep_lon, ward.rep_lat)

                def near_centre(x: float, y: float) -> float:
                    px, py = to_km(x, y)
                    return math.exp(-math.hypot(px - rx, py - ry) / 2.0)

                lon, lat = _sample_in(ward, rng, near_centre)
        else:
            raise ValueError(f"kind: value {kind!r} is not one of {sorted(KIND_BY_CODE)}")
        return ward, lon, lat


# ------------------------------------------------------------------------------------------------- the fleet


def make_site(kind: str, key: int, lon: float, lat: float, geo: Geography, rng: np.random.Generator,
              seed: int) -> Site:
    coast = geo.coast_km(lon, lat)
    east = geo.east_weight(lon, lat)
    tide = tide_for(coast, east)
    urban = geo.urban_km(lon, lat)
    spring_high = tide.mean_cm + max(MEAN_LEVEL_SEASON_CM) + 0.85 * tide.amplitude_cm
    return Site(
        kind=kind, key=key, lon=lon, lat=lat, coast_km=coast, east_weight=east, tide=tide, weather_seed=seed,
        base_pm=float(16.0 + 16.0 * math.exp(-urban / 3.0) + rng.uniform(0.0, 5.0)),
        rated_w=float(rng.choice([100.0, 120.0, 150.0, 200.0, 250.0])),
        installed_at=float(1.640995200e9 + rng.uniform(0.0, 3 * 365 * 86400.0)),  # 2022-2024
        ground_cm=float(spring_high - rng.uniform(0.0, 22.0)),
    )


def generate_fleet(geo: Geography, n: int = DEFAULT_DEVICES, seed: int = DEFAULT_SEED,
                   prefix: str = DEFAULT_PREFIX) -> list[SimDevice]:
    """The fleet of ``n`` devices (ids ``{prefix}-{kind short}-{index:03d}``), sorted by id."""
    placer = Placer(geo)
    out: list[SimDevice] = []
    mix = fleet_mix(n)
    for kind_index, spec in enumerate(KINDS):
        for i in range(1, mix[spec.code] + 1):
            device_id = f"{prefix}-{spec.short}-{i:03d}"
            rng = np.random.default_rng([seed, kind_index, i])
            ward, lon, lat = placer.place(spec.code, rng)
            key = device_key(seed, device_id)
            site = make_site(spec.code, key, lon, lat, geo, rng, seed)
            out.append(SimDevice(device_id, spec.code, f"{spec.label_vi} {ward.name} {i:03d}", lon, lat, ward.code,
                                 ward.name, spec.expected_interval_s, spec.unit_code, site))
    return sorted(out, key=lambda d: d.id)


def plan_gateways(devices: Sequence[SimDevice], prefix: str = DEFAULT_PREFIX,
                  per_gateway: int = PER_GATEWAY) -> tuple[list[SimGateway], list[SimDevice]]:
    """Group the devices spatially behind gateways of about ``per_gateway`` devices each; returns the gateways
    and the devices with their ``gateway_id`` set. A gateway stands at the device nearest its group's centre."""
    if per_gateway < 1:
        raise ValueError(f"per_gateway: value {per_gateway!r} must be at least 1")
    ordered = sorted(devices, key=lambda d: (round(d.lat * 5), d.lon if round(d.lat * 5) % 2 else -d.lon))
    groups = [ordered[i:i + per_gateway] for i in range(0, len(ordered), per_gateway)]
    gateways: list[SimGateway] = []
    by_id: dict[str, SimDevice] = {}
    for j, group in enumerate(groups, start=1):
        gid = f"{prefix}-gw-{j:02d}"
        cx = sum(d.lon for d in group) / len(group)
        cy = sum(d.lat for d in group) / len(group)
        host = min(group, key=lambda d: (d.lon - cx) ** 2 + (d.lat - cy) ** 2)
        gateways.append(SimGateway(gid, f"Gateway LoRaWAN {host.ward_name} {j:02d}", host.lon, host.lat,
                                   tuple(sorted(d.id for d in group))))
        for d in group:
            by_id[d.id] = SimDevice(d.id, d.kind, d.name, d.lon, d.lat, d.ward_code, d.ward_name,
                                    d.expected_interval_s, d.unit_code, d.site, gid)
    return gateways, [by_id[d.id] for d in devices]
