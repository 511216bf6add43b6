"""What the fleet measured before the simulation started: ``--device-history-hours`` writes each device's readings
of the last hours (the same physics, one reading per expected interval, no anomalies) straight into the readings
store, so a first ``make up`` shows charts with days of data. Idempotent: the store ignores readings it holds."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from ingest.simulator import physics
from ingest.simulator.fleet import SimDevice
from ops_center.db import Conn
from ops_center.readings import ReadingRow, ReadingsStore

log = logging.getLogger("ingest.simulator")
BATCH = 50_000


def write_history(conn: Conn, devices: Sequence[SimDevice], hours: float, now: float | None = None) -> int:
    """Readings of ``devices`` over the ``hours`` before ``now``; returns how many were new."""
    end = now if now is not None else time.time()
    store = ReadingsStore.for_connection(conn)
    rows: list[ReadingRow] = []
    new = 0
    t0 = time.monotonic()
    for dev in devices:
        step = float(dev.expected_interval_s)
        t = end - hours * 3600.0
        t -= t % step  # aligned, so a re-run writes the same times (nothing new)
        prev: float | None = None
        while t < end:
            rows.extend((t, dev.id, metric, float(value)) for metric, value in physics.readings(dev.site, t, prev).items())
            prev, t = t, t + step
            if len(rows) >= BATCH:
                new += _write(conn, store, rows)
                rows = []
    new += _write(conn, store, rows)
    log.info("device history: %d new readings over %.0f h for %d devices in %.1f s", new, hours, len(devices),
             time.monotonic() - t0)
    return new


def _write(conn: Conn, store: ReadingsStore, rows: list[ReadingRow]) -> int:
    if not rows:
        return 0
    with conn.transaction():
        return store.write_batch(conn, rows).inserted
