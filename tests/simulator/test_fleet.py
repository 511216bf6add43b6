"""Fleet generation on the real Cà Mau wards: deterministic, every device inside its ward, kind-appropriate
placement; gateways; anomaly rates and garbage payloads checked against the real ingest decoder."""

from __future__ import annotations

import argparse
import random
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import shapely

from geo.boundaries import load_boundaries
from ingest.catalogue import default_catalogue
from ingest.decode import decode_message
from ingest.simulator import cli as sim_cli
from ingest.simulator.anomalies import (
    ANOMALY_KINDS,
    DEFAULT_RATES,
    GARBAGE_VARIANTS,
    AnomalyEngine,
    garbage_record,
    make_garbage,
    parse_rates,
)
from ingest.simulator.fleet import KINDS, fleet_mix, generate_fleet, plan_gateways
from ingest.simulator.geography import Geography
from ingest.simulator.provision import FleetState
from ingest.topics import device_topic, gateway_topic
from ingest.validate import DEVICE_ID_RE
from ops_center.devices.models import DeviceInfo
from ops_center.settings import Settings
from tests.simulator.conftest import wards_file


@pytest.fixture(scope="module")
def fleet(geography: Geography):  # type: ignore[no-untyped-def]
    return generate_fleet(geography, 300, seed=2025, prefix="cm")


def test_fleet_mix() -> None:
    for n in (0, 1, 7, 20, 299, 300, 1000):
        mix = fleet_mix(n)
        assert sum(mix.values()) == n
        if n >= 7:
            assert min(mix.values()) >= 1
    assert fleet_mix(300) == {"tide_gauge": 24, "water_level": 51, "salinity": 75, "rain": 36, "air_quality": 18,
                              "street_light": 84, "flood_camera": 12}
    with pytest.raises(ValueError, match="devices: value -1"):
        fleet_mix(-1)


def test_every_device_lies_inside_its_ward_polygon(fleet, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    wards = load_boundaries(wards_file(settings)).frame.set_index("code")
    assert len(fleet) == 300
    for d in fleet:
        polygon = wards.loc[d.ward_code, "geometry"]
        assert polygon.contains(shapely.Point(d.lon, d.lat)), d
        assert wards.loc[d.ward_code, "name"] == d.ward_name
        others = wards[wards.index != d.ward_code]
        assert not any(g.contains(shapely.Point(d.lon, d.lat)) for g in others.geometry)
    assert len({d.ward_code for d in fleet}) > 50  # spread over the province


def test_ids_names_and_intervals(fleet) -> None:  # type: ignore[no-untyped-def]
    assert len({d.id for d in fleet}) == 300
    assert all(DEVICE_ID_RE.fullmatch(d.id) for d in fleet)
    assert {d.kind for d in fleet} == {k.code for k in KINDS}
    intervals = {d.kind: d.expected_interval_s for d in fleet}
    assert intervals["tide_gauge"] == 300 and intervals["street_light"] == 900
    d = next(d for d in fleet if d.kind == "salinity")
    assert d.name.startswith("Trạm đo độ mặn ") and d.ward_name in d.name
    assert unicodedata.is_normalized("NFC", d.name)


def test_placement_fits_each_kind(fleet, geography: Geography) -> None:  # type: ignore[no-untyped-def]
    by = {k.code: [d for d in fleet if d.kind == k.code] for k in KINDS}
    assert all(d.site.coast_km < 2.0 for d in by["tide_gauge"])  # on the coast
    sal = np.median([d.site.coast_km for d in by["salinity"]])
    assert sal > 10.0 and sal > 5 * np.median([d.site.coast_km for d in by["tide_gauge"]])  # inland, on canals
    urban = {w.code for w in geography.wards if w.urban}
    city = {w.code for w in geography.city_wards()}
    assert {"32002", "32014", "32025", "32041"} <= city  # An Xuyên, Lý Văn Lâm, Tân Thành, Hoà Thành
    assert all(d.ward_code in urban for d in by["air_quality"] + by["flood_camera"])
    assert sum(d.ward_code in city for d in by["air_quality"]) > len(by["air_quality"]) / 2
    lights = by["street_light"]
    assert sum(d.ward_code in urban for d in lights) > len(lights) / 2  # mostly in the towns
    east = [d for d in by["tide_gauge"] if d.site.east_weight > 0.8]
    west = [d for d in by["tide_gauge"] if d.site.east_weight < 0.2]
    assert east and west
    assert min(d.site.tide.amplitude_cm for d in east) > max(d.site.tide.amplitude_cm for d in west)


def test_the_seed_decides_and_a_larger_fleet_keeps_its_devices(geography: Geography, fleet) -> None:  # type: ignore[no-untyped-def]
    again = generate_fleet(geography, 300, seed=2025, prefix="cm")
    assert [(d.id, d.lon, d.lat, d.site) for d in again] == [(d.id, d.lon, d.lat, d.site) for d in fleet]
    other = {d.id: (d.lon, d.lat) for d in generate_fleet(geography, 300, seed=7, prefix="cm")}
    assert sum(other[d.id] != (d.lon, d.lat) for d in fleet) == 300
    small = generate_fleet(geography, 20, seed=2025, prefix="cm")
    big = {d.id: d for d in fleet}
    assert all((d.lon, d.lat) == (big[d.id].lon, big[d.id].lat) for d in small)


def test_gateways_group_devices_nearby(fleet) -> None:  # type: ignore[no-untyped-def]
    gateways, devices = plan_gateways(fleet, "cm", 50)
    assert len(gateways) == 6
    assert sorted(i for g in gateways for i in g.device_ids) == sorted(d.id for d in fleet)
    assert all(len(g.device_ids) <= 50 for g in gateways)
    by_id = {d.id: d for d in devices}
    for g in gateways:
        assert all(by_id[i].gateway_id == g.id for i in g.device_ids)
        assert (g.lon, g.lat) in {(by_id[i].lon, by_id[i].lat) for i in g.device_ids}  # inside the province
        spread = max(abs(by_id[i].lat - g.lat) for i in g.device_ids)
        assert spread < 0.5
    with pytest.raises(ValueError, match="per_gateway: value 0"):
        plan_gateways(fleet, "cm", 0)


# ------------------------------------------------------------------------------------------------- anomalies


def test_parse_rates() -> None:
    assert parse_rates([]) == DEFAULT_RATES
    assert parse_rates(["0"]) == dict.fromkeys(ANOMALY_KINDS, 0.0)
    rates = parse_rates(["0", "garbage=0.5", "silence = 1"])
    assert rates["garbage"] == 0.5 and rates["silence"] == 1.0 and rates["flood_tide"] == 0.0
    for bad, fragment in (("volcano=0.1", "kind 'volcano'"), ("garbage=lots", "value 'lots'"),
                          ("1.5", "value '1.5'"), ("garbage=nan", "value 'nan'"), ("-0.1", "value '-0.1'"),
                          ("x'; DROP TABLE devices; --=1", "kind \"x'; DROP TABLE devices; --\"")):
        with pytest.raises(ValueError, match="--anomaly-rate") as info:
            parse_rates([bad])
        assert fragment in str(info.value)


@pytest.mark.parametrize("variant", GARBAGE_VARIANTS)
def test_each_garbage_payload_is_exactly_one_rejection_with_its_reason(variant: str, fleet) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(1)
    catalogue = default_catalogue()
    now = 1.76e9
    for dev in {d.kind: d for d in fleet}.values():
        registry = {dev.id: DeviceInfo(dev.id, True, "gw-1", dev.kind, None),
                    "gw-1": DeviceInfo("gw-1", True, None, "gateway", None)}
        for _ in range(5):
            g = make_garbage(dev, now, variant, rng)
            out = decode_message(device_topic(dev.id, "telemetry"), g.payload, now, registry, catalogue, 65536, 86400)
            assert out.readings == [] and [r.reason_code for r in out.rejects] == [g.expected_reason], g
            assert out.rejects[0].detail.split(":")[0] in ("payload", f"metrics.{dev.metrics[0]}",
                                                           f"metrics.{dev.metrics[0]}_x")
            g = garbage_record(dev, now, variant, rng)
            out = decode_message(gateway_topic("gw-1", "telemetry"), g.payload, now, registry, catalogue, 65536,
                                 86400)
            assert out.readings == [] and [r.reason_code for r in out.rejects] == [g.expected_reason], g


def test_anomaly_engine_effects(fleet) -> None:  # type: ignore[no-untyped-def]
    rates = dict.fromkeys(ANOMALY_KINDS, 0.0)
    engine = AnomalyEngine({**rates, "flood_tide": 1.0, "salinity_spike": 1.0}, random.Random(3))
    gauge = next(d for d in fleet if d.kind == "tide_gauge")
    camera = min((d for d in fleet if d.kind == "flood_camera"),
                 key=lambda d: (d.lon - gauge.lon) ** 2 + (d.lat - gauge.lat) ** 2)
    sal = next(d for d in fleet if d.kind == "salinity")
    t = 1.76e9
    [surge] = engine.roll(gauge, t)
    assert surge.kind == "flood_tide" and engine.roll(gauge, t + 1) == []  # one surge at a time
    mid = (surge.start + surge.end) / 2
    assert engine.effects(gauge, mid).surge_cm == pytest.approx(surge.magnitude)
    assert 0 <= engine.effects(camera, mid).surge_cm <= surge.magnitude
    assert engine.effects(sal, mid).surge_cm == 0.0  # salinity sensors do not feel it
    [spike] = engine.roll(sal, t)
    assert engine.effects(sal, (spike.start + spike.end) / 2).salinity_add_ppt == pytest.approx(spike.magnitude)
    engine.expire(t + 10_000)
    assert engine.effects(gauge, t + 10_000) == engine.effects(sal, t + 10_000) == engine.effects(camera, t)


# ------------------------------------------------------------------------------------------------- CLI input


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ops-center")
    sim_cli.register(parser.add_subparsers(dest="command"))
    return parser.parse_args(["simulate", *argv])


@pytest.mark.parametrize(("argv", "fragment"), [
    (("--devices", "0"), "--devices: value '0'"),
    (("--devices", "1e9"), "--devices: value '1e9'"),
    (("--devices", "20000"), "--devices: value '20000'"),
    (("--interval", "-1"), "--interval: value '-1'"),
    (("--rate", "nan"), "--rate: value 'nan'"),
    (("--pack", "0"), "--pack: value '0'"),
    (("--prefix", "x'; DROP TABLE devices; --"), "--prefix: value \"x'; DROP TABLE devices; --\""),
    (("--prefix", "a/b"), "--prefix: value 'a/b'"),
    (("--prefix", "é"), "--prefix: value 'é'"),
    (("--prefix", "p" * 100), "--prefix: value 'ppp"),
])
def test_bad_options_are_refused_naming_the_value(argv: tuple[str, ...], fragment: str, capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as info:
        _parse(*argv)
    assert info.value.code == 2
    assert fragment in capsys.readouterr().err


def test_options_parse() -> None:
    args = _parse("--devices", "20", "--rate", "100", "--gateway", "--anomaly-rate", "garbage=0.1")
    assert (args.devices, args.rate, args.gateway, args.pack, args.anomaly_rate) == (20, 100.0, True, 50,
                                                                                     ["garbage=0.1"])


def test_state_file_is_private_and_foreign_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "fleet.json"
    state = FleetState.load(path)
    assert state.secrets == {}
    state.secrets["cm-sal-001"] = "s3cret"
    state.save()
    assert path.stat().st_mode & 0o777 == 0o600
    assert FleetState.load(path).secrets == {"cm-sal-001": "s3cret"}
    for text in ("not json", "[1, 2]", '{"secrets": "x"}', "\x00" * 10):
        path.write_text(text)
        with pytest.raises(ValueError, match="--state"):
            FleetState.load(path)


def test_the_fleet_spreads_over_kinds_and_wards(fleet) -> None:  # type: ignore[no-untyped-def]
    per_ward = Counter(d.ward_code for d in fleet)
    assert max(per_ward.values()) < 40
