"""The readings store: the one module that owns ``readings``, its rollups and the latest-value table.

Both storage flavours serve the same calls with the same results:

- ``write_batch`` is idempotent: a reading is keyed by (device_id, metric, time); writing it again changes nothing,
  so redelivered MQTT messages are harmless. It returns how many readings were new.
- ``range`` reads raw readings; ``bucketed`` aggregates over any interval, from the hourly or daily rollup when the
  interval is a whole number of hours or days (never a raw scan then), else from raw readings; ``band`` does the same
  for charts (count, min, max, mean of several metrics in one statement); ``latest`` reads the latest-value table.

Buckets are aligned on local midnight in Việt Nam (UTC+7, no daylight saving): a "day" is a Cà Mau day.
In the ``postgres`` flavour the store keeps the rollups current itself, in the same statement as the insert, and
creates daily partitions on demand. In the ``timescale`` flavour the rollups are continuous aggregates with real-time
aggregation; ``refresh`` materialises them (the policy does the same in production).
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from psycopg import errors, pq

from ops_center import readings_sql as sql
from ops_center import rollups
from ops_center.db import Conn
from ops_center.flavour import Flavour, current
from ops_center.readings_sql import ORIGIN_SQL

Agg = Literal["count", "min", "max", "sum", "avg", "last"]
AGGS: tuple[Agg, ...] = ("count", "min", "max", "sum", "avg", "last")
ORIGIN = datetime(2000, 1, 2, 17, 0, tzinfo=UTC)  # 2000-01-03 00:00 +07:00, a Monday, local midnight
_ORIGIN_EPOCH = ORIGIN.timestamp()
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)

ReadingRow = tuple[float, str, str, float]
"""``(epoch seconds, device_id, metric, value)``: one reading as it travels the hot path — decoded by ingest,
written by ``write_batch``, evaluated by the stream rules. The one definition; everyone imports it from here."""


@dataclass(frozen=True)
class StoredReading:
    """A reading read back from the store (``range``, ``latest``), its time as a datetime."""

    time: datetime
    device_id: str
    metric: str
    value: float


@dataclass(frozen=True)
class Bucket:
    bucket: datetime
    device_id: str
    metric: str
    value: float | None
    count: int


@dataclass(frozen=True)
class BandBucket:
    """One bucket of a metric over a set of devices: what a chart's min–max band and mean line need."""

    bucket: datetime
    metric: str
    count: int
    min: float
    max: float
    mean: float


@dataclass(frozen=True)
class WindowAggregate:
    """count, min, max and sum of one device's metric over a window (``ReadingsStore.window_aggregates``)."""

    count: int
    min: float
    max: float
    sum: float


@dataclass(frozen=True)
class PreparedBatch:
    """A batch made ready for ``write_batch`` ahead of the write (``ReadingsStore.prepare``: pure Python, no I/O),
    so that a caller can do that work on another thread while the database is busy with the previous batch."""

    rows: Sequence[ReadingRow]
    stored: list[tuple[int, str, str, float]]
    """postgres: the rows with the times the server stores (microseconds since 2000), for the COPY."""
    hourly: rollups.Hourly | None
    """postgres: the batch's hourly aggregates."""


@dataclass(frozen=True)
class WriteResult:
    received: int
    inserted: int

    @property
    def duplicates(self) -> int:
        return self.received - self.inserted




class ReadingsStore:
    """Reads and writes readings for one database; create with ``ReadingsStore.for_connection(conn)``."""

    def __init__(self, flavour: Flavour) -> None:
        self.flavour: Flavour = flavour
        self._partitions: set[int] = set()
        self._lock = threading.Lock()

    @classmethod
    def for_connection(cls, conn: Conn) -> ReadingsStore:
        return cls(current(conn))

    # -- writing -------------------------------------------------------------------------------------------------
    def prepare(self, rows: Sequence[ReadingRow]) -> PreparedBatch:
        """The Python share of writing ``rows`` (no I/O); ``write_batch`` does it itself when not given one."""
        if self.flavour != "postgres" or not rows:
            return PreparedBatch(rows, [], None)
        stored, hourly = rollups.prepare(rows, ORIGIN)
        return PreparedBatch(rows, stored, hourly)

    def write_batch(self, conn: Conn, batch: Sequence[ReadingRow] | PreparedBatch) -> WriteResult:
        """Store readings given as (epoch seconds, device_id, metric, value), or prepared by ``prepare``;
        idempotent. Runs in the caller's transaction: the caller commits (and only then acks the messages)."""
        rows = batch.rows if isinstance(batch, PreparedBatch) else batch
        if not rows:
            return WriteResult(0, 0)
        in_transaction = conn.info.transaction_status != pq.TransactionStatus.IDLE
        with contextlib.nullcontext() if in_transaction else conn.transaction():  # a savepoint would add nothing
            if self.flavour == "postgres":
                prepared = batch if isinstance(batch, PreparedBatch) else self.prepare(rows)
                inserted = self._write_postgres(conn, prepared)
            else:
                t, d, m, v = (list(col) for col in zip(*rows, strict=True))
                row = conn.execute(sql.TS_INSERT_NEW_WITH_LATEST, {"t": t, "d": d, "m": m, "v": v}).fetchone()
                inserted = int(row[0]) if row else 0
        return WriteResult(len(rows), inserted)

    def _write_postgres(self, conn: Conn, batch: PreparedBatch) -> int:
        """The fast path: the batch is copied straight into ``readings`` and the rollups and latest values are
        upserted from hourly aggregates computed here (one statement); the database neither reads the batch again
        nor aggregates it. A reading already stored (a redelivery, or twice in the batch) makes the copy fail: it
        is undone (savepoint) and the batch goes through a staging table and ``INSERT … ON CONFLICT DO NOTHING
        RETURNING``, with the rollups computed from the rows it returned (docs/ingest-performance.md)."""
        rows, hourly = batch.rows, batch.hourly
        assert hourly is not None
        self.ensure_days(conn, {h // 24 for h in hourly.hours})  # the stored times' days (hours from midnight)
        try:
            with conn.transaction():
                with conn.cursor().copy(sql.PG_COPY_NEW) as copy:
                    copy.set_types(["int8", "text", "text", "float8"])  # timestamptz's binary form is int8 µs
                    for new in batch.stored:
                        copy.write_row(new)
                conn.execute(sql.PG_ROLLUPS_OF_BATCH, {
                    "h": hourly.hours, "d": hourly.devices, "m": hourly.metrics, "n": hourly.counts,
                    "lo": hourly.mins, "hi": hourly.maxs, "s": hourly.sums, "lt": hourly.last_times,
                    "lv": hourly.lasts})
            return len(rows)
        except errors.UniqueViolation:
            pass
        conn.execute(f"{sql.STAGE_DDL}; {sql.WRITE_SETTINGS}")
        with conn.cursor().copy("COPY readings_stage FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["float8", "text", "text", "float8"])
            for r in rows:
                copy.write_row(r)
        row = conn.execute(sql.PG_INSERT_NEW_WITH_ROLLUPS).fetchone()
        return int(row[0]) if row else 0

    def ensure_partitions(self, conn: Conn, times: Iterable[float]) -> None:
        self.ensure_days(conn, {math.floor((ts - _ORIGIN_EPOCH) / 86400.0) for ts in times})

    def ensure_days(self, conn: Conn, days: set[int]) -> None:
        """Create the partitions of these local days (counted from the origin) that do not exist yet."""
        with self._lock:
            missing = days - self._partitions
        if not missing:
            return
        conn.execute("SELECT pg_advisory_xact_lock(7336002)")
        for day in sorted(missing):
            start = ORIGIN + day * DAY
            local = start + timedelta(hours=7)
            name = f"readings_p{local:%Y%m%d}"
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF readings "
                f"FOR VALUES FROM ('{start.isoformat()}') TO ('{(start + DAY).isoformat()}')"
            )
        with self._lock:
            self._partitions |= missing

    def forget_partitions(self) -> None:
        """Drop the cache of known partitions (after a transaction that created some was rolled back)."""
        with self._lock:
            self._partitions.clear()

    def refresh(self, conn: Conn, start: datetime | None = None, end: datetime | None = None) -> None:
        """Materialise the rollups for [start, end) in the timescale flavour (a no-op in postgres, where they are
        always current). Must run outside a transaction block."""
        if self.flavour != "timescale":
            return
        for view in ("readings_hourly", "readings_daily"):
            conn.execute("CALL refresh_continuous_aggregate(%s::regclass, %s::timestamptz, %s::timestamptz)",
                         (view, start, end))

    # -- reading -------------------------------------------------------------------------------------------------
    def range(self, conn: Conn, device_id: str, metric: str, start: datetime, end: datetime) -> list[StoredReading]:
        rows = conn.execute(
            "SELECT time, device_id, metric, value FROM readings "
            "WHERE device_id = %s AND metric = %s AND time >= %s AND time < %s ORDER BY time",
            (device_id, metric, start, end),
        ).fetchall()
        return [StoredReading(*r) for r in rows]

    def latest(self, conn: Conn, device_ids: Sequence[str] | None = None,
               metric: str | None = None) -> list[StoredReading]:
        sql = "SELECT time, device_id, metric, value FROM readings_latest WHERE true"
        params: list[object] = []
        if device_ids is not None:
            sql += " AND device_id = ANY(%s)"
            params.append(list(device_ids))
        if metric is not None:
            sql += " AND metric = %s"
            params.append(metric)
        rows = conn.execute(sql + " ORDER BY device_id, metric", params).fetchall()
        return [StoredReading(*r) for r in rows]

    def bucketed(self, conn: Conn, metric: str, start: datetime, end: datetime, interval: timedelta,
                 agg: Agg, device_ids: Sequence[str] | None = None) -> list[Bucket]:
        """One value per (bucket, device) of ``metric`` in [start, end), buckets of ``interval`` aligned on local
        midnight. Whole days or hours read the daily or hourly rollup; other intervals read raw readings."""
        if agg not in AGGS:
            raise ValueError(f"agg must be one of {AGGS}, got {agg!r}")
        if interval <= timedelta(0):
            raise ValueError(f"interval must be positive, got {interval}")
        secs = interval.total_seconds()
        if secs % 86400 == 0:
            return self._from_rollup(conn, "readings_daily", metric, start, end, interval, agg, device_ids)
        if secs % 3600 == 0:
            return self._from_rollup(conn, "readings_hourly", metric, start, end, interval, agg, device_ids)
        return self._from_raw(conn, metric, start, end, interval, agg, device_ids)

    def band(self, conn: Conn, device_ids: Sequence[str], metrics: Sequence[str], start: datetime, end: datetime,
             interval: timedelta) -> list[BandBucket]:
        """Count, min, max and mean per (metric, bucket) of ``metrics`` over all ``device_ids`` in [start, end),
        in one statement, ordered by metric then bucket. Like ``bucketed``: buckets aligned on local midnight, whole
        days or hours from the daily or hourly rollup (never a raw scan then), other intervals from raw readings."""
        if interval <= timedelta(0):
            raise ValueError(f"interval must be positive, got {interval}")
        if not device_ids or not metrics or end <= start:
            return []
        secs = interval.total_seconds()
        if secs % 3600 == 0:
            table = "readings_daily" if secs % 86400 == 0 else "readings_hourly"
            sql = (f"SELECT date_bin(%(iv)s, bucket, {ORIGIN_SQL}) AS b, metric, sum(count)::bigint, min(min), "
                   f"max(max), sum(sum) / NULLIF(sum(count), 0) FROM {table} WHERE device_id = ANY(%(d)s) "
                   "AND metric = ANY(%(m)s) AND bucket >= %(s)s AND bucket < %(e)s GROUP BY 2, 1 ORDER BY 2, 1")
        else:
            sql = (f"SELECT {self._raw_bucket()} AS b, metric, count(*), min(value), max(value), avg(value) "
                   "FROM readings WHERE device_id = ANY(%(d)s) AND metric = ANY(%(m)s) AND time >= %(s)s "
                   "AND time < %(e)s GROUP BY 2, 1 ORDER BY 2, 1")
        params = {"iv": interval, "d": list(device_ids), "m": list(metrics), "s": start, "e": end}
        rows = conn.execute(sql, params).fetchall()
        return [BandBucket(r[0], r[1], int(r[2]), float(r[3]), float(r[4]), float(r[5])) for r in rows]

    def _raw_bucket(self) -> str:
        if self.flavour == "timescale":
            return f"time_bucket(%(iv)s, time, origin => {ORIGIN_SQL})"
        return f"date_bin(%(iv)s, time, {ORIGIN_SQL})"

    def _from_rollup(self, conn: Conn, table: str, metric: str, start: datetime, end: datetime,
                     interval: timedelta, agg: Agg, device_ids: Sequence[str] | None) -> list[Bucket]:
        value = {
            "count": "sum(count)::float8",
            "min": "min(min)",
            "max": "max(max)",
            "sum": "sum(sum)",
            "avg": "sum(sum) / NULLIF(sum(count), 0)",
            "last": "(array_agg(last ORDER BY last_time DESC))[1]",
        }[agg]
        sql = (
            f"SELECT date_bin(%(iv)s, bucket, {ORIGIN_SQL}) AS b, device_id, {value} AS v, sum(count)::bigint AS n "
            f"FROM {table} WHERE metric = %(m)s AND bucket >= %(s)s AND bucket < %(e)s"
            + (" AND device_id = ANY(%(d)s)" if device_ids is not None else "")
            + " GROUP BY 1, 2 ORDER BY 1, 2"
        )
        params = {"iv": interval, "m": metric, "s": start, "e": end,
                  "d": list(device_ids) if device_ids is not None else None}
        rows = conn.execute(sql, params).fetchall()
        return [Bucket(r[0], r[1], metric, _f(r[2]), int(r[3])) for r in rows]

    def _from_raw(self, conn: Conn, metric: str, start: datetime, end: datetime, interval: timedelta,
                  agg: Agg, device_ids: Sequence[str] | None) -> list[Bucket]:
        value = {
            "count": "count(*)::float8",
            "min": "min(value)",
            "max": "max(value)",
            "sum": "sum(value)",
            "avg": "avg(value)",
            "last": "(array_agg(value ORDER BY time DESC))[1]",
        }[agg]
        sql = (
            f"SELECT {self._raw_bucket()} AS b, device_id, {value} AS v, count(*) AS n FROM readings "
            "WHERE metric = %(m)s AND time >= %(s)s AND time < %(e)s"
            + (" AND device_id = ANY(%(d)s)" if device_ids is not None else "")
            + " GROUP BY 1, 2 ORDER BY 1, 2"
        )
        params = {"iv": interval, "m": metric, "s": start, "e": end,
                  "d": list(device_ids) if device_ids is not None else None}
        rows = conn.execute(sql, params).fetchall()
        return [Bucket(r[0], r[1], metric, _f(r[2]), int(r[3])) for r in rows]

    # -- window aggregates (added for geo map summaries; nothing above depends on it) -------------------------------
    def window_aggregates(self, conn: Conn, metrics: Sequence[str], start: datetime, end: datetime,
                          device_ids: Sequence[str] | None = None) -> dict[tuple[str, str], WindowAggregate]:
        """Per (device_id, metric): count, min, max and sum of ``metrics`` over [start, end), in one statement and
        from the rollups only — whole local days from the daily rollup, the hours at either end from the hourly one.
        ``start`` and ``end`` must be whole hours. Map summaries use it to aggregate every device over a window
        (one round trip instead of one ``bucketed`` call per metric and rollup)."""
        for name, t in (("start", start), ("end", end)):
            if t.tzinfo is None:
                raise ValueError(f"{name}: {t.isoformat()} has no timezone")
            if t.timestamp() % 3600:
                raise ValueError(f"{name}: {t.isoformat()} is not a whole hour")
        if end <= start or not metrics:
            return {}
        first_day = ORIGIN + math.ceil((start.timestamp() - _ORIGIN_EPOCH) / 86400.0) * DAY
        last_day = ORIGIN + math.floor((end.timestamp() - _ORIGIN_EPOCH) / 86400.0) * DAY
        dev = " AND device_id = ANY(%(d)s)" if device_ids is not None else ""
        cols = "device_id, metric, count, min, max, sum"
        params: dict[str, object] = {"m": list(metrics), "d": list(device_ids) if device_ids is not None else None}
        if first_day < last_day:
            hours = [(start, first_day), (last_day, end)]
            parts = [f"SELECT {cols} FROM readings_daily WHERE metric = ANY(%(m)s) "
                     f"AND bucket >= %(ds)s AND bucket < %(de)s{dev}"]
            params.update(ds=first_day, de=last_day)
        else:
            hours, parts = [(start, end)], []
        ranges = []
        for i, (a, b) in enumerate(h for h in hours if h[0] < h[1]):
            ranges.append(f"(bucket >= %(hs{i})s AND bucket < %(he{i})s)")
            params.update({f"hs{i}": a, f"he{i}": b})
        if ranges:
            parts.append(f"SELECT {cols} FROM readings_hourly WHERE metric = ANY(%(m)s) "
                         f"AND ({' OR '.join(ranges)}){dev}")
        sql = ("SELECT device_id, metric, sum(count)::bigint, min(min), max(max), sum(sum) FROM ("
               + " UNION ALL ".join(parts) + ") r GROUP BY 1, 2")
        rows = conn.execute(sql, params).fetchall()
        return {(r[0], r[1]): WindowAggregate(int(r[2]), float(r[3]), float(r[4]), float(r[5])) for r in rows}


def _f(v: object) -> float | None:
    return None if v is None else float(v)  # type: ignore[arg-type]
