"""The hourly aggregates of a batch of readings, computed in Python as the batch is prepared for COPY.

When every reading of a batch is new (the common case), ``ops_center.readings`` copies the batch straight into
``readings`` and upserts the rollups from these aggregates, so the database neither reads the batch a second time
nor aggregates it (docs/ingest-performance.md). The buckets are exactly the server's: times are first turned into
what PostgreSQL stores for ``to_timestamp(t)`` (microseconds since 2000-01-01 UTC, rounded half to even as
``rint`` does), and hours are counted from the same origin as ``date_bin`` (local midnight, UTC+7). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
HOUR_US = 3_600_000_000


@dataclass(frozen=True, slots=True)
class Hourly:
    """Column arrays, one element per (device, metric, hour) of the batch: what the upsert statement unnests."""

    hours: list[int]
    """Hours since the rollups' origin."""
    devices: list[str]
    metrics: list[str]
    counts: list[int]
    mins: list[float]
    maxs: list[float]
    sums: list[float]
    last_times: list[float]
    """Epoch seconds of the latest reading, as given (the server turns it into the stored time)."""
    lasts: list[float]

    def __len__(self) -> int:
        return len(self.hours)


def pg_micros(t: float) -> int:
    """What PostgreSQL stores for ``to_timestamp(t)``: microseconds since 2000-01-01 UTC, half to even."""
    return round((t - PG_EPOCH) * 1e6)


def prepare(rows: Sequence[tuple[float, str, str, float]], origin: datetime,
            ) -> tuple[list[tuple[int, str, str, float]], Hourly]:
    """The rows with their stored times (for a binary COPY into a timestamptz column, whose wire format is these
    microseconds as int8) and their hourly aggregates. Times must be unique per (device, metric): the caller's
    insert fails otherwise and the batch takes the path that does not use these aggregates."""
    origin_us = pg_micros(origin.timestamp())
    out: list[tuple[int, str, str, float]] = []
    append = out.append
    groups: dict[tuple[str, str, int], list[float]] = {}
    get = groups.get
    for t, d, m, v in rows:
        us = round((t - PG_EPOCH) * 1e6)
        append((us, d, m, v))
        key = (d, m, (us - origin_us) // HOUR_US)
        g = get(key)
        if g is None:
            groups[key] = [1, v, v, v, us, t, v]
        else:
            g[0] += 1
            if v < g[1]:
                g[1] = v
            if v > g[2]:
                g[2] = v
            g[3] += v
            if us > g[4]:
                g[4], g[5], g[6] = us, t, v
    hourly = Hourly([k[2] for k in groups], [k[0] for k in groups], [k[1] for k in groups],
                    [int(g[0]) for g in groups.values()], [float(g[1]) for g in groups.values()],
                    [float(g[2]) for g in groups.values()], [float(g[3]) for g in groups.values()],
                    [g[5] for g in groups.values()], [float(g[6]) for g in groups.values()])
    # float(): psycopg cannot send a list of ints and floats mixed (a caller passing 100 beside 99.5 failed)
    return out, hourly
