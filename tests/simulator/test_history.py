"""``--device-history-hours``: each device's readings of the last hours, from the same physics, written once."""

from __future__ import annotations

import math

from ingest.simulator.fleet import generate_fleet
from ingest.simulator.history import write_history
from tests.live.conftest import tag


def test_history_is_complete_and_idempotent(db, geography) -> None:  # type: ignore[no-untyped-def]
    devices = generate_fleet(geography, 12, seed=7, prefix=f"h{tag()}")
    now = 1_767_225_600.0  # 2026-01-01 00:00 UTC: a whole multiple of every interval
    n = write_history(db, devices, 6.0, now=now)
    want = sum(len(d.metrics) * math.ceil(6 * 3600 / d.expected_interval_s) for d in devices)
    assert n == want
    rows = db.execute("SELECT count(*), min(time), max(time) FROM readings WHERE device_id = ANY(%s)",
                      ([d.id for d in devices],)).fetchone()
    assert rows[0] == want and rows[2].timestamp() < now and rows[1].timestamp() >= now - 6 * 3600
    assert write_history(db, devices, 6.0, now=now) == 0
