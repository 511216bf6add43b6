"""Issue 11, item 1: no poison message stalls ingest.

A real ingest process, our Mosquitto, PostgreSQL. The issue's own message (a NUL in an event's message) used to make
the batch write fail and ingest retry that batch forever: nothing more was stored for anyone. Now what PostgreSQL
cannot store is refused by validation before the write (one dead letter naming the field and the value), and a write
the database refuses anyway (here a trigger, as an operator's constraint would) is split until the refusing message
stands alone: it is dead-lettered with the database's error and everything else commits. Counts are exact; the
"no stall" evidence is structural (no batch retried, splitting bounded by log2 of the batch), never a clock.
"""

from __future__ import annotations

import math
import time

import orjson

from tests.pipeline.conftest import ingest_factory  # noqa: F401  (the fixture)
from tests.security.support_h_ingest import (
    add_devices,
    letters,
    publish_all,
    readings_of,
    readings_trap,
    service_publisher,
    settle,
    uid,
    wait_until,
)


def reading(device: str, ts: float, value: float) -> tuple[str, bytes]:
    return f"ops/v1/devices/{device}/telemetry", orjson.dumps({"ts": ts, "metrics": {"water_level_cm": value}})


def test_unstorable_text_is_dead_lettered_and_the_stream_flows(stack, db, ingest_factory) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    prefix = uid("psn").replace("-", "_") + "_"
    dev = f"{prefix}0"
    add_devices(db, [dev])
    ing = ingest_factory()
    ing.start()
    now = time.time()
    events = f"ops/v1/devices/{dev}/events"
    poison = [
        (events, b'{"ts": %d, "kind": "door.open", "message": "a\\u0000b"}' % now),  # the message
        (events, b'{"ts": %d, "kind": "door.open", "data": {"k\\u0000": 1}}' % now),  # NUL in a key
        (events, b'{"ts": %d, "kind": "door.open", "message": "x\\ud800y"}' % now),  # a lone surrogate
        (events, b'{"ts": %d, "kind": "door.open", "data": {"n": 1e400}}' % now),  # a number out of range
        (events, b'{"ts": 1e300, "kind": "door.open"}'),  # a time out of any range
    ]
    m = service_publisher(stack.settings)
    try:
        publish_all(m, [reading(dev, now - 30, 1.0), *poison, reading(dev, now - 20, 2.0)])
        publish_all(m, [reading(dev, now - 10, 3.0)])  # after the poison: must not be stuck behind it
    finally:
        m.close()
    assert wait_until(lambda: readings_of(db, prefix), lambda n: n >= 3) == 3
    rows = settle(lambda: letters(db, f"ops/v1/devices/{dev}/%"))
    assert [r["reason"] for r in rows] == ["unstorable", "unstorable", "parse_error", "not_finite", "ts_in_future"]
    assert all(r["device_id"] == dev and r["reason_count"] == 1 for r in rows)
    assert rows[0]["field"] == "message" and "NUL" in rows[0]["detail"] and r"'a\x00b'" in rows[0]["detail"]
    assert rows[1]["field"] == r"data['k\x00']" and "NUL" in rows[1]["detail"]
    assert readings_of(db, prefix) == 3
    assert ing.metric("ingest_batch_retries_total") == 0.0  # no batch was ever retried
    assert ing.metric("ingest_isolated_messages_total") == 0.0  # validation caught them all before the write
    assert ing.terminate() == 0


def test_a_write_the_database_refuses_is_isolated_and_the_rest_commits(stack, db, ingest_factory) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    prefix = uid("trp").replace("-", "_") + "_"
    devices = [f"{prefix}{i}" for i in range(10)]
    add_devices(db, devices)
    batch_max = 256
    ing = ingest_factory(0, OPS_INGEST_BATCH_MAX=str(batch_max), OPS_INGEST_FLUSH_MS="1500")
    ing.start()
    now = time.time()
    trapped = {17, 101, 180}
    messages = [reading(devices[i % 10], now - 600 + i * 0.5, 666.25 if i in trapped else float(i % 400))
                for i in range(200)]
    with readings_trap(db, prefix.replace("_", r"\_") + "%", 666.25):
        m = service_publisher(stack.settings)
        try:
            publish_all(m, messages)
        finally:
            m.close()
        assert wait_until(lambda: readings_of(db, prefix), lambda n: n >= 197) == 197
        rows = settle(lambda: letters(db, f"ops/v1/devices/{prefix}%"))
    assert readings_of(db, prefix) == 197
    assert len(rows) == 3, rows
    for r in rows:
        assert r["reason"] == "write_failed" and r["reason_count"] == 1
        assert "23514" in r["detail"] and "refused by the trap" in r["detail"]  # the database's own words
        assert r["field"] == "readings.value" and r["device_id"].startswith(prefix)
        assert orjson.loads(bytes(r["payload"]))["metrics"]["water_level_cm"] == 666.25
    assert ing.metric("ingest_isolated_messages_total") == 3.0
    assert ing.metric("ingest_batch_retries_total") == 0.0  # never the same batch again: split, not retried
    depth = ing.metric("ingest_bisect_depth_max") or 0.0
    assert 1.0 <= depth <= math.ceil(math.log2(batch_max))
    batches = ing.metric("ingest_batches_total") or 0.0
    attempts = ing.metric("ingest_write_attempts_total") or 0.0
    assert attempts <= batches + 2 * 3 * math.ceil(math.log2(batch_max)) + 3  # + one letter write per isolated
    assert ing.terminate() == 0


def test_dossier_events_with_nul_on_the_egov_topic(stack, db, ingest_factory) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    unit = uid("UBND").upper()
    db.execute("INSERT INTO units (code, name, level) VALUES (%s, %s, 'commune') ON CONFLICT DO NOTHING",
               (unit, "UBND xã thử"))
    db.execute("INSERT INTO procedures (code, name, processing_days) VALUES ('P-NUL-1', 'Thủ tục', 3) "
               "ON CONFLICT DO NOTHING")
    ing = ingest_factory()
    ing.start()
    topic = f"ops/v1/egov/{unit}/dossiers"
    good = {"dossier_id": f"{unit}-1", "type": "received", "at": "2025-07-01T08:00:00+07:00",
            "channel": "counter", "procedure": "P-NUL-1"}
    body = b'[%s, {"dossier_id": "%s-2", "type": "resolved", "at": "2025-07-01T09:00:00+07:00", "x\\u0000": 1}]' % (
        orjson.dumps(good), unit.encode())
    later = orjson.dumps([dict(good, dossier_id=f"{unit}-3")])
    m = service_publisher(stack.settings)
    try:
        publish_all(m, [(topic, body), (topic, later)])
    finally:
        m.close()
    stored = wait_until(lambda: db.execute("SELECT count(*) FROM dossiers WHERE unit_code = %s",
                                           (unit,)).fetchone()[0], lambda n: n >= 2)
    assert stored == 2
    rows = settle(lambda: letters(db, topic))
    assert len(rows) == 1 and rows[0]["reason"] == "unstorable" and rows[0]["field"] == r"[1]['x\x00']"
    assert "NUL" in rows[0]["detail"]
    assert ing.metric("ingest_batch_retries_total") == 0.0
    assert ing.terminate() == 0
