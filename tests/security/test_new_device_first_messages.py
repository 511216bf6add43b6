"""Issue 11, item 13: a new device's first messages are not dead-lettered.

A device provisioned through the real API (``POST /devices``) publishes, with its own credentials and at once, a
SenML pack built by a third-party SenML library (PyPI ``senml``). Ingest must look the unknown id up before refusing
it. The periodic registry refresh is pushed out of the way (an hour) so only that look-up can accept the device, and
ids found absent are remembered for an hour too, so only the registry's change stamp can make ingest forget them.
"""

from __future__ import annotations

import time

import orjson
from fastapi.testclient import TestClient
from senml.senml import SenMLDocument, SenMLMeasurement

from tests.devices.conftest import Mqtt
from tests.pipeline.conftest import ingest_factory  # noqa: F401  (the fixture)
from tests.security.support_h_ingest import (
    add_devices,
    letters,
    publish_all,
    readings_of,
    service_publisher,
    settle,
    uid,
    wait_until,
)

N_RECORDS = 12


def provision(client: TestClient, admin, device_id: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    r = client.post("/devices", headers=admin.headers,
                    json={"id": device_id, "kind": "water_level", "name": "Trạm đo mực nước Năm Căn"})
    assert r.status_code == 201, r.text
    creds = r.json()["credentials"]
    return creds["username"], creds["password"]


def connect_as(settings, username: str, password: str) -> Mqtt:  # type: ignore[no-untyped-def]
    """The device's own connection (the broker reloads its password file on SIGHUP; give it a moment)."""
    deadline = time.monotonic() + 10
    while True:
        m = Mqtt(settings, username, password, client_id=uid("devc"))
        if not m.connect().is_failure:
            return m
        m.close()
        assert time.monotonic() < deadline, "the broker never accepted the new device's credentials"
        time.sleep(0.1)


def warm_up(stack, db, ingest) -> None:  # type: ignore[no-untyped-def]
    """A running ingest that has loaded its registry already (it loads it on its first batch), as in production."""
    known = uid("known")
    add_devices(db, [known])
    ingest.start()
    m = service_publisher(stack.settings)
    try:
        publish_all(m, [(f"ops/v1/devices/{known}/telemetry",
                         orjson.dumps({"ts": time.time() - 5, "metrics": {"water_level_cm": 1.0}}))])
    finally:
        m.close()
    assert wait_until(lambda: readings_of(db, known), lambda n: n >= 1) == 1


def senml_pack(device_id: str, base_time: float) -> bytes:
    """A pack from the third-party library: base name ``urn:dev:{id}:``, base time, relative record times."""
    base = SenMLMeasurement(name=f"urn:dev:{device_id}:", time=base_time)
    records = [SenMLMeasurement(name="water_level_cm", time=float(i), value=100.0 + i) for i in range(N_RECORDS)]
    return orjson.dumps(SenMLDocument(records, base=base).to_json())


def test_a_device_provisioned_through_the_api_is_accepted_at_once(stack, db, client: TestClient, admin,  # type: ignore[no-untyped-def]
                                                                   ingest_factory) -> None:  # noqa: F811
    ing = ingest_factory(0, OPS_INGEST_REGISTRY_REFRESH_S="3600", OPS_INGEST_REGISTRY_NEGATIVE_S="3600")
    warm_up(stack, db, ing)
    device_id = uid("new")
    m = connect_as(stack.settings, *provision(client, admin, device_id))
    try:
        publish_all(m, [(f"ops/v1/devices/{device_id}/telemetry", senml_pack(device_id, time.time() - 60))])
    finally:
        m.close()
    assert settle(lambda: readings_of(db, device_id)) == N_RECORDS
    assert letters(db, f"ops/v1/devices/{device_id}/%") == []
    assert ing.metric("ingest_registry_lookups_total", '{outcome="found"}') == 1.0
    assert ing.terminate() == 0


def test_an_id_found_absent_is_forgotten_when_the_registry_changes(stack, db, client: TestClient, admin,  # type: ignore[no-untyped-def]
                                                                    ingest_factory) -> None:  # noqa: F811
    ing = ingest_factory(0, OPS_INGEST_REGISTRY_REFRESH_S="3600", OPS_INGEST_REGISTRY_NEGATIVE_S="3600")
    warm_up(stack, db, ing)
    device_id = uid("late")
    topic = f"ops/v1/devices/{device_id}/telemetry"
    early = service_publisher(stack.settings)
    try:  # before it exists: refused, and remembered as absent for an hour
        publish_all(early, [(topic, senml_pack(device_id, time.time() - 120))])
    finally:
        early.close()
    rows = settle(lambda: letters(db, topic))
    assert [r["reason"] for r in rows] == ["unknown_device"] and rows[0]["device_id"] == device_id
    m = connect_as(stack.settings, *provision(client, admin, device_id))
    try:  # provisioned: the change stamp moved, so the remembered absence no longer counts
        publish_all(m, [(topic, senml_pack(device_id, time.time() - 60))])
    finally:
        m.close()
    assert settle(lambda: readings_of(db, device_id)) == N_RECORDS
    assert len(letters(db, topic)) == 1
    assert ing.terminate() == 0
