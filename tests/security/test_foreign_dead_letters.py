"""Issue 11, item 12: a SenML record naming another device is filed under the publisher, not under the victim.

A device (or gateway) that names a device it may not speak for must not fill that device's dead letters (nor spend
its rate cap): the letter belongs to the topic's device, and its reason names the claimed device.
"""

from __future__ import annotations

import time

import orjson

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


def test_a_record_naming_another_device_is_filed_under_the_publisher(stack, db, ingest_factory) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    mallory, victim = uid("mal"), uid("vic")
    gw, behind, elsewhere = uid("gw"), uid("bh"), uid("else")
    add_devices(db, [mallory, victim])
    add_devices(db, [behind], gateway=gw)
    add_devices(db, [elsewhere])
    ing = ingest_factory()
    ing.start()
    now = time.time() - 30
    pack = [{"n": "water_level_cm", "t": now, "v": 1.0},
            {"n": f"{victim}:water_level_cm", "t": now, "v": 2.0},
            {"n": f"urn:dev:{victim}:water_level_cm", "t": now + 1, "v": 3.0}]
    gw_pack = [{"n": f"{behind}:water_level_cm", "t": now, "v": 4.0},
               {"n": f"{elsewhere}:water_level_cm", "t": now, "v": 5.0}]
    m = service_publisher(stack.settings)
    try:
        publish_all(m, [(f"ops/v1/devices/{mallory}/telemetry", orjson.dumps(pack)),
                        (f"ops/v1/gateways/{gw}/telemetry", orjson.dumps(gw_pack))])
    finally:
        m.close()
    assert wait_until(lambda: readings_of(db, mallory) + readings_of(db, behind), lambda n: n >= 2) == 2
    rows = settle(lambda: db.execute(
        "SELECT id, device_id, topic, reasons FROM dead_letters WHERE device_id = ANY(%s) OR topic LIKE %s "
        "OR topic LIKE %s ORDER BY id", ([mallory, victim, gw, elsewhere], f"%/{mallory}/%", f"%/{gw}/%")).fetchall())
    assert [(r[1], r[2]) for r in rows] == [(mallory, f"ops/v1/devices/{mallory}/telemetry"),
                                           (gw, f"ops/v1/gateways/{gw}/telemetry")]
    own = rows[0][3]
    assert [(x["reason"], x["field"], x["device_id"]) for x in own] == [
        ("foreign_device", "[1].n", victim), ("foreign_device", "[2].n", victim)]
    assert victim in own[0]["detail"] and mallory in own[0]["detail"]
    assert [(x["reason"], x["device_id"]) for x in rows[1][3]] == [("foreign_device", elsewhere)]
    assert letters(db, f"ops/v1/devices/{victim}/%") == []
    assert db.execute("SELECT count(*) FROM dead_letters WHERE device_id = ANY(%s)",
                      ([victim, elsewhere],)).fetchone()[0] == 0
    assert readings_of(db, victim) == 0 and readings_of(db, elsewhere) == 0
    assert ing.terminate() == 0
