"""A 30,000-message burst with poison messages of several kinds mixed in (issue 11, done-when).

The good readings come from the load generator in its own process; meanwhile the test publishes poison: NUL in an
event's message, NUL in a JSON key, a lone surrogate, numbers out of range, timestamps out of range, SenML packs with
one bad record, dossier events with NUL on the egov topic, and readings the database itself refuses (a trigger, as an
operator's constraint would). Exact counts: every good reading stored once, every poison message dead-lettered once.
No stall, shown by structure rather than a clock: no batch is ever retried, and splitting a refused batch never goes
deeper than log2 of the batch size nor costs more attempts than the bound of ``ingest.isolation``.
"""

from __future__ import annotations

import math
import secrets
import time

import orjson

from tests.pipeline.conftest import add_devices, count_readings, publish, wait_count
from tests.security.support_h_ingest import letters, publish_all, readings_trap, service_publisher, settle

N_BURST = 30_000
PER_KIND = 30
TRAP_VALUE = 666.25


def poison(prefix: str, unit: str, now: float) -> dict[str, list[tuple[str, bytes]]]:
    """Poison messages by kind (each must become exactly one dead letter); SenML packs also carry 3 good records."""
    kinds: dict[str, list[tuple[str, bytes]]] = {k: [] for k in (
        "nul_message", "nul_key", "surrogate", "huge_number", "bad_time", "senml_bad_record", "dossier_nul", "trap")}
    for j in range(PER_KIND):
        dev = f"{prefix}{j % 50}"
        ev, tel = f"ops/v1/devices/{dev}/events", f"ops/v1/devices/{dev}/telemetry"
        kinds["nul_message"].append((ev, b'{"ts": %f, "kind": "door.open", "message": "a\\u0000b"}' % (now - j)))
        kinds["nul_key"].append((ev, b'{"ts": %f, "kind": "door.open", "data": {"k\\u0000%d": 1}}' % (now - j, j)))
        kinds["surrogate"].append((ev, b'{"ts": %f, "kind": "door.open", "message": "\\udc00%d"}' % (now - j, j)))
        kinds["huge_number"].append((tel, b'{"ts": %f, "metrics": {"water_level_cm": 1e400}}' % (now - j)))
        kinds["bad_time"].append((tel, b'{"ts": "275760-09-13T00:00:00Z", "metrics": {"water_level_cm": %d}}' % j))
        t0 = now - 3600 + j * 10
        pack = [{"bn": f"{dev}:", "bt": t0, "n": "water_level_cm", "v": 1.5},
                {"n": "water_level_cm", "t": 1, "v": 2.5}, {"n": "water_level_cm", "t": 2, "v": 3.5},
                {"n": "water_level_cm", "t": 3, "v": 1e12}]
        kinds["senml_bad_record"].append((tel, orjson.dumps(pack)))
        kinds["dossier_nul"].append((f"ops/v1/egov/{unit}/dossiers",
                                     b'[{"dossier_id": "%s-%d", "type": "resolved", "at": '
                                     b'"2025-07-01T09:00:00+07:00", "note\\u0000": 1}]' % (unit.encode(), j)))
        kinds["trap"].append((tel, orjson.dumps({"ts": now - 5000 + j, "metrics": {"water_level_cm": TRAP_VALUE}})))
    return kinds


def interleave(kinds: dict[str, list[tuple[str, bytes]]]) -> list[tuple[str, bytes]]:
    out = []
    for j in range(PER_KIND):
        out += [msgs[j] for msgs in kinds.values()]
    return out


def test_burst_with_poison_mixed_in(stack, db, ingest_factory) -> None:  # type: ignore[no-untyped-def]
    prefix = f"pz{secrets.token_hex(3)}_"
    unit = f"U-PZ-{secrets.token_hex(3)}".upper()
    add_devices(db, prefix, 50)
    db.execute("INSERT INTO units (code, name, level) VALUES (%s, 'UBND thử', 'commune')", (unit,))
    batch_max = stack.settings.ingest_batch_max
    ing = ingest_factory()
    now = time.time()
    kinds = poison(prefix, unit, now)
    with readings_trap(db, prefix + "%", TRAP_VALUE):
        ing.start()
        pub = publish(stack, N_BURST, prefix=prefix, devices=50)
        m = service_publisher(stack.settings)
        try:
            publish_all(m, interleave(kinds))
        finally:
            m.close()
        assert pub.wait(180) == 0
        good = N_BURST + 3 * PER_KIND  # the burst and the good records of the SenML packs
        assert wait_count(db, prefix, good) == good
        device_rows = settle(lambda: letters(db, f"ops/v1/devices/{prefix}%"), quiet_s=2.0)
    dossier_rows = letters(db, f"ops/v1/egov/{unit}/dossiers")
    assert count_readings(db, prefix) == good

    by_reason: dict[str, int] = {}
    for r in device_rows + dossier_rows:
        assert r["reason_count"] == 1, r  # one row per message, one reason each here
        by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + 1
    assert by_reason == {
        "unstorable": 2 * PER_KIND + PER_KIND,  # NUL in a message, NUL in a key (events), NUL in a dossier key
        "parse_error": PER_KIND,  # the lone surrogate: not UTF-8 text once decoded
        "not_finite": PER_KIND,
        "bad_timestamp": PER_KIND,
        "out_of_range": PER_KIND,  # the SenML packs' bad record (their good records are stored)
        "write_failed": PER_KIND,  # refused by the database itself, isolated by splitting
    }, by_reason
    assert len(device_rows) + len(dossier_rows) == sum(len(v) for v in kinds.values())
    assert all(r["reasons"][0]["field"] == "[3].v" for r in device_rows if r["reason"] == "out_of_range")

    assert ing.metric("ingest_batch_retries_total") == 0.0  # no batch ever waited for a retry
    isolated = ing.metric("ingest_isolated_messages_total")
    assert isolated == float(PER_KIND)
    depth = ing.metric("ingest_bisect_depth_max") or 0.0
    assert 1.0 <= depth <= math.ceil(math.log2(batch_max))
    batches = ing.metric("ingest_batches_total") or 0.0
    attempts = ing.metric("ingest_write_attempts_total") or 0.0
    # each batch: at most 1 + 2·k·⌈log2 n⌉ attempts for its k refused messages, plus one letter write for each
    assert attempts <= batches + 2 * PER_KIND * math.ceil(math.log2(batch_max)) + PER_KIND
    assert ing.terminate() == 0
