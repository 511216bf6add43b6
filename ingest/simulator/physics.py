"""Signal models of the simulated Cà Mau fleet: pure functions of time (epoch seconds) and a device's site.

Nothing here keeps state or reads the clock: the same site at the same moment always gives the same value, so the
models are unit-tested directly and a re-run of the simulator reproduces its numbers. "Random" variation comes from
hashing (site key, time bucket) into smooth value noise, and the weather from hashing (storm cell, hour).

- Tides: the sum of four constituents (M2 12.42 h, S2 12.00 h, K1 23.93 h, O1 25.82 h). M2 and S2 beat every
  14.77 days (spring and neap tides). The East Sea coast (Gành Hào, Bạc Liêu) has large, mostly semi-diurnal tides;
  the Gulf of Thailand coast (Sông Đốc, U Minh) small, mostly diurnal ones; inland the tide is attenuated and late.
- Salinity: sea salinity times ``exp(-distance inland / intrusion length)``; both follow the season (the intrusion
  reaches furthest in the dry season, peaking February to April) and the tide pushes salt in at high water.
- Rain: convective storms per 0.25° cell, mostly in the rainy season (May to November) and in the afternoon.
- Air quality: PM2.5 with morning and evening traffic peaks, higher in the dry season, washed out by rain.
- Street lights: on from 18:00 to 06:00 local time, dimmed to 60 % from 23:00 to 04:00; an energy meter that is the
  closed-form integral of that schedule.
- Flood depth at a street camera: local water level above the street, plus rain ponding that drains away.

Local time is Việt Nam time (UTC+7, no daylight saving). Every value is clamped to the metric catalogue's range.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from ingest.catalogue import DEFAULT_METRICS

HOUR: Final = 3600.0
DAY: Final = 86400.0
LOCAL_OFFSET_S: Final = 7 * 3600
"""Việt Nam time is UTC+7 all year."""

# Tidal constituents: (name, period in hours). Phases are zero at REF_EPOCH, a new moon, so that M2 and S2 are in
# phase (a spring tide) at new and full moons, as they are in nature (their beat period is the half synodic month).
M2_PERIOD_H: Final = 12.4206012
S2_PERIOD_H: Final = 12.0
K1_PERIOD_H: Final = 23.9344696
O1_PERIOD_H: Final = 25.8193417
SPRING_NEAP_PERIOD_H: Final = 1.0 / (1.0 / S2_PERIOD_H - 1.0 / M2_PERIOD_H)  # 354.37 h = 14.77 days
REF_EPOCH: Final = 947182440.0  # 2000-01-06T18:14:00Z, a new moon

# Amplitudes (cm) at the two seas' coasts. East: Gành Hào has a 3 m spring range, mostly semi-diurnal. West: Sông
# Đốc about 1 m, mostly diurnal.
EAST_TIDE_CM: Final = {"m2": 75.0, "s2": 30.0, "k1": 40.0, "o1": 30.0}
WEST_TIDE_CM: Final = {"m2": 12.0, "s2": 5.0, "k1": 28.0, "o1": 18.0}
TIDE_DECAY_KM: Final = 40.0
"""Tidal amplitude falls by e every 40 km up the rivers and canals."""
TIDE_SPEED_KM_H: Final = 12.0
"""The tide wave travels inland about 12 km an hour."""

# Monthly tables, January first; values are interpolated between mid-months.
MEAN_LEVEL_SEASON_CM: Final = (5.0, 0.0, -5.0, -8.0, -8.0, -5.0, 0.0, 5.0, 10.0, 18.0, 20.0, 12.0)
"""Seasonal mean water level: highest in October to December (the "triều cường" king tides)."""
SEA_SALINITY_PPT: Final = (29.0, 31.0, 32.0, 32.0, 30.0, 26.0, 23.0, 22.0, 21.0, 21.0, 23.0, 26.0)
INTRUSION_KM: Final = (22.0, 30.0, 40.0, 38.0, 26.0, 14.0, 10.0, 8.0, 7.0, 8.0, 10.0, 15.0)
"""Distance inland over which salinity falls by e: longest in the dry season (February to April)."""
WATER_TEMP_C: Final = (26.5, 27.0, 28.5, 30.0, 30.5, 29.5, 29.0, 29.0, 28.5, 28.0, 27.5, 26.8)
STORMS_PER_DAY: Final = (0.05, 0.03, 0.05, 0.2, 0.9, 1.2, 1.2, 1.3, 1.4, 1.3, 0.8, 0.25)
"""Expected convective storms per 0.25° cell and day: the rainy season is May to November."""
PM_SEASON: Final = (1.45, 1.5, 1.4, 1.2, 0.9, 0.75, 0.7, 0.7, 0.75, 0.8, 1.0, 1.25)
STORM_CELL_DEG: Final = 0.25

# Street lights
LIGHT_ON_HOUR: Final = 18.0
LIGHT_OFF_HOUR: Final = 6.0
LIGHT_SCHEDULE: Final = ((0.0, 4.0, 60.0), (4.0, 6.0, 100.0), (6.0, 18.0, 0.0), (18.0, 23.0, 100.0),
                         (23.0, 24.0, 60.0))
"""(from hour, to hour, dimming %) over a local day; 0 % is off (the controller then draws STANDBY_W)."""
STANDBY_W: Final = 0.8

# VN_AQI (Decision 1459/QĐ-TCMT) breakpoints for PM2.5: (concentration, index).
PM25_AQI: Final = ((0.0, 0.0), (25.0, 50.0), (50.0, 100.0), (80.0, 150.0), (150.0, 200.0), (250.0, 300.0),
                   (350.0, 400.0), (500.0, 500.0))

BOUNDS: Final[dict[str, tuple[float, float]]] = {m.name: (m.min, m.max) for m in DEFAULT_METRICS}

KIND_METRICS: Final[dict[str, tuple[str, ...]]] = {
    "tide_gauge": ("water_level_cm", "battery_v"),
    "water_level": ("water_level_cm", "battery_v"),
    "salinity": ("salinity_ppt", "water_temperature_c", "battery_v"),
    "rain": ("rain_mm", "battery_v"),
    "air_quality": ("pm2_5", "pm10", "no2", "so2", "o3", "co_mg_m3", "aqi"),
    "street_light": ("lamp_power_w", "lamp_dimming_pct", "lamp_energy_kwh"),
    "flood_camera": ("flood_depth_cm",),
}
"""The metrics each simulated kind publishes (all in the ingest catalogue)."""


# ------------------------------------------------------------------------------------------------- sites


@dataclass(frozen=True, slots=True)
class Tide:
    """Tidal constituents at a site: amplitudes in cm, the lag behind the coast in hours, the mean level in cm
    against the gauge datum."""

    m2: float
    s2: float
    k1: float
    o1: float
    lag_h: float = 0.0
    mean_cm: float = 0.0

    @property
    def amplitude_cm(self) -> float:
        """The largest possible excursion from the mean (all constituents in phase)."""
        return self.m2 + self.s2 + self.k1 + self.o1


@dataclass(frozen=True, slots=True)
class Site:
    """What the models need to know about one device (see ``fleet.make_site``)."""

    kind: str
    key: int
    """Noise key: different devices get independent noise."""
    lon: float
    lat: float
    coast_km: float
    """Distance to the sea coast (km)."""
    east_weight: float
    """0 on the Gulf of Thailand coast, 1 on the East Sea coast; inland, by relative distance to each."""
    tide: Tide
    weather_seed: int = 0
    """Storms are shared by every device of a fleet with the same weather seed."""
    base_pm: float = 25.0
    rated_w: float = 150.0
    installed_at: float = 1.7e9
    ground_cm: float = 120.0
    """Street level against the gauge datum (flood cameras)."""


@dataclass(frozen=True, slots=True)
class Effects:
    """What active anomalies add at a moment (``anomalies.AnomalyEngine.effects``)."""

    surge_cm: float = 0.0
    salinity_add_ppt: float = 0.0
    lamp_failed: bool = False


NO_EFFECTS: Final = Effects()


def tide_for(coast_km: float, east_weight: float) -> Tide:
    """The tide at ``coast_km`` inland, blending the East Sea and Gulf of Thailand regimes by ``east_weight``."""
    w = min(1.0, max(0.0, east_weight))
    f = max(0.12, math.exp(-max(0.0, coast_km) / TIDE_DECAY_KM))
    amp = {k: f * (w * EAST_TIDE_CM[k] + (1.0 - w) * WEST_TIDE_CM[k]) for k in EAST_TIDE_CM}
    mean = 15.0 + 6.0 * w + min(25.0, 0.4 * max(0.0, coast_km))
    return Tide(amp["m2"], amp["s2"], amp["k1"], amp["o1"], lag_h=max(0.0, coast_km) / TIDE_SPEED_KM_H,
                mean_cm=mean)


# ------------------------------------------------------------------------------------------------- time


def local_hour(t: float) -> float:
    """Hour of the local (UTC+7) day, 0 <= h < 24."""
    return ((t + LOCAL_OFFSET_S) % DAY) / HOUR


def month_position(t: float) -> float:
    """Local months since 1 January as a float: 0.0 is 1 January 00:00, 2.5 is mid-March."""
    tm = time.gmtime(t + LOCAL_OFFSET_S)
    days = _days_in_month(tm.tm_year, tm.tm_mon)
    into = (tm.tm_mday - 1 + local_hour(t) / 24.0) / days
    return (tm.tm_mon - 1) + into


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if (year % 4 == 0 and year % 100 != 0) or year % 400 == 0 else 28
    return 30 if month in (4, 6, 9, 11) else 31


def seasonal(table: Sequence[float], t: float) -> float:
    """A monthly table (January first) at ``t``, linear between mid-month values, wrapping over the year."""
    pos = month_position(t) - 0.5
    i = math.floor(pos)
    frac = pos - i
    return table[i % 12] * (1.0 - frac) + table[(i + 1) % 12] * frac


def is_rainy_season(t: float) -> bool:
    """May to November (local months)."""
    return 4 <= int(month_position(t)) <= 10


# ------------------------------------------------------------------------------------------------- noise


def unit_hash(*parts: object) -> float:
    """A uniform number in [0, 1) from the parts (the same parts, the same number)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


def smooth_noise(key: int, t: float, scale_s: float) -> float:
    """Value noise in [-1, 1], smooth over ``scale_s`` seconds (cosine interpolation between hashed knots)."""
    x = t / scale_s
    i = math.floor(x)
    frac = x - i
    a = unit_hash(key, scale_s, i) * 2.0 - 1.0
    b = unit_hash(key, scale_s, i + 1) * 2.0 - 1.0
    w = (1.0 - math.cos(math.pi * frac)) / 2.0
    return a * (1.0 - w) + b * w


def clamp(metric: str, value: float) -> float:
    """``value`` within the catalogue range of ``metric``."""
    lo, hi = BOUNDS[metric]
    return min(hi, max(lo, value))


def _bump(h: float, centre: float, width: float) -> float:
    """A Gaussian bump over the hour of the day, wrapping at midnight."""
    d = abs(h - centre)
    d = min(d, 24.0 - d)
    return math.exp(-((d / width) ** 2))


# ------------------------------------------------------------------------------------------------- water


def tide_cm(t: float, tide: Tide) -> float:
    """Tidal height (cm) around the mean at ``t``: the sum of the four constituents, delayed by ``tide.lag_h``."""
    h = (t - REF_EPOCH) / HOUR - tide.lag_h
    two_pi = 2.0 * math.pi
    return (tide.m2 * math.cos(two_pi * h / M2_PERIOD_H) + tide.s2 * math.cos(two_pi * h / S2_PERIOD_H)
            + tide.k1 * math.cos(two_pi * h / K1_PERIOD_H) + tide.o1 * math.cos(two_pi * h / O1_PERIOD_H))


def water_level_cm(t: float, site: Site, effects: Effects = NO_EFFECTS) -> float:
    """Water level against the gauge datum: mean + season + tide + surge + a little wind and sensor noise."""
    level = (site.tide.mean_cm + seasonal(MEAN_LEVEL_SEASON_CM, t) + tide_cm(t, site.tide) + effects.surge_cm
             + 3.0 * smooth_noise(site.key, t, 900.0) + 0.6 * smooth_noise(site.key + 1, t, 60.0))
    return clamp("water_level_cm", level)


def salinity_ppt(t: float, site: Site, effects: Effects = NO_EFFECTS) -> float:
    """Salinity (‰): sea salinity of the season, attenuated inland over the season's intrusion length; high water
    pushes salt in (±12 %)."""
    sea = seasonal(SEA_SALINITY_PPT, t)
    length = seasonal(INTRUSION_KM, t)
    base = sea * math.exp(-max(0.0, site.coast_km) / length)
    amp = site.tide.amplitude_cm
    tidal = tide_cm(t, site.tide) / amp if amp > 0 else 0.0
    value = base * (1.0 + 0.12 * tidal) * (1.0 + 0.05 * smooth_noise(site.key, t, 1800.0))
    return clamp("salinity_ppt", 0.15 + value + effects.salinity_add_ppt)


def water_temperature_c(t: float, site: Site) -> float:
    h = local_hour(t)
    daily = 1.2 * math.cos(2.0 * math.pi * (h - 15.0) / 24.0)
    return clamp("water_temperature_c", seasonal(WATER_TEMP_C, t) + daily + 0.3 * smooth_noise(site.key, t, 3600.0))


# ------------------------------------------------------------------------------------------------- rain

_DIURNAL_RAW: Final = tuple(0.35 + 2.4 * _bump(h + 0.5, 16.0, 2.5) + 0.35 * _bump(h + 0.5, 3.0, 2.0)
                            for h in range(24))
DIURNAL_STORM_WEIGHT: Final = tuple(w * 24.0 / sum(_DIURNAL_RAW) for w in _DIURNAL_RAW)
"""Relative chance of a storm starting in each local hour (mean 1): mostly mid-afternoon to evening."""
STORM_LOOKBACK_H: Final = 3


@dataclass(frozen=True, slots=True)
class Storm:
    start: float
    duration_s: float
    peak_mm_h: float

    def rate(self, t: float) -> float:
        """Rain rate of the storm at its centre: a fast rise (first quarter) and a slower decay."""
        x = (t - self.start) / self.duration_s
        if x <= 0.0 or x >= 1.0:
            return 0.0
        return self.peak_mm_h * (x / 0.25 if x < 0.25 else ((1.0 - x) / 0.75) ** 1.5)


def storm_cell(lon: float, lat: float) -> tuple[int, int]:
    return math.floor(lon / STORM_CELL_DEG), math.floor(lat / STORM_CELL_DEG)


@lru_cache(maxsize=65536)
def storm(seed: int, cell: tuple[int, int], hour_slot: int) -> Storm | None:
    """The storm starting in ``cell`` during UTC hour ``hour_slot`` (epoch hours), if any."""
    t0 = hour_slot * HOUR
    chance = seasonal(STORMS_PER_DAY, t0) * DIURNAL_STORM_WEIGHT[int(local_hour(t0))] / 24.0
    if unit_hash("storm", seed, cell, hour_slot) >= chance:
        return None
    start = t0 + HOUR * unit_hash("start", seed, cell, hour_slot)
    duration = 60.0 * (20.0 + 100.0 * unit_hash("dur", seed, cell, hour_slot))
    peak = 4.0 + 56.0 * unit_hash("peak", seed, cell, hour_slot) ** 2
    return Storm(start, duration, peak)


def rain_rate_mm_h(t: float, site: Site) -> float:
    """Rain intensity at the site: the storms of its cell, each scaled by how close it passes (0.25 to 1)."""
    cell = storm_cell(site.lon, site.lat)
    slot = math.floor(t / HOUR)
    total = 0.0
    for s in range(slot - STORM_LOOKBACK_H, slot + 1):
        st = storm(site.weather_seed, cell, s)
        if st is not None:
            r = st.rate(t)
            if r > 0.0:
                total += r * (0.25 + 0.75 * unit_hash("near", site.key, s))
    return total


def rain_mm(t0: float, t1: float, site: Site) -> float:
    """Rain accumulated from ``t0`` to ``t1`` (trapezoid rule, steps of at most a minute)."""
    if t1 <= t0:
        return 0.0
    n = max(1, math.ceil((t1 - t0) / 60.0))
    step = (t1 - t0) / n
    total = 0.5 * (rain_rate_mm_h(t0, site) + rain_rate_mm_h(t1, site))
    for i in range(1, n):
        total += rain_rate_mm_h(t0 + i * step, site)
    return clamp("rain_mm", total * step / HOUR)


# ------------------------------------------------------------------------------------------------- air


def traffic(h: float) -> float:
    """Traffic intensity over the local day: peaks at 07:30 and 18:30, low at night."""
    return 0.15 + 0.85 * max(_bump(h, 7.5, 1.5), 0.9 * _bump(h, 18.5, 1.8), 0.45 * _bump(h, 12.0, 3.0))


def pm25_diurnal(h: float) -> float:
    """PM2.5 over the local day: morning and evening peaks (traffic, a shallow mixing layer), a low mid-afternoon."""
    return 0.62 + 0.55 * _bump(h, 7.5, 1.4) + 0.6 * _bump(h, 19.5, 2.0) + 0.25 * _bump(h, 2.0, 3.0)


def aqi_from_pm25(pm: float) -> float:
    """VN_AQI sub-index for PM2.5 (piecewise linear between breakpoints, capped at 500)."""
    if pm <= 0.0:
        return 0.0
    for (c0, i0), (c1, i1) in itertools.pairwise(PM25_AQI):
        if pm <= c1:
            return i0 + (i1 - i0) * (pm - c0) / (c1 - c0)
    return 500.0


def pm2_5(t: float, site: Site, rain_rate: float | None = None) -> float:
    rate = rain_rate_mm_h(t, site) if rain_rate is None else rain_rate
    h = local_hour(t)
    value = (site.base_pm * seasonal(PM_SEASON, t) * pm25_diurnal(h) / (1.0 + rate / 5.0)
             * (1.0 + 0.15 * smooth_noise(site.key, t, 900.0)))
    return clamp("pm2_5", value)


def air_quality(t: float, site: Site) -> dict[str, float]:
    """The air-quality station's metrics: PM2.5 and PM10, NO2 and CO from traffic, an afternoon ozone peak, SO2,
    and the VN_AQI of PM2.5."""
    h = local_hour(t)
    rate = rain_rate_mm_h(t, site)
    pm = pm2_5(t, site, rate)
    tr = traffic(h)
    sunny = 1.0 / (1.0 + rate / 3.0)
    n1, n2 = smooth_noise(site.key + 1, t, 1200.0), smooth_noise(site.key + 2, t, 1800.0)
    return {
        "pm2_5": pm,
        "pm10": clamp("pm10", pm * (1.65 + 0.2 * n1)),
        "no2": clamp("no2", (8.0 + 38.0 * tr) * (1.0 + 0.15 * n2)),
        "so2": clamp("so2", 6.0 + 3.0 * n1 + 2.0 * tr),
        "o3": clamp("o3", (18.0 + 70.0 * _bump(h, 14.0, 3.0) * sunny) * (1.0 + 0.1 * n2)),
        "co_mg_m3": clamp("co_mg_m3", 0.35 + 0.9 * tr * (1.0 + 0.1 * n1)),
        "aqi": clamp("aqi", aqi_from_pm25(pm)),
    }


# ------------------------------------------------------------------------------------------------- street lights


def lamp_dimming_pct(t: float) -> float:
    """The scheduled dimming level (0 when off by day)."""
    h = local_hour(t)
    for start, end, pct in LIGHT_SCHEDULE:
        if start <= h < end:
            return pct
    return 0.0


def lamp_on(t: float) -> bool:
    """Street lights are on from 18:00 to 06:00 local time."""
    h = local_hour(t)
    return h >= LIGHT_ON_HOUR or h < LIGHT_OFF_HOUR


def lamp_power_w(t: float, site: Site, effects: Effects = NO_EFFECTS) -> float:
    """Power draw: the rated power times the dimming level at night (a failed lamp draws only standby)."""
    pct = lamp_dimming_pct(t)
    if pct <= 0.0 or effects.lamp_failed:
        return STANDBY_W
    return clamp("lamp_power_w", site.rated_w * pct / 100.0 * (1.0 + 0.015 * smooth_noise(site.key, t, 300.0)))


def _schedule_wh(rated_w: float, hours: float) -> float:
    """Energy (Wh) drawn by the schedule from local midnight to ``hours`` into the day."""
    total = 0.0
    for start, end, pct in LIGHT_SCHEDULE:
        if hours <= start:
            break
        span = min(hours, end) - start
        total += span * (rated_w * pct / 100.0 if pct > 0 else STANDBY_W)
    return total


def lamp_energy_kwh(t: float, site: Site) -> float:
    """The lamp's energy meter (kWh since installation): the closed-form integral of the schedule."""
    def energy_wh(x: float) -> float:
        local = x + LOCAL_OFFSET_S
        days = math.floor(local / DAY)
        return days * _schedule_wh(site.rated_w, 24.0) + _schedule_wh(site.rated_w, (local - days * DAY) / HOUR)

    return clamp("lamp_energy_kwh", max(0.0, energy_wh(t) - energy_wh(site.installed_at)) / 1000.0)


# ------------------------------------------------------------------------------------------------- floods

PONDING_CM_PER_MM: Final = 0.35
"""Street ponding per mm of rain on a poorly drained street."""
DRAINAGE_TAU_S: Final = 3600.0
PONDING_WINDOW_S: Final = 3 * 3600.0


def rain_ponding_cm(t: float, site: Site) -> float:
    """Water left on the street by the last three hours of rain, draining with a one-hour time constant."""
    step = 300.0
    total = 0.0
    for i in range(int(PONDING_WINDOW_S / step)):
        a = t - (i + 1) * step
        mm = rain_rate_mm_h(a + step / 2.0, site) * step / HOUR
        if mm > 0.0:
            total += mm * math.exp(-(t - a - step / 2.0) / DRAINAGE_TAU_S)
    return PONDING_CM_PER_MM * total


def flood_depth_cm(t: float, site: Site, effects: Effects = NO_EFFECTS) -> float:
    """Standing water on the street: the local water level (tide, season, surge) above the street, plus rain."""
    level = (site.tide.mean_cm + seasonal(MEAN_LEVEL_SEASON_CM, t) + tide_cm(t, site.tide) + effects.surge_cm)
    depth = max(0.0, level - site.ground_cm) + rain_ponding_cm(t, site)
    if depth > 0.0:
        depth += 0.5 * smooth_noise(site.key, t, 120.0)
    return clamp("flood_depth_cm", depth)


# ------------------------------------------------------------------------------------------------- devices


def battery_v(t: float, site: Site) -> float:
    """A solar-charged 12 V battery: charging by day, slowly discharging at night."""
    h = local_hour(t)
    sun = max(0.0, math.sin(math.pi * (h - 6.0) / 12.0)) if 6.0 <= h <= 18.0 else 0.0
    return clamp("battery_v", 12.5 + 1.2 * sun + 0.1 * smooth_noise(site.key, t, 3600.0))


def readings(site: Site, t: float, prev_t: float | None = None, effects: Effects = NO_EFFECTS) -> dict[str, float]:
    """Every metric the site's kind publishes at ``t``, rounded; ``prev_t`` is the previous reading's time (rain
    gauges report the rain since then; default one interval of ten minutes)."""
    kind = site.kind
    out: dict[str, float]
    if kind in ("tide_gauge", "water_level"):
        out = {"water_level_cm": round(water_level_cm(t, site, effects), 1)}
    elif kind == "salinity":
        out = {"salinity_ppt": round(salinity_ppt(t, site, effects), 2),
               "water_temperature_c": round(water_temperature_c(t, site), 2)}
    elif kind == "rain":
        since = t - 600.0 if prev_t is None else prev_t
        out = {"rain_mm": round(rain_mm(since, t, site), 2)}
    elif kind == "air_quality":
        out = {k: round(v, 3 if k == "co_mg_m3" else 1) for k, v in air_quality(t, site).items()}
    elif kind == "street_light":
        out = {"lamp_power_w": round(lamp_power_w(t, site, effects), 1),
               "lamp_dimming_pct": lamp_dimming_pct(t),
               "lamp_energy_kwh": round(lamp_energy_kwh(t, site), 3)}
    elif kind == "flood_camera":
        out = {"flood_depth_cm": round(flood_depth_cm(t, site, effects), 1)}
    else:
        raise ValueError(f"kind: value {kind!r} is not one of {sorted(KIND_METRICS)}")
    if "battery_v" in KIND_METRICS[kind]:
        out["battery_v"] = round(battery_v(t, site), 2)
    return out
