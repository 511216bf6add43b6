"""The device payload JSON Schemas (generated from the decoder's definitions and the metric catalogue) agree with
the decoder, as the ``jsonschema`` validator sees them."""

from __future__ import annotations

import json
import time

import pytest
from jsonschema import Draft202012Validator

from ingest.catalogue import load_catalogue
from ingest.decode import decode_message
from ingest.schema import device_event, senml_pack, status, telemetry_json
from ops_center.devices.models import DeviceInfo

CAT = load_catalogue()
NOW = time.time()
REGISTRY = {"sal-01": DeviceInfo("sal-01", True, None, "salinity", "W1")}
TOPIC = "ops/v1/devices/sal-01/{}"


def decoded(channel: str, doc: object) -> tuple[int, list[str]]:
    raw = doc.encode() if isinstance(doc, str) else json.dumps(doc).encode()
    d = decode_message(TOPIC.format(channel), raw, NOW, REGISTRY, CAT, 65536, 7 * 86400)
    return len(d.readings) + len(d.events) + (d.status is not None), [r.reason_code for r in d.rejects]


def test_schemas_are_valid() -> None:
    for schema in (telemetry_json(CAT), senml_pack(CAT), status(), device_event()):
        Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("doc", [
    {"ts": NOW - 60, "metrics": {"salinity_ppt": 4.2, "water_temperature_c": 29.5}},
    {"ts": "2025-07-01T08:30:00+07:00", "metrics": {"water_level_cm": -35}},
])
def test_good_telemetry(doc) -> None:  # type: ignore[no-untyped-def]
    if isinstance(doc["ts"], str):
        doc = {**doc, "ts": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(NOW - 30))}
    assert Draft202012Validator(telemetry_json(CAT)).is_valid(doc)
    ok, rejects = decoded("telemetry", doc)
    assert ok and not rejects


@pytest.mark.parametrize("doc, reason", [
    ({"ts": NOW, "metrics": {"salinity_ppt": 75.2}}, "out_of_range"),
    ({"ts": NOW, "metrics": {"nitrate": 1.0}}, "unknown_metric"),
    ({"ts": NOW, "metrics": {"salinity_ppt": "4.2"}}, "non_numeric"),
    ({"ts": NOW, "metrics": {}}, "bad_shape"),
    ({"ts": NOW, "metrics": {"salinity_ppt": 4.2}, "extra": 1}, "bad_shape"),
    ({"ts": "2025-07-01T08:30:00", "metrics": {"salinity_ppt": 4.2}}, "bad_timestamp"),
    ({"metrics": {"salinity_ppt": 4.2}}, "bad_shape"),
])
def test_bad_telemetry(doc, reason) -> None:  # type: ignore[no-untyped-def]
    assert not Draft202012Validator(telemetry_json(CAT)).is_valid(doc)
    assert reason in decoded("telemetry", doc)[1]


def test_senml_and_events_and_status() -> None:
    pack = [{"bn": "urn:dev:sal-01:", "bt": NOW - 60, "n": "salinity_ppt", "u": "ppt", "v": 4.2},
            {"n": "salinity_ppt", "t": 30, "v": 4.0}]
    assert Draft202012Validator(senml_pack(CAT)).is_valid(pack)
    assert decoded("telemetry", pack) == (2, [])
    for bad in ([{"n": "salinity_ppt", "vs": "x"}], [{"n": "salinity_ppt", "v": 1, "must_": 1}], []):
        assert not Draft202012Validator(senml_pack(CAT)).is_valid(bad)
        assert decoded("telemetry", bad)[1]
    ev = {"ts": NOW - 5, "kind": "flood.detected", "severity": "critical", "message": "Ngập 32 cm",
          "data": {"depth_cm": 32}}
    assert Draft202012Validator(device_event()).is_valid(ev) and decoded("events", ev) == (1, [])
    bad_ev = {**ev, "severity": "urgent"}
    assert not Draft202012Validator(device_event()).is_valid(bad_ev) and decoded("events", bad_ev)[1]
    assert Draft202012Validator(status()).is_valid("online") and decoded("status", "online") == (1, [])
    assert Draft202012Validator(status()).is_valid({"state": "offline"})
    assert not Draft202012Validator(status()).is_valid("sleeping") and decoded("status", "sleeping")[1]
