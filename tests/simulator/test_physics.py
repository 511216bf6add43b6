"""The signal models are pure functions of time and site: tides, seasons, rain, air quality, lights, floods."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from ingest.catalogue import default_catalogue
from ingest.simulator import physics as P
from ingest.simulator.physics import Site, Tide

ICT = timezone(timedelta(hours=7))
HOUR = 3600.0


def at(y: int, mo: int, d: int, h: float = 0.0) -> float:
    """Epoch seconds of a local (UTC+7) time."""
    return datetime(y, mo, d, tzinfo=ICT).timestamp() + h * HOUR


def site(kind: str = "water_level", coast_km: float = 0.0, east: float = 1.0, **kw: object) -> Site:
    return Site(kind=kind, key=kw.pop("key", 7), lon=kw.pop("lon", 105.2), lat=kw.pop("lat", 9.1),  # type: ignore[arg-type]
                coast_km=coast_km, east_weight=east, tide=P.tide_for(coast_km, east), **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------- tides


def test_m2_alone_repeats_every_12_42_hours() -> None:
    tide = Tide(m2=100.0, s2=0.0, k1=0.0, o1=0.0)
    for t in np.linspace(1.7e9, 1.7e9 + 30 * 86400, 50):
        assert P.tide_cm(t + P.M2_PERIOD_H * HOUR, tide) == pytest.approx(P.tide_cm(t, tide), abs=1e-6)
        assert P.tide_cm(t + P.M2_PERIOD_H * HOUR / 2, tide) == pytest.approx(-P.tide_cm(t, tide), abs=1e-6)
    assert abs(P.M2_PERIOD_H - 12.42) < 0.001


def test_east_coast_gauge_is_dominated_by_the_semi_diurnal_period() -> None:
    s = site("tide_gauge", coast_km=0.5, east=1.0)
    ts = 1.75e9 + np.arange(0, 30 * 86400, 600.0)
    level = np.array([P.tide_cm(t, s.tide) for t in ts])
    spectrum = np.abs(np.fft.rfft(level - level.mean()))
    freqs = np.fft.rfftfreq(len(ts), d=600.0)
    period_h = 1.0 / freqs[int(np.argmax(spectrum[1:])) + 1] / HOUR
    assert period_h == pytest.approx(12.42, abs=0.3)


def test_spring_and_neap_tides_follow_the_moon() -> None:
    tide = Tide(m2=75.0, s2=30.0, k1=0.0, o1=0.0)

    def daily_range(t0: float) -> float:
        v = [P.tide_cm(t0 + i * 300.0, tide) for i in range(int(13 * HOUR / 300))]
        return max(v) - min(v)

    spring = daily_range(P.REF_EPOCH - 6 * HOUR)  # REF_EPOCH is a new moon
    neap = daily_range(P.REF_EPOCH + P.SPRING_NEAP_PERIOD_H / 2 * HOUR - 6 * HOUR)
    assert spring == pytest.approx(2 * (75 + 30), rel=0.03)
    assert neap == pytest.approx(2 * (75 - 30), rel=0.05)
    assert abs(P.SPRING_NEAP_PERIOD_H / 24 - 14.77) < 0.01


def test_tide_amplitude_by_location() -> None:
    east, west, inland = P.tide_for(0.0, 1.0), P.tide_for(0.0, 0.0), P.tide_for(40.0, 1.0)
    assert east.m2 > 5 * west.m2  # East Sea: large semi-diurnal tides; Gulf of Thailand: small, mostly diurnal
    assert west.k1 > west.m2
    assert inland.amplitude_cm < 0.5 * east.amplitude_cm  # attenuated up the rivers...
    assert inland.lag_h > 3.0  # ...and late


def test_water_level_tracks_the_tide_plus_a_surge() -> None:
    s = site("tide_gauge", coast_km=0.0, east=1.0)
    t = at(2025, 11, 3, 10.0)
    base = P.water_level_cm(t, s)
    assert P.water_level_cm(t, s, P.Effects(surge_cm=80.0)) == pytest.approx(base + 80.0)
    levels = [P.water_level_cm(t + i * 600.0, s) for i in range(150)]
    assert max(levels) - min(levels) > 150.0  # a metre and a half or more at Gành Hào


# ------------------------------------------------------------------------------------------------- seasons


def test_salinity_intrusion_is_a_dry_season_thing_that_rises_inland() -> None:
    inland = site("salinity", coast_km=25.0, east=0.5)
    coast = site("salinity", coast_km=1.0, east=0.5)

    def month_mean(s: Site, month: int) -> float:
        return float(np.mean([P.salinity_ppt(at(2025, month, 1) + i * 3 * HOUR, s) for i in range(80)]))

    march, september = month_mean(inland, 3), month_mean(inland, 9)
    assert march > 4.0  # above what rice tolerates, 25 km inland
    assert march > 5 * september
    for m in (2, 3, 4):  # February to April are the worst months
        assert month_mean(inland, m) > month_mean(inland, 12) > month_mean(inland, 8)
    assert month_mean(coast, 9) > month_mean(inland, 9)  # always saltier at the coast
    assert P.salinity_ppt(at(2025, 3, 1), inland, P.Effects(salinity_add_ppt=10.0)) > march + 5


def test_rainy_season_is_may_to_november() -> None:
    assert [P.is_rainy_season(at(2025, m, 15)) for m in range(1, 13)] == [False] * 4 + [True] * 7 + [False]
    sites = [site("rain", lon=104.8 + 0.25 * i, lat=9.0 + 0.25 * (i % 3), key=i) for i in range(6)]

    def month_rain(month: int) -> float:
        t0 = at(2025, month, 1)
        return sum(P.rain_mm(t0 + d * 86400.0, t0 + (d + 1) * 86400.0, s) for s in sites for d in range(28))

    aug, feb = month_rain(8), month_rain(2)
    assert aug / len(sites) > 100.0  # a rainy-season month: well over 100 mm a gauge
    assert aug > 10 * feb


def test_rain_accumulates_additively_and_storms_are_shared_by_neighbours() -> None:
    s = site("rain", key=1)
    t0 = at(2025, 8, 10)
    whole = P.rain_mm(t0, t0 + 6 * 86400, s)
    parts = sum(P.rain_mm(t0 + i * 86400, t0 + (i + 1) * 86400, s) for i in range(6))
    assert whole == pytest.approx(parts, rel=0.02, abs=0.5)
    neighbour = site("rain", key=2, lon=s.lon + 0.01)
    rainy = [t0 + i * 600.0 for i in range(6 * 144) if P.rain_rate_mm_h(t0 + i * 600.0, s) > 0]
    assert rainy and all(P.rain_rate_mm_h(t, neighbour) > 0 for t in rainy)  # the same storm cell


def test_pm25_has_a_daily_cycle_and_the_aqi_its_breakpoints() -> None:
    s = site("air_quality", base_pm=30.0)
    days = [at(2025, 1, d) for d in range(5, 25)]
    dry = [d for d in days if P.rain_rate_mm_h(d + 7.5 * HOUR, s) == 0 and P.rain_rate_mm_h(d + 14 * HOUR, s) == 0]
    morning = np.mean([P.pm2_5(d + 7.5 * HOUR, s) for d in dry])
    afternoon = np.mean([P.pm2_5(d + 14 * HOUR, s) for d in dry])
    assert morning > 1.4 * afternoon
    assert P.aqi_from_pm25(25.0) == pytest.approx(50.0)
    assert P.aqi_from_pm25(65.0) == pytest.approx(125.0)
    assert P.aqi_from_pm25(2000.0) == 500.0
    jan = np.mean([P.pm2_5(at(2025, 1, 10, h), s) for h in range(24)])
    jul = np.mean([P.pm2_5(at(2025, 7, 10, h), s) for h in range(24)])
    assert jan > jul


# ------------------------------------------------------------------------------------------------- lights


@pytest.mark.parametrize(("hour", "on", "pct"), [(17.99, False, 0.0), (18.0, True, 100.0), (20.0, True, 100.0),
                                                  (23.5, True, 60.0), (1.0, True, 60.0), (4.5, True, 100.0),
                                                  (5.99, True, 100.0), (6.0, False, 0.0), (12.0, False, 0.0)])
def test_street_lights_are_on_at_night(hour: float, on: bool, pct: float) -> None:
    s = site("street_light", rated_w=150.0)
    t = at(2025, 11, 20, hour)
    assert P.lamp_on(t) is on
    assert P.lamp_dimming_pct(t) == pct
    power = P.lamp_power_w(t, s)
    if on:
        assert power == pytest.approx(150.0 * pct / 100, rel=0.02)
        assert P.lamp_power_w(t, s, P.Effects(lamp_failed=True)) == P.STANDBY_W
    else:
        assert power == P.STANDBY_W


def test_the_energy_meter_integrates_the_schedule() -> None:
    s = site("street_light", rated_w=200.0, installed_at=at(2024, 1, 1))
    day = (5 * 200 + 5 * 0.6 * 200 + 2 * 200 + 12 * P.STANDBY_W) / 1000.0  # kWh a day
    e0 = P.lamp_energy_kwh(at(2025, 3, 1, 9.0), s)
    assert P.lamp_energy_kwh(at(2025, 3, 2, 9.0), s) - e0 == pytest.approx(day)
    assert P.lamp_energy_kwh(at(2025, 3, 1, 17.0), s) - e0 == pytest.approx(8 * P.STANDBY_W / 1000)
    assert P.lamp_energy_kwh(at(2025, 3, 1, 20.0), s) - e0 == pytest.approx((9 * P.STANDBY_W + 2 * 200) / 1000)
    series = [P.lamp_energy_kwh(at(2025, 3, 1) + i * 1234.0, s) for i in range(200)]
    assert series == sorted(series)
    assert P.lamp_energy_kwh(at(2023, 1, 1), s) == 0.0  # not installed yet


# ------------------------------------------------------------------------------------------------- floods


def test_flood_depth_follows_tide_surge_and_rain() -> None:
    s = site("flood_camera", coast_km=20.0, east=0.5, ground_cm=1000.0)  # a street far above any tide
    t = at(2025, 9, 1)
    dry = [t + i * 600.0 for i in range(2000) if P.rain_ponding_cm(t + i * 600.0, s) == 0][:50]
    assert all(P.flood_depth_cm(x, s) == 0.0 for x in dry)
    wet = [t + i * 600.0 for i in range(2000) if P.rain_ponding_cm(t + i * 600.0, s) > 2.0]
    assert wet and all(P.flood_depth_cm(x, s) > 0.0 for x in wet[:20])  # rain ponds even without tide
    low = site("flood_camera", coast_km=20.0, east=0.5, ground_cm=0.0)  # a street at datum level
    x = dry[0]
    level = low.tide.mean_cm + P.seasonal(P.MEAN_LEVEL_SEASON_CM, x) + P.tide_cm(x, low.tide)
    assert P.flood_depth_cm(x, low) == pytest.approx(max(0.0, level), abs=1.0)
    assert P.flood_depth_cm(x, low, P.Effects(surge_cm=50.0)) == pytest.approx(max(0.0, level + 50), abs=1.0)


# ------------------------------------------------------------------------------------------------- all metrics


@pytest.mark.parametrize("kind", sorted(P.KIND_METRICS))
def test_every_value_lies_within_the_catalogue(kind: str) -> None:
    catalogue = default_catalogue()
    extreme = P.Effects(surge_cm=400.0, salinity_add_ppt=60.0, lamp_failed=True)
    for coast_km, east in ((0.0, 1.0), (0.0, 0.0), (60.0, 0.5)):
        s = site(kind, coast_km=coast_km, east=east, ground_cm=-200.0)
        t0 = at(2025, 1, 1)
        for i in range(0, 365 * 24, 7):
            t = t0 + i * HOUR
            for effects in (P.NO_EFFECTS, extreme) if i % 5 == 0 else (P.NO_EFFECTS,):
                values = P.readings(s, t, t - 600.0, effects)
                assert set(values) == set(P.KIND_METRICS[kind])
                for metric, v in values.items():
                    lo, hi = catalogue.bounds[metric]
                    assert lo <= v <= hi and math.isfinite(v), (metric, v, t)


def test_pure_same_inputs_same_values_and_unknown_kind_refused() -> None:
    s = site("air_quality")
    t = at(2025, 5, 5, 8.0)
    assert P.readings(s, t) == P.readings(s, t)
    assert P.readings(s, t) != P.readings(site("air_quality", key=99), t)
    with pytest.raises(ValueError, match="kind: value 'volcano'"):
        P.readings(site("volcano"), t)


def test_local_time_helpers() -> None:
    assert P.local_hour(at(2025, 6, 1, 18.5)) == pytest.approx(18.5)
    assert P.month_position(at(2025, 3, 1)) == pytest.approx(2.0)
    assert P.seasonal(P.INTRUSION_KM, at(2025, 3, 16, 12.0)) == pytest.approx(P.INTRUSION_KM[2], rel=0.02)
