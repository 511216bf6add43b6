"""decode_message: every rejection, JSON and SenML telemetry, gateway packs, status, events, catalogue."""

from __future__ import annotations

import json
import random
from pathlib import Path

import orjson
import pytest

from ingest.catalogue import DEFAULT_METRICS, CatalogueError, Metric, load_catalogue
from ingest.decode import Decoded, DeviceEvent, DeviceStatus, decode_message
from ingest.registry_types import DeviceLookup
from ingest.validate import REASON_CODES, Reject
from ops_center.devices.models import DeviceInfo

NOW = 1_750_000_000.0  # 2025-06-15T15:06:40Z
MAX_AGE = 7 * 86400.0
MAX_PAYLOAD = 4096
CAT = load_catalogue()

REGISTRY: dict[str, DeviceInfo] = {
    d.device_id: d
    for d in (
        DeviceInfo("sal-01", True, None, "salinity", "W001"),
        DeviceInfo("off-01", False, None, "salinity", "W001"),
        DeviceInfo("gw-1", True, None, "gateway", "W002"),
        DeviceInfo("gw-2", True, None, "gateway", "W003"),
        DeviceInfo("gw-off", False, None, "gateway", None),
        DeviceInfo("rain-1", True, "gw-1", "rain", "W002"),
        DeviceInfo("rain-2", True, "gw-1", "rain", None),
        DeviceInfo("rain-off", False, "gw-1", "rain", None),
        DeviceInfo("other-1", True, "gw-2", "rain", "W003"),
        *(DeviceInfo(f"node-{i}", True, "gw-1", "water", "W002") for i in range(60)),
    )
}

DEV = "ops/v1/devices/sal-01/telemetry"
GW = "ops/v1/gateways/gw-1/telemetry"


def dec(topic: str, payload: bytes | object, registry: DeviceLookup = REGISTRY, **kw: object) -> Decoded:
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    args: dict = {
        "now": NOW,
        "registry": registry,
        "catalogue": CAT,
        "max_payload": MAX_PAYLOAD,
        "max_age_s": MAX_AGE,
    }
    args.update(kw)
    out = decode_message(topic, raw, **args)
    for r in out.rejects:  # invariants of every rejection
        assert r.reason_code in REASON_CODES
        if r.field:
            assert r.detail.startswith(f"{r.field}: "), r
        assert r.value_repr is None or len(r.value_repr) <= 200
    return out


def only_reject(out: Decoded) -> Reject:
    assert not out.readings, out.readings
    assert len(out.rejects) == 1, out.rejects
    return out.rejects[0]


def codes(out: Decoded) -> list[str]:
    return [r.reason_code for r in out.rejects]


# --- JSON {"ts", "metrics"} ---------------------------------------------------------------------
def test_json_single_reading_epoch_seconds() -> None:
    out = dec(DEV, {"ts": NOW - 60, "metrics": {"salinity_ppt": 4.2}})
    assert out.readings == [(NOW - 60, "sal-01", "salinity_ppt", 4.2)]
    assert out.rejects == [] and out.status is None and out.events == []
    assert out.topic == ("device_telemetry", "sal-01")


@pytest.mark.parametrize(
    "ts",
    [
        "2025-06-15T15:06:40Z",
        "2025-06-15T22:06:40+07:00",
        "2025-06-15 15:06:40+00:00",
        "2025-06-15T15:06:40.000Z",
    ],
)
def test_json_iso_timestamps(ts: str) -> None:
    out = dec(DEV, {"ts": ts, "metrics": {"water_level_cm": -120}})
    assert out.readings == [(NOW, "sal-01", "water_level_cm", -120.0)]
    assert type(out.readings[0][3]) is float


def test_json_many_metrics_kept_in_order_ints_become_floats() -> None:
    out = dec(DEV, {"ts": NOW, "metrics": {"salinity_ppt": 0, "rain_mm": 500, "battery_v": 3.7, "pm2_5": 12}})
    assert out.readings == [
        (NOW, "sal-01", "salinity_ppt", 0.0),
        (NOW, "sal-01", "rain_mm", 500.0),
        (NOW, "sal-01", "battery_v", 3.7),
        (NOW, "sal-01", "pm2_5", 12.0),
    ]
    assert all(type(r[0]) is float and type(r[3]) is float for r in out.readings)


def test_out_of_range_detail_names_metric_value_and_range() -> None:
    r = only_reject(dec(DEV, {"ts": NOW, "metrics": {"salinity_ppt": 75.2}}))
    assert r.reason_code == "out_of_range"
    assert r.detail == "metrics.salinity_ppt: value 75.2 out of range [0, 50]"
    assert (r.field, r.device_id, r.value_repr) == ("metrics.salinity_ppt", "sal-01", "75.2")


@pytest.mark.parametrize(
    ("metric", "value", "ok"),
    [
        ("water_level_cm", -500, True),
        ("water_level_cm", -500.01, False),
        ("water_level_cm", 1000, True),
        ("water_level_cm", 1000.5, False),
        ("temperature_c", -20, True),
        ("temperature_c", 60.0001, False),
        ("humidity_pct", 100, True),
        ("lamp_power_w", 2001, False),
        ("flood_depth_cm", -1, False),
    ],
)
def test_range_bounds_are_inclusive(metric: str, value: float, ok: bool) -> None:
    out = dec(DEV, {"ts": NOW, "metrics": {metric: value}})
    assert bool(out.readings) is ok
    assert codes(out) == ([] if ok else ["out_of_range"])


def test_integers_beyond_64_bits_are_out_of_range() -> None:
    payload = b'{"ts": 1750000000, "metrics": {"pm10": 100000000000000000000000, "rain_mm": -99999999999999999999999}}'
    assert codes(dec(DEV, payload)) == ["out_of_range", "out_of_range"]


def test_mixed_good_and_bad_metrics_keep_the_good_ones() -> None:
    out = dec(
        DEV,
        {
            "ts": NOW,
            "metrics": {
                "salinity_ppt": 3.5,
                "x'; DROP TABLE readings;--": 1,
                "pm2_5": True,
                "rain_mm": "12",
                "temperature_c": None,
                "humidity_pct": [1],
                "battery_v": {"v": 3},
                "pm10": 5000,
                "salinity_ppт": 1,  # Cyrillic т
                "rain_mm ": 1,
            },
        },
    )
    assert out.readings == [(NOW, "sal-01", "salinity_ppt", 3.5)]
    assert codes(out) == [
        "unknown_metric",
        "non_numeric",
        "non_numeric",
        "non_numeric",
        "non_numeric",
        "non_numeric",
        "out_of_range",
        "unknown_metric",
        "unknown_metric",
    ]
    by_field = {r.field: r for r in out.rejects}
    sql = by_field['metrics["x\'; DROP TABLE readings;--"]']
    assert "is not in the catalogue" in sql.detail and "DROP TABLE" in sql.detail
    assert "booleans are not numbers" in by_field["metrics.pm2_5"].detail
    assert by_field["metrics.rain_mm"].detail == "metrics.rain_mm: value '12' is a string, expected a number"
    assert "is null" in by_field["metrics.temperature_c"].detail
    assert "is an object" in by_field["metrics.battery_v"].detail
    assert "metrics['salinity_ppт']" in by_field
    assert "metrics['rain_mm ']" in by_field
    assert all(r.device_id == "sal-01" for r in out.rejects)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b'{"ts": 1750000000, "metrics": {"salinity_ppt": NaN, "rain_mm": 2}}', "metrics.salinity_ppt"),
        (b'{"ts": 1750000000, "metrics": {"salinity_ppt": Infinity, "rain_mm": 2}}', "metrics.salinity_ppt"),
        (b'{"ts": 1750000000, "metrics": {"salinity_ppt": -Infinity, "rain_mm": 2}}', "metrics.salinity_ppt"),
        (b'{"ts": 1750000000, "metrics": {"salinity_ppt": 1e999, "rain_mm": 2}}', "metrics.salinity_ppt"),
        (
            b'[{"n": "salinity_ppt", "v": NaN, "t": 1750000000}, {"n": "rain_mm", "v": 2, "t": 1750000000}]',
            "[0].v",
        ),
    ],
)
def test_non_finite_values_are_rejected_per_field(payload: bytes, field: str) -> None:
    out = dec(DEV, payload)
    assert out.readings == [(NOW, "sal-01", "rain_mm", 2.0)]
    [r] = out.rejects
    assert (r.reason_code, r.field) == ("not_finite", field)
    assert "is not finite" in r.detail


def test_non_finite_timestamp_is_bad_timestamp() -> None:
    r = only_reject(dec(DEV, b'{"ts": NaN, "metrics": {"rain_mm": 2}}'))
    assert (r.reason_code, r.field) == ("bad_timestamp", "ts")


def test_non_finite_fallback_still_refuses_other_json_errors() -> None:
    r = only_reject(dec(DEV, b'{"ts": 1750000000, "metrics": {"rain_mm": NaN}'))
    assert r.reason_code == "parse_error" and r.field == "payload"
    r = only_reject(dec(DEV, b'{"ts": 1750000000, "metrics": {"rain_mm": NaN, "x": "\\ud800"}}'))
    assert r.reason_code == "parse_error"  # a lone surrogate: orjson refuses it, so do we


@pytest.mark.parametrize(
    ("ts", "code"),
    [
        (NOW + 300, None),
        (NOW + 301, "ts_in_future"),
        (NOW - MAX_AGE, None),
        (NOW - MAX_AGE - 1, "ts_too_old"),
        (0, "ts_too_old"),
        (-5, "ts_too_old"),
        ("2025-06-15T15:11:41Z", "ts_in_future"),
        ("1990-01-01T00:00:00+07:00", "ts_too_old"),
        ("2025-06-15T15:06:40", "bad_timestamp"),  # no offset
        ("2025-06-15", "bad_timestamp"),  # a date is naive too
        ("yesterday", "bad_timestamp"),
        ("2025-13-01T00:00:00Z", "bad_timestamp"),
        ("", "bad_timestamp"),
        ("2025-06-15T15:06:40Z" + " " * 100, "bad_timestamp"),
        (True, "bad_timestamp"),
        (None, "bad_timestamp"),
        ([NOW], "bad_timestamp"),
        ({"s": NOW}, "bad_timestamp"),
    ],
)
def test_json_timestamp_checks(ts: object, code: str | None) -> None:
    out = dec(DEV, {"ts": ts, "metrics": {"rain_mm": 1, "salinity_ppt": 2}})
    if code is None:
        assert len(out.readings) == 2 and not out.rejects
    else:
        r = only_reject(out)  # the timestamp covers every metric: one rejection for the message
        assert (r.reason_code, r.field, r.device_id) == (code, "ts", "sal-01")


def test_timestamp_in_milliseconds_gets_a_hint() -> None:
    r = only_reject(dec(DEV, {"ts": int(NOW * 1000), "metrics": {"rain_mm": 1}}))
    assert r.reason_code == "ts_in_future"
    assert "milliseconds" in r.detail and "1750000000000" in r.detail


def test_naive_timestamp_detail_explains_the_fix() -> None:
    r = only_reject(dec(DEV, {"ts": "2025-06-15T15:06:40", "metrics": {"rain_mm": 1}}))
    assert r.detail == "ts: timestamp '2025-06-15T15:06:40' has no UTC offset (add 'Z' or '+07:00')"


def test_max_age_is_a_parameter() -> None:
    payload = {"ts": NOW - 3600, "metrics": {"rain_mm": 1}}
    assert dec(DEV, payload).readings
    r = only_reject(dec(DEV, payload, max_age_s=60.0))
    assert r.reason_code == "ts_too_old" and "limit 60 s" in r.detail


@pytest.mark.parametrize(
    ("payload", "field", "snippet"),
    [
        ({"metrics": {"rain_mm": 1}}, "ts", "required field is missing"),
        ({"ts": NOW}, "metrics", "required field is missing"),
        ({"ts": NOW, "metrics": {"rain_mm": 1}, "device": "x"}, "device", "unknown field 'device'"),
        ({"ts": NOW, "metrics": {}}, "metrics", "an empty object, expected"),
        ({"ts": NOW, "metrics": [1, 2]}, "metrics", "an array, expected"),
        ({"ts": NOW, "metrics": 5}, "metrics", "a number, expected"),
        ({}, "ts", "required field is missing"),
        ("online", "payload", "telemetry is a string"),
        (42, "payload", "telemetry is a number"),
        (None, "payload", "telemetry is null"),
        (True, "payload", "telemetry is a boolean"),
        ([], "payload", "SenML pack is empty"),
    ],
)
def test_bad_shapes(payload: object, field: str, snippet: str) -> None:
    r = only_reject(dec(DEV, payload))
    assert (r.reason_code, r.field) == ("bad_shape", field)
    assert snippet in r.detail


def test_unknown_top_level_key_with_an_odd_name_is_quoted() -> None:
    r = only_reject(dec(DEV, {"ts": NOW, "metrics": {"rain_mm": 1}, "a b; --": 1}))
    assert r.reason_code == "bad_shape" and r.field == "['a b; --']"


# --- whole-payload problems ---------------------------------------------------------------------
def test_payload_too_large() -> None:
    big = orjson.dumps({"ts": NOW, "metrics": {"rain_mm": 1}, "pad": "x" * MAX_PAYLOAD})
    r = only_reject(dec(DEV, big))
    assert (r.reason_code, r.field, r.device_id) == ("payload_too_large", "payload", "sal-01")
    assert f"{len(big)} bytes exceeds the limit of {MAX_PAYLOAD} bytes" in r.detail
    assert r.value_repr is not None and len(r.value_repr) < 100


def test_payload_at_the_limit_is_decoded() -> None:
    body = orjson.dumps({"ts": NOW, "metrics": {"rain_mm": 1}})
    assert dec(DEV, body, max_payload=len(body)).readings
    assert codes(dec(DEV, body, max_payload=len(body) - 1)) == ["payload_too_large"]


def test_huge_payload_is_refused_before_parsing() -> None:
    huge = b"[" * 5_000_000  # not even JSON: size is checked first
    assert codes(dec(DEV, huge)) == ["payload_too_large"]


@pytest.mark.parametrize("payload", [b"", b"   ", b"\n\t"])
def test_empty_payload_is_a_parse_error(payload: bytes) -> None:
    r = only_reject(dec(DEV, payload))
    assert (r.reason_code, r.field) == ("parse_error", "payload")
    assert "empty" in r.detail


@pytest.mark.parametrize(
    ("payload", "offset"),
    [
        (b"\xff", 0),
        (b'{"ts": 1, "metrics": {"rain_mm": 1}}\xc3\x28', 36),
        (b'{"ts": "\xed\xa0\x80"}', 8),  # an encoded surrogate is not UTF-8
        (b'{"ts": 1, "m\xe9trics": {}}', 12),  # Latin-1, not UTF-8
    ],
)
def test_not_utf8(payload: bytes, offset: int) -> None:
    r = only_reject(dec(DEV, payload))
    assert (r.reason_code, r.field) == ("not_utf8", "payload")
    assert f"at offset {offset}" in r.detail


@pytest.mark.parametrize(
    "payload",
    [
        b'{"ts": 1, "metrics": ',
        b'{"ts": 1, "metrics": {}} trailing',
        b"\xef\xbb\xbf{}",  # byte-order mark
        b"{'ts': 1}",
        b"ts=1&rain_mm=2",
        b'{"ts": 1, "metrics": {"rain_mm": 01}}',
        b"SELECT * FROM readings",
    ],
)
def test_parse_errors(payload: bytes) -> None:
    r = only_reject(dec(DEV, payload))
    assert (r.reason_code, r.field) == ("parse_error", "payload")
    assert r.detail.startswith("payload: not valid JSON: ")


def test_deep_nesting_beyond_the_parser_limit_is_too_deep() -> None:
    for payload in (b"[" * 3000 + b"]" * 3000, b'{"a":' * 3000 + b"1" + b"}" * 3000):
        r = only_reject(dec(DEV, payload, max_payload=100_000))
        assert (r.reason_code, r.field) == ("too_deep", "payload")


def test_deep_nesting_with_nan_uses_the_same_rule() -> None:
    payload = b"[" * 3000 + b"NaN" + b"]" * 3000
    assert codes(dec(DEV, payload, max_payload=100_000)) == ["too_deep"]
    payload = b'{"ts": 1750000000, "metrics": {"rain_mm": NaN, "x": ' + b"[" * 20 + b"]" * 20 + b"}}"
    assert codes(dec(DEV, payload)) == ["too_deep"]


def test_a_deeply_nested_metric_value_is_too_deep_a_shallow_one_non_numeric() -> None:
    deep: object = 1.0
    for _ in range(7):
        deep = [deep]
    out = dec(DEV, {"ts": NOW, "metrics": {"rain_mm": deep, "pm10": [[1]], "salinity_ppt": 1}})
    assert out.readings == [(NOW, "sal-01", "salinity_ppt", 1.0)]
    assert [(r.reason_code, r.field) for r in out.rejects] == [
        ("too_deep", "metrics.rain_mm"),
        ("non_numeric", "metrics.pm10"),
    ]


# --- publisher checks ---------------------------------------------------------------------------
def test_unknown_device() -> None:
    r = only_reject(dec("ops/v1/devices/ghost-9/telemetry", {"ts": NOW, "metrics": {"rain_mm": 1}}))
    assert (r.reason_code, r.field, r.device_id) == ("unknown_device", "topic", "ghost-9")
    assert "'ghost-9' is not registered" in r.detail


def test_disabled_device() -> None:
    r = only_reject(dec("ops/v1/devices/off-01/telemetry", {"ts": NOW, "metrics": {"rain_mm": 1}}))
    assert (r.reason_code, r.device_id) == ("disabled_device", "off-01")


def test_publisher_is_checked_before_the_payload_is_parsed() -> None:
    assert codes(dec("ops/v1/devices/ghost-9/telemetry", b"\xff not json")) == ["unknown_device"]


@pytest.mark.parametrize("device_id", ["x' OR '1'='1", "dev;DROP", "dеv", "a" * 65, "+", "*"])
def test_bad_device_id_in_topic(device_id: str) -> None:
    out = dec(f"ops/v1/devices/{device_id}/telemetry", {"ts": NOW, "metrics": {"rain_mm": 1}})
    r = only_reject(out)
    assert (r.reason_code, r.field, r.device_id) == ("bad_device_id", "topic", None)
    assert out.topic is None


def test_bad_topic() -> None:
    out = dec("ops/v1/devices/sal-01/commands", {"ts": NOW, "metrics": {"rain_mm": 1}})
    assert codes(out) == ["bad_topic"] and out.topic is None


class ListRegistry:
    """A DeviceLookup that is not a dict: the decoder needs only ``get``."""

    def __init__(self, devices: list[DeviceInfo]) -> None:
        self._devices = devices

    def get(self, device_id: str, /) -> DeviceInfo | None:
        return next((d for d in self._devices if d.device_id == device_id), None)


def test_any_object_with_get_is_a_registry() -> None:
    reg = ListRegistry([DeviceInfo("sal-01", True, None, "salinity", None)])
    assert dec(DEV, {"ts": NOW, "metrics": {"rain_mm": 1}}, registry=reg).readings


# --- SenML on a device topic ----------------------------------------------------------------------
def test_senml_single_record_absolute_time() -> None:
    out = dec(DEV, [{"n": "salinity_ppt", "v": 4.5, "t": NOW - 5, "u": "ppt"}])
    assert out.readings == [(NOW - 5, "sal-01", "salinity_ppt", 4.5)] and not out.rejects


def test_senml_base_name_and_time_resolution() -> None:
    pack = [
        {"bn": "urn:dev:sal-01:", "bt": NOW - 100, "n": "salinity_ppt", "v": 1.0},
        {"n": "salinity_ppt", "t": 10, "v": 2.0},  # bt + t
        {"n": "water_level_cm", "t": -20, "v": 3.0},
        {"bn": "sal-01:", "n": "rain_mm", "v": 4},  # new base name, base time still in force
        {"bn": "", "n": "battery_v", "v": 3.6},  # bare name: the topic's device
        {"bn": "sal-", "n": "01:temperature_c", "v": 30},  # the name is bn + n, split after joining
    ]
    out = dec(DEV, pack)
    assert not out.rejects
    assert out.readings == [
        (NOW - 100, "sal-01", "salinity_ppt", 1.0),
        (NOW - 90, "sal-01", "salinity_ppt", 2.0),
        (NOW - 120, "sal-01", "water_level_cm", 3.0),
        (NOW - 100, "sal-01", "rain_mm", 4.0),
        (NOW - 100, "sal-01", "battery_v", 3.6),
        (NOW - 100, "sal-01", "temperature_c", 30.0),
    ]


def test_senml_relative_times_count_from_now() -> None:
    pack = [
        {"n": "rain_mm", "v": 1},  # no time at all: now
        {"n": "rain_mm", "v": 2, "t": 0},
        {"n": "rain_mm", "v": 3, "t": -60},
        {"n": "rain_mm", "v": 4, "t": 120},  # small positive: that far in the future (within tolerance)
        {"bt": -30, "n": "rain_mm", "v": 5, "t": -5},  # relative base time
        {"n": "rain_mm", "v": 6, "t": 600},  # relative, beyond the 5-minute tolerance
        {"bt": 0, "n": "rain_mm", "v": 7, "t": -(MAX_AGE + 1)},
    ]
    out = dec(DEV, pack)
    assert out.readings == [
        (NOW, "sal-01", "rain_mm", 1.0),
        (NOW, "sal-01", "rain_mm", 2.0),
        (NOW - 60, "sal-01", "rain_mm", 3.0),
        (NOW + 120, "sal-01", "rain_mm", 4.0),
        (NOW - 35, "sal-01", "rain_mm", 5.0),
    ]
    assert [(r.reason_code, r.field) for r in out.rejects] == [
        ("ts_in_future", "[5].t"),
        ("ts_too_old", "[6].t"),
    ]


def test_senml_times_at_and_above_2_pow_28_are_absolute() -> None:
    out = dec(DEV, [{"n": "rain_mm", "v": 1, "t": 2**28}])
    assert codes(out) == ["ts_too_old"]  # 1978: absolute, not "2**28 s from now"
    out = dec(DEV, [{"n": "rain_mm", "v": 1, "t": 2**28 - 1}])
    assert codes(out) == ["ts_in_future"]  # relative: about 8.5 years ahead


def test_senml_base_time_too_old_names_bt() -> None:
    out = dec(DEV, [{"bt": NOW - MAX_AGE - 10, "n": "rain_mm", "v": 1}])
    r = only_reject(out)
    assert (r.reason_code, r.field) == ("ts_too_old", "[0].bt")


def test_senml_bad_time_types() -> None:
    out = dec(DEV, [{"n": "rain_mm", "v": 1, "t": "now"}, {"n": "rain_mm", "v": 1, "t": True}])
    assert [(r.reason_code, r.field) for r in out.rejects] == [
        ("bad_timestamp", "[0].t"),
        ("bad_timestamp", "[1].t"),
    ]


def test_senml_base_value_and_units() -> None:
    pack = [
        {"bv": 10, "bu": "cm", "n": "water_level_cm", "v": 5},  # 10 + 5
        {"n": "water_level_cm", "v": -3},
        {"bv": 0, "n": "temperature_c", "u": "Cel", "v": 30},
        {"n": "temperature_c", "u": "°C", "v": 31},
        {"n": "salinity_ppt", "u": "/1000", "v": 12},
        {"n": "temperature_c", "u": "degF", "v": 86},
        {"n": "water_level_cm", "v": 1},  # base unit "cm" still in force and fine
        {"bu": "m", "n": "water_level_cm", "v": 1},
        {"n": "rain_mm", "u": 5, "v": 1},
    ]
    out = dec(DEV, pack)
    assert out.readings == [
        (NOW, "sal-01", "water_level_cm", 15.0),
        (NOW, "sal-01", "water_level_cm", 7.0),
        (NOW, "sal-01", "temperature_c", 30.0),
        (NOW, "sal-01", "temperature_c", 31.0),
        (NOW, "sal-01", "salinity_ppt", 12.0),
        (NOW, "sal-01", "water_level_cm", 1.0),
    ]
    assert [(r.reason_code, r.field) for r in out.rejects] == [
        ("unit_mismatch", "[5].u"),
        ("unit_mismatch", "[7].bu"),
        ("bad_shape", "[8].u"),
    ]
    assert "temperature_c unit 'degF' is not one of" in out.rejects[0].detail


@pytest.mark.parametrize(
    ("record", "code", "field"),
    [
        ({"n": "rain_mm", "vs": "12"}, "non_numeric", "[0].vs"),
        ({"n": "rain_mm", "vb": True}, "non_numeric", "[0].vb"),
        ({"n": "rain_mm", "vd": "aGVsbG8"}, "non_numeric", "[0].vd"),
        ({"n": "rain_mm", "v": "12"}, "non_numeric", "[0].v"),
        ({"n": "rain_mm", "v": False}, "non_numeric", "[0].v"),
        ({"n": "rain_mm", "v": None}, "non_numeric", "[0].v"),
        ({"n": "rain_mm", "s": 12}, "bad_shape", "[0].s"),
        ({"n": "rain_mm"}, "bad_shape", "[0]"),
        ({"n": "rain_mm", "v": 900}, "out_of_range", "[0].v"),
        ({"n": "rain_mm; DROP TABLE readings", "v": 1}, "unknown_metric", "[0].n"),
        ({"n": "RAIN_MM", "v": 1}, "unknown_metric", "[0].n"),
        ({"v": 1}, "bad_shape", "[0].n"),
        ({"n": 5, "v": 1}, "bad_shape", "[0].n"),
        ({"n": "urn:dev:sal-01", "v": 1}, "bad_shape", "[0].n"),
        ({"n": "rain_mm", "v": 1, "x_": 1}, "bad_shape", "[0]"),
    ],
)
def test_senml_record_rejections(record: dict, code: str, field: str) -> None:
    r = only_reject(dec(DEV, [record]))
    assert (r.reason_code, r.field) == (code, field), r


def test_senml_unknown_labels_without_underscore_are_ignored() -> None:
    out = dec(DEV, [{"n": "rain_mm", "v": 1, "ut": 60, "note": "x"}])
    assert out.readings == [(NOW, "sal-01", "rain_mm", 1.0)] and not out.rejects


def test_senml_base_only_records_yield_nothing_and_no_rejection() -> None:
    out = dec(DEV, [{"bn": "sal-01:", "bt": NOW - 1, "bver": 10}, {"n": "rain_mm", "v": 1}])
    assert out.readings == [(NOW - 1, "sal-01", "rain_mm", 1.0)] and not out.rejects


@pytest.mark.parametrize(
    ("base", "field"),
    [
        ({"bn": 5}, "[1].bn"),
        ({"bt": "yesterday"}, "[1].bt"),
        ({"bt": True}, "[1].bt"),
        ({"bv": [1]}, "[1].bv"),
        ({"bs": "x"}, "[1].bs"),
        ({"bu": 7}, "[1].bu"),
        ({"bver": 11}, "[1].bver"),
        ({"bver": 2.5}, "[1].bver"),
    ],
)
def test_senml_invalid_base_field_rejects_that_record_and_all_after_it(base: dict, field: str) -> None:
    pack = [
        {"n": "rain_mm", "v": 1},
        base | {"n": "rain_mm", "v": 2},
        {"n": "rain_mm", "v": 3},
        {"bn": "", "bt": 0, "bu": "mm", "bv": 0, "n": "rain_mm", "v": 4},
    ]
    out = dec(DEV, pack)
    assert out.readings == [(NOW, "sal-01", "rain_mm", 1.0)]
    assert [(r.reason_code, r.field) for r in out.rejects] == [
        ("bad_shape", field),
        ("bad_shape", "[2]"),
        ("bad_shape", "[3]"),
    ]
    assert f"invalid base field {field}" in out.rejects[1].detail


def test_senml_foreign_device_on_a_device_topic() -> None:
    pack = [
        {"n": "sal-01:rain_mm", "v": 1},
        {"n": "rain-1:rain_mm", "v": 2},  # a real device, but not this topic's
        {"n": "urn:dev:ghost:rain_mm", "v": 3},
        {"n": "bad id:rain_mm", "v": 4},
    ]
    out = dec(DEV, pack)
    assert out.readings == [(NOW, "sal-01", "rain_mm", 1.0)]
    assert [(r.reason_code, r.field, r.device_id) for r in out.rejects] == [
        ("foreign_device", "[1].n", "rain-1"),
        ("foreign_device", "[2].n", "ghost"),
        ("bad_device_id", "[3].n", "sal-01"),
    ]
    assert "published on the topic of device 'sal-01'" in out.rejects[0].detail


def test_senml_records_that_are_not_objects() -> None:
    out = dec(DEV, [1, "x", None, [], {"n": "rain_mm", "v": 1}])
    assert len(out.readings) == 1
    assert [(r.reason_code, r.field) for r in out.rejects] == [("bad_shape", f"[{i}]") for i in range(4)]


def test_senml_mixed_pack_keeps_good_records() -> None:
    pack = [{"n": "rain_mm", "v": i, "t": -i} for i in range(20)]
    pack[3]["v"] = "wet"
    pack[7]["v"] = 10_000
    pack[11]["n"] = "nope"
    pack[15]["t"] = 1e12
    out = dec(DEV, pack)
    assert len(out.readings) == 16
    assert [(r.reason_code, r.field) for r in out.rejects] == [
        ("non_numeric", "[3].v"),
        ("out_of_range", "[7].v"),
        ("unknown_metric", "[11].n"),
        ("ts_in_future", "[15].t"),
    ]
    assert "rain_mm value 10000 out of range [0, 500]" in out.rejects[1].detail


# --- gateway packs --------------------------------------------------------------------------------
def test_gateway_pack_for_devices_behind_it() -> None:
    pack = [
        {"bn": "urn:dev:rain-1:", "bt": NOW - 60, "n": "rain_mm", "v": 1.5},
        {"n": "battery_v", "v": 3.3},
        {"bn": "", "n": "rain-2:rain_mm", "v": 0, "t": 30},
        {"n": "battery_v", "v": 12.1},  # a bare name: the gateway's own metric
        {"n": "gw-1:signal_rssi_dbm", "v": -70},  # the gateway by name
    ]
    out = dec(GW, pack)
    assert not out.rejects
    assert out.readings == [
        (NOW - 60, "rain-1", "rain_mm", 1.5),
        (NOW - 60, "rain-1", "battery_v", 3.3),
        (NOW - 30, "rain-2", "rain_mm", 0.0),
        (NOW - 60, "gw-1", "battery_v", 12.1),
        (NOW - 60, "gw-1", "signal_rssi_dbm", -70.0),
    ]


def test_gateway_pack_with_foreign_unknown_and_disabled_devices() -> None:
    pack = [
        {"n": "rain-1:rain_mm", "v": 1},
        {"n": "other-1:rain_mm", "v": 2},  # behind gw-2
        {"n": "sal-01:rain_mm", "v": 3},  # behind no gateway
        {"n": "ghost:rain_mm", "v": 4},
        {"n": "rain-off:rain_mm", "v": 5},
        {"n": "gw-2:rain_mm", "v": 6},  # another gateway
        {"n": "x'--:rain_mm", "v": 7},
        {"n": "other-1:rain_mm", "v": 8},  # the cached verdict still names this record
        {"n": "rain-2:rain_mm", "v": 9},
    ]
    out = dec(GW, pack)
    assert out.readings == [(NOW, "rain-1", "rain_mm", 1.0), (NOW, "rain-2", "rain_mm", 9.0)]
    assert [(r.reason_code, r.field, r.device_id) for r in out.rejects] == [
        ("foreign_device", "[1].n", "other-1"),
        ("foreign_device", "[2].n", "sal-01"),
        ("unknown_device", "[3].n", "ghost"),
        ("disabled_device", "[4].n", "rain-off"),
        ("foreign_device", "[5].n", "gw-2"),
        ("bad_device_id", "[6].n", "gw-1"),
        ("foreign_device", "[7].n", "other-1"),
    ]
    assert "not behind gateway 'gw-1' (registered behind gateway 'gw-2')" in out.rejects[0].detail
    assert "(registered behind no gateway)" in out.rejects[1].detail


def test_gateway_pack_base_names_checked_once_and_reported_per_record() -> None:
    pack = [
        {"bn": "urn:dev:other-1:", "bt": NOW, "n": "rain_mm", "v": 1},
        {"n": "battery_v", "v": 3},
        {"bn": "ghost:", "n": "rain_mm", "v": 1},
        {"bn": "urn:dev:rain-1:", "n": "rain_mm", "v": 2},
        {"n": "battery_v", "v": 3.1},
        {"bn": ":", "n": "rain_mm", "v": 1},
        {"bn": "urn:dev:", "n": "rain_mm", "v": 1},
        {"n": "rain-2:rain_mm", "v": 4},  # "urn:dev:" + "rain-2:rain_mm"
    ]
    out = dec(GW, pack)
    assert out.readings == [
        (NOW, "rain-1", "rain_mm", 2.0),
        (NOW, "rain-1", "battery_v", 3.1),
        (NOW, "rain-2", "rain_mm", 4.0),
    ]
    assert [(r.reason_code, r.field, r.device_id) for r in out.rejects] == [
        ("foreign_device", "[0].n", "other-1"),
        ("foreign_device", "[1].n", "other-1"),
        ("unknown_device", "[2].n", "ghost"),
        ("bad_device_id", "[5].n", "gw-1"),
        ("bad_shape", "[6].n", "gw-1"),
    ]


def test_device_topic_base_name_of_another_device_is_foreign() -> None:
    out = dec(DEV, [{"bn": "urn:dev:rain-1:", "n": "rain_mm", "v": 1}, {"n": "battery_v", "v": 3}])
    assert [(r.reason_code, r.field, r.device_id) for r in out.rejects] == [
        ("foreign_device", "[0].n", "rain-1"),
        ("foreign_device", "[1].n", "rain-1"),
    ]


def test_gateway_pack_of_fifty_records() -> None:
    metrics = ["water_level_cm", "salinity_ppt", "battery_v", "rain_mm", "temperature_c"]
    pack = [{"n": f"node-{i // 5}:{metrics[i % 5]}", "v": 1.0 + i % 7, "t": NOW - i} for i in range(50)]
    out = dec(GW, pack)
    assert len(out.readings) == 50 and not out.rejects
    assert out.readings[7] == (NOW - 7, "node-1", "battery_v", 1.0)


def test_gateway_topic_needs_a_senml_array() -> None:
    r = only_reject(dec(GW, {"ts": NOW, "metrics": {"rain_mm": 1}}))
    assert (r.reason_code, r.field) == ("bad_shape", "payload")
    assert "expected a SenML array" in r.detail


def test_gateway_itself_must_be_registered_and_enabled() -> None:
    pack = [{"n": "rain-1:rain_mm", "v": 1}]
    assert codes(dec("ops/v1/gateways/gw-x/telemetry", pack)) == ["unknown_device"]
    assert codes(dec("ops/v1/gateways/gw-off/telemetry", pack)) == ["disabled_device"]


# --- status -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("payload", "online"),
    [(b"online", True), (b"offline", False), (b" online\n", True), (b'{"state": "offline"}', False)],
)
def test_status(payload: bytes, online: bool) -> None:
    out = dec("ops/v1/devices/sal-01/status", payload)
    assert out.status == DeviceStatus("sal-01", online, NOW)
    assert not out.rejects and not out.readings


def test_gateway_status() -> None:
    out = dec("ops/v1/gateways/gw-1/status", b"offline")
    assert out.status == DeviceStatus("gw-1", False, NOW)


def test_empty_status_clears_a_retained_message_and_is_not_an_error() -> None:
    out = dec("ops/v1/devices/sal-01/status", b"")
    assert out.status is None and not out.rejects


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        (b"ONLINE", "bad_shape", "payload"),
        (b"1", "bad_shape", "payload"),
        (b"online; DROP TABLE devices", "bad_shape", "payload"),
        (b'{"state": "up"}', "bad_shape", "state"),
        (b'{"state": true}', "bad_shape", "state"),
        (b'{"state": "online", "fw": "1.2"}', "bad_shape", "fw"),
        (b"{}", "bad_shape", "state"),
        (b'{"state": ', "parse_error", "payload"),
        (b"\xffonline", "not_utf8", "payload"),
    ],
)
def test_bad_status(payload: bytes, code: str, field: str) -> None:
    out = dec("ops/v1/devices/sal-01/status", payload)
    r = only_reject(out)
    assert out.status is None
    assert (r.reason_code, r.field, r.device_id) == (code, field, "sal-01")


def test_status_of_unknown_device() -> None:
    assert codes(dec("ops/v1/devices/ghost/status", b"online")) == ["unknown_device"]


# --- events -----------------------------------------------------------------------------------------
EV = "ops/v1/devices/sal-01/events"


def test_event_full() -> None:
    payload = {
        "ts": "2025-06-15T22:00:00+07:00",
        "kind": "door.open",
        "severity": "warning",
        "message": "Cửa tủ mở",
        "data": {"door": 2, "by": ["a", {"b": None}]},
    }
    out = dec(EV, payload)
    assert not out.rejects and not out.readings
    assert out.events == [
        DeviceEvent(NOW - 6 * 60 - 40, "sal-01", "door.open", "warning", "Cửa tủ mở", payload["data"])  # type: ignore[arg-type]
    ]


def test_event_defaults() -> None:
    out = dec(EV, {"ts": NOW, "kind": "reboot"})
    assert out.events == [DeviceEvent(NOW, "sal-01", "reboot", "info", None, None)]


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        ({"kind": "reboot"}, "bad_shape", "ts"),
        ({"ts": NOW}, "bad_shape", "kind"),
        ({"ts": NOW, "kind": "Reboot Now"}, "bad_shape", "kind"),
        ({"ts": NOW, "kind": "x'; DROP TABLE events;--"}, "bad_shape", "kind"),
        ({"ts": NOW, "kind": 5}, "bad_shape", "kind"),
        ({"ts": NOW, "kind": "reboot", "severity": "fatal"}, "bad_shape", "severity"),
        ({"ts": NOW, "kind": "reboot", "severity": ["info"]}, "bad_shape", "severity"),
        ({"ts": NOW, "kind": "reboot", "message": "x" * 2001}, "bad_shape", "message"),
        ({"ts": NOW, "kind": "reboot", "message": 5}, "bad_shape", "message"),
        ({"ts": NOW, "kind": "reboot", "data": [1]}, "bad_shape", "data"),
        ({"ts": NOW, "kind": "reboot", "extra": 1}, "bad_shape", "extra"),
        ({"ts": NOW + 3600, "kind": "reboot"}, "ts_in_future", "ts"),
        ({"ts": NOW - MAX_AGE - 1, "kind": "reboot"}, "ts_too_old", "ts"),
        ({"ts": "soon", "kind": "reboot"}, "bad_timestamp", "ts"),
        ([{"ts": NOW, "kind": "reboot"}], "bad_shape", "payload"),
    ],
)
def test_bad_events(payload: object, code: str, field: str) -> None:
    out = dec(EV, payload)
    r = only_reject(out)
    assert out.events == []
    assert (r.reason_code, r.field) == (code, field), r


def test_event_data_nesting_limit() -> None:
    data: object = 1
    for _ in range(7):
        data = {"k": data}
    assert dec(EV, {"ts": NOW, "kind": "x", "data": data}).events  # 8 levels counting the top object: fine
    r = only_reject(dec(EV, {"ts": NOW, "kind": "x", "data": {"k": data}}))
    assert (r.reason_code, r.field) == ("too_deep", "data.k.k.k.k.k.k.k")


def test_event_data_with_nan_is_not_finite() -> None:
    r = only_reject(dec(EV, b'{"ts": 1750000000, "kind": "x", "data": {"a": [1, NaN]}}'))
    assert (r.reason_code, r.field) == ("not_finite", "data.a[1]")


# --- value_repr capping and robustness -------------------------------------------------------------
def test_value_repr_is_capped() -> None:
    out = dec(DEV, {"ts": NOW, "metrics": {"rain_mm": "x" * 3000, "y" * 3000: 1}}, max_payload=10_000)
    assert codes(out) == ["non_numeric", "unknown_metric"]
    for r in out.rejects:
        assert r.value_repr is not None and len(r.value_repr) == 200 and r.value_repr.endswith("…")
        assert len(r.detail) < 700


def test_unicode_in_names_and_values_is_escaped_in_rejections() -> None:
    out = dec(DEV, {"ts": NOW, "metrics": {"mưa\u200b": 1, "rain_mm": "\u202emm"}})
    assert codes(out) == ["unknown_metric", "non_numeric"]
    assert "\\u200b" in out.rejects[0].detail
    assert "\\u202e" in out.rejects[1].detail  # a right-to-left override is shown escaped, not applied


def _mutations(rng: random.Random) -> list[bytes]:
    seeds = [
        orjson.dumps({"ts": NOW, "metrics": {"rain_mm": 1, "salinity_ppt": 3}}),
        orjson.dumps(
            [
                {"bn": "urn:dev:rain-1:", "bt": NOW, "n": "rain_mm", "v": 1, "u": "mm"},
                {"n": "battery_v", "v": 2},
            ]
        ),
        orjson.dumps({"ts": NOW, "kind": "reboot", "data": {"a": [1, 2]}}),
        b'{"state": "online"}',
    ]
    junk = [
        b"NaN",
        b"Infinity",
        b"1e999",
        b"[",
        b"]",
        b"{",
        b"}",
        b'"',
        b":",
        b",",
        b"\xff",
        b"\\u0000",
        b"null",
        b"-",
    ]
    out = []
    for _ in range(3000):
        b = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(len(b) + 1)
            op = rng.random()
            if op < 0.4:
                b[pos:pos] = rng.choice(junk)
            elif op < 0.7:
                del b[pos : pos + rng.randint(1, 5)]
            else:
                b[pos:pos] = bytes([rng.randrange(256)])
        out.append(bytes(b))
    return out


def test_decoder_never_raises_on_garbage() -> None:
    rng = random.Random(20250615)
    topics = [DEV, GW, EV, "ops/v1/devices/sal-01/status", "ops/v1/gateways/gw-1/status"]
    for payload in _mutations(rng):
        for topic in topics:
            out = dec(topic, payload)
            assert out.readings or out.rejects or out.status or out.events or payload.strip() == b""
            for ts, device_id, metric, value in out.readings:
                assert type(ts) is float and type(value) is float and value == value
                assert device_id in REGISTRY and metric in CAT


# --- catalogue ----------------------------------------------------------------------------------------
def test_default_catalogue_ranges() -> None:
    expected = {
        "salinity_ppt": (0, 50),
        "water_level_cm": (-500, 1000),
        "rain_mm": (0, 500),
        "pm2_5": (0, 1000),
        "pm10": (0, 1000),
        "temperature_c": (-20, 60),
        "humidity_pct": (0, 100),
        "battery_v": (0, 30),
        "lamp_power_w": (0, 2000),
        "flood_depth_cm": (0, 500),
    }
    for name, bounds in expected.items():
        assert (CAT[name].min, CAT[name].max) == bounds
        assert CAT.bounds[name] == bounds
        assert CAT[name].unit and CAT[name].description
    assert len(CAT) == len(DEFAULT_METRICS) and set(CAT) == {m.name for m in DEFAULT_METRICS}


def test_load_catalogue_yaml_overrides_and_extends(tmp_path: Path) -> None:
    path = tmp_path / "metrics.yaml"
    path.write_text(
        "metrics:\n"
        "  salinity_ppt: {max: 60}\n"
        "  nitrate_mg_l: {unit: mg/l, min: 0, max: 100, description: Nitrate}\n",
        encoding="utf-8",
    )
    cat = load_catalogue(path)
    assert cat["salinity_ppt"] == Metric("salinity_ppt", "ppt", 0.0, 60.0, CAT["salinity_ppt"].description)
    assert cat["nitrate_mg_l"] == Metric("nitrate_mg_l", "mg/l", 0.0, 100.0, "Nitrate")
    assert cat.units["nitrate_mg_l"] == frozenset({"mg/l", "mg/L"})
    out = decode_message(
        DEV,
        orjson.dumps({"ts": NOW, "metrics": {"salinity_ppt": 55, "nitrate_mg_l": 7}}),
        NOW,
        REGISTRY,
        cat,
        MAX_PAYLOAD,
        MAX_AGE,
    )
    assert [r[2:] for r in out.readings] == [("salinity_ppt", 55.0), ("nitrate_mg_l", 7.0)]


def test_load_catalogue_json_list_form(tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"metrics": [{"name": "tide_cm", "unit": "cm", "min": -300, "max": 400}]}))
    cat = load_catalogue(str(path))
    assert cat["tide_cm"] == Metric("tide_cm", "cm", -300.0, 400.0, "")
    assert "salinity_ppt" in cat


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "metrics:\n  Salinity: {unit: x, min: 0, max: 1}\n",
            "name 'Salinity' is not a lower-case identifier",
        ),
        ('metrics:\n  "x; drop": {unit: x, min: 0, max: 1}\n', "name 'x; drop'"),
        ("metrics:\n  new_one: {unit: x, min: 0}\n", "metrics.new_one: new metric needs field(s) ['max']"),
        ("metrics:\n  salinity_ppt: {max: -1}\n", "metrics.salinity_ppt: min 0 must be below max -1"),
        (
            "metrics:\n  salinity_ppt: {max: abc}\n",
            "metrics.salinity_ppt: max: value 'abc' is not a finite number",
        ),
        ("metrics:\n  salinity_ppt: {max: .inf}\n", "max: value inf is not a finite number"),
        ("metrics:\n  salinity_ppt: {max: true}\n", "max: value True is not a finite number"),
        ("metrics:\n  salinity_ppt: {maximum: 3}\n", "metrics.salinity_ppt: unknown field(s) ['maximum']"),
        ("metrics:\n  salinity_ppt: {unit: ''}\n", "unit: value '' must be a non-empty string"),
        ("metrics:\n  salinity_ppt: 5\n", "metrics.salinity_ppt: expected a mapping, got 5"),
        ("metrics: 5\n", "metrics: expected a mapping or a list, got 5"),
        ("- a\n", "expected a mapping with a 'metrics' key"),
        ("metrics: {}\nextra: 1\n", "unknown top-level key(s) ['extra']"),
        ("metrics: [{unit: x}]\n", "metrics[0]: expected a mapping with a string 'name'"),
        ("metrics: {a: [unclosed\n", "not valid YAML"),
    ],
)
def test_load_catalogue_errors_name_field_and_value(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogueError) as info:
        load_catalogue(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_load_catalogue_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="cannot be read"):
        load_catalogue(tmp_path / "nope.yaml")


def test_catalogue_default_when_no_file() -> None:
    assert dict(load_catalogue(None)) == dict(CAT)
